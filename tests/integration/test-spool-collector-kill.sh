#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 4, item 8: SIGKILL the collector at 50 random moments while a
# stream of 100,000 records is written to the agent's kmsg-format source,
# restarting it each time: afterwards the collector holds every record
# exactly once, in kernel order, with no stream seq missing. The agent
# frees spool space only on acks and resumes at the collector's
# high-water mark; the collector drops what it already has.
# The kills come at any moment, or once the agent's session is up, or
# right after the source grew (records in flight).
# Sanitized builds: 20 kills, 30,000 records.
# Usage: test-spool-collector-kill.sh BUILD_DIR
BUILD=${1:?usage: test-spool-collector-kill.sh BUILD_DIR}
NAME=sckill
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool-lib.sh"

RECORDS=$(scaled 100000 30000)
KILLS=$(scaled 50 20)
CHUNKS=100
echo "$RECORDS records in $CHUNKS chunks, $KILLS collector SIGKILLs (sanitized build: $SANITIZED)"

make_keys
: >"$T/kmsg"
# Small segments: many are started and freed (on acks) across the kills.
spool_configs sckill-host "$T/kmsg" 'segment_size = "64K";'
start_collector
start_shipper
t0=$(now_ms)

start_writer $CHUNKS

sessions() {
	grep -c 'session from .* resuming at' "$T/collector.log"
}
# kill_collector: SIGKILL it, and start it again.
kill_collector() {
	kill -9 "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" 2>/dev/null
	before=$(sessions)
	quick_start_collector
	echo >>"$T/kills"
}
# Four kinds of moments, in turn: any moment (also while the agent is
# reconnecting); once the agent's session is up; right after the source
# grew, while its records are on their way (the collector stores and
# fsyncs them before it acks); and after a stall: the collector stopped
# (SIGSTOP) while the source grows, so that the agent's records pile up
# in the socket buffers, then continued and killed while it works through
# them (an agent that freed records when it sent them, or on an ack for
# more than was acked, loses these).
before=$(sessions)
k=0
midsession=0
while [ "$k" -lt "$KILLS" ]; do
	k=$((k + 1))
	case $((k % 4)) in
	0)
		rand_sleep 0 500
		;;
	3)
		kill -STOP "$COLLECTOR_PID"
		size=$(stat -c %s "$T/kmsg")
		for _ in $(seq 200); do
			[ "$(stat -c %s "$T/kmsg")" != "$size" ] && break
			sleep 0.01
		done
		rand_sleep 100 300
		kill -CONT "$COLLECTOR_PID"
		rand_sleep 0 50
		;;
	1)
		for _ in $(seq 200); do
			[ "$(sessions)" -gt "$before" ] && break
			sleep 0.02
		done
		[ "$(sessions)" -gt "$before" ] && midsession=$((midsession + 1))
		rand_sleep 0 300
		;;
	2)
		size=$(stat -c %s "$T/kmsg")
		for _ in $(seq 200); do
			[ "$(stat -c %s "$T/kmsg")" != "$size" ] && break
			sleep 0.01
		done
		rand_sleep 0 30
		;;
	esac
	kill_collector
done
t1=$(now_ms)
wait "$WRITER" || die "writer"
EXTRA_PIDS=
echo "$KILLS kills in $(((t1 - t0) / 1000)) s ($midsession waited for the session; $(sessions) sessions); $(wc -l <"$T/kmsg") records written"

last=$NAME-$RUNID-$((RECORDS - 1))
wait_for 120 "the last record in the store" stored_last sckill-host "$last"
# Nothing is lost here: no gap record at all.
account sckill-host 60 --agent-events 2
t2=$(now_ms)
echo "delivered $(((t2 - t1) / 1000)) s after the last kill"
echo "PASS: $RECORDS records through $KILLS collector SIGKILLs: none lost, none twice, in order"
