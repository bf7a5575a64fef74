#!/bin/sh
# SPDX-License-Identifier: ISC
# Padding (issue 17 item 7, docs/PROTOCOL.md 5.10): through a proxy that
# logs every frame's size, an agent sends an err record, then an info
# record, then idles so that heartbeats go out. With padding (the
# default) every transport message in both directions (the records'
# BATCHes and URGENTs, the heartbeats, the ACKs with their commitments)
# is 514 bytes on the wire; with network.padding = false the same
# session shows the sizes apart (a heartbeat is 19 bytes), so the check
# can fail.
# Usage: test-padding.sh BUILD_DIR
BUILD=${1:?usage: test-padding.sh BUILD_DIR}
NAME=padding
. "$(dirname "$0")/lib.sh"

make_keys
run() { # $1: padding true|false; writes $T/sizes.$1
	mkfifo "$T/kmsg.$1"
	write_configs "padded" "$T/kmsg.$1"
	CPORT=$PORT
	PPORT=$(free_port)
	sed -i -e "s/port = $CPORT;/port = $PPORT;/" \
		-e "s/heartbeat = \"2s\";/heartbeat = \"1s\"; padding = $1;/" "$T/shipper.conf"
	grep -q "padding = $1" "$T/shipper.conf" || die "shipper.conf: padding not set"
	: >"$T/sizes.$1"
	$PY "$(dirname "$0")/wire-sizes.py" "$PPORT" "$CPORT" "$T/sizes.$1" &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	start_collector
	exec 7<>"$T/kmsg.$1"
	start_shipper
	wait_sessions 1
	sleep 1
	echo "3,0,1000,-;$NAME-$RUNID-err" >&7
	sleep 1.5
	echo "6,1,2000,-;$NAME-$RUNID-info" >&7
	sleep 3.5 # a second of silence brings a heartbeat
	printf '%s 3 0\n%s 6 0\n' "$NAME-$RUNID-err" "$NAME-$RUNID-info" >"$T/expect"
	verify padded "$T/expect" 10
	kill "$SHIPPER_PID"
	wait "$SHIPPER_PID" 2>/dev/null
	SHIPPER_PID=
	kill "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" 2>/dev/null
	COLLECTOR_PID=
	exec 7>&-
	rm -rf "$T/store" "$T/spool" "$T/collector.log" "$T/shipper.log"
}
run true
run false

# Per direction, the transport frames: after msg1 (the first A frame) and
# msg2 (the first C frame).
sizes() { # $1: file, $2: A or C
	awk -v d="$2" '$1 == d { if (seen) print $2; seen = 1 }' "$1" | sort -n | uniq -c | awk '{ printf "%s:%s ", $2, $1 }'
}
pa=$(sizes "$T/sizes.true" A)
pc=$(sizes "$T/sizes.true" C)
ua=$(sizes "$T/sizes.false" A)
uc=$(sizes "$T/sizes.false" C)
echo "padded: agent->collector $pa; collector->agent $pc"
echo "unpadded: agent->collector $ua; collector->agent $uc"
case "$ua" in *"19:"*) ;; *) die "no heartbeat (19 bytes) seen without padding: $ua" ;; esac
[ "$(echo "$ua" | wc -w)" -ge 3 ] || die "without padding, expected at least 3 sizes (records, heartbeat): $ua"
# BATCH of START+BOOT, err (URGENT? no backlog: BATCH), info, heartbeats, CLOSE: at least 5.
n=$(echo "$pa" | sed -n 's/^514:\([0-9]*\) $/\1/p')
[ -n "$n" ] && [ "$n" -ge 5 ] || die "with padding, agent->collector sizes should all be 514 (at least 5 frames): $pa"
m=$(echo "$pc" | sed -n 's/^514:\([0-9]*\) $/\1/p')
[ -n "$m" ] && [ "$m" -ge 3 ] || die "with padding, ACK sizes should all be 514: $pc"
echo "PASS: with padding the err record, the info record and the heartbeats are all 514 bytes on the wire"
