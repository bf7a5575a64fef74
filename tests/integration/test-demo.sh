#!/bin/sh
# SPDX-License-Identifier: ISC
# The README's main command on a machine where nothing is installed yet
# (issue 16, item 1): .ci/demo as root with the users kmsg-shipper and
# kmsg-collector absent (a private mount namespace whose /etc is a copy
# without them). It creates them from systemd/kmsg-shipper.sysusers, ships
# its 4 lines and exits 0. Then a failure (its port taken by another
# listener): exit status 1, and the last line says what failed.
# Packages are not installed (DEMO_NO_DEPS=1); the build is this one.
# Usage: test-demo.sh SOURCE_DIR BUILD_DIR
SRC=$(cd "${1:?usage: test-demo.sh SOURCE_DIR BUILD_DIR}" && pwd)
BUILD=${2:?usage: test-demo.sh SOURCE_DIR BUILD_DIR}
NAME=demo
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (the demo does)"; exit 77; }
need_kmsg
command -v unshare >/dev/null || { echo "SKIP: no unshare (util-linux)"; exit 77; }
BUILD=$(cd "$BUILD" && pwd)

# /etc without the users, for the namespace only.
mkdir "$T/etc"
cp -a /etc/. "$T/etc/" 2>/dev/null
for f in passwd group shadow gshadow; do
	[ -f "$T/etc/$f" ] && sed -i '/^kmsg-\(shipper\|collector\):/d' "$T/etc/$f"
done
grep -q '^kmsg-' "$T/etc/passwd" "$T/etc/group" && die "could not remove the users from the copy"

# demo LOG [ENV...]: .ci/demo in the namespace, as root; its status in $rc.
demo() {
	log=$1
	shift
	unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" /etc && shift && exec env "$@"' sh "$T/etc" \
		BUILD_DIR="$BUILD" DEMO_DIR="$T/demo" DEMO_NO_DEPS=1 "$@" "$SRC/.ci/demo" >"$log" 2>&1 </dev/null
	rc=$?
}

demo "$T/demo.log" DEMO_PORT="$(free_port)"
[ "$rc" = 0 ] || { cat "$T/demo.log" >&2; die "demo: exit status $rc, expected 0"; }
grep -q "^demo: created the users kmsg-shipper and kmsg-collector" "$T/demo.log" || die "demo did not create the users"
grep -q "the 4 lines of this run are there\$" "$T/demo.log" || die "demo: no final line about the 4 lines"
grep -q "sandbox: running as kmsg-collector" "$T/demo.log" || die "demo: collector did not become kmsg-collector"
grep -q "sandbox: running as kmsg-shipper" "$T/demo.log" || die "demo: agent did not become kmsg-shipper"
grep -q '^kmsg-collector:' "$T/etc/passwd" || die "the users were not created in the namespace's /etc"
echo "ok: demo with no kmsg-* users: $(tail -n 1 "$T/demo.log")"

# A failure ends with one line naming it.
PORT=$(free_port)
$PY -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$PORT)); s.listen(); time.sleep(60)" &
EXTRA_PIDS="$EXTRA_PIDS $!"
sleep 0.3
demo "$T/fail.log" DEMO_PORT="$PORT"
[ "$rc" = 1 ] || { cat "$T/fail.log" >&2; die "demo with its port taken: exit status $rc, expected 1"; }
last=$(tail -n 1 "$T/fail.log")
case $last in
"demo: FAILED: the collector did not start: "*"port $PORT: Address already in use"*) ;;
*) cat "$T/fail.log" >&2; die "demo with its port taken: last line '$last'" ;;
esac
echo "ok: a failure ends with: $last"
echo "PASS: demo"
