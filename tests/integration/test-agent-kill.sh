#!/bin/sh
# SPDX-License-Identifier: ISC
# SIGKILL the agent while it ships from the real /dev/kmsg, restart it in
# the same boot, five times: every token arrives exactly once. The spool
# keeps what was not acked and its kmsg cursor makes the restarted agent
# skip what it already spooled and read on right after it.
# Usage: test-agent-kill.sh BUILD_DIR
BUILD=${1:?usage: test-agent-kill.sh BUILD_DIR}
NAME=akill
. "$(dirname "$0")/lib.sh"
need_kmsg

make_keys
write_configs "akill-host"
start_collector
start_shipper

: >"$T/expect"
n=0
for round in 1 2 3 4 5; do
	wait_sessions "$round"
	for _ in $(seq 1 50); do
		n=$((n + 1))
		tok="$NAME-$RUNID-$n"
		kmsg_line $((4 * 8 + n % 8)) "$tok"
		echo "$tok $((n % 8)) 4" >>"$T/expect"
	done
	# Even rounds: kill only once the round's lines are stored, so a
	# restart that re-read them would store them twice; odd rounds: at
	# once, mid-stream.
	if [ $((round % 2)) = 0 ]; then
		for _ in $(seq 200); do
			"$KMSGCTL" -D "$T/store" -o cat 2>/dev/null | grep -qx "$tok" && break
			sleep 0.05
		done
	fi
	kill -9 "$SHIPPER_PID"
	wait "$SHIPPER_PID" 2>/dev/null
	# Written while no agent runs: the restarted one must read them.
	for _ in $(seq 1 10); do
		n=$((n + 1))
		tok="$NAME-$RUNID-$n"
		kmsg_line $((4 * 8 + n % 8)) "$tok"
		echo "$tok $((n % 8)) 4" >>"$T/expect"
	done
	start_shipper
done
# A last token: the kernel orders it after everything above, so once it
# is stored any duplicate from a re-read would be stored too.
n=$((n + 1))
kmsg_line $((4 * 8 + 6)) "$NAME-$RUNID-$n"
echo "$NAME-$RUNID-$n 6 4" >>"$T/expect"
verify akill-host "$T/expect" 30
cat "$T/verify.txt"
# One stream throughout, and a boot event only at the first start.
"$KMSGCTL" -D "$T/store" -H akill-host -o json >"$T/all.json"
[ "$($PY -c 'import json,sys; print(len({json.loads(l)["KMSG_STREAM_ID"] for l in open(sys.argv[1])}))' "$T/all.json")" = 1 ] ||
	die "more than one stream after agent restarts"
[ "$(grep -c '"MESSAGE":"boot"' "$T/all.json")" = 1 ] || die "boot event not exactly once"
[ "$(grep -c '"MESSAGE":"kmsg-shipper started"' "$T/all.json")" = 6 ] || die "expected 6 start events"
echo "PASS: $n tokens through 5 agent SIGKILLs, none lost, none twice, one stream"
