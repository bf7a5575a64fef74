#!/bin/sh
# SPDX-License-Identifier: ISC
# Socket activation of the collector, as systemd passes a socket from
# kmsg-collector.socket: a listening TCP socket on descriptor 3 with
# LISTEN_FDS=1 and LISTEN_PID of the collector (a python3 wrapper binds,
# sets them and execs the collector, as systemd-socket-activate does). The
# collector accepts agents on that socket, binds nothing of its own (the
# port in its configuration stays free), drops to its user and stores
# records. A descriptor that is not a listening stream socket is refused
# at start with one line.
# Usage: test-socket-activation.sh BUILD_DIR
BUILD=${1:?usage: test-socket-activation.sh BUILD_DIR}
NAME=sockact
. "$(dirname "$0")/lib.sh"
need_kmsg

make_keys
write_configs "sockact-host"
# The configured port is another one: it must not be bound.
CONF_PORT=$(free_port)
sed -i "s/port = $PORT; } );\$/port = $CONF_PORT; } );/" "$T/collector.conf"
grep -q "port = $CONF_PORT;" "$T/collector.conf" || die "could not change the listen port"

# activate KIND CMD...: exec CMD with descriptor 3 as systemd would pass it
# (KIND listen: a TCP socket listening on 127.0.0.1:$PORT; dgram: a UDP one).
# exec: run in the background, the subshell becomes python and then CMD,
# so that $! is the daemon's pid (without it $! was the subshell's and
# every run left a collector behind).
activate() {
	exec $PY - "$PORT" "$@" <<'EOP'
import os, socket, sys
port, kind, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
if kind == "listen":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="kmsg-collector.socket")
os.execve(argv[0], argv, env)
EOP
}

activate listen "$COLLECTOR" -d -c "$T/collector.conf" >>"$T/collector.log" 2>&1 &
COLLECTOR_PID=$!
for _ in $(seq 100); do
	grep -q "sandbox: running as" "$T/collector.log" && break
	sleep 0.05
done
grep -q "listening on 1 socket(s) from the service manager" "$T/collector.log" ||
	die "collector did not take the socket from LISTEN_FDS"
if $PY -c "import socket; socket.create_connection(('127.0.0.1',$CONF_PORT),0.5).close()" 2>/dev/null; then
	die "collector bound its configured port $CONF_PORT although it got a socket"
fi
echo "ok: collector accepts on the passed socket, configured port $CONF_PORT left alone"

start_shipper
: >"$T/expect"
for i in $(seq 1 20); do
	tok="$NAME-$RUNID-$i"
	kmsg_line 12 "$tok"
	echo "$tok 4 1" >>"$T/expect"
done
verify sockact-host "$T/expect"
echo "ok: 20 records through the activated socket"
kill "$SHIPPER_PID" "$COLLECTOR_PID"
wait "$SHIPPER_PID" "$COLLECTOR_PID" 2>/dev/null
SHIPPER_PID=
COLLECTOR_PID=
# The pid killed was the collector's own: none is left with this config.
left=$(pgrep -f -- "-c $T/collector.conf")
[ -z "$left" ] || die "a collector outlived the kill of its pid: $(ps -o pid=,args= -p "$left")"
echo "ok: no collector left behind"

# A datagram socket is not what the collector can serve: it says so.
PORT=$(free_port)
(activate dgram "$COLLECTOR" -d -c "$T/collector.conf") >"$T/bad.log" 2>&1
rc=$?
[ "$rc" = 1 ] || die "collector with a UDP socket: exit status $rc, expected 1"
grep -q "socket activation: descriptor 3 is not a listening stream socket" "$T/bad.log" ||
	die "no message about the wrong socket: $(cat "$T/bad.log")"
echo "ok: a UDP socket refused: $(grep 'socket activation' "$T/bad.log")"
echo "PASS: socket activation"
