#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsg-keygen end to end. Usage: test-keygen.sh PATH/TO/kmsg-keygen
# Exits non-zero if any check failed, naming each failure.
# 'cond && ok || fail' is safe here: ok always succeeds.
# shellcheck disable=SC2015

set -u

bin=${1:?usage: test-keygen.sh PATH/TO/kmsg-keygen}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-keygen.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0
passed=0

ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

# RFC 7748 section 6.1, Alice: private and public key in base64 (python3 base64)
alice_priv=dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=
alice_pub=hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=

# expect_error NAME INPUT ARGS...: exit status 1 and exactly one line on stderr, nothing on stdout
expect_error() {
	name=$1 input=$2
	shift 2
	printf '%s' "$input" | "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -ne 1 ]; then
		fail "$name: exit status $rc, expected 1"
	elif [ "$lines" -ne 1 ]; then
		fail "$name: $lines lines on stderr, expected 1: $(cat "$tmp/err")"
	elif [ -s "$tmp/out" ]; then
		fail "$name: wrote to stdout"
	else
		ok
	fi
}

# genkey: 44 characters and a newline, decodes to 32 bytes, clamped
(umask 077 && "$bin" genkey >"$tmp/priv" 2>"$tmp/err") || fail "genkey: exit status $?"
[ "$(wc -c <"$tmp/priv")" -eq 45 ] && ok || fail "genkey: $(wc -c <"$tmp/priv") bytes, expected 45"
[ "$(tail -c 1 "$tmp/priv" | od -An -c | tr -d ' ')" = '\n' ] && ok || fail "genkey: no trailing newline"
[ ! -s "$tmp/err" ] && ok || fail "genkey with umask 077 wrote to stderr: $(cat "$tmp/err")"
if base64 -d <"$tmp/priv" >"$tmp/raw" 2>/dev/null && [ "$(wc -c <"$tmp/raw")" -eq 32 ]; then
	ok
	first=$(od -An -tu1 -N1 "$tmp/raw" | tr -d ' ')
	last=$(od -An -tu1 -j31 -N1 "$tmp/raw" | tr -d ' ')
	[ $((first % 8)) -eq 0 ] && [ $((last / 64)) -eq 1 ] && ok || fail "genkey: key not clamped ($first, $last)"
else
	fail "genkey: output does not decode to 32 bytes"
fi
k2=$("$bin" genkey)
[ "$k2" != "$(cat "$tmp/priv")" ] && ok || fail "genkey: two keys are equal"

# pubkey: stable, 44 characters
p1=$("$bin" pubkey <"$tmp/priv") || fail "pubkey: exit status $?"
p2=$("$bin" pubkey <"$tmp/priv")
[ "$p1" = "$p2" ] && ok || fail "pubkey: not stable ($p1 / $p2)"
[ ${#p1} -eq 44 ] && ok || fail "pubkey: '${p1}' is not 44 characters"
[ "$p1" != "$(cat "$tmp/priv")" ] && ok || fail "pubkey: equals the private key"

# pubkey of the RFC 7748 key, with and without surrounding whitespace
[ "$(printf '%s\n' "$alice_priv" | "$bin" pubkey)" = "$alice_pub" ] && ok || fail "pubkey: RFC 7748 alice"
[ "$(printf '%s' "$alice_priv" | "$bin" pubkey)" = "$alice_pub" ] && ok || fail "pubkey: no newline"
[ "$(printf '  \t%s \r\n\n' "$alice_priv" | "$bin" pubkey)" = "$alice_pub" ] && ok || fail "pubkey: whitespace"

# bad input: exit 1, one line on stderr
expect_error "pubkey empty" "" pubkey
expect_error "pubkey garbage" "hello world" pubkey
expect_error "pubkey 43 chars" "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo" pubkey
expect_error "pubkey 45 chars" "${alice_priv}A" pubkey
expect_error "pubkey bad char" "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC*=" pubkey
expect_error "pubkey unused bits" "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=" pubkey
expect_error "pubkey two keys" "$alice_priv
$alice_priv" pubkey
expect_error "pubkey long input" "$(head -c 2000 /dev/zero | tr '\0' ' ')$alice_priv" pubkey
expect_error "no command" ""
expect_error "unknown command" "" frobnicate
expect_error "extra argument" "" genkey extra

# genkey into a file that others can read: warning on stderr, key still written
: >"$tmp/shared"
chmod 644 "$tmp/shared"
"$bin" genkey >"$tmp/shared" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && ok || fail "genkey > 0644 file: exit status $rc"
grep -q 'warning' "$tmp/err" && grep -q '0644' "$tmp/err" && ok ||
	fail "genkey > 0644 file: no warning on stderr ($(cat "$tmp/err"))"
[ "$(wc -c <"$tmp/shared")" -eq 45 ] && ok || fail "genkey > 0644 file: key not written"
: >"$tmp/private"
chmod 600 "$tmp/private"
"$bin" genkey >"$tmp/private" 2>"$tmp/err"
[ ! -s "$tmp/err" ] && ok || fail "genkey > 0600 file warned: $(cat "$tmp/err")"

# help and version
"$bin" --help >"$tmp/out" 2>&1 && grep -q genkey "$tmp/out" && ok || fail "--help"
"$bin" -h >"$tmp/out" 2>&1 && grep -q pubkey "$tmp/out" && ok || fail "-h"
"$bin" --version >"$tmp/out" 2>&1 && grep -q '^kmsg-keygen [0-9]' "$tmp/out" && ok || fail "--version"

echo "test-keygen: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
