#!/bin/sh
# SPDX-License-Identifier: ISC
# Landlock unavailable (issue 16, item 0): under a system-call filter that
# answers EPERM to landlock_create_ruleset, as systemd-nspawn's does on
# systemd 252, both daemons start all the same: a warning names why, the
# sandbox line says "no landlock", and STATUS= says "sandbox without
# Landlock". With landlock = "required" in the configuration each refuses
# to start instead: exit status 1, one error line naming the setting.
# The filter: a python3 wrapper installs it (seccomp, NO_NEW_PRIVS) and
# execs the daemon. No root needed: the daemons keep the starting user.
# Usage: test-landlock-unavailable.sh BUILD_DIR
BUILD=${1:?usage: test-landlock-unavailable.sh BUILD_DIR}
NAME=landlock-off
. "$(dirname "$0")/lib.sh"

# noll CMD...: exec CMD where landlock_create_ruleset (444 on every
# architecture) fails with EPERM. It execs (run it in a subshell or in
# the background): the pid of "noll ... &" is the daemon's.
noll() {
	exec $PY - "$@" <<'EOP'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
# BPF: A = seccomp_data.nr; nr == 444 ? ERRNO(EPERM) : ALLOW
prog = [(0x20, 0, 0, 0), (0x15, 0, 1, 444), (0x06, 0, 0, 0x00050000 | 1), (0x06, 0, 0, 0x7fff0000)]
raw = b"".join(struct.pack("HBBI", *i) for i in prog)
buf = ctypes.create_string_buffer(raw)
fprog = struct.pack("HxxxxxxP", len(prog), ctypes.addressof(buf))
fbuf = ctypes.create_string_buffer(fprog)
if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.addressof(fbuf), 0, 0) != 0:
    sys.exit("noll: cannot install the filter: %s" % os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
EOP
}

# The notify socket: every datagram to $T/notify.out, one per line.
$PY - "$T/notify.sock" "$T/notify.out" <<'EOP' &
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
	[ -S "$T/notify.sock" ] && break
	sleep 0.05
done
[ -S "$T/notify.sock" ] || die "notify listener did not start"
chmod 777 "$T/notify.sock"

# wait_grep FILE PATTERN [TENTHS]: until FILE has a line matching PATTERN.
wait_grep() {
	for _ in $(seq "${3:-100}"); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

make_keys
: >"$T/kmsg"
write_configs "landlock-host" "$T/kmsg"
if [ "$(id -u)" = 0 ]; then
	# Root: the daemons become their users; the key is the collector's.
	echo 'user = "nobody";' >>"$T/shipper.conf"
	chown kmsg-collector "$T/collector.key"
fi
chmod 644 "$T/collector.conf" "$T/shipper.conf"

# The filter works: without it Landlock is used here (or the kernel has none).
(noll "$PY" -c 'import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); r=l.syscall(444,0,0,1); sys.exit(0 if r<0 and ctypes.get_errno()==1 else 1)') ||
	die "the EPERM filter does not work"

for d in collector shipper; do
	if [ $d = shipper ]; then bin=$SHIPPER; else bin=$COLLECTOR; fi
	: >"$T/notify.out"
	NOTIFY_SOCKET=$T/notify.sock noll "$bin" -d -c "$T/$d.conf" >"$T/$d.log" 2>&1 &
	pid=$!
	if [ $d = shipper ]; then SHIPPER_PID=$pid; else COLLECTOR_PID=$pid; fi
	wait_grep "$T/$d.log" "sandbox: running as" || die "$d did not start without Landlock"
	grep -q "sandbox: Landlock unavailable (Landlock refused by a system-call filter (a container's?)); files are limited by the user only" "$T/$d.log" ||
		die "$d: no warning naming why Landlock is unavailable"
	grep -q "sandbox: running as .*, no landlock, seccomp on" "$T/$d.log" || die "$d: sandbox line does not say no landlock"
	wait_grep "$T/notify.out" "STATUS=.*; sandbox without Landlock: Landlock refused by a system-call filter" 30 ||
		die "$d: STATUS does not say Landlock is missing: $(tail -n 2 "$T/notify.out")"
	grep -q "READY=1" "$T/notify.out" || die "$d: no READY=1"
	kill -0 "$pid" 2>/dev/null || die "$d died"
	echo "ok: $d runs without Landlock: $(grep 'Landlock unavailable' "$T/$d.log")"
	echo "    $(grep -o 'sandbox without Landlock[^|]*' "$T/notify.out" | tail -n 1)"
	kill "$pid"
	wait "$pid" 2>/dev/null
	if [ $d = shipper ]; then SHIPPER_PID=; else COLLECTOR_PID=; fi

	# landlock = "required": no start.
	sed '1i landlock = "required";' "$T/$d.conf" >"$T/$d-req.conf"
	chmod 644 "$T/$d-req.conf"
	noll "$bin" -d -c "$T/$d-req.conf" >"$T/$d-req.log" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	[ "$rc" = 1 ] || die "$d with landlock = \"required\": exit status $rc, expected 1"
	line=$(grep -c "sandbox: Landlock unavailable (Landlock refused by a system-call filter (a container's?)) and landlock = \"required\" in $T/$d-req.conf" "$T/$d-req.log")
	[ "$line" = 1 ] || die "$d with landlock = \"required\": no line naming the setting: $(cat "$T/$d-req.log")"
	echo "ok: $d with landlock = \"required\" refuses to start: $(grep 'required' "$T/$d-req.log")"
done
echo "PASS: Landlock unavailable: a warning and STATUS, or no start when required"
