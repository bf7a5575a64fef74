#!/bin/sh
# SPDX-License-Identifier: ISC
# The boot event is announced exactly once per boot across SIGKILLs at its
# edges (docs/CAPTURE.md, "Boot event"). Test builds only
# (-Dtest_hooks=true: KS_TEST_KILL_AT), else skipped:
#   1. killed right before the boot event is written: the next start
#      announces the boot (never zero times);
#   2. killed right after it is written, before any kernel record reached
#      the spool: the next start does not announce it again;
#   3. a normal start ships everything: the store holds the kernel
#      records, one boot event and three start events.
# Usage: test-boot-event-kill.sh BUILD_DIR
BUILD=${1:?usage: test-boot-event-kill.sh BUILD_DIR}
NAME=bootkill
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool-lib.sh"

make_keys
: >"$T/kmsg"
gen_kmsg "$T/kmsg" 0 100
spool_configs bootkill-host "$T/kmsg"

# run_killed WHERE: one agent run that must die by SIGKILL at WHERE.
run_killed() {
	KS_TEST_KILL_AT=$1 "$SHIPPER" -d -c "$T/shipper.conf" >>"$T/shipper.log" 2>&1 &
	SHIPPER_PID=$!
	for _ in $(seq 100); do
		kill -0 "$SHIPPER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$SHIPPER_PID" 2>/dev/null; then
		kill -9 "$SHIPPER_PID"
		wait "$SHIPPER_PID" 2>/dev/null
		SHIPPER_PID=
		echo "SKIP: not a test build (-Dtest_hooks=false): KS_TEST_KILL_AT did nothing"
		exit 77
	fi
	wait "$SHIPPER_PID"
	rk_rc=$?
	SHIPPER_PID=
	[ "$rk_rc" = 137 ] || die "agent killed at $1: exit status $rk_rc, not SIGKILL's 137"
}

run_killed before-boot-event
run_killed after-boot-event
# The spool holds the boot event and no kernel record: its position
# says so (docs/SPOOL.md, "Cursor").
"$SHIPPER" --spool-check="$T/spool/spool" >"$T/check.txt" 2>&1
grep -q '^cursor: boot id [0-9a-f]*, boot event only' "$T/check.txt" ||
	die "spool cursor after the boot event: $(grep '^cursor' "$T/check.txt")"
start_collector
start_shipper
last=$NAME-$RUNID-99
wait_for 60 "the last record in the store" stored_last bootkill-host "$last"
"$KMSGCTL" -D "$T/store" -H bootkill-host -o json >"$T/out.json" || die "kmsgctl"
starts=$(grep -c '"KMSG_EVENT":"start"' "$T/out.json")
boots=$(grep -c '"KMSG_EVENT":"boot"' "$T/out.json")
kernel=$(grep -c '"KMSG_SOURCE":"kmsg"' "$T/out.json")
echo "start events $starts, boot events $boots, kernel records $kernel"
[ "$boots" = 1 ] || die "boot event not exactly once: $boots"
[ "$starts" = 3 ] || die "start events: $starts, not 3"
[ "$kernel" = 100 ] || die "kernel records: $kernel, not 100"
echo "PASS: one boot event through SIGKILLs before and after it"
