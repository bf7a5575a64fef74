#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsgctl on a store without records and on one it may not read (issue 16
# item 7): a missing state directory, one without hosts/ (no host has sent
# yet) and an empty hosts/ give "-- No entries --" and exit status 0, as
# journalctl does for a directory without journals; a reader without
# permission is told that group kmsg-collector gives read access.
# Usage: test-kmsgctl-empty.sh BUILD_DIR
BUILD=${1:?usage: test-kmsgctl-empty.sh BUILD_DIR}
KMSGCTL=$BUILD/src/collector/kmsgctl
PUT=$BUILD/tests/integration/put-records
T=$(mktemp -d "${TMPDIR:-/tmp}/ks-kmsgctl-empty.XXXXXX") || exit 1
trap 'chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
chmod 755 "$T"
fail() { echo "FAIL: $*" >&2; exit 1; }
checks=0

# no_entries DIR: every way of asking for records shows nothing, exit 0.
no_entries() {
	out=$("$KMSGCTL" -D "$1" --no-pager 2>"$T/err"); rc=$?
	[ "$rc" = 0 ] || fail "$1: exit $rc: $(cat "$T/err")"
	[ "$out" = "-- No entries --" ] || fail "$1: printed '$out'"
	out=$("$KMSGCTL" -D "$1" --no-pager -q 2>&1); rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] || fail "$1 -q: exit $rc, '$out'"
	out=$("$KMSGCTL" -D "$1" --no-pager -o json 2>/dev/null); rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] || fail "$1 -o json: exit $rc, '$out'"
	"$KMSGCTL" -D "$1" --list-hosts >/dev/null 2>&1 || fail "$1 --list-hosts: exit $?"
	"$KMSGCTL" -D "$1" --verify >/dev/null 2>&1 || fail "$1 --verify: exit $?"
	checks=$((checks + 1))
}

no_entries "$T/missing"
mkdir "$T/state"
no_entries "$T/state"
grep -qx "No journal files were found." "$T/err" || fail "no note on stderr: $(cat "$T/err")"
mkdir "$T/state/hosts"
no_entries "$T/state"
# A named host of an empty store is unknown: exit 1.
"$KMSGCTL" -D "$T/missing" -H nosuch >/dev/null 2>"$T/err" && fail "-H nosuch: exit 0"
grep -q "unknown host 'nosuch'" "$T/err" || fail "-H nosuch: $(cat "$T/err")"
checks=$((checks + 1))

# ---- permission ----
printf '@msg=a record\n\n' | "$PUT" "$T/perm" host1 || fail "put-records"
chmod 750 "$T/perm" "$T/perm/hosts"
chmod -R o-rwx "$T/perm"
# as_reader CMD...: run as a user outside the store's group.
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (root needs it to drop rights)"; exit 77; }
	chown -R root:root "$T/perm"
	as_reader() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
else
	chmod 700 "$T/perm"
	as_reader() { "$@"; }
fi
as_reader "$KMSGCTL" -D "$T/perm" --no-pager >"$T/out" 2>"$T/err" && fail "unreadable store: exit 0"
grep -q "Permission denied (reading the store needs membership of group kmsg-collector, or root)" "$T/err" ||
	fail "unreadable store: $(cat "$T/err")"
checks=$((checks + 1))
# The hosts directory readable, one host's journal not.
chmod 755 "$T/perm" "$T/perm/hosts"
chmod 700 "$T/perm/hosts/host1"
as_reader "$KMSGCTL" -D "$T/perm" --no-pager >"$T/out" 2>"$T/err" && fail "unreadable host: exit 0"
grep -q "host host1: .*Permission denied (reading the store needs membership of group kmsg-collector, or root)" \
	"$T/err" || fail "unreadable host: $(cat "$T/err")"
checks=$((checks + 1))
echo "ok: $checks checks"
