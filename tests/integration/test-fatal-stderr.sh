#!/bin/sh
# SPDX-License-Identifier: ISC
# Errors that stop a daemon reach stderr even without -d (issue 16, item
# 6): started in the foreground as a service would be (no -d, so logging
# goes to syslog(3), which drops lines silently when /dev/log is absent),
# both daemons with a configuration that has a syntax error, one that does
# not exist, and one naming a missing key: exit status 1 and the error on
# stderr, one line naming the file. When stderr is the journal
# ($JOURNAL_STREAM names it, as systemd sets it) the line goes to syslog
# only, so the journal does not get it twice.
# Usage: test-fatal-stderr.sh BUILD_DIR
BUILD=${1:?usage: test-fatal-stderr.sh BUILD_DIR}
NAME=fatal-stderr
. "$(dirname "$0")/lib.sh"

make_keys
write_configs "fatal-host" "$T/kmsg"
: >"$T/kmsg"
printf 'state_dir = "%s/x";\nthis is not a setting\n' "$T" >"$T/syntax.conf"
sed "s|$T/agent.key|$T/missing.key|" "$T/shipper.conf" >"$T/shipper-nokey.conf"
sed "s|$T/collector.key|$T/missing.key|" "$T/collector.conf" >"$T/collector-nokey.conf"

# expect_stderr LABEL PATTERN CMD...: exit 1, one line on stderr matching
# PATTERN (grep -E), nothing on stdout.
expect_stderr() {
	label=$1 pat=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	[ "$rc" = 1 ] || die "$label: exit status $rc, expected 1"
	[ -s "$T/out" ] && die "$label: output on stdout: $(cat "$T/out")"
	[ "$(wc -l <"$T/err")" = 1 ] || die "$label: expected one line on stderr, got: $(cat "$T/err")"
	grep -Eq "$pat" "$T/err" || die "$label: stderr does not match '$pat': $(cat "$T/err")"
	echo "ok: $label: $(cat "$T/err")"
}

for d in shipper collector; do
	if [ $d = shipper ]; then bin=$SHIPPER; else bin=$COLLECTOR; fi
	expect_stderr "$d, syntax error" "^kmsg-$d: $T/syntax.conf:2: syntax error" \
		"$bin" -c "$T/syntax.conf"
	expect_stderr "$d, no such config" "^kmsg-$d: $T/none.conf: .*No such file or directory" \
		"$bin" -c "$T/none.conf"
	expect_stderr "$d, missing key" "^kmsg-$d: .*$T/missing.key.*" \
		"$bin" -c "$T/$d-nokey.conf"
	# stderr is the journal: the line is not written there a second time.
	: >"$T/err"
	js=$(stat -c '%d:%i' "$T/err")
	JOURNAL_STREAM=$js "$bin" -c "$T/syntax.conf" >"$T/out" 2>>"$T/err" </dev/null
	rc=$?
	[ "$rc" = 1 ] || die "$d with JOURNAL_STREAM: exit status $rc, expected 1"
	[ -s "$T/err" ] && die "$d with JOURNAL_STREAM=$js (its stderr): written to stderr as well: $(cat "$T/err")"
	echo "ok: $d: stderr that is the journal stream gets nothing twice"
done
echo "PASS: fatal errors on stderr"
