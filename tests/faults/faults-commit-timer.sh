#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 22, item 6: the commit timer cannot be added (allocation failure,
# forced by the test hook KS_TEST_COMMIT_TIMER_FAIL) while the store is
# full. A commit run from inside want_commit would end the connection its
# caller is still using (use-after-free, a crash or a double free); the
# collector must instead commit from its next tick, stay up, and store
# every record once when space returns.
BUILD=$1
HOOKS=$2
NAME=fctimer
. "$(dirname "$0")/lib.sh"

[ "$HOOKS" = true ] || { echo "SKIP: not a test build (-Dtest_hooks=false)"; exit 77; }
STORE_DIR=$T/store
mkdir -p "$STORE_DIR"
mount -t tmpfs -o size=2M tmpfs "$STORE_DIR" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
umount_cleanup() {
	for p in $EXTRA_PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "$COLLECTOR_PID" ] && kill -9 "$COLLECTOR_PID" 2>/dev/null
	wait 2>/dev/null
	umount "$STORE_DIR" 2>/dev/null
	cleanup
}
trap umount_cleanup EXIT

count=30000 rate=5000
fleet_setup 1
export KS_TEST_COMMIT_TIMER_FAIL=1
fleet_start_collector
unset KS_TEST_COMMIT_TIMER_FAIL
agent_start 1
feed 1 "$count" "$rate"
feeders_wait
for _ in $(seq 300); do
	grep -q 'commit failed' "$T/collector.log" && break
	kill -0 "$COLLECTOR_PID" 2>/dev/null || die "collector died: $(tail -n 5 "$T/collector.log")"
	sleep 0.1
done
grep -q 'commit failed' "$T/collector.log" || die "the store never filled up"
# Sessions end and come back on the full store for a while.
sleep 3
kill -0 "$COLLECTOR_PID" 2>/dev/null || die "collector died: $(tail -n 5 "$T/collector.log")"
mount -o remount,size=256M "$STORE_DIR" || die "remount"
fleet_verify "1:$count" 120
kill -0 "$COLLECTOR_PID" 2>/dev/null || die "collector died: $(tail -n 5 "$T/collector.log")"
echo PASS
