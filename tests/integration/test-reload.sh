#!/bin/sh
# SPDX-License-Identifier: ISC
# Reload under configuration management (issue 16, items 3 and 4), both
# daemons sandboxed as usual (Landlock included where the kernel has it):
#  - the configuration replaced by a new file renamed over it, by sed -i,
#    and by cp to another directory then mv, each followed by SIGHUP: each
#    reload is applied ("reloaded FILE: N client(s)/collector(s)" with the
#    new N), never "Permission denied";
#  - collector: clients_dir off at start, turned on by a reload (a
#    directory beneath the configuration's), the agent's key dropped there
#    and reloaded: the agent is accepted and its record stored; a second
#    key file added and reloaded counts one client more;
#  - a bad file: SIGHUP gives RELOADING=1 then READY=1, and every STATUS=
#    after it ends with "; reload failed, previous configuration kept:
#    FILE:LINE: ..." until a good reload clears it; --check-reload (what
#    the units' ExecReload= runs before SIGHUP) exits 1 with that line on
#    stderr for the bad file and 0, silent, for a good one;
#  - root only (a private mount namespace): the agent resolves the
#    collector's name from /etc/hosts; /etc/hosts and /etc/resolv.conf are
#    replaced by identical copies (rename) and the collector restarted: the
#    agent resolves the name again and reconnects.
# Usage: test-reload.sh BUILD_DIR
BUILD=${1:?usage: test-reload.sh BUILD_DIR}
NAME=reload
. "$(dirname "$0")/lib.sh"

make_keys
(umask 077 && "$KEYGEN" genkey >"$T/other.key") || die "genkey"
"$KEYGEN" pubkey <"$T/other.key" >"$T/other.pub" || die "pubkey"
mkdir "$T/conf"
chmod 755 "$T/conf"
if [ "$(id -u)" = 0 ]; then
	chown kmsg-collector "$T/collector.key"
fi
: >"$T/kmsg"
write_configs "reload-host" "$T/kmsg"
# The collector: no client at start, clients_dir off.
grep -v '^clients = ' "$T/collector.conf" >"$T/conf/collector.conf"
echo 'clients_dir = "";' >>"$T/conf/collector.conf"
mv "$T/shipper.conf" "$T/conf/shipper.conf"
chmod 644 "$T/conf/collector.conf" "$T/conf/shipper.conf"
CC=$T/conf/collector.conf
SC=$T/conf/shipper.conf

# The notify socket: every datagram to $T/notify-DAEMON.out, one a line.
listen_notify() {
	$PY - "$T/notify-$1.sock" "$T/notify-$1.out" <<'EOP' &
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
		[ -S "$T/notify-$1.sock" ] && break
		sleep 0.05
	done
	chmod 777 "$T/notify-$1.sock"
	: >"$T/notify-$1.out"
}
listen_notify collector
listen_notify shipper

# wait_count FILE PATTERN N: until FILE has N lines matching PATTERN (10 s).
wait_count() {
	for _ in $(seq 200); do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

NOTIFY_SOCKET=$T/notify-collector.sock "$COLLECTOR" -d -c "$CC" >>"$T/collector.log" 2>&1 &
COLLECTOR_PID=$!
wait_count "$T/collector.log" "sandbox: running as" 1 || die "collector did not start"
NOTIFY_SOCKET=$T/notify-shipper.sock "$SHIPPER" -d -c "$SC" >>"$T/shipper.log" 2>&1 &
SHIPPER_PID=$!
wait_count "$T/shipper.log" "sandbox: running as" 1 || die "agent did not start"

# replace HOW FILE SED: FILE edited by SED, replaced the way HOW says.
replace() {
	case $1 in
	rename)
		sed "$3" "$2" >"$2.new" && chmod 644 "$2.new" && mv "$2.new" "$2" ;;
	sed-i)
		sed -i "$3" "$2" ;;
	cp-mv)
		mkdir -p "$T/staging" && sed "$3" "$2" >"$T/staging/f" && chmod 644 "$T/staging/f" &&
			cp "$T/staging/f" "$2.tmp" && mv "$2.tmp" "$2" ;;
	esac || die "replace $1 $2"
}

# 1. The collector's file, three ways; each adds a client to the list.
n=0
reloads=0
for how in rename sed-i cp-mv; do
	n=$((n + 1))
	"$KEYGEN" genkey | "$KEYGEN" pubkey >"$T/k$n.pub"
	ino=$(stat -c %i "$CC")
	if [ $n = 1 ]; then
		replace $how "$CC" "\$a clients = ( { name = \"c$n\"; public_key = \"$(cat "$T/k$n.pub")\"; } );"
	else
		replace $how "$CC" "s|^clients = ( |clients = ( { name = \"c$n\"; public_key = \"$(cat "$T/k$n.pub")\"; }, |"
	fi
	[ "$(stat -c %i "$CC")" != "$ino" ] || die "$how did not replace the file (same inode)"
	kill -HUP "$COLLECTOR_PID"
	reloads=$((reloads + 1))
	wait_count "$T/collector.log" "reloaded $CC: \|reload: " "$reloads" || die "collector: no reload after $how"
	last=$(grep "reloaded $CC: \|reload: " "$T/collector.log" | tail -n 1)
	[ "$last" = "kmsg-collector: reloaded $CC: $n client(s)" ] || die "collector after $how: '$last'"
	echo "ok: collector, file replaced by $how: $last"
done

# 2. clients_dir turned on by a reload, the agent's key added there.
mkdir "$T/conf/clients.d"
chmod 755 "$T/conf/clients.d"
replace rename "$CC" "s|^clients_dir = .*|clients_dir = \"$T/conf/clients.d\";|"
kill -HUP "$COLLECTOR_PID"
reloads=$((reloads + 1))
wait_count "$T/collector.log" "reloaded $CC: \|reload: " "$reloads" || die "collector: no reload (clients_dir on)"
last=$(grep "reloaded $CC: \|reload: " "$T/collector.log" | tail -n 1)
[ "$last" = "kmsg-collector: reloaded $CC: 3 client(s)" ] || die "collector, clients_dir on: '$last'"
(umask 022 && cp "$T/agent.pub" "$T/conf/clients.d/reload-host.pub")
kill -HUP "$COLLECTOR_PID"
reloads=$((reloads + 1))
wait_count "$T/collector.log" "reloaded $CC: \|reload: " "$reloads" || die "collector: no reload (key added)"
last=$(grep "reloaded $CC: \|reload: " "$T/collector.log" | tail -n 1)
[ "$last" = "kmsg-collector: reloaded $CC: 4 client(s)" ] || die "collector, key added to clients_dir: '$last'"
tok=$NAME-$RUNID-1
printf '6,1,1000,-;%s\n' "$tok" >>"$T/kmsg"
echo "$tok 6 0" >"$T/expect"
verify reload-host "$T/expect" 30
echo "ok: clients_dir turned on by a reload, then the agent's key added there: agent accepted, record stored"
(umask 022 && cp "$T/other.pub" "$T/conf/clients.d/other-host.pub")
kill -HUP "$COLLECTOR_PID"
reloads=$((reloads + 1))
wait_count "$T/collector.log" "reloaded $CC: \|reload: " "$reloads" || die "collector: no reload (second key)"
last=$(grep "reloaded $CC: \|reload: " "$T/collector.log" | tail -n 1)
[ "$last" = "kmsg-collector: reloaded $CC: 5 client(s)" ] || die "collector, second key file: '$last'"
echo "ok: a second key file in clients_dir: $last"

# 3. The agent's file, three ways; each adds a collector to the list.
n=1
reloads=0
for how in rename sed-i cp-mv; do
	n=$((n + 1))
	ino=$(stat -c %i "$SC")
	replace $how "$SC" "s|^collectors = ( |collectors = ( { address = \"127.0.0.$((n + 10))\"; port = $PORT; public_key = \"$(cat "$T/collector.pub")\"; }, |"
	[ "$(stat -c %i "$SC")" != "$ino" ] || die "$how did not replace the file (same inode)"
	kill -HUP "$SHIPPER_PID"
	reloads=$((reloads + 1))
	wait_count "$T/shipper.log" "reloaded $SC: \|reload: " "$reloads" || die "agent: no reload after $how"
	last=$(grep "reloaded $SC: \|reload: " "$T/shipper.log" | tail -n 1)
	[ "$last" = "kmsg-shipper: reloaded $SC: $n collector(s)" ] || die "agent after $how: '$last'"
	echo "ok: agent, file replaced by $how: $last"
done

# 4. A failed reload is visible: RELOADING=1, READY=1, and STATUS= keeps
# saying so until a good reload; --check-reload fails on the same file.
for d in collector shipper; do
	if [ $d = shipper ]; then bin=$SHIPPER pid=$SHIPPER_PID f=$SC; else bin=$COLLECTOR pid=$COLLECTOR_PID f=$CC; fi
	cp "$f" "$T/$d.good"
	replace rename "$f" '$a this is not a setting'
	bad_line=$(grep -c '' "$f")
	"$bin" --check-reload -c "$f" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 1 ] || die "$d --check-reload on a bad file: exit status $rc, expected 1"
	[ "$(cat "$T/err")" = "kmsg-$d: $f:$bad_line: syntax error" ] ||
		die "$d --check-reload: stderr '$(cat "$T/err")'"
	: >"$T/notify-$d.out"
	kill -HUP "$pid"
	wait_count "$T/notify-$d.out" "STATUS=.*; reload failed, previous configuration kept: $f:$bad_line: syntax error" 2 ||
		die "$d: STATUS= does not keep the failed reload: $(cat "$T/notify-$d.out")"
	head -n 1 "$T/notify-$d.out" | grep -q '^RELOADING=1$' || die "$d: first message after SIGHUP is not RELOADING=1: $(head -n 1 "$T/notify-$d.out")"
	grep -q '^READY=1 | STATUS=reload failed' "$T/notify-$d.out" || die "$d: no READY=1 with the failure"
	echo "ok: $d, bad file: --check-reload exits 1 ($(cat "$T/err")); $(grep -o 'reload failed, previous[^|]*' "$T/notify-$d.out" | tail -n 1)"
	cp "$T/$d.good" "$f.new" && chmod 644 "$f.new" && mv "$f.new" "$f"
	"$bin" --check-reload -c "$f" >"$T/out" 2>"$T/err" || die "$d --check-reload on the good file: $(cat "$T/err")"
	[ -s "$T/out" ] || [ -s "$T/err" ] && die "$d --check-reload on a good file said something"
	: >"$T/notify-$d.out"
	kill -HUP "$pid"
	wait_count "$T/notify-$d.out" "STATUS=" 2 || die "$d: no STATUS after the good reload"
	tail -n 1 "$T/notify-$d.out" | grep -q "reload failed" && die "$d: STATUS still says the reload failed"
	echo "ok: $d, good file again: STATUS clear"
done
kill "$SHIPPER_PID" "$COLLECTOR_PID"
wait "$SHIPPER_PID" "$COLLECTOR_PID" 2>/dev/null
SHIPPER_PID=
COLLECTOR_PID=

# 5. Name resolution survives replaced resolver files (root: a private
# mount namespace with its own /etc, so the real one is not touched).
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "SKIP (part): name resolution with replaced /etc/hosts needs root and unshare"
	echo "PASS: reloads"
	exit 0
fi
mkdir "$T/etc"
cp -a /etc/. "$T/etc/" 2>/dev/null
chmod 755 "$T/etc"
rm -f "$T/etc/hosts" "$T/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n127.0.0.1\tks-reload-collector\n' >"$T/etc/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$T/etc/resolv.conf"
chmod 644 "$T/etc/hosts" "$T/etc/resolv.conf"
sed -i "s|^collectors = .*|collectors = ( { address = \"ks-reload-collector\"; port = $PORT; public_key = \"$(cat "$T/collector.pub")\"; } );|" "$SC"
: >"$T/collector.log"
start_collector
unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" /etc && shift && exec "$@"' sh "$T/etc" \
	"$SHIPPER" -d -c "$SC" >"$T/shipper-ns.log" 2>&1 &
SHIPPER_PID=$!
wait_count "$T/collector.log" "session from .* resuming at" 1 || die "agent in the namespace did not connect by name"
for f in hosts resolv.conf; do
	cp -p "$T/etc/$f" "$T/etc/$f.new" && mv "$T/etc/$f.new" "$T/etc/$f"
done
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
start_collector
wait_count "$T/collector.log" "session from .* resuming at" 2 ||
	die "agent did not reconnect by name after /etc/hosts and /etc/resolv.conf were replaced: $(grep -i 'resolv\|name\|known' "$T/shipper-ns.log" | tail -n 3)"
grep -q "Name or service not known\|Temporary failure in name resolution" "$T/shipper-ns.log" &&
	die "agent failed to resolve: $(grep -m1 'not known\|name resolution' "$T/shipper-ns.log")"
echo "ok: /etc/hosts and /etc/resolv.conf replaced (rename): the agent resolves the collector's name again"
echo "PASS: reloads"
