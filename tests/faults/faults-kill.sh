#!/bin/sh
# SPDX-License-Identifier: ISC
# kill -9 of an agent, of the collector, or of both, at random moments
# while two agents ship (short form 20 kills, long form 500): every record
# stored exactly once.
BUILD=$1
NAME=fkill
. "$(dirname "$0")/lib.sh"

kills=20 count=20000 rate=2000
[ "$LONG" = 1 ] && kills=500 count=500000 rate=2000
fleet_setup 2
fleet_start_collector
agent_start 1
agent_start 2
feed 1 "$count" "$rate"
feed 2 "$count" "$rate"
spread=$((count * 1000 / rate / kills)) # ms between kills, on average
n_agent=0 n_coll=0 n_both=0
for _ in $(seq "$kills"); do
	sleep "$(awk -v m="$(rand "$((spread * 2 + 1))")" 'BEGIN { printf "%.3f", m / 1000 }')"
	case $(rand 3) in
	0)
		agent_kill 1 && agent_start 1
		n_agent=$((n_agent + 1))
		;;
	1)
		kill -9 "$COLLECTOR_PID"; wait "$COLLECTOR_PID" 2>/dev/null
		fleet_start_collector
		n_coll=$((n_coll + 1))
		;;
	2)
		agent_kill 2
		kill -9 "$COLLECTOR_PID"; wait "$COLLECTOR_PID" 2>/dev/null
		fleet_start_collector
		agent_start 2
		n_both=$((n_both + 1))
		;;
	esac
done
echo "kills: agent $n_agent, collector $n_coll, both $n_both"
feeders_wait
fleet_verify "1:$count 2:$count" 120
echo PASS
