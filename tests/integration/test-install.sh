#!/bin/sh
# SPDX-License-Identifier: ISC
# meson install: everything lands where docs/INSTALL.md says, for the
# default prefix (installed into a DESTDIR) and for --prefix=/usr
# --sysconfdir=/etc (planned paths from meson introspect); a second install
# keeps an edited config and puts the example next to it. Then section 5
# of docs/INSTALL.md ("Try it on one machine") is run as written, with the
# build's binaries on PATH: two network namespaces, keys, configs, a line
# written to /dev/kmsg found through kmsgctl.
# Usage: test-install.sh SOURCE_DIR BUILD_DIR
src=$1
BUILD=$2
NAME=install
. "$(dirname "$0")/lib.sh"

# 1. Into a DESTDIR, default prefix.
meson install -C "$BUILD" --destdir "$T/root" --no-rebuild --quiet >"$T/install.log" 2>&1 ||
	die "meson install: $(tail -n 5 "$T/install.log")"
prefix=$(meson introspect "$BUILD" --buildoptions | $PY -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
r=$T/root$prefix
for f in sbin/kmsg-shipper sbin/kmsg-collector bin/kmsgctl bin/kmsg-keygen \
	lib/systemd/system/kmsg-shipper.service lib/systemd/system/kmsg-collector.service \
	lib/sysusers.d/kmsg-shipper.conf lib/tmpfiles.d/kmsg-shipper.conf \
	share/man/man1/kmsgctl.1 share/man/man1/kmsg-keygen.1 share/man/man5/kmsg-shipper.conf.5 \
	share/man/man5/kmsg-collector.conf.5 share/man/man7/kmsg-shipper.7 \
	share/man/man8/kmsg-shipper.8 share/man/man8/kmsg-collector.8; do
	[ -f "$r/$f" ] || die "not installed: $prefix/$f"
done
etc=$(find "$T/root" -path '*/kmsg-shipper/shipper.conf')
[ -n "$etc" ] && [ -f "${etc%/*}/collector.conf" ] || die "config examples not installed"
cmp -s "$etc" "$src/conf/shipper.conf" || die "installed shipper.conf differs from conf/shipper.conf"
echo "# edited by the admin" >>"$etc"
meson install -C "$BUILD" --destdir "$T/root" --no-rebuild --quiet >"$T/install.log" 2>&1 || die "second install"
tail -n 1 "$etc" | grep -q 'edited by the admin' || die "a second install overwrote the admin's shipper.conf"
cmp -s "$etc.example" "$src/conf/shipper.conf" || die "no shipper.conf.example next to the kept file"
echo "ok: installed $(find "$T/root" -type f | wc -l) files under $prefix; an edited config survives a reinstall"

# 2. The conventional layout, as planned by meson (nothing is built).
meson setup "$T/usr" "$src" --prefix=/usr --sysconfdir=/etc --localstatedir=/var >"$T/setup.log" 2>&1 ||
	die "meson setup --prefix=/usr: $(tail -n 5 "$T/setup.log")"
meson introspect "$T/usr" --installed | $PY -c '
import json, sys
paths = set(json.load(sys.stdin).values())
want = ["/usr/sbin/kmsg-shipper", "/usr/sbin/kmsg-collector", "/usr/bin/kmsgctl", "/usr/bin/kmsg-keygen",
        "/usr/share/man/man7/kmsg-shipper.7", "/usr/share/man/man8/kmsg-shipper.8"]
missing = [p for p in want if p not in paths]
units = [p for p in paths if p.endswith(".service")]
print("units: " + " ".join(sorted(units)))
if missing or not units or not all(p.startswith("/usr/lib/systemd/system/") for p in units):
    sys.exit("missing or misplaced: %s" % missing)
' || die "install paths with --prefix=/usr"
grep -q "KS_SHIPPER_CONF \"/etc/kmsg-shipper/shipper.conf\"" "$T/usr/config.h" ||
	die "--sysconfdir=/etc does not give /etc/kmsg-shipper/shipper.conf"
grep -q "KS_SPOOL_DIR \"/var/lib/kmsg-shipper\"" "$T/usr/config.h" ||
	die "--localstatedir=/var does not give /var/lib/kmsg-shipper"
echo "ok: --prefix=/usr puts binaries in /usr/sbin and /usr/bin, units in /usr/lib/systemd/system, configs in /etc/kmsg-shipper"

# 3. docs/INSTALL.md section 5, as written.
need_kmsg
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
ip netns list | grep -q '^ks-coll\b\|^ks-web1\b' && die "namespaces ks-coll/ks-web1 exist already"
awk '/^## 5\./ { on = 1 } on && /^```sh$/ { n++; inside = 1; next } inside && /^```$/ { inside = 0; next }
	inside { print > (n == 1 ? "'"$T"'/try.sh" : "'"$T"'/clean.sh") }' "$src/docs/INSTALL.md"
[ -s "$T/try.sh" ] && [ -s "$T/clean.sh" ] || die "docs/INSTALL.md: no section 5 code blocks"
doc_cleanup() {
	DEMO=$T/demo sh "$T/clean.sh" >/dev/null 2>&1
	ip link del ks-c 2>/dev/null
	cleanup
}
trap doc_cleanup EXIT
PATH=$BUILD/src/agent:$BUILD/src/collector:$BUILD/src/tools:$PATH DEMO=$T/demo sh -e "$T/try.sh" >"$T/try.out" 2>&1 ||
	{ cat "$T/try.out"; tail -n 20 "$T/demo/coll.log" "$T/demo/web1.log"; die "docs/INSTALL.md section 5 failed"; }
grep -q 'hello from web1' "$T/try.out" || die "the demo line did not show"
cat "$T/try.out"
echo PASS
