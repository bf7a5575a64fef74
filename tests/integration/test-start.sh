#!/bin/sh
# SPDX-License-Identifier: ISC
# Bad start conditions stop both daemons at start (issue 8, item 7): a
# private key that group or others may read or that another user owns, a
# state or spool directory of another user, one the daemon cannot write
# or that its user could not reach after the drop, a user that does not
# exist, a kernel log path that does not exist, a listen port in use. Each
# case runs the daemon with -d (everything down to debug on stderr) and a
# NOTIFY_SOCKET, and asserts: exit status 1, nothing on stdout, exactly one
# line on stderr naming the path, user or port and what was expected,
# nothing created or handed over, and no datagram at all (so no READY=1).
# -n checks the same without starting: exit 0 with "configuration OK" and
# nothing created or bound, or 1 with the one line. Finally both daemons
# start with the good configurations and do send READY=1 to the same
# socket, which shows that the socket would have seen one.
# Usage: test-start.sh BUILD_DIR
BUILD=${1:?usage: test-start.sh BUILD_DIR}
NAME=start
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (other users' files, the user switch)"; exit 77; }

make_keys
# The agent reads a kmsg-format file: no need for the real kernel log.
printf '6,1,1000,-;%s-%s-1\n' "$NAME" "$RUNID" >"$T/kmsg"
write_configs "start-host" "$T/kmsg"
chmod 644 "$T/shipper.conf" "$T/collector.conf"
NOBODY_GID=$(id -g nobody)

# The notify socket: every datagram goes to $T/notify.out, one per line.
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
: >"$T/notify.out"

# variant NAME BASE SED...: BASE edited by the sed scripts, as $T/NAME.conf.
variant() {
	name=$1 base=$2
	shift 2
	cp "$base" "$T/$name.conf"
	for e in "$@"; do
		sed -i -e "$e" "$T/$name.conf"
	done
	cmp -s "$base" "$T/$name.conf" && die "$name: the edit changed nothing"
	chmod 644 "$T/$name.conf"
}

# run_daemon CMD...: run CMD with the notify socket, at most 10 s; $rc,
# stdout in $T/out, stderr in $T/err.
run_daemon() {
	NOTIFY_SOCKET=$T/notify.sock "$@" >"$T/out" 2>"$T/err" &
	pid=$!
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		wait "$pid"
		die "still running after 10 s: $*; stderr: $(cat "$T/err")"
	fi
	wait "$pid"
	rc=$?
}

# refused LABEL PROG TEXT... -- CMD...: CMD exits 1, prints nothing on
# stdout and one line "PROG: ..." on stderr holding every TEXT; no
# datagram reached the notify socket.
cases=0
refused() {
	label=$1 prog=$2
	shift 2
	: >"$T/texts"
	while [ "$1" != -- ]; do
		printf '%s\n' "$1" >>"$T/texts"
		shift
	done
	shift
	run_daemon "$@"
	[ "$rc" = 1 ] || die "$label: exit status $rc, expected 1; stderr: $(cat "$T/err")"
	[ -s "$T/out" ] && die "$label: wrote to stdout: $(cat "$T/out")"
	n=$(wc -l <"$T/err")
	[ "$n" = 1 ] || die "$label: $n lines on stderr, expected 1:
$(cat "$T/err")"
	grep -q "^$prog: " "$T/err" || die "$label: the line does not start with '$prog: ': $(cat "$T/err")"
	while IFS= read -r t; do
		grep -qF -- "$t" "$T/err" || die "$label: the line lacks '$t': $(cat "$T/err")"
	done <"$T/texts"
	[ -s "$T/notify.out" ] && die "$label: sent to NOTIFY_SOCKET: $(cat "$T/notify.out")"
	cases=$((cases + 1))
	echo "ok: $label: $(cat "$T/err")"
}

# accepted LABEL CMD...: -n exits 0, says "configuration OK", nothing on stderr.
accepted() {
	label=$1
	shift
	run_daemon "$@"
	[ "$rc" = 0 ] || die "$label: exit status $rc, expected 0; stderr: $(cat "$T/err")"
	grep -q ": configuration OK" "$T/out" || die "$label: no 'configuration OK': $(cat "$T/out")"
	[ -s "$T/err" ] && die "$label: wrote to stderr: $(cat "$T/err")"
	cases=$((cases + 1))
	echo "ok: $label: $(cat "$T/out")"
}

# absent PATH LABEL: the refused start created nothing.
absent() {
	[ -e "$1" ] && die "$2: $1 was created"
	return 0
}

# owner PATH USER LABEL: the refused start handed nothing over.
owner() {
	[ "$(stat -c %U "$1")" = "$2" ] || die "$3: $1 now belongs to $(stat -c %U "$1"), was $2"
}

A=$T/shipper.conf
C=$T/collector.conf

# --- The agent, started as root ---
cp "$T/agent.key" "$T/open.key"
chmod 644 "$T/open.key"
variant a-open "$A" "s|$T/agent.key|$T/open.key|"
refused "agent: key mode 0644" kmsg-shipper "private key $T/open.key" "group or others" "mode 0644" "chmod 600" \
	-- "$SHIPPER" -d -c "$T/a-open.conf"
absent "$T/spool" "agent: key mode 0644"

cp "$T/agent.key" "$T/nobody.key"
chown nobody "$T/nobody.key"
variant a-nobody-key "$A" "s|$T/agent.key|$T/nobody.key|"
refused "agent: key owned by nobody" kmsg-shipper "private key $T/nobody.key" "owned by nobody" \
	"expected owner root or kmsg-shipper" -- "$SHIPPER" -d -c "$T/a-nobody-key.conf"
absent "$T/spool" "agent: key owned by nobody"

mkdir -p "$T/a-spool/spool"
chown nobody: "$T/a-spool/spool"
variant a-spool "$A" "s|$T/spool|$T/a-spool|"
refused "agent: spool directory owned by nobody" kmsg-shipper "spool directory $T/a-spool/spool" \
	"owned by nobody" "expected owner root or kmsg-shipper" -- "$SHIPPER" -d -c "$T/a-spool.conf"
owner "$T/a-spool/spool" nobody "agent: spool directory owned by nobody"
owner "$T/a-spool" root "agent: spool directory owned by nobody"
[ -z "$(ls -A "$T/a-spool/spool")" ] || die "agent: files written into nobody's spool directory"

mkdir "$T/a-state"
chown nobody: "$T/a-state"
variant a-state "$A" "s|$T/spool|$T/a-state|"
refused "agent: state directory owned by nobody" kmsg-shipper "state directory $T/a-state" "owned by nobody" \
	"expected owner root or kmsg-shipper" -- "$SHIPPER" -d -c "$T/a-state.conf"
owner "$T/a-state" nobody "agent: state directory owned by nobody"
absent "$T/a-state/spool" "agent: state directory owned by nobody"

variant a-user "$A" "\$a user = \"ks-no-such-user-$RUNID\";"
refused "agent: no such user" kmsg-shipper "user ks-no-such-user-$RUNID" "no such user" \
	-- "$SHIPPER" -d -c "$T/a-user.conf"
absent "$T/spool" "agent: no such user"

variant a-kmsg "$A" "s|\"$T/kmsg\"|\"$T/no-such-kmsg\"|"
refused "agent: kmsg.path missing" kmsg-shipper "kernel log $T/no-such-kmsg" "No such file or directory" \
	-- "$SHIPPER" -d -c "$T/a-kmsg.conf"

mkdir -m 700 "$T/closed"
variant a-reach "$A" "s|$T/spool|$T/closed/state|"
refused "agent: state directory out of the user's reach" kmsg-shipper "state directory $T/closed/state" \
	"$T/closed (mode 0700" "does not let kmsg-shipper" -- "$SHIPPER" -d -c "$T/a-reach.conf"
absent "$T/closed/state" "agent: state directory out of reach"

# --- The agent, started as nobody: a root directory it cannot write ---
mkdir -m 755 "$T/np" "$T/np/state"
cp "$T/agent.key" "$T/np/agent.key"
chown nobody "$T/np/agent.key"
variant a-np "$A" "s|$T/agent.key|$T/np/agent.key|" "s|$T/spool|$T/np/state|"
refused "agent as nobody: state directory not writable" kmsg-shipper "state directory $T/np/state" \
	"not writable by nobody" "Permission denied" -- \
	setpriv --reuid=nobody --regid="$NOBODY_GID" --clear-groups "$SHIPPER" -d -c "$T/a-np.conf"
absent "$T/np/state/spool" "agent as nobody: state directory not writable"

# --- The collector, started as root ---
variant c-open "$C" "s|$T/collector.key|$T/open.key|"
refused "collector: key mode 0644" kmsg-collector "private key $T/open.key" "mode 0644" "chmod 600" \
	-- "$COLLECTOR" -d -c "$T/c-open.conf"
absent "$T/store" "collector: key mode 0644"

cp "$T/collector.key" "$T/nobody-c.key"
chown nobody "$T/nobody-c.key"
variant c-nobody-key "$C" "s|$T/collector.key|$T/nobody-c.key|"
refused "collector: key owned by nobody" kmsg-collector "private key $T/nobody-c.key" "owned by nobody" \
	"expected owner root or kmsg-collector" -- "$COLLECTOR" -d -c "$T/c-nobody-key.conf"

mkdir "$T/c-state"
chown nobody: "$T/c-state"
variant c-state "$C" "s|$T/store|$T/c-state|"
refused "collector: state directory owned by nobody" kmsg-collector "state directory $T/c-state" \
	"owned by nobody" "expected owner root or kmsg-collector" -- "$COLLECTOR" -d -c "$T/c-state.conf"
owner "$T/c-state" nobody "collector: state directory owned by nobody"
absent "$T/c-state/hosts" "collector: state directory owned by nobody"

mkdir -m 700 "$T/closed-c"
cp "$C" "$T/closed-c/collector.conf"
refused "collector: configuration out of the user's reach" kmsg-collector \
	"configuration $T/closed-c/collector.conf" "$T/closed-c (mode 0700" "does not let kmsg-collector" \
	-- "$COLLECTOR" -d -c "$T/closed-c/collector.conf"

variant c-user "$C" "\$a user = \"ks-no-such-user-$RUNID\";"
refused "collector: no such user" kmsg-collector "user ks-no-such-user-$RUNID" "no such user" \
	-- "$COLLECTOR" -d -c "$T/c-user.conf"

# The port taken by another listener.
$PY - "$PORT" "$T/holder.out" <<'EOP' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
open(sys.argv[2], "w").write("bound\n")
time.sleep(600)
EOP
HOLDER=$!
EXTRA_PIDS="$EXTRA_PIDS $HOLDER"
for _ in $(seq 100); do
	grep -q bound "$T/holder.out" 2>/dev/null && break
	sleep 0.05
done
grep -q bound "$T/holder.out" 2>/dev/null || die "could not take port $PORT"
# (The store is opened before the bind: this one gets its own.)
variant c-port "$C" "s|$T/store|$T/c-port-store|"
refused "collector: listen port in use" kmsg-collector "127.0.0.1 port $PORT" "Address already in use" \
	-- "$COLLECTOR" -d -c "$T/c-port.conf"

# --- -n: checks without starting ---
accepted "agent -n" "$SHIPPER" -n -c "$A"
absent "$T/spool" "agent -n"
# -n as root checks as the user the unit runs the collector as (issue 16,
# item 5): a key only root may read passes a root start but not the
# service, so -n refuses it, naming the user and the fix.
refused "collector -n: key root's, not readable by kmsg-collector" kmsg-collector \
	"private key $T/collector.key: Permission denied as kmsg-collector, the user the service runs as" \
	"chown kmsg-collector: $T/collector.key" -- "$COLLECTOR" -n -c "$C"
chown kmsg-collector "$T/collector.key"
accepted "collector -n, its port in use (-n binds nothing)" "$COLLECTOR" -n -c "$C"
absent "$T/store" "collector -n"
kill "$HOLDER"
refused "agent -n: no such user" kmsg-shipper "user ks-no-such-user-$RUNID" "no such user" \
	-- "$SHIPPER" -n -c "$T/a-user.conf"
refused "agent -n: key owned by nobody" kmsg-shipper "private key $T/nobody.key" "owned by nobody" \
	-- "$SHIPPER" -n -c "$T/a-nobody-key.conf"
refused "agent -n: kmsg.path missing" kmsg-shipper "kernel log $T/no-such-kmsg" "No such file or directory" \
	-- "$SHIPPER" -n -c "$T/a-kmsg.conf"
refused "agent -n: spool directory owned by nobody" kmsg-shipper "spool directory $T/a-spool/spool" \
	"owned by nobody" -- "$SHIPPER" -n -c "$T/a-spool.conf"
: >"$T/plain-file"
variant a-file "$A" "s|$T/spool|$T/plain-file/state|"
refused "agent -n: state directory that cannot be created" kmsg-shipper "state directory $T/plain-file/state" \
	"cannot be created" "$T/plain-file is not a directory" -- "$SHIPPER" -n -c "$T/a-file.conf"
variant a-journal "$A" "\$a journal = { enable = true; directory = \"$T/no-such-journal\"; };"
refused "agent -n: journal directory missing" kmsg-shipper "journal directory $T/no-such-journal" \
	"No such file or directory" -- "$SHIPPER" -n -c "$T/a-journal.conf"
variant a-syntax "$A" "\$a bogus_setting = 1;"
refused "agent -n: unknown setting" kmsg-shipper "$T/a-syntax.conf:$(grep -c '' "$T/a-syntax.conf"): unknown setting 'bogus_setting'" \
	-- "$SHIPPER" -n -c "$T/a-syntax.conf"
refused "collector -n: no such user" kmsg-collector "user ks-no-such-user-$RUNID" "no such user" \
	-- "$COLLECTOR" -n -c "$T/c-user.conf"
refused "collector -n: state directory owned by nobody" kmsg-collector "state directory $T/c-state" \
	"owned by nobody" -- "$COLLECTOR" -n -c "$T/c-state.conf"
refused "collector -n: key mode 0644" kmsg-collector "private key $T/open.key" "mode 0644" \
	-- "$COLLECTOR" -n -c "$T/c-open.conf"

sleep 0.5
[ -s "$T/notify.out" ] && die "a refused start sent to NOTIFY_SOCKET: $(cat "$T/notify.out")"
echo "ok: $cases cases; no datagram from any refused start"

# --- Both start with the good configurations, and say READY=1 ---
# The collector's key as the unit documents it: kmsg-collector's, 0600.
# The agent's state directory two levels below what exists, under umask
# 077: the parents it makes stay within its user's reach (0755).
chown kmsg-collector "$T/collector.key"
NOTIFY_SOCKET=$T/notify.sock "$COLLECTOR" -d -c "$C" >>"$T/collector.log" 2>&1 &
COLLECTOR_PID=$!
variant a-deep "$A" "s|$T/spool|$T/new/parent/state|"
(umask 077 && NOTIFY_SOCKET=$T/notify.sock exec "$SHIPPER" -d -c "$T/a-deep.conf" >>"$T/shipper.log" 2>&1) &
SHIPPER_PID=$!
for _ in $(seq 200); do
	[ "$(grep -c '^READY=1' "$T/notify.out")" -ge 2 ] && break
	sleep 0.05
done
[ "$(grep -c '^READY=1' "$T/notify.out")" = 2 ] ||
	die "good starts: $(grep -c '^READY=1' "$T/notify.out") READY=1, expected 2: $(cat "$T/notify.out")"
for d in "$T/new" "$T/new/parent"; do
	[ "$(stat -c %a "$d")" = 755 ] || die "agent made $d with mode $(stat -c %a "$d"), expected 755"
done
owner "$T/new/parent/state" kmsg-shipper "good start"
echo "ok: the good configurations start and send READY=1 (collector key owned by kmsg-collector," \
	"agent state directory made below new parents 0755)"
echo "PASS: $cases cases: bad start conditions refused in one line with exit status 1, -n checks"
