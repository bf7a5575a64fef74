#!/bin/sh
# SPDX-License-Identifier: ISC
# The agent's wall clock steps forwards by a day and then back by two
# (libfaketime, its offset changed while the agent runs; the monotonic
# clock is left alone, as a real step leaves it): nothing is rejected,
# and every host's records stay in kernel order.
BUILD=$1
NAME=fclock
. "$(dirname "$0")/lib.sh"

lib=
for p in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	[ -f "$p" ] && lib=$p && break
done
[ -n "$lib" ] || { echo "SKIP: libfaketime not installed"; exit 77; }

count=9000 rate=1000
[ "$LONG" = 1 ] && count=90000
fleet_setup 2
fleet_start_collector
# In host-1's state directory: after its privilege drop the agent's
# Landlock lets it (and libfaketime in it) read nothing else of $T.
FT=$T/state-h1/faketime
mkdir -p "$T/state-h1"
echo "+0" >"$FT"
# host-1 runs on the faked clock, host-2 on the real one.
env LD_PRELOAD="$lib" FAKETIME_TIMESTAMP_FILE="$FT" FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	"$SHIPPER" -d -c "$T/h1.conf" >>"$T/h1.log" 2>&1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
agent_start 2
feed 1 "$count" "$rate"
feed 2 "$count" "$rate"
sleep 3
echo "+1d" >"$FT"
sleep 3
echo "-1d" >"$FT"
feeders_wait
fleet_verify "1:$count 2:$count" 90
# The step is in the records: host-1's wall-clock times jump forwards and back.
"$KMSGCTL" -D "$T/store" -H host-1 -o json | $PY -c '
import json, sys
t = [int(json.loads(l)["__REALTIME_TIMESTAMP"]) for l in sys.stdin if "'"$PREFIX"'-h1-" in l]
d = [b - a for a, b in zip(t, t[1:])]
print("host-1: largest step forwards %.1f h, backwards %.1f h" % (max(d) / 3.6e9, -min(d) / 3.6e9))
sys.exit(0 if max(d) > 20 * 3.6e9 and min(d) < -40 * 3.6e9 else 1)
' || die "the clock steps did not reach the records"
echo PASS
