#!/bin/sh
# SPDX-License-Identifier: ISC
# Nothing lost, nothing duplicated through a misbehaving network.
#
# The agent reaches the collector only through chaos.py, a TCP proxy that
# at random cuts connections, stalls a direction for up to 5 s (beyond the
# agent's dead-peer time), delays chunks and writes them one byte at a
# time; it never reorders or alters bytes. For CHAOS_SECONDS (default 20)
# records stream into the agent's kmsg-format file; then the proxy calms
# down and every record must be in the store exactly once, with its
# priority and facility. Also checks that the chaos happened (cuts,
# stalls, splits, several sessions) and prints what the collector dropped
# as duplicates (redelivered records).
# Usage: test-chaos.sh BUILD_DIR
BUILD=${1:?usage: test-chaos.sh BUILD_DIR}
NAME=chaos
. "$(dirname "$0")/lib.sh"

SECONDS_=${CHAOS_SECONDS:-20}

make_keys
: >"$T/kmsg.file"
write_configs "chaos-host" "$T/kmsg.file"
PROXY_PORT=$(free_port)
sed -i "s/port = $PORT;/port = $PROXY_PORT;/" "$T/shipper.conf"

$PY - "$T/notify.sock" "$T/notify.log" <<'EOP' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
EOP
EXTRA_PIDS=$!
for _ in $(seq 100); do [ -S "$T/notify.sock" ] && break; sleep 0.05; done
export NOTIFY_SOCKET="$T/notify.sock"
start_collector
unset NOTIFY_SOCKET

$PY "$(dirname "$0")/chaos.py" "$PROXY_PORT" "$PORT" "$T/calm" >"$T/proxy.out" 2>"$T/proxy.log" &
EXTRA_PIDS="$EXTRA_PIDS $!"
for _ in $(seq 100); do
	$PY -c "import socket; socket.create_connection(('127.0.0.1',$PROXY_PORT),0.2).close()" 2>/dev/null && break
	sleep 0.05
done
start_shipper

# Records stream in for the whole chaos period: 25 every 50 ms.
$PY - "$T/kmsg.file" "$T/expect" "$NAME-$RUNID-" "$SECONDS_" <<'EOP'
import sys, time
path, expect, prefix, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
end = time.monotonic() + secs
i = 0
with open(path, "a") as f, open(expect, "w") as e:
    while time.monotonic() < end:
        for _ in range(25):
            level, fac = i % 8, i % 3
            f.write("%d,%d,%d,-;%s%d\n" % (fac * 8 + level, i + 1, 1000 * (i + 1), prefix, i))
            e.write("%s%d %d %d\n" % (prefix, i, level, fac))
            i += 1
        f.flush()
        time.sleep(0.05)
EOP
touch "$T/calm"
verify chaos-host "$T/expect" 90

stats=$(tail -n 1 "$T/proxy.out")
sessions=$(grep -c 'session from .* resuming at' "$T/collector.log")
dups=$(grep STATUS= "$T/notify.log" | tail -n 1 | sed -n 's/.* \([0-9][0-9]*\) duplicates.*/\1/p')
echo "proxy: $stats"
echo "records: $(wc -l <"$T/expect"), sessions: $sessions, duplicates dropped by the collector: ${dups:-?}"
for k in cuts stalls splits; do
	echo "$stats" | grep -q "$k=[1-9]" || die "the proxy did no $k: $stats"
done
[ "$sessions" -ge 3 ] || die "only $sessions sessions: the connections were not cut"
echo "PASS: $(wc -l <"$T/expect") records through $sessions sessions of cuts, stalls, delays and 1-byte writes, each stored once"
