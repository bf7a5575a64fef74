#!/bin/sh
# SPDX-License-Identifier: ISC
# Failover between two collectors, in the order of the agent's list.
#
# The agent lists collector A, then B (each with its own key). With A
# down the agent ships to B at once; when A comes up, the agent goes back
# to it (it retries the list from the top every backoff_max while on a
# fallback); when A is killed, it ships to B again. Records written in
# each period must land, exactly once, in the collector of that period
# and not in the other. B's completeness report then shows the records
# that A holds as a stream-jump gap: a host's stream split over two
# collectors is complete only in their union (docs/PROTOCOL.md 7.3).
# Usage: test-failover.sh BUILD_DIR
BUILD=${1:?usage: test-failover.sh BUILD_DIR}
NAME=failover
. "$(dirname "$0")/lib.sh"

make_keys
(umask 077 && "$KEYGEN" genkey >"$T/collector-b.key") || die genkey
"$KEYGEN" pubkey <"$T/collector-b.key" >"$T/collector-b.pub" || die pubkey
: >"$T/kmsg.file"
write_configs "fo-host" "$T/kmsg.file"
PORT_A=$PORT
PORT_B=$(free_port)
sed -e "s|$T/collector.key|$T/collector-b.key|" -e "s|$T/store|$T/store-b|" -e "s/port = $PORT_A;/port = $PORT_B;/" \
	"$T/collector.conf" >"$T/collector-b.conf"
sed -i "s|^collectors = .*|collectors = (\
 { address = \"127.0.0.1\"; port = $PORT_A; public_key = \"$(cat "$T/collector.pub")\"; },\
 { address = \"127.0.0.1\"; port = $PORT_B; public_key = \"$(cat "$T/collector-b.pub")\"; } );|" "$T/shipper.conf"
grep -q "port = $PORT_B" "$T/shipper.conf" || die "shipper.conf: $(cat "$T/shipper.conf")"

"$COLLECTOR" -d -c "$T/collector-b.conf" >>"$T/collector-b.log" 2>&1 &
B_PID=$!
EXTRA_PIDS=$B_PID
for _ in $(seq 100); do
	$PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT_B),0.2).close()" 2>/dev/null && break
	sleep 0.05
done

SEQ=1
# write PHASE COUNT: records with tokens NAME-RUNID-PHASE-I.
write() {
	$PY - "$T/kmsg.file" "$T/expect-$1" "$NAME-$RUNID-$1-" "$2" "$SEQ" <<'EOP'
import sys
path, expect, prefix, n, seq = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
with open(path, "a") as f, open(expect, "w") as e:
    for i in range(n):
        f.write("5,%d,%d,-;%s%d\n" % (seq + i, 1000 * (seq + i), prefix, i))
        e.write("%s%d\n" % (prefix, i))
EOP
	SEQ=$((SEQ + $2))
}

# check DIR EXPECTED...: the store in DIR holds each token of the
# expect files exactly once, and no other token of this run. Waits up to 30 s.
check() {
	dir=$1
	shift
	deadline=$(($(date +%s) + 30))
	while :; do
		"$KMSGCTL" -D "$dir" -o json >"$T/out.json" 2>/dev/null || : >"$T/out.json"
		$PY - "$T/out.json" "$NAME-$RUNID-" "$@" >"$T/check.txt" <<'EOP' && return 0
import json, sys
out, prefix, files = sys.argv[1], sys.argv[2], sys.argv[3:]
want = set()
for f in files:
    want.update(l.strip() for l in open(f))
seen = {}
for line in open(out):
    m = json.loads(line).get("MESSAGE")
    if isinstance(m, str) and m.startswith(prefix):
        seen[m] = seen.get(m, 0) + 1
bad = ["%s: %d times" % (t, seen.get(t, 0)) for t in sorted(want) if seen.get(t, 0) != 1]
bad += ["%s: unexpected" % t for t in sorted(seen) if t not in want]
print("%d expected, %d found, %d problems" % (len(want), len(seen), len(bad)))
for b in bad[:10]:
    print("  " + b)
sys.exit(1 if bad else 0)
EOP
		[ "$(date +%s)" -ge "$deadline" ] && { cat "$T/check.txt" >&2; die "store $dir"; }
		sleep 0.2
	done
}

# wait_connected PORT N: the agent's Nth session is with the collector on PORT.
wait_connected() {
	for _ in $(seq 300); do
		[ "$(grep -c "connected to collector" "$T/shipper.log")" -ge "$2" ] && break
		sleep 0.05
	done
	grep "connected to collector" "$T/shipper.log" | sed -n "$2p" | grep -q "port $1," ||
		die "session $2 is not with port $1: $(grep "connected to collector" "$T/shipper.log" | sed -n "$2p")"
}

# 1. A is down: the agent goes on to B without waiting.
start_shipper
t0=$(date +%s)
wait_connected "$PORT_B" 1
[ $(($(date +%s) - t0)) -le 5 ] || die "took $(($(date +%s) - t0)) s to fail over to B"
write one 200
check "$T/store-b" "$T/expect-one"

# 2. A comes up: the agent fails back to it (within backoff_max = 1 s).
start_collector
wait_connected "$PORT_A" 2
write two 200
check "$T/store" "$T/expect-two"

# 3. A dies: the agent fails over to B again.
kill -9 "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
wait_connected "$PORT_B" 3
write three 200
check "$T/store-b" "$T/expect-one" "$T/expect-three"
check "$T/store" "$T/expect-two"

# B knows it misses what A holds: a stream-jump gap.
"$KMSGCTL" -D "$T/store-b" --gaps >"$T/gaps-b.txt" 2>&1 || true
grep -q "stream-jump" "$T/gaps-b.txt" || die "B reports no stream-jump gap for A's records: $(cat "$T/gaps-b.txt")"
sessions=$(grep -c "connected to collector" "$T/shipper.log")
echo "PASS: B while A was down, back to A when it came up, B again when it died ($sessions sessions); each record once, in the collector of its period"
