#!/bin/sh
# SPDX-License-Identifier: ISC
# The agent's sandbox, seen from outside. Started as root with user =
# "nobody", the running agent's /proc/PID/status shows nobody's uid and
# gid, no capability in any set (bounding and ambient included),
# NoNewPrivs 1 and Seccomp 2 (filter), and records still reach the
# collector. In a test build ($KS_TEST_FORBIDDEN, meson -Dtest_hooks=true)
# the agent attempts calls it must not make: reading /etc/shadow and
# /usr/bin/env (denied: not root, Landlock), netlink and packet sockets
# (EAFNOSUPPORT from seccomp), execve, setuid and ptrace (killed by
# seccomp: exit status 128+SIGSYS). A missing user and user root stop it
# at start with one line. Started as an unprivileged user (no capability
# at all) it runs too, without a user switch, in the same sandbox.
# Usage: test-privdrop.sh BUILD_DIR
BUILD=${1:?usage: test-privdrop.sh BUILD_DIR}
NAME=privdrop
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
need_kmsg
SIGSYS_STATUS=159 # 128 + SIGSYS (31 on x86_64 and aarch64)

make_keys
write_configs "priv-host"
echo 'user = "nobody";' >>"$T/shipper.conf"
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
start_collector

# wait_log FILE PATTERN: until FILE has a line matching PATTERN (5 s).
wait_log() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# status_ok PID UID GID GROUPS: the sandbox as /proc shows it (GROUPS: the
# supplementary groups, space separated); prints the lines.
status_ok() {
	st=/proc/$1/status
	grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "$st" |
		sed 's/^/  /'
	grep -Eq "^Uid:[[:space:]]+$2[[:space:]]+$2[[:space:]]+$2[[:space:]]+$2\$" "$st" || die "Uid is not $2 four times"
	grep -Eq "^Gid:[[:space:]]+$3[[:space:]]+$3[[:space:]]+$3[[:space:]]+$3\$" "$st" || die "Gid is not $3 four times"
	groups=$(sed -n 's/^Groups:[[:space:]]*//p' "$st" | tr -s ' \t' '  ' | sed 's/ $//')
	[ "$groups" = "$4" ] || die "Groups are '$groups', expected '$4'"
	for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -q "^$cap:[[:space:]]*0000000000000000\$" "$st" || die "$cap is not empty: $(grep "^$cap:" "$st")"
	done
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || die "NoNewPrivs is not 1"
	grep -q '^Seccomp:[[:space:]]*2$' "$st" || die "Seccomp is not 2 (filter)"
}

# 1. Root start, user nobody: the running agent's credentials.
start_shipper
wait_log "$T/shipper.log" "sandbox: running as nobody" || die "agent did not enter its sandbox"
sleep 0.2
kill -0 "$SHIPPER_PID" 2>/dev/null || die "agent died after the sandbox"
echo "running agent (user nobody), /proc/$SHIPPER_PID/status:"
status_ok "$SHIPPER_PID" "$NOBODY_UID" "$NOBODY_GID" "$(id -G nobody)"
[ "$(stat -c %u "$T/spool")" = "$NOBODY_UID" ] || die "state directory not given to nobody"
[ "$(find "$T/spool" ! -user nobody | wc -l)" = 0 ] || die "files in the state directory not given to nobody"
echo "ok: uid/gid nobody, no capabilities, NoNewPrivs 1, Seccomp 2, state directory nobody's"

# 2. Records flow after the drop (TCP, spool growth, acks, all sandboxed).
: >"$T/expect"
for i in $(seq 1 30); do
	tok="$NAME-$RUNID-$i"
	kmsg_line $((3 * 8 + i % 8)) "$tok"
	echo "$tok $((i % 8)) 3" >>"$T/expect"
done
verify priv-host "$T/expect"
kill -TERM "$SHIPPER_PID"
wait "$SHIPPER_PID"
rc=$?
SHIPPER_PID=
[ "$rc" = 0 ] || die "agent exit status $rc after SIGTERM (the drain runs in the sandbox)"
echo "ok: 30 records stored after the drop; SIGTERM drain exits 0"

# 3. Forbidden calls (test builds only).
if grep -q '^#define KS_TEST_HOOKS' "$BUILD/config.h"; then
	# forbid NAME EXPECT: EXPECT is a log text, or "killed".
	forbid() {
		log=$T/forbid-$1.log
		KS_TEST_FORBIDDEN=$1 "$SHIPPER" -d -c "$T/shipper.conf" >"$log" 2>&1 &
		pid=$!
		if [ "$2" = killed ]; then
			# Killed at once, or still running (the call was allowed).
			for _ in $(seq 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.05
			done
			kill -9 "$pid" 2>/dev/null
			wait "$pid"
			rc=$?
			[ "$rc" = "$SIGSYS_STATUS" ] || die "$1: exit status $rc, expected $SIGSYS_STATUS (SIGSYS)"
			echo "ok: $1: killed by SIGSYS"
		else
			wait_log "$log" "forbidden $1: " || { kill -9 "$pid"; die "$1: no outcome logged"; }
			kill -9 "$pid"
			wait "$pid" 2>/dev/null
			got=$(sed -n "s/^.*forbidden $1: //p" "$log")
			[ "$got" = "$2" ] || die "$1: '$got', expected '$2'"
			echo "ok: $1: $got"
		fi
	}
	forbid open_etc_shadow "Permission denied"
	if grep -q "landlock, seccomp" "$T/shipper.log"; then
		forbid open_usr_bin_env "Permission denied"
	else
		echo "note: no Landlock in this kernel: /usr/bin/env stays readable"
	fi
	forbid socket_netlink "Address family not supported by protocol"
	forbid socket_packet "Address family not supported by protocol"
	forbid execve killed
	forbid setuid killed
	# Threads only (the kmsg reader): clone3 fails (glibc falls back to
	# clone), clone without CLONE_THREAD (fork) is killed.
	forbid clone3 "Function not implemented"
	if grep -q '^#define KS_SANITIZE_BUILD' "$BUILD/config.h"; then
		echo "note: sanitizer build: clone is allowed (LeakSanitizer), fork not tried"
	else
		forbid fork killed
	fi
	# Sanitizer builds allow ptrace: LeakSanitizer's tracer needs it.
	if grep -q '^#define KS_SANITIZE_BUILD' "$BUILD/config.h"; then
		echo "note: sanitizer build: ptrace is allowed (LeakSanitizer), not tried"
	else
		forbid ptrace killed
	fi
	KS_TEST_FORBIDDEN=no-such-call "$SHIPPER" -d -c "$T/shipper.conf" >"$T/forbid-bad.log" 2>&1 &
	pid=$!
	wait_log "$T/forbid-bad.log" "KS_TEST_FORBIDDEN: unknown" || die "unknown hook name not reported"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
else
	echo "SKIP (part): not a test build (-Dtest_hooks=false): no forbidden calls tried"
fi

# 3b. As systemd 252 hands over a StateDirectory= without User= (issue 16,
# item 0): the state directory and all beneath it root's, mode 0700, from
# an earlier run (a subdirectory with a file included), and the agent
# started as root with only the unit's capabilities (CapabilityBoundingSet=
# of kmsg-shipper.service: no CAP_DAC_*). It gives everything to its user
# and runs; before the fix it gave the top first, then could not look
# inside ("giving it to nobody: Permission denied").
mkdir -p "$T/sd/spool/sub"
cp -a "$T/spool/." "$T/sd/spool/"
echo x >"$T/sd/spool/sub/file"
chown -R root:root "$T/sd/spool"
chmod 0700 "$T/sd/spool" "$T/sd/spool/sub"
sed "s|$T/spool|$T/sd/spool|" "$T/shipper.conf" >"$T/sd.conf"
setpriv --bounding-set=-all,+syslog,+chown,+setuid,+setgid,+setpcap --inh-caps=-all \
	"$SHIPPER" -d -c "$T/sd.conf" >"$T/sd.log" 2>&1 &
SHIPPER_PID=$!
wait_log "$T/sd.log" "sandbox: running as nobody" || die "agent with the unit's capabilities did not start on a root-owned state directory"
[ "$(find "$T/sd/spool" ! -user nobody | wc -l)" = 0 ] || die "not given to nobody: $(find "$T/sd/spool" ! -user nobody)"
kill -TERM "$SHIPPER_PID"
wait "$SHIPPER_PID"
SHIPPER_PID=
echo "ok: a root-owned state directory (0700, with a subdirectory) given to nobody with the unit's capabilities only"

# 4. Bad users stop it at start, with one line naming the user.
for u in ks-no-such-user-$RUNID root; do
	sed "s/^user = .*/user = \"$u\";/" "$T/shipper.conf" >"$T/bad-user.conf"
	"$SHIPPER" -d -c "$T/bad-user.conf" >"$T/bad-user.log" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	[ "$rc" = 1 ] || die "user $u: exit status $rc, expected 1"
	grep -q "^kmsg-shipper: user $u: " "$T/bad-user.log" || die "user $u: no message naming the user: $(cat "$T/bad-user.log")"
	echo "ok: user $u refused: $(grep "user $u: " "$T/bad-user.log")"
done

# 5. Not root: nobody without any capability, reading a FIFO (the real
# /dev/kmsg needs CAP_SYSLOG at open), with its own key and state.
mkdir "$T/np"
mkfifo "$T/np/kmsg.fifo"
cp "$T/agent.key" "$T/np/agent.key"
sed -e "s|$T/agent.key|$T/np/agent.key|" -e "s|$T/spool|$T/np/spool|" \
	-e "s|/dev/kmsg|$T/np/kmsg.fifo|" -e '/^user = /d' "$T/shipper.conf" >"$T/np/shipper.conf"
chown -R nobody: "$T/np"
chmod 755 "$T/np"
setpriv --reuid=nobody --regid="$NOBODY_GID" --clear-groups --inh-caps=-all --bounding-set=-all \
	"$SHIPPER" -d -c "$T/np/shipper.conf" >"$T/np.log" 2>&1 &
SHIPPER_PID=$!
wait_log "$T/np.log" "sandbox: running as the starting user" || die "unprivileged agent did not start"
grep -q "not started as root (uid $NOBODY_UID): no user switch" "$T/np.log" || die "no debug line about the missing drop"
exec 7>"$T/np/kmsg.fifo"
sleep 0.2
echo "running agent (started as nobody), /proc/$SHIPPER_PID/status:"
status_ok "$SHIPPER_PID" "$NOBODY_UID" "$NOBODY_GID" ""
# The store keeps the first 30: the expectation grows.
for i in $(seq 100 109); do
	tok="$NAME-$RUNID-$i"
	printf '6,%d,%d,-;%s\n' "$((i + 1000000))" "$((i * 1000))" "$tok" >&7
	echo "$tok 6 0" >>"$T/expect"
done
verify priv-host "$T/expect"
exec 7>&-
echo "PASS: sandboxed agent as root-started and as unprivileged user"
