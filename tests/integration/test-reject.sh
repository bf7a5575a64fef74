#!/bin/sh
# SPDX-License-Identifier: ISC
# Silence on failure: a first frame of the wrong size, a bad mac1, an
# unknown key and a replayed handshake message 1 (also after a collector
# restart) each get the connection closed with not one byte written, are
# logged by kind, and store nothing. Missing and unusable key files stop
# the daemons with a message naming the file.
# Usage: test-reject.sh BUILD_DIR
BUILD=${1:?usage: test-reject.sh BUILD_DIR}
NAME=reject
. "$(dirname "$0")/lib.sh"

make_keys
# The agent reads a FIFO nobody writes: it only handshakes.
mkfifo "$T/kmsg.fifo"
write_configs "known-host" "$T/kmsg.fifo"
start_collector

# probe HEXBYTES: send them, report how many bytes came back before close.
probe() {
	$PY - "$PORT" "$1" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)
s.sendall(bytes.fromhex(sys.argv[2]))
s.settimeout(8)
n = 0
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        n += len(b)
except socket.timeout:
    print("timeout")
    sys.exit(0)
except ConnectionResetError:
    pass
print(n)
EOP
}

# 1. First frame far too small for a handshake.
[ "$(probe 000568656c6c6f)" = 0 ] || die "short first frame: collector answered or kept the connection"
grep -q "first frame has the wrong size" "$T/collector.log" || die "short frame not logged"

# 2. Right size, random bytes: mac1 fails, no DH.
rnd=$(od -An -N155 -tx1 /dev/urandom | tr -d ' \n')
[ "$(probe 009b$rnd)" = 0 ] || die "bad mac1: collector answered"
grep -q "bad mac1" "$T/collector.log" || die "bad mac1 not logged"

# 3. A valid agent whose key is not in the list, through a recording proxy
#    that keeps msg1 for the replay below.
PROXY_PORT=$(free_port)
$PY - "$PROXY_PORT" "$PORT" "$T/msg1.hex" >"$T/proxy.log" 2>&1 <<'EOP' &
import socket, sys, threading
lport, cport, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen(8)
def pipe(a, b, rec):
    buf = b""
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if rec is not None and not rec:
                buf += d
                if len(buf) >= 2 and len(buf) >= 2 + (buf[0] << 8 | buf[1]):
                    n = 2 + (buf[0] << 8 | buf[1])
                    open(out, "a").write(buf[:n].hex() + "\n")
                    rec.append(1)
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    a, _ = ls.accept()
    b = socket.create_connection(("127.0.0.1", cport))
    threading.Thread(target=pipe, args=(a, b, []), daemon=True).start()
    threading.Thread(target=pipe, args=(b, a, None), daemon=True).start()
EOP
PROXY_PID=$!
sleep 0.3
sed "s/port = $PORT;/port = $PROXY_PORT;/" "$T/shipper.conf" >"$T/shipper-proxy.conf"
(umask 077 && "$KEYGEN" genkey >"$T/stranger.key") || die genkey
sed "s|$T/agent.key|$T/stranger.key|" "$T/shipper-proxy.conf" >"$T/stranger.conf"
"$SHIPPER" -d -c "$T/stranger.conf" >"$T/stranger.log" 2>&1 &
STRANGER=$!
for _ in $(seq 100); do grep -q "unknown key" "$T/collector.log" && break; sleep 0.05; done
kill -9 "$STRANGER"; wait "$STRANGER" 2>/dev/null
grep -q "unknown key" "$T/collector.log" || die "unknown key not rejected"
grep -q "connection closed by collector" "$T/stranger.log" || die "stranger did not see a silent close"
grep -q "connected to collector" "$T/stranger.log" && die "stranger got a session"
[ -e "$T/store/hosts/known-host/journal" ] && die "a journal was created for a rejected agent"

# 4. The real agent through the proxy: its msg1 is recorded, then replayed.
: >"$T/msg1.hex"
SHIPPER_CONF_SAVED=$T/shipper.conf
cp "$T/shipper-proxy.conf" "$T/shipper.conf"
start_shipper
wait_sessions 1
kill "$SHIPPER_PID"; wait "$SHIPPER_PID" 2>/dev/null; SHIPPER_PID=
kill "$PROXY_PID"
msg1=$(tail -n 1 "$T/msg1.hex")
[ -n "$msg1" ] || die "proxy recorded no msg1"
[ "$(probe "$msg1")" = 0 ] || die "replayed msg1: collector answered"
grep -q "replayed handshake" "$T/collector.log" || die "replay not detected"

# 5. Counters are durable: the same replay after a collector restart.
kill "$COLLECTOR_PID"; wait "$COLLECTOR_PID" 2>/dev/null
start_collector
[ "$(probe "$msg1")" = 0 ] || die "replayed msg1 after restart: collector answered"
[ "$(grep -c "replayed handshake" "$T/collector.log")" -ge 2 ] || die "replay after restart not detected"
[ "$(grep -c 'session from .* resuming at' "$T/collector.log")" = 1 ] || die "a replay opened a session"
# Each replay of the host's msg1 is in the host's journal: one
# handshake-rejected event per collector run (at most one a minute).
n=$("$KMSGCTL" -D "$T/store" -o json KMSG_EVENT=handshake-rejected | grep -c '"REJECT_REASON":"replayed handshake')
[ "$n" = 2 ] || die "$n handshake-rejected events for the 2 replays, expected 2"
: "$SHIPPER_CONF_SAVED"

# 6. Key files: missing, group-readable, garbage.
kill "$COLLECTOR_PID"; wait "$COLLECTOR_PID" 2>/dev/null; COLLECTOR_PID=
sed "s|$T/collector.key|$T/missing.key|" "$T/collector.conf" >"$T/c-missing.conf"
"$COLLECTOR" -d -c "$T/c-missing.conf" >"$T/err.txt" 2>&1 && die "collector started without its key"
grep -q "missing.key: No such file" "$T/err.txt" || die "missing key message: $(cat "$T/err.txt")"
cp "$T/collector.key" "$T/open.key"; chmod 640 "$T/open.key"
sed "s|$T/collector.key|$T/open.key|" "$T/collector.conf" >"$T/c-open.conf"
"$COLLECTOR" -n -c "$T/c-open.conf" >"$T/err.txt" 2>&1 && die "collector accepted a group-readable key"
grep -q "open.key: readable or writable by group or others; chmod 600" "$T/err.txt" || die "open key message: $(cat "$T/err.txt")"
(umask 077 && echo "not a key" >"$T/bad.key")
sed "s|$T/agent.key|$T/bad.key|" "$T/shipper.conf" >"$T/s-bad.conf"
"$SHIPPER" -n -c "$T/s-bad.conf" >"$T/err.txt" 2>&1 && die "agent accepted a garbage key"
grep -q "bad.key: expected one base64 key" "$T/err.txt" || die "bad key message: $(cat "$T/err.txt")"
"$SHIPPER" -n -c "$T/s-bad.conf" >/dev/null 2>&1
sed "s|$T/agent.key|$T|" "$T/shipper.conf" >"$T/s-dir.conf"
"$SHIPPER" -n -c "$T/s-dir.conf" >"$T/err.txt" 2>&1 && die "agent accepted a directory as key"
grep -q "private key $T: Is a directory" "$T/err.txt" || die "directory key message: $(cat "$T/err.txt")"
echo "PASS: bad frame, bad mac1, unknown key, replay (also after restart) closed silently; key file errors named"
