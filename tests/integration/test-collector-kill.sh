#!/bin/sh
# SPDX-License-Identifier: ISC
# SIGKILL the collector while the agent is shipping, restart it, and check
# that nothing acked was lost and nothing arrives twice: the agent keeps
# unacked records and resends from the high-water mark of msg2; the
# collector drops what it already has.
# Usage: test-collector-kill.sh BUILD_DIR
BUILD=${1:?usage: test-collector-kill.sh BUILD_DIR}
NAME=ckill
. "$(dirname "$0")/lib.sh"
need_kmsg

make_keys
write_configs "kill-host"
start_collector
start_shipper

: >"$T/expect"
n=0
for round in 1 2 3 4 5; do
	wait_sessions "$round"
	for _ in $(seq 1 60); do
		n=$((n + 1))
		tok="$NAME-$RUNID-$n"
		kmsg_line $((3 * 8 + n % 8)) "$tok"
		echo "$tok $((n % 8)) 3" >>"$T/expect"
	done
	kill -9 "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" 2>/dev/null
	# Lines written while the collector is down wait in the agent.
	for _ in $(seq 1 20); do
		n=$((n + 1))
		tok="$NAME-$RUNID-$n"
		kmsg_line $((3 * 8 + n % 8)) "$tok"
		echo "$tok $((n % 8)) 3" >>"$T/expect"
	done
	start_collector
done
# A last token: the kernel orders it after everything above, so once it
# is stored any duplicate from a re-read would be stored too.
n=$((n + 1))
kmsg_line $((3 * 8 + 6)) "$NAME-$RUNID-$n"
echo "$NAME-$RUNID-$n 6 3" >>"$T/expect"
verify kill-host "$T/expect" 30
cat "$T/verify.txt"
wait_sessions 6
echo "PASS: $n tokens through 5 collector SIGKILLs, none lost, none twice"
