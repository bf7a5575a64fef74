#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 4, item 8: a spool too small for the backlog. The collector is down
# while 60,000 records (about 6 MB in the spool) go into a 1 MiB spool;
# the agent drops by level, least severe and oldest first. Once the
# collector is up:
# - every record is delivered once or counted in a "spool-full" gap record:
#   written = delivered + dropped, per level (GAP_COUNT_<LEVEL>), and the
#   stream seqs missing are exactly as many as the gap records report;
# - no emerg..err record is dropped (they fit), and a record of some level
#   is dropped only if no less severe record and no older one of its level
#   is delivered.
# Sanitized builds: the same counts (they are small).
# Usage: test-spool-overflow.sh BUILD_DIR
BUILD=${1:?usage: test-spool-overflow.sh BUILD_DIR}
NAME=soverflow
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool-lib.sh"

RECORDS=60000
echo "$RECORDS records into a 1 MiB spool while the collector is down"

make_keys
: >"$T/kmsg"
spool_configs soverflow-host "$T/kmsg" 'max_size = "1M";'
t0=$(now_ms)
start_shipper
gen_kmsg "$T/kmsg" 0 "$RECORDS"
gen_marker "$T/kmsg" "$RECORDS"
wait_for 120 "the last record in the spool" spooled "$MARKER"
t1=$(now_ms)
du=$(du -sk "$T/spool/spool" | cut -f1)
echo "spooled in $(((t1 - t0) / 1000)) s: $(ls "$T/spool/spool" | grep -c '\.seg$') segments, $du KiB"
kill -0 "$SHIPPER_PID" || die "agent exited"

start_collector
wait_for 60 "the last record in the store" stored_last soverflow-host "$MARKER"
# The agent's start and boot events (info) may be dropped too.
account soverflow-host 60 --allow spool-full --lossy --agent-events 2 --keep-levels 3 --priority
grep -q 'lost 0 ' "$T/account.txt" && die "nothing was dropped: the spool was not too small"
echo "PASS: every record of a 1 MiB spool's overflow delivered once or counted by level, errors kept"
