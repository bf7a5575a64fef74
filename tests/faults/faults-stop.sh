#!/bin/sh
# SPDX-License-Identifier: ISC
# SIGSTOP/SIGCONT of the agent, then of the collector, each stopped for
# longer than every timeout (collector idle 5s and handshake 2s, agent
# heartbeat 1s so silence 2s, connect 2s): both sides give the session up
# and start anew, and every record is stored exactly once.
BUILD=$1
NAME=fstop
. "$(dirname "$0")/lib.sh"

rounds=1 count=12000 rate=1000
[ "$LONG" = 1 ] && rounds=10 count=120000
fleet_setup 1
fleet_start_collector
agent_start 1
feed 1 "$count" "$rate"
for _ in $(seq "$rounds"); do
	sleep 1
	kill -STOP "$(agent_pid 1)"
	sleep 7
	kill -CONT "$(agent_pid 1)"
	sleep 1
	kill -STOP "$COLLECTOR_PID"
	sleep 7
	kill -CONT "$COLLECTOR_PID"
done
feeders_wait
fleet_verify "1:$count" 90
# The stops ended sessions (the collector's idle timeout or the agent's
# dead-peer time, whichever came first under the machine's load): the
# agent made new ones.
[ "$(grep -c 'resuming at' "$T/collector.log")" -ge 2 ] || die "no session was ended by the stops"
echo "sessions: $(grep -c 'resuming at' "$T/collector.log") (the agent reconnected after each stop)"
echo PASS
