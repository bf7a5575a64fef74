#!/bin/sh
# SPDX-License-Identifier: ISC
# Legitimate agents keep shipping under a flood of garbage connections.
#
# The collector runs with its default limits. An agent (127.0.0.1) ships
# FLOOD_RECORDS records from a kmsg-format file twice: once alone, once
# while tests/integration/flood.c opens FLOOD_RATE (default 1000) garbage
# connections per second from 127.0.0.2 (resets, random msg1-size frames,
# wrong lengths, silent and trickling connections). For the second run
# the agent is restarted, so it also has to complete a handshake under
# the flood. Checks: every record stored exactly once; the flood got not
# one byte back; no flood connection cost a DH (the DH counter moves only
# by the agent's own handshake); the throughput under flood (records/s
# from the collector's receive times) is at least FLOOD_MIN_PERCENT
# (default 20) % of the throughput without. Prints both throughputs and
# the collector's reject counters.
# Usage: test-flood.sh BUILD_DIR FLOOD_BINARY
BUILD=${1:?usage: test-flood.sh BUILD_DIR FLOOD_BINARY}
FLOOD=${2:?usage: test-flood.sh BUILD_DIR FLOOD_BINARY}
NAME=flood
. "$(dirname "$0")/lib.sh"

N=${FLOOD_RECORDS:-30000}
RATE=${FLOOD_RATE:-1000}
MIN_PERCENT=${FLOOD_MIN_PERCENT:-20}

$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
	{ echo "SKIP: cannot bind 127.0.0.2"; exit 77; }

make_keys
: >"$T/kmsg.file"
write_configs "flood-host" "$T/kmsg.file"

# NOTIFY_SOCKET: a datagram socket that appends each message to a file.
$PY - "$T/notify.sock" "$T/notify.log" <<'EOP' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
EOP
EXTRA_PIDS=$!
for _ in $(seq 100); do [ -S "$T/notify.sock" ] && break; sleep 0.05; done
export NOTIFY_SOCKET="$T/notify.sock"
start_collector
unset NOTIFY_SOCKET

# status KEY: the latest value of "KEY=N" (rejects) or "N KEY" in STATUS.
status() {
	grep STATUS= "$T/notify.log" | tail -n 1 | $PY -c '
import re, sys
line, key = sys.stdin.read(), sys.argv[1]
m = re.search(r"\b" + key + r"=(\d+)", line) or re.search(r"(\d+) " + key + r"\b", line)
print(m.group(1) if m else 0)' "$1"
}

# rejected: the sum of every reject kind in the latest STATUS.
rejected() {
	grep STATUS= "$T/notify.log" | tail -n 1 | sed 's/.*rejected: *//' | tr ' ' '\n' |
		awk -F= '{ n += $2 } END { print n + 0 }'
}

# wait_status KEY MIN SECONDS: until STATUS shows KEY >= MIN (KEY
# "rejected": all kinds together).
wait_status() {
	deadline=$(($(date +%s) + $3))
	while [ "$(if [ "$1" = rejected ]; then rejected; else status "$1"; fi)" -lt "$2" ]; do
		[ "$(date +%s)" -ge "$deadline" ] && die "STATUS $1 stayed at $(status "$1"), expected >= $2"
		sleep 0.1
	done
}

SEQ=1
# append PHASE: N records with tokens NAME-RUNID-PHASE-I at once.
append() {
	$PY - "$T/kmsg.file" "$T/expect" "$NAME-$RUNID-$1-" "$N" "$SEQ" <<'EOP'
import sys
path, expect, prefix, n, seq = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
with open(path, "a") as f, open(expect, "a") as e:
    f.write("".join("6,%d,%d,-;%s%d\n" % (seq + i, 1000 * (seq + i), prefix, i) for i in range(n)))
    e.write("".join("%s%d 6 0\n" % (prefix, i) for i in range(n)))
EOP
	SEQ=$((SEQ + N))
}

start_shipper
wait_sessions 1

# 1. Alone.
base=$(status records)
append alone
wait_status records $((base + N)) 60

# 2. Under the flood: it runs until killed (at most 120 s).
# Silent connections are held 8 s: past the collector's handshake timeout.
"$FLOOD" 127.0.0.2 127.0.0.1 "$PORT" "$RATE" 120 8 >"$T/flood.out" 2>&1 &
FLOOD_PID=$!
EXTRA_PIDS="$EXTRA_PIDS $FLOOD_PID"
# Until the flood is felt: a second's worth of rejects.
wait_status rejected "$RATE" 30
kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
dh0=$(status DH)
start_shipper
wait_sessions 2
base=$(status records)
append flood
wait_status records $((base + N)) 90
kill -0 "$FLOOD_PID" 2>/dev/null || die "the flood stopped before the agent was done: $(cat "$T/flood.out")"
# Silent flood connections do not wait for the handshake timeout: beyond
# 8 not key-confirmed connections of the address, each new one evicts the
# oldest (docs/SECURITY.md 5).
wait_status evicted 1 30
sleep 1.1 # one more STATUS, to see the counters of the whole flood
kill -TERM "$FLOOD_PID"
wait "$FLOOD_PID" 2>/dev/null
dh=$(status DH)
rejects=$(grep STATUS= "$T/notify.log" | tail -n 1 | sed 's/.*rejected: *//')

verify flood-host "$T/expect" 60

# Throughput of each phase from the collector's receive times.
"$KMSGCTL" -D "$T/store" -o json >"$T/out.json" || die "kmsgctl"
rates=$($PY - "$T/out.json" "$NAME-$RUNID-" <<'EOP'
import json, sys
t = {"alone": [], "flood": []}
for line in open(sys.argv[1]):
    o = json.loads(line)
    m = o.get("MESSAGE")
    if isinstance(m, str) and m.startswith(sys.argv[2]):
        t[m[len(sys.argv[2]):].split("-")[0]].append(int(o["KMSG_RECEIVED_TIMESTAMP"]))
out = []
for k in ("alone", "flood"):
    span = (max(t[k]) - min(t[k])) / 1e6
    out.append("%d" % (len(t[k]) / max(span, 0.001)))
print(" ".join(out))
EOP
) || die "throughput"
set -- $rates
alone=$1
flooded=$2
echo "records/s without flood: $alone"
echo "records/s under flood:   $flooded ($((flooded * 100 / alone)) %)"
cat "$T/flood.out"
echo "collector rejects: $rejects"

grep -q " 0 bytes received" "$T/flood.out" || die "the collector wrote to a flood connection: $(cat "$T/flood.out")"
[ "$((dh - dh0))" -le 1 ] || die "DH count went from $dh0 to $dh under the flood: garbage reached the DH"
for k in mac1 frame evicted; do
	[ "$(status $k)" -gt 0 ] || die "no $k rejects counted"
done
[ $((flooded * 100)) -ge $((alone * MIN_PERCENT)) ] ||
	die "throughput under flood $flooded records/s, below $MIN_PERCENT % of $alone"
echo "PASS: $N records alone at $alone/s and $N under a flood of $RATE connections/s at $flooded/s, each once; flood got 0 bytes, cost no DH"
