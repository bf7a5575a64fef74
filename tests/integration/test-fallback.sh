#!/bin/sh
# SPDX-License-Identifier: ISC
# Compatibility of the hello flags (docs/PROTOCOL.md 1.3, 7.1): a proxy
# plays a collector from before them for the first session, closing it
# right after msg1 as such a collector does with a hello that has flags.
# The agent must fall back to the hello without flags (a msg1 of 155 + H
# bytes), which the current collector must take as from an older agent:
# 9-byte welcome, ACKs of 27 bytes, no padding, no commitments; the
# records arrive, once each. Then a collector that refuses the plain hello
# too (the proxy cuts two sessions) is no older collector: the third
# attempt offers the extensions again and gets them (padded ACKs). With
# network.require_extensions the agent never falls back.
# Usage: test-fallback.sh BUILD_DIR
BUILD=${1:?usage: test-fallback.sh BUILD_DIR}
NAME=fallback
. "$(dirname "$0")/lib.sh"

make_keys
: >"$T/kmsg.file"
: >"$T/expect"
for i in $(seq 1 20); do
	echo "6,$((i - 1)),$((1000 + i)),-;$NAME-$RUNID-$i" >>"$T/kmsg.file"
	echo "$NAME-$RUNID-$i 6 0" >>"$T/expect"
done
write_configs "fallback-host" "$T/kmsg.file"
CPORT=$PORT
PPORT=$(free_port)
sed -i -e "s/port = $CPORT;/port = $PPORT;/" "$T/shipper.conf"
: >"$T/sizes"
$PY "$(dirname "$0")/wire-sizes.py" "$PPORT" "$CPORT" "$T/sizes" 1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
start_collector
start_shipper
wait_sessions 1
verify fallback-host "$T/expect" 30
sleep 2.5 # a heartbeat and its ACK
grep -q "offered to it for 10 minutes" "$T/shipper.log" || die "the agent did not log its fallback"
hlen=$(hostname | wc -c)
hlen=$((hlen - 1))
[ "$hlen" -gt 64 ] && hlen=64
# First session: msg1 with flags (2 + 112 + 43 + H + 48), cut. Second:
# msg1 without (2 + 155 + H), msg2 of 59, ACKs of 27.
first=$(awk '$1 == "A" { print $2; exit }' "$T/sizes")
[ "$first" = $((2 + 203 + hlen)) ] || die "first msg1 is $first bytes, expected $((2 + 203 + hlen)) (with COMMIT): $(head -5 "$T/sizes")"
second=$(awk '$1 == "A" { n++; if (n == 2) { print $2; exit } }' "$T/sizes")
[ "$second" = $((2 + 155 + hlen)) ] || die "msg1 after the fallback is $second bytes, expected $((2 + 155 + hlen)): $(head -8 "$T/sizes")"
msg2=$(awk '$1 == "C" { print $2; exit }' "$T/sizes")
[ "$msg2" = 59 ] || die "msg2 is $msg2 bytes, expected 59 (9-byte welcome)"
acks=$(awk '$1 == "C" { n++; if (n > 1) print $2 }' "$T/sizes" | sort -u | tr '\n' ' ')
[ "$acks" = "27 " ] || die "ACKs are $acks bytes, expected 27 only"
echo "fallback: msg1 $first bytes cut; fallback msg1 $second, msg2 $msg2, ACKs $acks; records delivered"

kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
rm -rf "$T/store" "$T/spool" "$T/collector.log" "$T/shipper.log"
write_configs "fallback-host" "$T/kmsg.file"
CPORT=$PORT
PPORT=$(free_port)
sed -i -e "s/port = $CPORT;/port = $PPORT;/" "$T/shipper.conf"
: >"$T/sizes2"
$PY "$(dirname "$0")/wire-sizes.py" "$PPORT" "$CPORT" "$T/sizes2" 2 &
EXTRA_PIDS="$EXTRA_PIDS $!"
start_collector
start_shipper
wait_sessions 1
verify fallback-host "$T/expect" 30
sleep 1
m1=$(awk '$1 == "A" { n++; if (n <= 3) printf "%s ", $2 }' "$T/sizes2")
[ "$m1" = "$((2 + 203 + hlen)) $((2 + 155 + hlen)) $((2 + 203 + hlen)) " ] ||
	die "msg1 sizes $m1, expected with flags, plain, with flags again"
acks=$(awk '$1 == "C" { n++; if (n > 1) print $2 }' "$T/sizes2" | sort -u | tr '\n' ' ')
[ "$acks" = "514 " ] || die "after offering again, ACKs are $acks bytes, expected 514 (padded)"
echo "refused plain hello: msg1 sizes $m1; ACKs $acks"

# network.require_extensions: no fallback, the next hello has flags again.
kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
rm -rf "$T/store" "$T/spool" "$T/collector.log" "$T/shipper.log"
write_configs "fallback-host" "$T/kmsg.file"
CPORT=$PORT
PPORT=$(free_port)
sed -i -e "s/port = $CPORT;/port = $PPORT;/" -e 's/heartbeat = "2s";/heartbeat = "2s"; require_extensions = true;/' "$T/shipper.conf"
grep -q "require_extensions = true" "$T/shipper.conf" || die "shipper.conf: require_extensions not set"
: >"$T/sizes3"
$PY "$(dirname "$0")/wire-sizes.py" "$PPORT" "$CPORT" "$T/sizes3" 1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
start_collector
start_shipper
wait_sessions 1
verify fallback-host "$T/expect" 30
m1=$(awk '$1 == "A" { n++; if (n <= 2) printf "%s ", $2 }' "$T/sizes3")
[ "$m1" = "$((2 + 203 + hlen)) $((2 + 203 + hlen)) " ] ||
	die "with require_extensions, msg1 sizes $m1, expected with flags twice"
grep -q "offered to it for 10 minutes" "$T/shipper.log" && die "with require_extensions the agent fell back"
echo "require_extensions: msg1 sizes $m1"
echo "PASS: fallback for a collector from before the flags, not for one that refuses plain hellos too, never with require_extensions"
