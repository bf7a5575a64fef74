#!/bin/sh
# SPDX-License-Identifier: ISC
# The admin's path under a real systemd (issue 16, item 0): a Debian 12
# container booted with systemd as PID 1 (systemd-nspawn from Debian's
# systemd-container; its root made by mmdebstrap from Debian's archive and
# cached as a tarball in $KS_CI_CACHE, /var/cache/kmsg-shipper-ci by
# default; /dev/kmsg bound in with CAP_SYSLOG; a private network). A build
# configured as docs/INSTALL.md section 1 says (release, /usr, /etc, /var)
# is made on this host (Debian 12 too: the same libraries) and bound into
# the container at the same path. Inside, as root:
#   meson install, systemd-sysusers, systemd-tmpfiles --create;
#   the steps of docs/INSTALL.md sections 2 to 4, collector and agent on
#   the one host (keys, the collector's key given to its user, the
#   agent's key in clients.d/, -n of both, which must say OK);
#   systemctl enable --now kmsg-collector.socket kmsg-collector.service
#   and kmsg-shipper.service; a line written to /dev/kmsg found by
#   kmsgctl; systemctl reload and restart of both, a line after each;
#   systemctl stop of all three; no unit failed, no restart by systemd.
# Skips (77) with the reason where this host cannot: not root, no
# /dev/kmsg, no systemd-nspawn or mmdebstrap (.ci/deps installs them), no
# root image and none can be made (no archive reachable), or a container
# that does not boot to "running"/"degraded" within 90 s (the boot log's
# end is printed).
# Usage: test-container.sh SOURCE_DIR BUILD_DIR
SRC=$(cd "${1:?usage: test-container.sh SOURCE_DIR BUILD_DIR}" && pwd)
BUILD=${2:?usage: test-container.sh SOURCE_DIR BUILD_DIR}
NAME=container
. "$(dirname "$0")/lib.sh"
skip() {
	echo "SKIP: $*"
	exit 77
}
trap 'exit 1' INT TERM HUP # a timeout's SIGTERM: through the EXIT trap
# It compiles its own release build from the source: once per CI run is
# enough, in the plain build, not again in the sanitizer one.
grep -q '^#define KS_SANITIZE_BUILD' "$BUILD/config.h" 2>/dev/null &&
	skip "run from the plain build only (it compiles its own release build; this one is sanitized)"
[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn)"
need_kmsg
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (apt-get install systemd-container; .ci/deps does)"
command -v mmdebstrap >/dev/null || skip "no mmdebstrap (apt-get install mmdebstrap; .ci/deps does)"
command -v nsenter >/dev/null || skip "no nsenter (util-linux)"
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

# 1. The root image, cached: named by what it holds, so a change of the
# package list makes a new one. Built into a temporary name and renamed,
# so that an interrupted build leaves no half tarball.
CACHE=${KS_CI_CACHE:-/var/cache/kmsg-shipper-ci}
PKGS="systemd,systemd-sysv,dbus,libsodium23,libconfig9,meson,ninja-build,python3"
key=$(echo "bookworm minbase $PKGS" | sha256sum | cut -c1-12)
IMG=$CACHE/debian12-$key.tar
if [ ! -s "$IMG" ]; then
	mkdir -p "$CACHE" || skip "cannot create $CACHE"
	echo "building the root image $IMG (mmdebstrap, Debian 12, minbase + $PKGS)"
	if ! mmdebstrap --variant=minbase --format=tar --include="$PKGS" bookworm "$IMG.tmp" >"$T/mmdebstrap.log" 2>&1; then
		tail -n 5 "$T/mmdebstrap.log"
		rm -f "$IMG.tmp"
		skip "no cached root image and mmdebstrap could not make one (Debian's archive not reachable?)"
	fi
	mv "$IMG.tmp" "$IMG"
	echo "root image built: $(elapsed)"
else
	echo "root image cached: $IMG"
fi
ROOT=$T/root
mkdir "$ROOT" && tar -C "$ROOT" -xf "$IMG" || die "cannot unpack $IMG"
echo "root unpacked: $(elapsed)"

# 2. The build of docs/INSTALL.md section 1, made here (only what is
# installed is compiled). INSTALL's packages have no libnats-dev, so its
# build has no NATS forwarding; this host may have it (.ci/deps), the
# container's root has no libnats: -Dnats=disabled builds what INSTALL does.
B=$T/build
meson setup "$B" "$SRC" --prefix=/usr --sysconfdir=/etc --localstatedir=/var --buildtype=release -Dnats=disabled \
	>"$T/setup.log" 2>&1 || die "meson setup: $(tail -n 5 "$T/setup.log")"
targets=$(meson introspect "$B" --targets | $PY -c '
import json, sys, os
b = sys.argv[1]
print(" ".join(os.path.relpath(f, b) for t in json.load(sys.stdin) if t["installed"] for f in t["filename"]))' "$B")
ninja -C "$B" $targets >"$T/ninja.log" 2>&1 || die "ninja: $(tail -n 20 "$T/ninja.log")"
echo "release build (/usr, /etc, /var): $(elapsed)"

# 3. Boot. The container's console goes to a file; its leader (systemd)
# is the nspawn process's child.
MACHINE=ks-ci-$RUNID
systemd-nspawn -q -D "$ROOT" -M "$MACHINE" -b --register=no --keep-unit --private-network \
	--bind=/dev/kmsg --capability=CAP_SYSLOG --bind="$SRC" --bind="$B" --console=read-only \
	>"$T/boot.log" 2>&1 </dev/null &
NSPAWN=$!
LEADER=
# At exit, whatever happened: the container's init (killing PID 1 of a PID
# namespace kills everything in it; it outlives a killed nspawn), then
# nspawn.
ct_cleanup() {
	# Only while it is still nspawn's child (never a recycled pid).
	[ -n "$LEADER" ] && [ "$(ps -o ppid= -p "$LEADER" | tr -d ' ')" = "$NSPAWN" ] &&
		kill -9 "$LEADER" 2>/dev/null
	kill "$NSPAWN" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$NSPAWN" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$NSPAWN" 2>/dev/null
}
trap 'ct_cleanup; cleanup' EXIT
# in_ct CMD...: run CMD inside the container (all its namespaces, its root).
in_ct() {
	nsenter -t "$LEADER" -a -r -w env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
# The leader: nspawn's child once it is systemd (nspawn forks helpers
# first, which exit). 90 s at most.
state=
deadline=$(($(date +%s) + 90))
while [ "$(date +%s)" -lt "$deadline" ]; do
	kill -0 "$NSPAWN" 2>/dev/null || break
	LEADER=$(pgrep -x -P "$NSPAWN" systemd | head -n 1)
	if [ -n "$LEADER" ]; then
		state=$(in_ct systemctl is-system-running 2>/dev/null)
		case $state in running | degraded) break ;; esac
	fi
	sleep 0.2
done
case $state in
running | degraded) ;;
*)
	echo "--- end of the container's boot log:"
	tail -n 15 "$T/boot.log"
	kill "$NSPAWN" 2>/dev/null
	skip "this host cannot boot a systemd container (systemd-nspawn -b: state '${state:-none}'${LEADER:+, leader $LEADER})"
	;;
esac
echo "booted ($state), systemd $(in_ct systemctl --version | sed -n '1s/systemd \([0-9]*\).*/\1/p') as PID 1: $(elapsed)"
[ "$state" = degraded ] && in_ct systemctl --failed --no-legend --plain | sed 's/^/  failed before install: /'

# run_ct LABEL SCRIPT: run a shell script in the container; its output in
# $T/LABEL.log; fails the test with it.
run_ct() {
	printf '%s\n' "$2" >"$ROOT/root/$1.sh"
	in_ct sh -eu "/root/$1.sh" >"$T/$1.log" 2>&1 || {
		echo "--- $1 (in the container):" >&2
		cat "$T/$1.log" >&2
		in_ct journalctl --no-pager -n 40 -u kmsg-collector -u kmsg-shipper >&2
		die "$1"
	}
	sed "s/^/  $1: /" "$T/$1.log"
}

stop_container() {
	in_ct systemctl poweroff >/dev/null 2>&1
	for _ in $(seq 300); do
		kill -0 "$NSPAWN" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$NSPAWN" 2>/dev/null
}

# 4. Install (section 1), keys (2), configuration (3), checks.
run_ct install "
meson install -C '$B' --no-rebuild --quiet
systemd-sysusers
systemd-tmpfiles --create
id kmsg-shipper; id kmsg-collector
ls -ld /var/lib/kmsg-shipper /var/lib/kmsg-collector"

HOST=$MACHINE # the container's hostname: the name its journal gets
# Section 2 (keys), section 3 (the agent's placeholders replaced; the
# agent's key into clients.d/, the placeholder clients list deleted).
run_ct configure "
cd /etc/kmsg-shipper
umask 077
kmsg-keygen genkey > collector.key
chown kmsg-collector: collector.key
kmsg-keygen genkey > shipper.key
umask 022
kmsg-keygen pubkey < shipper.key > clients.d/$HOST.pub
coll_pub=\$(kmsg-keygen pubkey < collector.key)
sed -i -e 's/\"collector.example.org\"/\"127.0.0.1\"/' -e \"s|REPLACE_WITH_COLLECTOR_PUBLIC_KEY|\$coll_pub|\" shipper.conf
sed -i '/^clients = (/,/^);/d' collector.conf
kmsg-collector -n
kmsg-shipper -n"
echo "installed and configured as docs/INSTALL.md says: $(elapsed)"

# 5. Start, a line, reload, restart, stop.
run_ct start "
systemctl enable --now kmsg-collector.socket kmsg-collector.service kmsg-shipper.service
systemctl is-active kmsg-collector.socket kmsg-collector.service kmsg-shipper.service"

# line_arrives TOKEN: a kernel line with TOKEN stored under $HOST (20 s).
line_arrives() {
	run_ct "line-$1" "
echo '<5>$NAME-$RUNID-$1' > /dev/kmsg
for i in \$(seq 200); do
	kmsgctl -H '$HOST' --no-pager -o cat 2>/dev/null | grep -qx '$NAME-$RUNID-$1' && break
	sleep 0.1
done
kmsgctl -H '$HOST' --no-pager | grep '$NAME-$RUNID-$1'"
}
line_arrives started
run_ct reload "
systemctl reload kmsg-collector.service
systemctl reload kmsg-shipper.service
systemctl is-active kmsg-collector.service kmsg-shipper.service
journalctl --no-pager -o cat -u kmsg-collector -u kmsg-shipper | grep '^reloaded '"
line_arrives reloaded
# A reload of a file that does not load fails, visibly, and the daemon
# goes on with the old configuration (item 4).
run_ct bad-reload "
for d in collector shipper; do
	f=/etc/kmsg-shipper/\$d.conf
	cp -p \$f /root/\$d.conf.good
	echo 'this is not a setting' >> \$f
	if systemctl reload kmsg-\$d.service 2>/root/err; then echo \"kmsg-\$d: bad reload succeeded\"; exit 1; fi
	echo \"kmsg-\$d: systemctl reload failed: \$(head -n 1 /root/err)\"
	systemctl is-active kmsg-\$d.service
	systemctl status --no-pager kmsg-\$d.service > /root/status || true
	grep -- 'syntax error' /root/status | head -n 2
	mv /root/\$d.conf.good \$f
	systemctl reload kmsg-\$d.service
done"
run_ct restart "
systemctl restart kmsg-collector.service
systemctl restart kmsg-shipper.service
systemctl is-active kmsg-collector.service kmsg-shipper.service"
line_arrives restarted
run_ct stop "
systemctl stop kmsg-shipper.service kmsg-collector.socket kmsg-collector.service
for u in kmsg-shipper.service kmsg-collector.service kmsg-collector.socket; do
	r=\$(systemctl show -P Result \$u); s=\$(systemctl is-active \$u || true)
	# NRestarts: restarts by systemd (a crash, the watchdog); services only.
	n=\$(systemctl show -P NRestarts \$u); n=\${n:-0}
	echo \"\$u: \$s, result \$r, \$n restarts by systemd\"
	[ \"\$s\" = inactive ] && [ \"\$r\" = success ] && [ \"\$n\" = 0 ]
done
! systemctl --failed --no-legend --plain | grep kmsg"
in_ct journalctl --no-pager -o short-monotonic -u kmsg-collector -u kmsg-shipper >"$T/journal.log" 2>&1
grep -E 'sandbox: (running|Landlock)' "$T/journal.log" | sed 's/^/  journal: /'
stop_container
echo "PASS: installed, started, reloaded, restarted and stopped under systemd in a Debian 12 container: $(elapsed)"
