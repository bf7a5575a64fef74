#!/bin/sh
# SPDX-License-Identifier: ISC
# A zero-length frame inside a live session is malformed framing, not a
# message that failed authentication: the collector ends the session with
# the reason "malformed frame (zero length)" (log and SESSION_END event),
# stores nothing from it, and the agent reconnects and ships on.
# A proxy forwards the agent's bytes and, after the agent's first
# transport frame, injects the two bytes 00 00 once.
# Usage: test-zero-frame.sh BUILD_DIR
BUILD=${1:?usage: test-zero-frame.sh BUILD_DIR}
NAME=zeroframe
. "$(dirname "$0")/lib.sh"

make_keys
: >"$T/kmsg.file"
write_configs "zero-host" "$T/kmsg.file"
PROXY_PORT=$(free_port)
sed -i "s/port = $PORT;/port = $PROXY_PORT;/" "$T/shipper.conf"
start_collector

# Frame-aware proxy: agent -> collector frames are counted; after frame 2
# (msg1 is frame 1) of the first connection comes 00 00.
$PY - "$PROXY_PORT" "$PORT" <<'EOP' >"$T/proxy.log" 2>&1 &
import socket, sys, threading
lport, cport = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen(8)
injected = [False]
def up(a, b):
    buf, frames = b"", 0
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
            buf += d
            while len(buf) >= 2 and len(buf) >= 2 + (buf[0] << 8 | buf[1]):
                buf = buf[2 + (buf[0] << 8 | buf[1]):]
                frames += 1
                if frames == 2 and not injected[0]:
                    injected[0] = True
                    b.sendall(b"\0\0")
                    print("injected", flush=True)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def down(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    a, _ = ls.accept()
    b = socket.create_connection(("127.0.0.1", cport))
    threading.Thread(target=up, args=(a, b), daemon=True).start()
    threading.Thread(target=down, args=(b, a), daemon=True).start()
EOP
EXTRA_PIDS=$!
for _ in $(seq 100); do
	$PY -c "import socket; socket.create_connection(('127.0.0.1',$PROXY_PORT),0.2).close()" 2>/dev/null && break
	sleep 0.05
done

start_shipper
for _ in $(seq 200); do grep -q "malformed frame (zero length)" "$T/collector.log" && break; sleep 0.05; done
grep -q "injected" "$T/proxy.log" || die "the proxy injected nothing"
grep -q "session from .*: malformed frame (zero length)" "$T/collector.log" ||
	die "zero-length frame not reported as a malformed frame"
grep -q "message failed authentication" "$T/collector.log" && die "zero-length frame reported as failed authentication"

# The agent reconnects; a record written now is stored once.
wait_sessions 2
tok="$NAME-$RUNID-1"
printf '6,1,1000,-;%s\n' "$tok" >>"$T/kmsg.file"
echo "$tok 6 0" >"$T/expect"
verify zero-host "$T/expect" 30
"$KMSGCTL" -D "$T/store" -o json | grep -q '"END_REASON":"malformed frame (zero length)"' ||
	die "no SESSION_END event with the reason"
echo "PASS: zero-length frame ends the session as malformed framing; the agent reconnects and ships"
