#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 4, item 8: SIGKILL the agent at 50 random moments while a stream
# of 100,000 records is written to its kmsg-format source, restarting it
# each time: afterwards the collector holds every record exactly once, in
# kernel order, and every stream seq is either held or reported lost by a
# gap record (a kill in the middle of a write may tear the spool's last
# entry; its record is read again from the source).
# Sanitized builds: 20 kills, 30,000 records.
# Usage: test-spool-agent-kill.sh BUILD_DIR
BUILD=${1:?usage: test-spool-agent-kill.sh BUILD_DIR}
NAME=sakill
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool-lib.sh"

RECORDS=$(scaled 100000 30000)
KILLS=$(scaled 50 20)
CHUNKS=100
echo "$RECORDS records in $CHUNKS chunks, $KILLS agent SIGKILLs (sanitized build: $SANITIZED)"

make_keys
: >"$T/kmsg"
# Small segments: many are started and freed (on acks) across the kills.
spool_configs sakill-host "$T/kmsg" 'segment_size = "64K";'
start_collector
start_shipper
t0=$(now_ms)

# The writer: the stream grows while the agent is killed and restarted.
start_writer $CHUNKS

k=0
while [ "$k" -lt "$KILLS" ]; do
	k=$((k + 1))
	if [ $((k % 2)) = 0 ]; then
		# From right after the start (recovery, reading the file
		# again) to well into shipping.
		rand_sleep 0 500
	else
		# Right after the source grew: while its records are read,
		# spooled and sent.
		size=$(stat -c %s "$T/kmsg")
		for _ in $(seq 200); do
			[ "$(stat -c %s "$T/kmsg")" != "$size" ] && break
			sleep 0.01
		done
		rand_sleep 0 30
	fi
	kill -9 "$SHIPPER_PID"
	wait "$SHIPPER_PID" 2>/dev/null
	start_shipper
	echo >>"$T/kills"
done
t1=$(now_ms)
wait "$WRITER" || die "writer"
EXTRA_PIDS=
echo "$KILLS kills in $(((t1 - t0) / 1000)) s; $(wc -l <"$T/kmsg") records written"

last=$NAME-$RUNID-$((RECORDS - 1))
wait_for 120 "the last record in the store" stored_last sakill-host "$last"
account sakill-host 60 --allow spool-torn
t2=$(now_ms)
echo "delivered $((($t2 - t1) / 1000)) s after the last kill"
# One stream, one boot event (the first start), one start event per run
# that got that far.
starts=$(grep -c '"KMSG_EVENT":"start"' "$T/out.json")
boots=$(grep -c '"KMSG_EVENT":"boot"' "$T/out.json")
streams=$($PY -c 'import json,sys; print(len({json.loads(l)["KMSG_STREAM_ID"] for l in open(sys.argv[1])}))' "$T/out.json")
echo "start events $starts (of $((KILLS + 1)) starts), boot events $boots, streams $streams"
[ "$streams" = 1 ] || die "more than one stream"
[ "$boots" = 1 ] || die "boot event not exactly once"
[ "$starts" -ge 1 ] && [ "$starts" -le $((KILLS + 1)) ] || die "start events"
echo "PASS: $RECORDS records through $KILLS agent SIGKILLs: none lost, none twice, in order"
