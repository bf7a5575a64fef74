#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 5 item 7, the cases the other transport tests leave:
#  1. host A's key cannot write into host B's journal: two agents on this
#     machine claim the same host name; each one's records land only in
#     the journal the collector's config names for its key;
#  2. a tampered transport frame (one bit flipped by a proxy in the
#     agent's first batch): the collector ends that session without a
#     word, stores nothing from it, and every record arrives once after the
#     agent reconnects;
#  3. IPv6: the collector restarted on ::1, agent B told so by SIGHUP.
# Usage: test-transport-misc.sh BUILD_DIR
BUILD=$1
NAME=tmisc
. "$(dirname "$0")/lib.sh"

make_keys
(umask 077 && "$KEYGEN" genkey >"$T/b.key") || die genkey
"$KEYGEN" pubkey <"$T/b.key" >"$T/b.pub"
: >"$T/a.kmsg"
: >"$T/b.kmsg"
write_configs "host-a" "$T/a.kmsg"
# host-b: a second client of the same collector, its own key and state.
sed -i "s|^clients = ( { name = \"host-a\"; public_key = \"\([^\"]*\)\"; } );|clients = ( { name = \"host-a\"; public_key = \"\1\"; }, { name = \"host-b\"; public_key = \"$(cat "$T/b.pub")\"; } );|" "$T/collector.conf"
grep -q host-b "$T/collector.conf" || die "collector.conf: second client not added"
sed -e "s|$T/agent.key|$T/b.key|" -e "s|$T/spool|$T/spool-b|" -e "s|$T/a.kmsg|$T/b.kmsg|" "$T/shipper.conf" >"$T/b.conf"
start_collector
start_shipper
"$SHIPPER" -d -c "$T/b.conf" >>"$T/b.log" 2>&1 &
B_PID=$!
EXTRA_PIDS="$EXTRA_PIDS $B_PID"
for i in 1 2 3 4 5; do
	printf '6,%d,%d,-;%s-a-%d\n' "$i" $((1000 + i)) "$NAME-$RUNID" "$i" >>"$T/a.kmsg"
	printf '6,%d,%d,-;%s-b-%d\n' "$i" $((1000 + i)) "$NAME-$RUNID" "$i" >>"$T/b.kmsg"
done
count() { "$KMSGCTL" -D "$T/store" -H "$1" -o cat 2>/dev/null | grep -c "^$NAME-$RUNID-$2-"; }
for _ in $(seq 200); do
	[ "$(count host-a a)" = 5 ] && [ "$(count host-b b)" = 5 ] && break
	sleep 0.1
done
[ "$(count host-a a)" = 5 ] && [ "$(count host-b b)" = 5 ] || die "records missing: a $(count host-a a), b $(count host-b b)"
[ "$(count host-a b)" = 0 ] && [ "$(count host-b a)" = 0 ] ||
	die "records in the other host's journal: b's in host-a $(count host-a b), a's in host-b $(count host-b a)"
echo "ok: two agents with the same host name: 5 records each, each only in its key's journal"
kill -9 "$SHIPPER_PID"; wait "$SHIPPER_PID" 2>/dev/null; SHIPPER_PID=

# 2. A proxy that flips one bit in the agent's second frame (its first
#    transport message) of the first connection only.
PPORT=$(free_port)
$PY - "$PPORT" "$PORT" >"$T/proxy.log" 2>&1 <<'EOP' &
import socket, sys, threading
lport, cport = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", lport)); srv.listen(8)
conns = 0
def pump(a, b, tamper):
    buf, frames, done = b"", 0, not tamper
    while True:
        d = a.recv(65536)
        if not d:
            break
        if not done:
            buf += d
            out = b""
            while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
                n = 2 + int.from_bytes(buf[:2], "big")
                f = bytearray(buf[:n]); buf = buf[n:]
                frames += 1
                if frames == 2 and not done:
                    f[n // 2] ^= 0x10
                    done = True
                    print("tampered frame 2 (%d bytes) at byte %d" % (n, n // 2), flush=True)
                out += bytes(f)
            if done:
                out += buf; buf = b""
            d = out
        if d:
            b.sendall(d)
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c, _ = srv.accept()
    s = socket.create_connection(("127.0.0.1", cport))
    conns += 1
    print("connection %d" % conns, flush=True)
    threading.Thread(target=pump, args=(c, s, conns == 1), daemon=True).start()
    threading.Thread(target=pump, args=(s, c, False), daemon=True).start()
EOP
EXTRA_PIDS="$EXTRA_PIDS $!"
sed "s/port = $PORT;/port = $PPORT;/" "$T/shipper.conf" >"$T/tamper.conf"
for i in 6 7 8; do printf '6,%d,%d,-;%s-a-%d\n' "$i" $((1000 + i)) "$NAME-$RUNID" "$i" >>"$T/a.kmsg"; done
for _ in $(seq 50); do grep -q . "$T/proxy.log" 2>/dev/null || sleep 0.05; done
"$SHIPPER" -d -c "$T/tamper.conf" >>"$T/tamper.log" 2>&1 &
SHIPPER_PID=$!
for _ in $(seq 200); do [ "$(count host-a a)" = 8 ] && break; sleep 0.1; done
grep -q 'tampered frame 2' "$T/proxy.log" || die "the proxy tampered with nothing: $(cat "$T/proxy.log")"
[ "$(count host-a a)" = 8 ] || die "after the tampered session: $(count host-a a) of 8 records"
grep -q 'failed authentication\|decrypt' "$T/collector.log" || die "the collector did not log the failed frame"
[ "$(grep -c '^connection' "$T/proxy.log")" -ge 2 ] || die "the agent did not reconnect"
"$KMSGCTL" -D "$T/store" -H host-a -o json >"$T/a.json"
$PY - "$T/a.json" "$NAME-$RUNID-a-" <<'EOP' || die "records after the tampered frame"
import json, sys
msgs = [json.loads(l)["MESSAGE"] for l in open(sys.argv[1])]
mine = [m for m in msgs if m.startswith(sys.argv[2])]
assert sorted(mine) == sorted(set(mine)) and len(mine) == 8, mine
EOP
echo "ok: a flipped bit in a transport frame: $(grep -m1 'failed authentication\|decrypt' "$T/collector.log" | sed 's/^kmsg-collector: //'); all 8 records once after the reconnect"
kill -9 "$SHIPPER_PID"; wait "$SHIPPER_PID" 2>/dev/null; SHIPPER_PID=

# 3. IPv6 loopback.
if ! $PY -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
	echo "SKIP part 3: no IPv6 loopback"
	echo PASS
	exit 0
fi
kill -9 "$COLLECTOR_PID"; wait "$COLLECTOR_PID" 2>/dev/null
sed -i 's/address = "127.0.0.1"; port/address = "::1"; port/' "$T/collector.conf" "$T/b.conf"
grep -q '"::1"' "$T/collector.conf" || die "collector.conf: no ::1"
"$COLLECTOR" -d -c "$T/collector.conf" >>"$T/collector.log" 2>&1 &
COLLECTOR_PID=$!
kill -HUP "$B_PID" # agent B reloads its collector list: now ::1
printf '6,%d,%d,-;%s-b-%d\n' 6 1006 "$NAME-$RUNID" 6 >>"$T/b.kmsg"
for _ in $(seq 200); do [ "$(count host-b b)" = 6 ] && break; sleep 0.1; done
[ "$(count host-b b)" = 6 ] || die "over IPv6: $(count host-b b) of 6 records"
grep -q 'port.*resuming at' "$T/b.log" || die "no session logged"
echo "ok: over ::1: $(grep 'collector ::1' "$T/b.log" | tail -n 1 | sed 's/^kmsg-shipper: //')"
echo PASS
