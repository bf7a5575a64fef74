#!/bin/sh
# SPDX-License-Identifier: ISC
# sd_notify of both daemons against a NOTIFY_SOCKET this test creates (a
# datagram socket read by python3), as systemd would with Type=notify and
# WatchdogSec=: READY=1 only once working (the agent's first STATUS
# already shows its source and spool), STATUS= with live figures (agent:
# records read, spooled, acked, gaps, spool bytes, the collector and
# whether it is connected; collector: sessions, hosts, records/s),
# WATCHDOG=1 at half of WATCHDOG_USEC (none when WATCHDOG_PID names another
# process), RELOADING=1 then READY=1 around the collector's SIGHUP, and
# STOPPING=1 on SIGTERM. Both daemons are started as root and send from
# their sandbox (the socket is connected before the drop).
# Usage: test-notify.sh BUILD_DIR
BUILD=${1:?usage: test-notify.sh BUILD_DIR}
NAME=notify
. "$(dirname "$0")/lib.sh"
need_kmsg

make_keys
write_configs "notify-host"

# listen NAME: a notify socket $T/NAME.sock; every datagram is appended to
# $T/NAME.notify, its lines joined by " | ", one datagram per line.
listen() {
	$PY - "$T/$1.sock" "$T/$1.notify" <<'EOP' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        d = s.recv(4096).decode()
        out.write(" | ".join(d.split("\n")) + "\n")
        out.flush()
EOP
	EXTRA_PIDS="$EXTRA_PIDS $!"
	for _ in $(seq 100); do
		[ -S "$T/$1.sock" ] && return 0
		sleep 0.05
	done
	die "notify listener $1 did not start"
}

# wait_msg NAME REGEX [TIMEOUT_S]: until a datagram matches.
wait_msg() {
	for _ in $(seq $((${3:-10} * 20))); do
		grep -Eq "$2" "$T/$1.notify" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "--- $T/$1.notify" >&2
	tail -n 5 "$T/$1.notify" >&2
	die "$1: no datagram matching '$2'"
}

count_msg() {
	grep -Ec "$2" "$T/$1.notify" 2>/dev/null || true
}

# The collector: 400 ms watchdog, pings every 200 ms.
listen collector
NOTIFY_SOCKET=$T/collector.sock WATCHDOG_USEC=400000 "$COLLECTOR" -d -c "$T/collector.conf" \
	>>"$T/collector.log" 2>&1 &
COLLECTOR_PID=$!
wait_msg collector '^READY=1$'
grep -q "sandbox: running as" "$T/collector.log" || die "collector notified from outside its sandbox?"
wait_msg collector '^STATUS=0 sessions \(0 since start\), 1 hosts configured, 0 records \(0/s\)'
sleep 1
n=$(count_msg collector '^WATCHDOG=1$')
[ "$n" -ge 4 ] || die "collector: $n WATCHDOG=1 in about 1.5 s, expected at least 4 at 200 ms"
echo "ok: collector: READY=1, STATUS with sessions, hosts and records/s, $n WATCHDOG=1"

# The agent: same watchdog; the collector's figures move with it.
listen agent
NOTIFY_SOCKET=$T/agent.sock WATCHDOG_USEC=400000 "$SHIPPER" -d -c "$T/shipper.conf" >>"$T/shipper.log" 2>&1 &
SHIPPER_PID=$!
wait_msg agent '^READY=1 \| STATUS=[0-9]+ records read \(kmsg [0-9]+, journal 0\), [0-9]+ spooled, [0-9]+ acked, [0-9]+ gaps \([0-9]+ missing, [0-9]+ dropped\), spool [0-9]+ bytes; collector 127\.0\.0\.1 port [0-9]+ (not )?connected$'
[ "$(count_msg agent '^READY=1')" = 1 ] || die "agent: READY=1 sent more than once"
: >"$T/expect"
for i in $(seq 1 20); do
	tok="$NAME-$RUNID-$i"
	kmsg_line 13 "$tok"
	echo "$tok 5 1" >>"$T/expect"
done
verify notify-host "$T/expect"
wait_msg agent '^STATUS=.* [1-9][0-9]* acked, .* collector 127\.0\.0\.1 port [0-9]+ connected$'
wait_msg collector '^STATUS=1 sessions \(1 since start\), 1 hosts configured, [1-9][0-9]* records'
n=$(count_msg agent '^WATCHDOG=1$')
[ "$n" -ge 4 ] || die "agent: $n WATCHDOG=1, expected at least 4"
echo "ok: agent: READY=1 once with its first STATUS, records acked and connected in STATUS, $n WATCHDOG=1"
echo "  agent: $(grep '^STATUS=' "$T/agent.notify" | tail -n 1)"
echo "  collector: $(grep '^STATUS=' "$T/collector.notify" | tail -n 1)"

# SIGHUP: the collector reloads between RELOADING=1 and READY=1.
kill -HUP "$COLLECTOR_PID"
wait_msg collector '^RELOADING=1$'
grep -A100 '^RELOADING=1$' "$T/collector.notify" | grep -q '^READY=1$' ||
	{ sleep 0.5; grep -A100 '^RELOADING=1$' "$T/collector.notify" | grep -q '^READY=1$'; } ||
	die "collector: no READY=1 after RELOADING=1"
echo "ok: collector: SIGHUP gives RELOADING=1 then READY=1"

# STOPPING=1 from both on SIGTERM.
kill -TERM "$SHIPPER_PID"
wait "$SHIPPER_PID"
SHIPPER_PID=
wait_msg agent '^STOPPING=1$'
kill -TERM "$COLLECTOR_PID"
wait "$COLLECTOR_PID"
COLLECTOR_PID=
wait_msg collector '^STOPPING=1$'
echo "ok: STOPPING=1 from both"

# WATCHDOG_PID of another process: that watchdog is not ours, no pings.
listen other
NOTIFY_SOCKET=$T/other.sock WATCHDOG_USEC=400000 WATCHDOG_PID=1 "$SHIPPER" -d -c "$T/shipper.conf" \
	>>"$T/other.log" 2>&1 &
SHIPPER_PID=$!
wait_msg other '^READY=1'
sleep 1
[ "$(count_msg other '^WATCHDOG=1$')" = 0 ] || die "agent pinged a watchdog meant for pid 1"
echo "ok: WATCHDOG_PID of another process: no WATCHDOG=1"
echo "PASS: sd_notify of both daemons"
