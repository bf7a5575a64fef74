#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 16, item 2: an idle agent holds one session. With the default
# timings (heartbeat 20 s, handshake_timeout 5 s) an agent with nothing
# to send confirms the key at once after msg2 (docs/PROTOCOL.md 5.3).
# The collector restarts under the agent, whose records are all acked: a
# confirmed session within 2 s of it listening again, and a record
# written then arrives within 1 s. Then 60 s idle: no other handshake, no
# other SESSION_START, and no reject of any kind.
# Usage: test-idle-session.sh BUILD_DIR
BUILD=${1:?usage: test-idle-session.sh BUILD_DIR}
NAME=idle
. "$(dirname "$0")/lib.sh"

now_ms() { $PY -c 'import time; print(int(time.time() * 1000))'; }
# session_starts: SESSION_START events in the host's journal.
session_starts() {
	"$KMSGCTL" -D "$T/store" -o json 2>/dev/null |
		$PY -c 'import json, sys; print(sum(json.loads(l).get("KMSG_EVENT") == "session-start" for l in sys.stdin))'
}

make_keys
echo "6,1,1000,-;$NAME-$RUNID-first" >"$T/kmsg.file"
write_configs "idle-host" "$T/kmsg.file"
# The defaults of both daemons' timers; the collector logs its rejects
# (debug) so that the test sees every one.
sed -i 's/network = { backoff_max = "1s"; heartbeat = "2s"; };//' "$T/shipper.conf"
echo 'log_level = "debug";' >>"$T/collector.conf"
start_collector
start_shipper
wait_sessions 1
echo "$NAME-$RUNID-first 6 0" >"$T/expect"
verify idle-host "$T/expect" 30

# Restart: SIGTERM (a clean close of every session), then a new
# collector on the same port.
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
sleep 0.5
start_collector
t0=$(now_ms)
while [ "$(session_starts)" -lt 2 ]; do
	[ $(($(now_ms) - t0)) -lt 5000 ] || die "no confirmed session 5 s after the restart"
	sleep 0.05
done
t1=$(now_ms)
confirm=$((t1 - t0))
[ "$confirm" -le 2000 ] || die "confirmed session $confirm ms after the restart, expected <= 2000"
echo "6,2,2000,-;$NAME-$RUNID-after" >>"$T/kmsg.file"
t2=$(now_ms)
echo "$NAME-$RUNID-after 6 0" >>"$T/expect"
verify idle-host "$T/expect" 5
arrive=$(($(now_ms) - t2))
[ "$arrive" -le 1000 ] || die "record written after the restart arrived in $arrive ms, expected <= 1000"
echo "after a restart: confirmed session in $confirm ms, a record arrived in $arrive ms"
# The session after the restart began with nothing to send: it holds.
sleep ${IDLE_S:-60}
n=$(session_starts)
[ "$n" = 2 ] || die "$n SESSION_START events, expected 2 (one before the restart, one after)"
sessions=$(grep -c 'session from .* resuming at' "$T/collector.log")
[ "$sessions" = 2 ] || die "$sessions handshakes, expected 2 (one before the restart, one after)"
# start_collector's readiness probe connects and closes without a byte:
# "closed before a handshake". Any other reject is the agent's.
if grep 'reject' "$T/collector.log" | grep -qv 'closed before a handshake$'; then
	die "rejects in the collector log: $(grep 'reject' "$T/collector.log" | head -n 3)"
fi

echo "PASS: confirmed $confirm ms after the restart, record in $arrive ms; idle ${IDLE_S:-60} s on one session, no rejects"
