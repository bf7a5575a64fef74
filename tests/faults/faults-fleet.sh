#!/bin/sh
# SPDX-License-Identifier: ISC
# Ten agents into one collector; host-1 alone suffers kill -9s and a
# SIGSTOP longer than every timeout, and a host-1-only collector fault
# (its key removed and restored by SIGHUP) while the nine others keep
# shipping: they keep up during the faults, and every record of every
# host is stored once.
BUILD=$1
NAME=ffleet
. "$(dirname "$0")/lib.sh"

count=6000 rate=300
[ "$LONG" = 1 ] && count=60000
fleet_setup 10
fleet_start_collector
for i in $(seq 10); do agent_start "$i"; feed "$i" "$count" "$rate"; done

others() { "$KMSGCTL" -D "$T/store" -o cat 2>/dev/null | grep -c "^$PREFIX-h\([2-9]\|10\)-"; }
sleep 2
before=$(others)
for _ in 1 2 3; do
	agent_kill 1; sleep 0.5; agent_start 1; sleep 1
done
kill -STOP "$(agent_pid 1)"; sleep 6; kill -CONT "$(agent_pid 1)"
write_collector_conf "$(seq 2 10)"; kill -HUP "$COLLECTOR_PID"; sleep 2
write_collector_conf "$(seq 10)"; kill -HUP "$COLLECTOR_PID"
after=$(others)
# 9 hosts at 300/s for the ~12 s of faults: most of it must have landed.
echo "the nine other hosts stored $((after - before)) records during host-1's faults"
[ $((after - before)) -ge $((9 * rate * 8)) ] || die "the other hosts were held up: $((after - before)) records"
feeders_wait
fleet_verify "$(for i in $(seq 10); do printf '%d:%d ' "$i" "$count"; done)" 120
echo PASS
