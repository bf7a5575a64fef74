#!/bin/sh
# SPDX-License-Identifier: ISC
# The agent's SIGHUP: a new collector list takes effect at once (the
# session moves to the new collector and records follow it), settings that
# need a restart are named, and a broken file changes nothing.
# Usage: test-agent-reload.sh BUILD_DIR
BUILD=$1
NAME=reload
. "$(dirname "$0")/lib.sh"

make_keys
: >"$T/k.kmsg"
write_configs "reload-host" "$T/k.kmsg"
PORT_A=$PORT
# Collector B: same key pair and client, its own port and store.
PORT_B=$(free_port)
sed -e "s/port = $PORT_A;/port = $PORT_B;/" -e "s|$T/store|$T/store-b|" "$T/collector.conf" >"$T/collector-b.conf"
"$COLLECTOR" -d -c "$T/collector-b.conf" >>"$T/collector-b.log" 2>&1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
start_collector
start_shipper
line() { printf '6,%d,%d,-;%s-%d\n' "$1" $((1000 + $1)) "$NAME-$RUNID" "$1" >>"$T/k.kmsg"; }
stored() { "$KMSGCTL" -D "$1" -o cat 2>/dev/null | grep -c "^$NAME-$RUNID-"; }
wait_stored() { # DIR N
	for _ in $(seq 200); do [ "$(stored "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	die "$1 holds $(stored "$1") records, expected $2"
}
for i in 1 2 3; do line "$i"; done
wait_stored "$T/store" 3

# A broken file: logged, nothing changes, shipping goes on.
cp "$T/shipper.conf" "$T/shipper.good"
sed -i 's/heartbeat = "2s"/heartbeat = "soon"/' "$T/shipper.conf"
kill -HUP "$SHIPPER_PID"
for _ in $(seq 100); do grep -q 'keeping the running configuration' "$T/shipper.log" && break; sleep 0.05; done
grep -q "reload: $T/shipper.conf:[0-9]*: network.heartbeat: expected a duration" "$T/shipper.log" ||
	die "a broken file was not reported with file, line and setting"
line 4
wait_stored "$T/store" 4

# Collector B instead of A, and a setting that needs a restart.
sed -e "s/port = $PORT_A;/port = $PORT_B;/" -e 's/path = /from = "now"; path = /' "$T/shipper.good" >"$T/shipper.conf"
kill -HUP "$SHIPPER_PID"
for _ in $(seq 100); do grep -q 'reloaded' "$T/shipper.log" && break; sleep 0.05; done
grep -q 'reload: kmsg.from changed: takes effect at the next restart' "$T/shipper.log" ||
	die "the kmsg.from change was not named as needing a restart"
for _ in $(seq 200); do grep -q "port $PORT_B, resuming at" "$T/shipper.log" && break; sleep 0.05; done
grep -q "port $PORT_B, resuming at" "$T/shipper.log" || die "the agent did not move to collector B"
for i in 5 6 7; do line "$i"; done
wait_stored "$T/store-b" 3
[ "$(stored "$T/store")" = 4 ] || die "collector A got records after the reload"
kill -0 "$SHIPPER_PID" || die "the agent died"
echo "A holds $(stored "$T/store"), B holds $(stored "$T/store-b") (records 5-7)"
echo PASS
