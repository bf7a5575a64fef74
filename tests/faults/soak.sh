#!/bin/sh
# SPDX-License-Identifier: ISC
# Soak (long form only, not in meson): one agent ships RATE records/s for
# MINUTES minutes into one collector; every 30 s the RSS of both daemons is
# printed. At the end: every record stored once, and the growth of each
# daemon's RSS between the first sample after warm-up (minute 2) and the
# last. Flat means the growth is below 1 MiB. The records are a busy
# kernel log's mix (FEED_MIX=kernel: 1 % err, 9 % warning, the rest info);
# with FEED_MIX=all half are err or worse, each fsynced on its own by the
# default spool policy, which caps the agent far below 10,000/s here.
#   sudo tests/faults/soak.sh BUILD [MINUTES] [RATE]
BUILD=$1
NAME=soak
. "$(dirname "$0")/lib.sh"

minutes=${2:-30} rate=${3:-10000}
count=$((minutes * 60 * rate))
fleet_setup 1
fleet_start_collector
agent_start 1
FEED_MIX=${FEED_MIX:-kernel} feed 1 "$count" "$rate"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
echo "minute  agent_rss_kib  collector_rss_kib"
i=0 a0= c0=
while [ "$i" -lt $((minutes * 2)) ]; do
	sleep 30
	i=$((i + 1))
	a=$(rss "$(agent_pid 1)") c=$(rss "$COLLECTOR_PID")
	printf '%6s  %13s  %17s\n' "$(awk -v i="$i" 'BEGIN { printf "%.1f", i / 2 }')" "$a" "$c"
	[ "$i" = 4 ] && a0=$a c0=$c
done
feeders_wait
fleet_verify "1:$count" 600
echo "RSS growth from minute 2 to the end: agent $((a - a0)) KiB, collector $((c - c0)) KiB"
[ $((a - a0)) -lt 1024 ] && [ $((c - c0)) -lt 1024 ] || die "RSS not flat"
echo PASS
