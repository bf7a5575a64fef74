#!/bin/sh
# SPDX-License-Identifier: ISC
# Cutting acknowledged records from the end of a journal is damage
# (issue 17 item 1, docs/STORE.md "acked"): an agent ships 40 records,
# the collector acks them and is killed (no checkpoint at stop), and the
# last 300 bytes of the host's active segment are cut. kmsgctl --verify
# must fail naming the host, the stream and the stream seq range, and
# --gaps must not call the host complete. After a collector restart (which
# cuts the torn tail) the loss is recorded in the journal and both still
# say so.
# Usage: test-acked-cut.sh BUILD_DIR
BUILD=${1:?usage: test-acked-cut.sh BUILD_DIR}
NAME=acked-cut
. "$(dirname "$0")/lib.sh"

make_keys
: >"$T/kmsg.file"
: >"$T/expect"
for i in $(seq 1 40); do
	echo "6,$((i - 1)),$((1000 + i)),-;$NAME-$RUNID-$i" >>"$T/kmsg.file"
	echo "$NAME-$RUNID-$i 6 0" >>"$T/expect"
done
write_configs "cut-host" "$T/kmsg.file"
start_collector
start_shipper
wait_sessions 1
verify cut-host "$T/expect" 30
sleep 1 # acked
kill -9 "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
kill -9 "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=

H=$T/store/hosts/cut-host
"$KMSGCTL" -D "$T/store" --verify >"$T/v0.txt" 2>&1 || die "verify before the cut: $(cat "$T/v0.txt")"
[ -s "$H/acked" ] || die "no acked file in $H"
"$KMSGCTL" -D "$T/store" --gaps >"$T/g0.txt" 2>&1 || { "$KMSGCTL" -D "$T/store" -o json | tail -n 4 >&2; die "--gaps before the cut: $(cat "$T/g0.txt")"; }
seg=$(ls "$H"/*.seg | tail -n 1)
size=$(stat -c %s "$seg")
truncate -s $((size - 300)) "$seg" || die "truncate"

check() { # $1: when; $2: also --gaps
	if "$KMSGCTL" -D "$T/store" --verify >"$T/v.txt" 2>&1; then
		die "$1: --verify passed a journal cut of acknowledged records: $(cat "$T/v.txt")"
	fi
	grep -q "^cut-host: FAILED: .*stream [0-9a-f]\{32\}.* stream seq [0-9]*-[0-9]*" "$T/v.txt" ||
		die "$1: --verify did not name host, stream and seq range: $(cat "$T/v.txt")"
	echo "$1: $(cat "$T/v.txt")"
	[ "$2" = gaps ] || return 0
	if "$KMSGCTL" -D "$T/store" --gaps >"$T/g.txt" 2>&1; then
		die "$1: --gaps exit 0 on a cut journal: $(cat "$T/g.txt")"
	fi
	grep -q "acked-lost" "$T/g.txt" || die "$1: --gaps does not give the cause: $(cat "$T/g.txt")"
	grep -q "^  complete" "$T/g.txt" && die "$1: --gaps calls the host complete"
	return 0
}
check "cut" gaps

# The collector restarts and the agent reconnects (the host's journal is
# opened): it cuts the torn tail and records the loss; its next acked
# mark no longer names the lost records. The agent resends what its
# spool still holds of them (it frees whole spool segments), so --gaps
# may find them again; the recorded loss stays.
start_collector
start_shipper
wait_sessions 2
sleep 1.5
kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
check "after a restart" nogaps
grep -q "recorded loss" "$T/v.txt" || die "after a restart: not reported as the recorded loss: $(cat "$T/v.txt")"
echo "PASS: a cut of acknowledged records is damage for --verify and --gaps, before and after a restart"
