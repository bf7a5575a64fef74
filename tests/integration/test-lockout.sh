#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 17, item 4: silent and slow connections must not lock out
# handshakes. In network namespaces (collector, attacker, agent, joined by
# veth pairs), an attacker holds as many silent or slow connections as it
# can (64 per address, the per-address limit, reopened as soon as they
# close) from 64 addresses: 32 IPv4 and 32 IPv6 in distinct /64s of one
# /56. Meanwhile, from another address:
# - 100 new handshakes (rawagent: handshake, one BATCH, its ACK), 100 ms
#   apart: at least 99 must complete within 1 s;
# - a kmsg-shipper session opened before the attack is untouched: one
#   session throughout, and a line written during the attack arrives;
# - the collector's memory stays bounded (VmRSS sampled, printed; under
#   64 MiB).
# With sanitized binaries (ASan: several times the CPU per connection, and
# a quarantine that holds freed memory) the handshakes get 3 s and the
# memory is only printed.
# Skips (77) where network namespaces cannot be made (not root, no ip).
# Usage: test-lockout.sh BUILD_DIR RAWAGENT
BUILD=${1:?usage: test-lockout.sh BUILD_DIR RAWAGENT}
RAW=${2:?usage: test-lockout.sh BUILD_DIR RAWAGENT}
NAME=lockout
. "$(dirname "$0")/lib.sh"
LOCKPY=$(dirname "$0")/lockout.py
LIMIT=1 RSS_MAX=65536
if [ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ] ||
	grep -Eq '"name": *"b_sanitize", *"value": *\[? *"[^n"]' "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null; then
	LIMIT=3 RSS_MAX=
	echo "sanitized binaries: handshakes within $LIMIT s, memory not bounded by the test"
fi

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
NS_C=ksl-c-$RUNID NS_A=ksl-a-$RUNID NS_G=ksl-g-$RUNID
ip netns add "$NS_C" 2>/dev/null || { echo "SKIP: ip netns add failed (no network namespaces here)"; exit 77; }
ns_cleanup() {
	for p in $EXTRA_PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "$SHIPPER_PID" ] && kill -9 "$SHIPPER_PID" 2>/dev/null
	[ -n "$COLLECTOR_PID" ] && kill -9 "$COLLECTOR_PID" 2>/dev/null
	wait 2>/dev/null
	EXTRA_PIDS= SHIPPER_PID= COLLECTOR_PID=
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_G" 2>/dev/null
	cleanup
}
trap ns_cleanup EXIT
ip netns add "$NS_A" && ip netns add "$NS_G" || die "ip netns add"
inc() { ip netns exec "$NS_C" "$@"; }
ina() { ip netns exec "$NS_A" "$@"; }
ing() { ip netns exec "$NS_G" "$@"; }
ip link add ca0 netns "$NS_C" type veth peer name ac0 netns "$NS_A" || die "veth"
ip link add cg0 netns "$NS_C" type veth peer name gc0 netns "$NS_G" || die "veth"
for n in C A G; do
	eval "ip netns exec \$NS_$n ip link set lo up"
done
inc ip link set ca0 up && inc ip link set cg0 up && ina ip link set ac0 up && ing ip link set gc0 up || die "link up"
inc ip addr add 10.78.0.1/24 dev ca0 && inc ip addr add fd78:0:0:100::1/56 dev ca0 nodad &&
	inc ip addr add 10.78.1.1/24 dev cg0 && ing ip addr add 10.78.1.2/24 dev gc0 || die "addresses"
SRCS=
for i in $(seq 0 31); do
	ina ip addr add "10.78.0.$((10 + i))/24" dev ac0 || die "address"
	ina ip addr add "fd78:0:0:1$(printf %02x "$i")::2/56" dev ac0 nodad || die "address"
	SRCS="$SRCS 10.78.0.$((10 + i)) fd78:0:0:1$(printf %02x "$i")::2"
done

make_keys
: >"$T/kmsg.file"
write_configs "lock-host" "$T/kmsg.file"
PORT=5140
sed -i "s/^listen = .*/listen = ( { port = $PORT; } );/" "$T/collector.conf"
sed -i "s/address = \"127.0.0.1\"; port = [0-9]*;/address = \"10.78.1.1\"; port = $PORT;/" "$T/shipper.conf"
# Started with ip netns exec itself (which execs), not through a shell
# function: $! is then the daemon's pid, which cleanup kills.
ip netns exec "$NS_C" "$COLLECTOR" -d -c "$T/collector.conf" >>"$T/collector.log" 2>&1 &
COLLECTOR_PID=$!
for _ in $(seq 100); do
	grep -q 'started' "$T/collector.log" && break
	kill -0 "$COLLECTOR_PID" 2>/dev/null || die "collector exited"
	sleep 0.05
done
ip netns exec "$NS_G" "$SHIPPER" -d -c "$T/shipper.conf" >>"$T/shipper.log" 2>&1 &
SHIPPER_PID=$!
echo "6,1,1000,-;$NAME-$RUNID-before" >>"$T/kmsg.file"
echo "$NAME-$RUNID-before 6 0" >"$T/expect"
verify lock-host "$T/expect" 30

ulimit -n 65536 2>/dev/null || ulimit -n 8192
ip netns exec "$NS_A" $PY "$LOCKPY" attack 60 10.78.0.1 fd78:0:0:100::1 "$PORT" 64 $SRCS >"$T/attack.log" 2>&1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
rss_max=0
sample_rss() {
	r=$(awk '/^VmRSS/ { print $2 }' "/proc/$COLLECTOR_PID/status" 2>/dev/null || echo 0)
	[ "${r:-0}" -gt "$rss_max" ] && rss_max=$r
}
# Let the attacker fill what it can.
for _ in $(seq 10); do sleep 0.5; sample_rss; done
tail -n 1 "$T/attack.log"
( while :; do sleep 0.5; awk '/^VmRSS/ { print $2 }' "/proc/$COLLECTOR_PID/status" 2>/dev/null; done ) >"$T/rss.txt" &
EXTRA_PIDS="$EXTRA_PIDS $!"
ing $PY "$LOCKPY" trials 100 "$LIMIT" "$RAW" 10.78.1.1 "$PORT" "$T/collector.pub" "$T/agent.key" good "raw-$RUNID" >"$T/trials.log" 2>&1
trials_rc=$?
# The same from an address the attacker uses too (10.78.0.10, the first
# of the attacker's namespace): measured and printed.
ina $PY "$LOCKPY" trials 100 "$LIMIT" "$RAW" 10.78.0.1 "$PORT" "$T/collector.pub" "$T/agent.key" good "raw-$RUNID" >"$T/trials-shared.log" 2>&1
if ! kill -0 "$COLLECTOR_PID" 2>/dev/null; then
	wait "$COLLECTOR_PID"
	st=$?
	COLLECTOR_PID=
	die "the collector died during the attack (exit status $st)"
fi
echo "6,2,2000,-;$NAME-$RUNID-during" >>"$T/kmsg.file"
echo "$NAME-$RUNID-during 6 0" >>"$T/expect"
verify lock-host "$T/expect" 10
tail -n 1 "$T/attack.log"
for r in $(cat "$T/rss.txt"); do [ "$r" -gt "$rss_max" ] && rss_max=$r; done
grep '^trial ' "$T/trials.log" | sort -k4 -n | tail -n 3 | sed 's/^/slowest: /'
grep '^trials:' "$T/trials.log"
echo "from an attacker's address: $(grep '^trials:' "$T/trials-shared.log")"
if command -v nstat >/dev/null; then
	echo "collector's listen queue: $(inc nstat -az TcpExtListenOverflows TcpExtListenDrops 2>/dev/null | awk '/Tcp/ { printf "%s %s ", $1, $2 }')"
fi
echo "collector VmRSS at most $rss_max KiB during the attack"
[ "$trials_rc" = 0 ] || die "fewer than 99 of 100 handshakes within $LIMIT s: $(grep -c FAILED "$T/trials.log") failed"
# The agent's running session: never a second one.
[ "$(grep -c 'connected to collector' "$T/shipper.log")" = 1 ] || die "the agent's running session was interrupted: $(grep -c 'connected to collector' "$T/shipper.log") sessions"
[ -z "$RSS_MAX" ] || [ "$rss_max" -lt "$RSS_MAX" ] || die "collector VmRSS reached $rss_max KiB"
echo "PASS: $(grep '^trials:' "$T/trials.log"); running session untouched; collector VmRSS <= $rss_max KiB; $(tail -n 1 "$T/attack.log")"
