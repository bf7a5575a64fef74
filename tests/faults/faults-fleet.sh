#!/bin/sh
# SPDX-License-Identifier: ISC
# Ten agents into one collector; host-1 alone suffers, one after the
# other: a wall-clock step forwards (libfaketime), a state directory on a
# tiny tmpfs that fills (spool degraded to memory), kill -9s, a SIGSTOP
# longer than every timeout, its key removed and restored by SIGHUP, the
# tmpfs grown again and a clock step backwards, while the nine others keep
# shipping: they keep up during the faults, and every record of every host
# is stored once.
BUILD=$1
NAME=ffleet
. "$(dirname "$0")/lib.sh"

count=6000 rate=300
[ "$LONG" = 1 ] && count=60000
fleet_setup 10

lib=
for p in /usr/lib/*/faketime/libfaketime.so.1; do [ -f "$p" ] && lib=$p && break; done
echo "+0" >"$T/faketime"
mkdir -p "$T/state-h1"
tmpfs=0
mount -t tmpfs -o size=48K tmpfs "$T/state-h1" 2>/dev/null && tmpfs=1
fleet_cleanup() {
	for p in $EXTRA_PIDS $COLLECTOR_PID; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ "$tmpfs" = 1 ] && umount "$T/state-h1" 2>/dev/null
	cleanup
}
trap fleet_cleanup EXIT
# The 48K tmpfs is smaller than one 64K spool segment: the newest segment,
# which acks never delete, fills it.
# host-1's agent: on the faked clock where libfaketime is installed.
start_h1() {
	if [ -n "$lib" ]; then
		env LD_PRELOAD="$lib" FAKETIME_TIMESTAMP_FILE="$T/faketime" FAKETIME_NO_CACHE=1 \
			FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
			"$SHIPPER" -d -c "$T/h1.conf" >>"$T/h1.log" 2>&1 &
		AGENT_PID_1=$!
		EXTRA_PIDS="$EXTRA_PIDS $!"
	else
		agent_start 1
	fi
}
clock="clock steps"
[ -n "$lib" ] || clock="(no libfaketime: no clock steps)"
full="spool tmpfs full"
[ "$tmpfs" = 1 ] || full="(no tmpfs: spool not filled)"
echo "host-1 faults: $clock, $full, kill -9, stop, key removal"

fleet_start_collector
start_h1
for i in $(seq 2 10); do agent_start "$i"; done
for i in $(seq 10); do feed "$i" "$count" "$rate"; done

others() { "$KMSGCTL" -D "$T/store" -o cat 2>/dev/null | grep -c "^$PREFIX-h\([2-9]\|10\)-"; }
sleep 2
before=$(others)
echo "+1d" >"$T/faketime"
if [ "$tmpfs" = 1 ]; then
	for _ in $(seq 100); do
		grep -q 'No space left on device' "$T/h1.log" && break
		sleep 0.1
	done
	grep -q 'No space left on device' "$T/h1.log" || die "host-1's spool never filled its tmpfs"
	echo "host-1: $(grep -m1 'No space left on device' "$T/h1.log")"
fi
for _ in 1 2 3; do
	agent_kill 1; sleep 0.5; start_h1; sleep 1
done
kill -STOP "$(agent_pid 1)"; sleep 6; kill -CONT "$(agent_pid 1)"
write_collector_conf "$(seq 2 10)"; kill -HUP "$COLLECTOR_PID"; sleep 2
write_collector_conf "$(seq 10)"; kill -HUP "$COLLECTOR_PID"
[ "$tmpfs" = 1 ] && { mount -o remount,size=64M "$T/state-h1" || die "remount"; }
echo "-1d" >"$T/faketime"
after=$(others)
# 9 hosts at 300/s for the ~13 s of faults: most of it must have landed.
echo "the nine other hosts stored $((after - before)) records during host-1's faults"
[ $((after - before)) -ge $((9 * rate * 8)) ] || die "the other hosts were held up: $((after - before)) records"
feeders_wait
fleet_verify "$(for i in $(seq 10); do printf '%d:%d ' "$i" "$count"; done)" 120
echo PASS
