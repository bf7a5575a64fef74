#!/bin/sh
# SPDX-License-Identifier: ISC
# The collector restarts with one client removed from its config: that
# agent's handshakes fail silently (counted, nothing stored), the other
# agent ships on; once the client is back, the removed agent's spooled
# records arrive, each once.
BUILD=$1
NAME=fclient
. "$(dirname "$0")/lib.sh"

count=8000 rate=1000
[ "$LONG" = 1 ] && count=80000
fleet_setup 2
fleet_start_collector
agent_start 1
agent_start 2
feed 1 "$count" "$rate"
feed 2 "$count" "$rate"
sleep 2
write_collector_conf 1
kill -9 "$COLLECTOR_PID"; wait "$COLLECTOR_PID" 2>/dev/null
fleet_start_collector
sleep 3
held=$("$KMSGCTL" -D "$T/store" -H host-2 -o cat 2>/dev/null | grep -c "^$PREFIX-h2-")
feeders_wait
sleep 2
# host-1 is complete while host-2 is refused; host-2 got nothing more.
fleet_verify "1:$count" 60
now=$("$KMSGCTL" -D "$T/store" -H host-2 -o cat 2>/dev/null | grep -c "^$PREFIX-h2-")
[ "$now" = "$held" ] || die "host-2 stored $now records after its removal, $held before"
refused=$(grep -c 'unknown\|not authorized\|rejected' "$T/collector.log")
[ "$refused" -gt 0 ] || die "the collector logged no refused handshake"
echo "host-2 removed: $held records stored before, none after; $refused refusals logged"
write_collector_conf "1 2"
kill -HUP "$COLLECTOR_PID"
fleet_verify "1:$count 2:$count" 90
echo PASS
