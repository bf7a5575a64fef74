#!/bin/sh
# SPDX-License-Identifier: ISC
# The systemd files generated into BUILD/systemd: the units pass
# `systemd-analyze verify` without a single message about them and stay
# under an exposure limit of `systemd-analyze security`; sysusers.d and
# tmpfiles.d entries apply cleanly to a scratch root and make what they
# promise. Usage: test-units.sh BUILD_DIR. Exit 77 (skip) without systemd's
# tools; exit 1 if any check failed, naming each failure.
# 'cond && ok || fail' is safe here: ok always succeeds.
# shellcheck disable=SC2015

set -u

build=${1:?usage: test-units.sh BUILD_DIR}
gen=$build/systemd
units="kmsg-shipper.service kmsg-collector.service"

# Highest acceptable overall exposure (systemd-analyze security, 0.0 best,
# 10.0 worst). Measured with systemd 252 for this first version: agent 2.1
# (root with CAP_SYSLOG, the host's /dev with /dev/kmsg, all of /proc),
# collector 1.1 (mostly the network access that both need).
max_exposure_shipper=4.0
max_exposure_collector=4.0

for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
for f in $units kmsg-shipper.sysusers kmsg-shipper.tmpfiles; do
	[ -f "$gen/$f" ] || { echo "FAIL: $gen/$f missing (is subdir('systemd') in meson.build?)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0
passed=0

ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

# Every @name@ was substituted by meson.
for f in $units kmsg-shipper.sysusers kmsg-shipper.tmpfiles; do
	left=$(grep -n '@[A-Za-z_][A-Za-z0-9_]*@' "$gen/$f")
	[ -z "$left" ] && ok || fail "$f: unsubstituted: $left"
done

# verify checks that ExecStart= binaries exist, so it reads copies (same
# names: the unit name is the file name) started from the build directory.
mkdir "$tmp/units"
sed -e 's|^ExecStart=[^ ]*/kmsg-shipper |ExecStart='"$build"'/src/agent/kmsg-shipper |' \
	-e 's|^ExecReload=[^ ]*/kmsg-shipper |ExecReload='"$build"'/src/agent/kmsg-shipper |' \
	"$gen/kmsg-shipper.service" >"$tmp/units/kmsg-shipper.service"
sed -e 's|^ExecStart=[^ ]*/kmsg-collector |ExecStart='"$build"'/src/collector/kmsg-collector |' \
	-e 's|^ExecReload=[^ ]*/kmsg-collector |ExecReload='"$build"'/src/collector/kmsg-collector |' \
	"$gen/kmsg-collector.service" >"$tmp/units/kmsg-collector.service"
for u in $units; do
	grep -q "^ExecStart=$build/src/" "$tmp/units/$u" && ok || fail "$u: no ExecStart= to point at $build"
done
# Both services reload (issue 16, item 4), and a reload systemctl would
# call done fails when the file does not load: --check-reload first (its
# failure stops the reload), then SIGHUP.
for u in kmsg-shipper.service kmsg-collector.service; do
	got=$(grep '^ExecReload=' "$gen/$u" | sed 's|^ExecReload=[^ ]*/\(kmsg-[a-z]*\) |ExecReload=\1 |')
	want="ExecReload=${u%.service} --check-reload -c $(sed -n 's/^ExecStart=[^ ]* -c //p' "$gen/$u")
ExecReload=/bin/sh -c 'kill -HUP \$\$MAINPID'"
	[ "$got" = "$want" ] && ok || fail "$u: ExecReload= lines are '$got', expected '$want'"
done

# verify: its exit status ignores warnings (an unknown key, a bad value
# "ignoring"), so any line naming our units fails. Lines about other units
# it loads (network.target, ...) are shown but are not ours to fix.
# --man=no: the man pages in Documentation= come with the install, they
# need not be on the build host.
cp "$gen/kmsg-collector.socket" "$tmp/units/" 2>/dev/null || fail "$gen/kmsg-collector.socket missing"
(cd "$tmp/units" && systemd-analyze verify --man=no "$tmp/units/kmsg-shipper.service" \
	"$tmp/units/kmsg-collector.service" "$tmp/units/kmsg-collector.socket") >"$tmp/verify.out" 2>&1
rc=$?
[ -s "$tmp/verify.out" ] && sed 's/^/verify: /' "$tmp/verify.out"
[ "$rc" -eq 0 ] && ok || fail "systemd-analyze verify: exit status $rc"
ours=$(grep -E 'kmsg-(shipper|collector)\.(service|socket)' "$tmp/verify.out")
[ -z "$ours" ] && ok || fail "systemd-analyze verify: messages about our units"

# security: the exposure score of each unit, printed, against its limit.
for u in $units; do
	systemd-analyze security --offline=true --no-pager "$tmp/units/$u" >"$tmp/security.out" 2>&1
	score=$(sed -n 's/^.*Overall exposure level for [^:]*: \([0-9][0-9]*\.[0-9]\).*$/\1/p' "$tmp/security.out")
	case $u in
	kmsg-shipper.service) max=$max_exposure_shipper ;;
	*) max=$max_exposure_collector ;;
	esac
	if [ -z "$score" ]; then
		cat "$tmp/security.out" >&2
		fail "$u: no exposure level in systemd-analyze security output"
		continue
	fi
	echo "$u: exposure $score (at most $max)"
	if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
		ok
	else
		fail "$u: exposure $score above $max; the exposed settings:"
		grep '✗' "$tmp/security.out" >&2
	fi
done

# sysusers: a dry run against this host parses the file without a word
# about it, then a real run creates both users in a scratch root.
systemd-sysusers --dry-run "$gen/kmsg-shipper.sysusers" >"$tmp/sysusers.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && ok || fail "systemd-sysusers --dry-run: exit status $rc: $(cat "$tmp/sysusers.out")"
ours=$(grep 'kmsg-shipper.sysusers' "$tmp/sysusers.out")
[ -z "$ours" ] && ok || fail "systemd-sysusers --dry-run: $ours"

root=$tmp/root
mkdir -p "$root/etc"
if systemd-sysusers --root="$root" "$gen/kmsg-shipper.sysusers" >"$tmp/sysusers.out" 2>&1; then
	ok
else
	fail "systemd-sysusers --root: $(cat "$tmp/sysusers.out")"
	: >"$root/etc/passwd"
	: >"$root/etc/group"
fi
for user in kmsg-shipper kmsg-collector; do
	line=$(grep "^$user:" "$root/etc/passwd")
	if [ -z "$line" ]; then
		fail "sysusers: no user $user"
		continue
	fi
	uid=$(echo "$line" | cut -d: -f3)
	shell=$(echo "$line" | cut -d: -f7)
	[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] && ok || fail "sysusers: $user has uid $uid, not a system uid"
	case $shell in
	*/nologin | */false) ok ;;
	*) fail "sysusers: $user has login shell $shell" ;;
	esac
	grep -q "^$user:" "$root/etc/group" && ok || fail "sysusers: no group $user"
done

# tmpfiles (systemd 252 has no --dry-run): create into the scratch root,
# whose /etc/passwd now names the users. Chown needs root.
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP (part): tmpfiles check needs root to chown"
else
	systemd-tmpfiles --root="$root" --create "$gen/kmsg-shipper.tmpfiles" >"$tmp/tmpfiles.out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && [ ! -s "$tmp/tmpfiles.out" ] && ok ||
		fail "systemd-tmpfiles --create: exit status $rc: $(cat "$tmp/tmpfiles.out")"
	id_of() { grep "^$1:" "$root/etc/passwd" | cut -d: -f3; }
	gid_of() { grep "^$1:" "$root/etc/group" | cut -d: -f3; }
	# expect_dir PATH MODE UID GID, PATH as in the tmpfiles line
	expect_dir() {
		got=$(stat -c '%a %u %g' "$root$1" 2>/dev/null)
		[ -n "$3" ] || set -- "$1" "$2" "?" "?" # user unknown: never equal
		[ "$got" = "$2 $3 $4" ] && ok || fail "tmpfiles: $1 is '${got:-missing}', expected '$2 $3 $4'"
	}
	# The paths are the generated ones: take them from the file, in order.
	dirs=$(awk '$1 == "d" { print $2 }' "$gen/kmsg-shipper.tmpfiles")
	if [ "$(echo "$dirs" | wc -l)" -eq 4 ]; then
		expect_dir "$(echo "$dirs" | sed -n 1p)" 755 0 0
		expect_dir "$(echo "$dirs" | sed -n 2p)" 755 0 0 # clients.d
		expect_dir "$(echo "$dirs" | sed -n 3p)" 700 "$(id_of kmsg-shipper)" "$(gid_of kmsg-shipper)"
		expect_dir "$(echo "$dirs" | sed -n 4p)" 750 "$(id_of kmsg-collector)" "$(gid_of kmsg-collector)"
	else
		fail "tmpfiles: $(echo "$dirs" | wc -l) directories, expected 4"
	fi
	# A second run changes nothing and says nothing.
	systemd-tmpfiles --root="$root" --create "$gen/kmsg-shipper.tmpfiles" >"$tmp/tmpfiles.out" 2>&1 &&
		[ ! -s "$tmp/tmpfiles.out" ] && ok || fail "systemd-tmpfiles second run: $(cat "$tmp/tmpfiles.out")"
fi

# The state directories the units make writable are the ones tmpfiles.d
# creates and the binaries default to (config.h).
# check_state_dir UNIT MACRO: MACRO from config.h
check_state_dir() {
	dir=$(sed -n 's/^#define '"$2"' "\(.*\)"$/\1/p' "$build/config.h")
	sd=$(sed -n 's/^StateDirectory=//p' "$gen/$1")
	rw=$(sed -n 's/^ReadWritePaths=//p' "$gen/$1")
	if [ -n "$sd" ]; then unitdir=/var/lib/$sd; else unitdir=$rw; fi
	[ -n "$dir" ] && [ "$unitdir" = "$dir" ] && ok || fail "$1: writable '$unitdir', binary uses '$dir'"
	grep -q "^d $dir " "$gen/kmsg-shipper.tmpfiles" && ok || fail "tmpfiles: no line for $dir"
}
check_state_dir kmsg-shipper.service KS_SPOOL_DIR
check_state_dir kmsg-collector.service KS_STATE_DIR

echo "test-units: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
