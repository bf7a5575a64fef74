#!/bin/sh
# SPDX-License-Identifier: ISC
# Collector transport controls: clients from clients_dir, STATUS counters
# over a NOTIFY_SOCKET (mac1 rejects cost no DH: the DH counter proves it),
# the per-address handshake rate limit (a replayed msg1 burst: DH only
# within the burst), and SIGHUP removing a key, which closes that host's
# session and refuses its reconnects.
# Usage: test-transport.sh BUILD_DIR
BUILD=${1:?usage: test-transport.sh BUILD_DIR}
NAME=transport
. "$(dirname "$0")/lib.sh"

make_keys
mkfifo "$T/kmsg.fifo"
write_configs "unused" "$T/kmsg.fifo"
# Clients only from the directory; a tight handshake rate.
mkdir "$T/clients.d"
cp "$T/agent.pub" "$T/clients.d/dir-host.pub"
cat >"$T/collector.conf" <<EOC
private_key_file = "$T/collector.key";
state_dir = "$T/store";
listen = ( { address = "127.0.0.1"; port = $PORT; } );
clients_dir = "$T/clients.d";
limits = { address_handshake_rate = 1; address_handshake_burst = 3; };
EOC

# NOTIFY_SOCKET: a datagram socket that appends each message to a file.
$PY - "$T/notify.sock" "$T/notify.log" <<'EOP' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
EOP
NOTIFY_PID=$!
EXTRA_PIDS=$NOTIFY_PID
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.05; done
export NOTIFY_SOCKET="$T/notify.sock"
start_collector
unset NOTIFY_SOCKET
for _ in $(seq 50); do grep -q "READY=1" "$T/notify.log" 2>/dev/null && break; sleep 0.05; done
grep -q "READY=1" "$T/notify.log" || die "no READY=1"

# status KEY: the latest value of "KEY=N" (rejects) or "N KEY" in STATUS.
status() {
	sleep 1.2
	tail -n 1 "$T/notify.log" | $PY -c '
import re, sys
line, key = sys.stdin.read(), sys.argv[1]
m = re.search(r"\b" + key + r"=(\d+)", line) or re.search(r"(\d+) " + key + r"\b", line)
print(m.group(1) if m else "missing")' "$1"
}

# 1. The agent named in clients.d ships into hosts/dir-host.
start_shipper
wait_sessions 1
tok="$NAME-$RUNID-1"
printf '4,1,1000,-;%s\n' "$tok" >"$T/kmsg.fifo"
echo "$tok 4 0" >"$T/expect"
for _ in $(seq 100); do
	"$KMSGCTL" -D "$T/store" -H dir-host -o cat 2>/dev/null | grep -qx "$tok" && break
	sleep 0.05
done
"$KMSGCTL" -D "$T/store" -H dir-host -o cat | grep -qx "$tok" || die "record of the clients.d host not stored"

# 2. mac1 rejects do no DH.
dh0=$(status DH)
for _ in $(seq 20); do
	$PY -c "
import socket, os
s = socket.create_connection(('127.0.0.1', $PORT))
s.sendall(bytes([0, 155]) + os.urandom(155))
s.settimeout(5)
assert s.recv(1) == b''
"
done
[ "$(status mac1)" = 20 ] || die "mac1 rejects: $(status mac1), expected 20"
[ "$(status DH)" = "$dh0" ] || die "DH count moved from $dh0 to $(status DH) on bad mac1"

# 3. Handshake rate: capture the agent's msg1 through a proxy? Simpler: the
#    agent's own reconnects. Replay its stored msg1 is not at hand, so send
#    its handshakes by restarting it quickly: every start is one DH.
kill -9 "$SHIPPER_PID"; wait "$SHIPPER_PID" 2>/dev/null; SHIPPER_PID=
for i in 1 2 3 4 5 6; do
	"$SHIPPER" -d -c "$T/shipper.conf" >>"$T/burst.log" 2>&1 &
	p=$!
	# Until this start's handshake is answered or refused (ASan is slow).
	for _ in $(seq 40); do
		[ "$(grep -c "connected to collector\|connection closed by collector" "$T/burst.log")" -ge "$i" ] && break
		sleep 0.05
	done
	kill -9 "$p"; wait "$p" 2>/dev/null
done
rate=$(status rate)
[ "$rate" != missing ] && [ "$rate" -ge 1 ] || die "no handshake refused by the rate limit (rate=$rate)"
dh=$(status DH)
[ $((dh - dh0)) -le 5 ] || die "$((dh - dh0)) DH operations in a burst limited to 3 plus 1/s"

# 4. SIGHUP after removing the key: the session ends, reconnects are refused.
sleep 3 # let the bucket refill
before=$(grep -c "connected to collector" "$T/shipper.log")
start_shipper
for _ in $(seq 200); do
	[ "$(grep -c "connected to collector" "$T/shipper.log")" -gt "$before" ] && break
	sleep 0.05
done
[ "$(grep -c "connected to collector" "$T/shipper.log")" -gt "$before" ] || die "agent did not reconnect"
sleep 0.5 # its first transport message confirms the session
rm "$T/clients.d/dir-host.pub"
kill -HUP "$COLLECTOR_PID"
for _ in $(seq 100); do grep -q "key removed from the configuration" "$T/collector.log" && break; sleep 0.05; done
grep -q "key removed from the configuration" "$T/collector.log" || die "session not closed on reload"
grep -q "reloaded .*: 0 client(s)" "$T/collector.log" || die "reload not logged"
for _ in $(seq 100); do grep -q "unknown key" "$T/collector.log" && break; sleep 0.05; done
grep -q "unknown key" "$T/collector.log" || die "reconnect after removal not refused"
grep -q "RELOADING=1" "$T/notify.log" || die "no RELOADING=1"
"$KMSGCTL" -D "$T/store" -H dir-host -o json | grep -q '"END_REASON":"key removed from the configuration"' ||
	die "session end event not stored"
kill "$NOTIFY_PID"
echo "PASS: clients_dir, STATUS counters, no DH on bad mac1, handshake rate limit, SIGHUP key removal"
