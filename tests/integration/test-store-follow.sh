#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsgctl -f follows a host's journal across segment rotation: records
# written through the store (gen-store, 64 KiB segments) while kmsgctl
# follows all appear, in order, exactly once, though they span many
# segments created after kmsgctl started; and -n 5 shows the last five.
# Usage: test-store-follow.sh BUILD_DIR
BUILD=${1:?usage: test-store-follow.sh BUILD_DIR}
KMSGCTL=$BUILD/src/collector/kmsgctl
GEN=$BUILD/bench/gen-store
T=$(mktemp -d "${TMPDIR:-/tmp}/ks-follow.XXXXXX") || exit 1
FPID=
trap '[ -n "$FPID" ] && kill "$FPID" 2>/dev/null; rm -rf "$T"' EXIT
die() { echo "FAIL: $*"; exit 1; }

"$GEN" -s 65536 "$T/store" h 100 >/dev/null || die "gen-store"
before=$(ls "$T/store/hosts/h" | grep -c '\.seg$')
"$KMSGCTL" -D "$T/store" -H h -f -n 0 -o cat --no-pager >"$T/out" 2>"$T/err" &
FPID=$!
sleep 0.5
"$GEN" -s 65536 -b 50 "$T/store" h 2000 >/dev/null || die "gen-store"
after=$(ls "$T/store/hosts/h" | grep -c '\.seg$')
[ "$after" -ge $((before + 5)) ] || die "only $before -> $after segments"
for _ in $(seq 200); do
	grep -q "^gen-store record 2099:" "$T/out" && break
	sleep 0.05
done
kill "$FPID"; wait "$FPID" 2>/dev/null; FPID=
[ -s "$T/err" ] && die "kmsgctl -f: $(cat "$T/err")"
n=$(grep -c '^gen-store record' "$T/out")
[ "$n" = 2000 ] || die "followed $n records, expected 2000"
seq 100 2099 | sed 's/.*/gen-store record &:/' >"$T/want"
sed 's/^\(gen-store record [0-9]*:\).*/\1/' "$T/out" | cmp -s - "$T/want" || die "records out of order or repeated"
"$KMSGCTL" -D "$T/store" -H h -n 5 -o cat --no-pager | sed 's/^\(gen-store record [0-9]*:\).*/\1/' >"$T/last"
seq 2095 2099 | sed 's/.*/gen-store record &:/' | cmp -s - "$T/last" || die "-n 5: $(cat "$T/last")"
echo "PASS: -f followed 2000 records across $((after - before)) new segments; -n 5 the last five"
