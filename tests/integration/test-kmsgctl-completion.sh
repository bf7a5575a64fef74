#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsgctl's shell completion (issue 18 item 4): bash completes options,
# formats, and the host names and boot ids of the store given with -D;
# zsh's file parses (where zsh is installed); meson installs both where
# Debian's bash-completion and zsh look.
# Usage: test-kmsgctl-completion.sh SOURCE_DIR BUILD_DIR
SRC=${1:?usage: test-kmsgctl-completion.sh SOURCE_DIR BUILD_DIR}
BUILD=${2:?usage: test-kmsgctl-completion.sh SOURCE_DIR BUILD_DIR}
command -v bash >/dev/null || { echo "SKIP: bash not installed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ks-completion.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

printf '@source=1\n@boot=%s\n@msg=one\n\n@source=1\n@boot=%s\n@msg=two\n\n' \
	0123456789abcdef0123456789abcdef fedcba9876543210fedcba9876543210 |
	"$BUILD/tests/integration/put-records" "$T/store" web1 || fail "put-records"
printf '@msg=x\n\n' | "$BUILD/tests/integration/put-records" "$T/store" db2 || fail "put-records"

# complete WORDS...: what bash's completion offers for the last word.
complete_words() {
	PATH="$BUILD/src/collector:$PATH" bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_kmsgctl
		printf "%s\n" "${COMPREPLY[@]}" | sort' sh "$SRC/shell-completion/kmsgctl.bash" "$@"
}
[ "$(complete_words kmsgctl -D "$T/store" -H '')" = "$(printf 'db2\nweb1')" ] ||
	fail "hosts: $(complete_words kmsgctl -D "$T/store" -H '')"
got=$(complete_words kmsgctl -D "$T/store" -b '')
echo "$got" | grep -qx 0123456789abcdef0123456789abcdef && echo "$got" | grep -qx fedcba9876543210fedcba9876543210 ||
	fail "boots: $got"
[ "$(complete_words kmsgctl -o short-i)" = "$(printf 'short-iso\nshort-iso-precise')" ] ||
	fail "formats: $(complete_words kmsgctl -o short-i)"
complete_words kmsgctl --pager | grep -qx -- --pager-end || fail "options: $(complete_words kmsgctl --pager)"
complete_words kmsgctl --facility l | grep -qx local7 || fail "facilities"
if command -v zsh >/dev/null; then
	zsh -n "$SRC/shell-completion/_kmsgctl" || fail "zsh: _kmsgctl does not parse"
fi
meson introspect "$BUILD" --installed 2>/dev/null >"$T/installed" || { echo "SKIP: meson introspect failed"; exit 77; }
grep -q 'share/bash-completion/completions/kmsgctl"' "$T/installed" || fail "bash completion not installed"
grep -q 'share/zsh/vendor-completions/_kmsgctl"' "$T/installed" || fail "zsh completion not installed"
echo "ok"
