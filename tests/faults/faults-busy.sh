#!/bin/sh
# SPDX-License-Identifier: ISC
# A busy agent is not a silent collector. The heartbeat is 1 s, so the old
# rule ("nothing received for 2 heartbeats: dead") dropped working
# sessions whenever the agent itself did not run for 2 s:
# 1. a backlog where half the records are err or worse: the default spool
#    policy fsyncs each on its own, and the source yields to the loop
#    every 50 ms, so ACKs are read and answered in time;
# 2. the agent, now idle, is stopped (SIGSTOP) for 3 s, then continued: it
#    must ask (HEARTBEAT) before it calls the collector silent.
# Checks: one session from start to end, no "no answer from collector",
# every record stored once.
BUILD=$1
NAME=fbusy
. "$(dirname "$0")/lib.sh"

count=20000
[ "$LONG" = 1 ] && count=200000
fleet_setup 1
fleet_start_collector
agent_start 1
FEED_MIX=all feed 1 "$count" 1000000
feeders_wait
fleet_verify "1:$count" 300
kill -STOP "$(agent_pid 1)"
sleep 3
kill -CONT "$(agent_pid 1)"
sleep 3
fleet_verify "1:$count" 30
if grep -q "no answer from collector" "$T/h1.log"; then
	grep -c "no answer from collector" "$T/h1.log"
	die "the agent dropped a working session as silent"
fi
n=$(grep -c "connected to collector" "$T/h1.log")
[ "$n" = 1 ] || die "$n sessions, expected 1"
echo "PASS: a 3 s stop of the agent and $count records (half err or worse) in one session, each stored once"
