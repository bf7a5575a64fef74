#!/bin/sh
# SPDX-License-Identifier: ISC
# The collector's store fills up: its state directory is a small tmpfs.
# Writes fail, nothing is acked that is not stored, the agent keeps its
# records; when space returns (remount larger) everything arrives once.
BUILD=$1
NAME=fstore
. "$(dirname "$0")/lib.sh"

STORE_DIR=$T/store
mkdir -p "$STORE_DIR"
mount -t tmpfs -o size=2M tmpfs "$STORE_DIR" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
umount_cleanup() {
	cleanup_pids
	umount "$STORE_DIR" 2>/dev/null
	cleanup
}
cleanup_pids() {
	for p in $EXTRA_PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "$COLLECTOR_PID" ] && kill -9 "$COLLECTOR_PID" 2>/dev/null
	wait 2>/dev/null
}
trap umount_cleanup EXIT

count=30000 rate=5000
[ "$LONG" = 1 ] && count=300000 rate=5000
fleet_setup 1
fleet_start_collector
agent_start 1
feed 1 "$count" "$rate"
feeders_wait
# Until the store is full and the collector said so.
for _ in $(seq 300); do
	grep -q 'commit failed' "$T/collector.log" && break
	sleep 0.1
done
grep -q 'commit failed' "$T/collector.log" || die "the store never filled up ($(df -h "$STORE_DIR" | tail -n 1))"
echo "store full: $(grep -m1 'commit failed' "$T/collector.log")"
"$KMSGCTL" -D "$STORE_DIR" -o cat 2>/dev/null | grep -c "^$PREFIX-h1-" >"$T/held" || true
echo "stored while full: $(cat "$T/held") of $count"
[ "$(cat "$T/held")" -lt "$count" ] || die "everything fit: the tmpfs is too large for the test"
mount -o remount,size=256M "$STORE_DIR" || die "remount"
fleet_verify "1:$count" 120
echo PASS
