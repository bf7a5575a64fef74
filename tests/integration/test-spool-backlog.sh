#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 4, item 8: the collector is down while 1,000,000 records are
# produced; the spool is large enough for them (spool.max_size). Once the
# collector is started every record is delivered, once, in kernel order
# (by kmsg seq and by stream seq), and no stream seq is missing.
# Sanitized builds: 200,000 records.
# Usage: test-spool-backlog.sh BUILD_DIR
BUILD=${1:?usage: test-spool-backlog.sh BUILD_DIR}
NAME=sbacklog
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool-lib.sh"

RECORDS=$(scaled 1000000 200000)
echo "$RECORDS records while the collector is down (sanitized build: $SANITIZED)"

make_keys
: >"$T/kmsg"
spool_configs sbacklog-host "$T/kmsg" 'max_size = "1G";'
t0=$(now_ms)
start_shipper
gen_kmsg "$T/kmsg" 0 "$RECORDS"
last=$NAME-$RUNID-$((RECORDS - 1))
wait_for 300 "the last record in the spool" spooled "$last"
t1=$(now_ms)
du=$(du -sk "$T/spool/spool" | cut -f1)
echo "spooled in $(((t1 - t0) / 1000)) s: $(ls "$T/spool/spool" | grep -c '\.seg$') segments, $du KiB"
kill -0 "$SHIPPER_PID" || die "agent exited"

start_collector
wait_for 300 "the last record in the store" stored_last sbacklog-host "$last"
t2=$(now_ms)
echo "delivered in $(((t2 - t1) / 1000)) s"
account sbacklog-host 60 --agent-events 2
echo "PASS: $RECORDS records held while the collector was down, then delivered once, in order"
