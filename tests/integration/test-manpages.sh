#!/bin/sh
# SPDX-License-Identifier: ISC
# The man pages: mandoc -Tlint -Wwarning is silent on every page; each page
# has the sections it should; every option in a program's usage (-h) is
# documented in the options list of its page and every option listed there
# is in the usage (or is --help, which is checked to work); kmsg-keygen's
# commands and kmsgctl's output formats likewise; every setting the
# configuration code reads is described in its kmsg-*.conf(5) page and every
# setting described there is read by the code.
# Usage: test-manpages.sh SRCDIR SHIPPER COLLECTOR KMSGCTL KEYGEN
# Exits 1 if any check failed, naming each failure.
# 'cond && ok || fail' is safe here: ok always succeeds.
# shellcheck disable=SC2015

set -u

usage="usage: test-manpages.sh SRCDIR SHIPPER COLLECTOR KMSGCTL KEYGEN"
src=${1:?$usage}
shipper=${2:?$usage}
collector=${3:?$usage}
kmsgctl=${4:?$usage}
keygen=${5:?$usage}
man=$src/man

command -v mandoc >/dev/null || { echo "SKIP: mandoc not installed"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-manpages.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0
passed=0
ok() { passed=$((passed + 1)); }
fail() { printf 'FAIL: %s\n' "$*" >&2; failed=$((failed + 1)); }

pages="kmsgctl.1 kmsg-keygen.1 kmsg-shipper.conf.5 kmsg-collector.conf.5 kmsg-shipper.8 kmsg-collector.8 kmsg-shipper.7"

# 1. Lint: not one message at warning level or above, on every page there is.
for p in $pages; do
	[ -f "$man/$p" ] && ok || fail "$p: missing"
done
for f in "$man"/*.[1578]; do
	[ -f "$f" ] || continue
	mandoc -Tlint -Wwarning "$f" >"$tmp/lint" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$tmp/lint" ]; then
		fail "$(basename "$f"): mandoc -Tlint -Wwarning (exit $rc):"
		sed 's/^/    /' "$tmp/lint" >&2
	else
		ok
	fi
done

# 2. Sections, in the source (".Sh NAME").
for p in $pages; do
	[ -f "$man/$p" ] || continue
	want="NAME|DESCRIPTION|EXAMPLES|SEE ALSO"
	case $p in
	*.5) want="$want|FILES" ;;
	*.8) want="$want|SYNOPSIS|FILES|EXIT STATUS" ;;
	*.1) want="$want|SYNOPSIS|EXIT STATUS" ;;
	esac
	# Word splitting on | only: section names have spaces.
	old_ifs=$IFS
	IFS='|'
	for sec in $want; do
		grep -qx "\.Sh $sec" "$man/$p" && ok || fail "$p: no section $sec"
	done
	IFS=$old_ifs
done

# usage_options FILE: the options a usage text mentions, one per line:
# "--long" for long ones, "-x" for short ones ("[-dn]" gives -d and -n).
usage_options() {
	tr -s ',[]|=[:blank:]' '[\n*]' <"$1" | while read -r w; do
		case $w in
		--[A-Za-z]*) printf '%s\n' "$w" ;;
		-[A-Za-z0-9]*)
			w=${w#-}
			while [ -n "$w" ]; do
				rest=${w#?}
				printf -- '-%s\n' "${w%"$rest"}"
				w=$rest
			done
			;;
		esac
	done | sort -u
}

# page_options PAGE: the options of the page's option lists: the Fl
# arguments of ".It" lines ("Fl c", "Fl \-help"), as "-c", "--help".
page_options() {
	grep '^\.It .*Fl ' "$1" | grep -oE 'Fl +(\\-|-)?[A-Za-z0-9][A-Za-z0-9-]*' |
		sed -E 's/^Fl +//; s/^\\-/--/; s/^-([A-Za-z0-9][A-Za-z0-9-]+)$/--\1/; s/^([^-])/-\1/' | sort -u
}

# check_options NAME BINARY PAGE
check_options() {
	name=$1 bin=$2 page=$man/$3
	[ -f "$page" ] || return
	"$bin" -h >"$tmp/usage" 2>"$tmp/usage.err"
	rc=$?
	if [ "$rc" -ne 0 ] || [ ! -s "$tmp/usage" ]; then
		fail "$name -h: exit status $rc, expected 0 and a usage message on stdout"
		return
	fi
	"$bin" --help >"$tmp/usage2" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && cmp -s "$tmp/usage" "$tmp/usage2"; then
		ok
	else
		fail "$name --help: exit status $rc or output differs from -h"
	fi
	"$bin" --version >"$tmp/version" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q "^$name [0-9]" "$tmp/version"; then
		ok
	else
		fail "$name --version: exit status $rc, output: $(cat "$tmp/version")"
	fi
	usage_options "$tmp/usage" >"$tmp/u"
	page_options "$page" >"$tmp/m"
	[ -s "$tmp/u" ] || fail "$name: found no options in its usage"
	while read -r o; do
		grep -qxF -- "$o" "$tmp/m" && ok || fail "$name: option $o is in the usage but not in the options list of $(basename "$page")"
	done <"$tmp/u"
	while read -r o; do
		[ "$o" = --help ] && continue # checked above
		grep -qxF -- "$o" "$tmp/u" && ok || fail "$(basename "$page"): option $o is not in the usage of $name"
	done <"$tmp/m"
}

check_options kmsg-shipper "$shipper" kmsg-shipper.8
check_options kmsg-collector "$collector" kmsg-collector.8
check_options kmsgctl "$kmsgctl" kmsgctl.1
check_options kmsg-keygen "$keygen" kmsg-keygen.1

# page_items PAGE MACRO: the first word after ".It MACRO" on each line.
page_items() {
	sed -nE "s/^\.It $2 +([A-Za-z0-9_.-]+).*/\1/p" "$1" | sort -u
}

# check_words WHAT PAGE WORDFILE MACRO: the words of WORDFILE are exactly
# the ".It MACRO" items of PAGE.
check_words() {
	what=$1 page=$man/$2
	[ -f "$page" ] || return
	page_items "$page" "$4" >"$tmp/items"
	[ -s "$3" ] || { fail "$what: found none in the program"; return; }
	while read -r w; do
		grep -qxF -- "$w" "$tmp/items" && ok || fail "$what '$w' is not described in $2"
	done <"$3"
	while read -r w; do
		grep -qxF -- "$w" "$3" && ok || fail "$2 describes $what '$w', which the program does not have"
	done <"$tmp/items"
}

# 3. kmsg-keygen's commands: the lines under "Commands:" in its usage.
"$keygen" -h | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^ +([a-z][a-z0-9-]*) .*/\1/p' | sort -u >"$tmp/commands"
check_words "kmsg-keygen command" kmsg-keygen.1 "$tmp/commands" Cm

# 4. kmsgctl's output formats: the list after "--output FORMAT" in its usage.
"$kmsgctl" -h | sed -nE 's/.*--output FORMAT +//p' | tr -s ', ' '[\n*]' | sort -u >"$tmp/formats"
check_words "kmsgctl output format" kmsgctl.1 "$tmp/formats" Cm

# 5. Settings: what src/*/conf.c reads against the ".It Ic" items of the
# page. "a.b" is described as "a.b"; an element of a list, "a.[%d].b", as
# "a" with "b" in a nested list.
settings() {
	grep -oE '(cfg_[a-z_]+\([a-z]+|snprintf\([a-z]+, sizeof\(?[a-z]+\)?), "[a-z_]+(\.(\[%d\]|[a-z_]+))*"' "$1" |
		sed -E 's/.*"(.*)"/\1/' | sort -u
}
check_settings() {
	code=$src/$1 page=$man/$2
	[ -f "$page" ] || return
	settings "$code" >"$tmp/paths"
	if [ "$(wc -l <"$tmp/paths")" -lt 5 ]; then
		fail "$1: found only $(wc -l <"$tmp/paths") settings; has the code changed its style? (see settings() in $0)"
		return
	fi
	sed -E 's/\.\[%d\]\..*//' "$tmp/paths" | sort -u >"$tmp/names"
	sed -nE 's/.*\.\[%d\]\.//p' "$tmp/paths" | sort -u >>"$tmp/names"
	sort -u -o "$tmp/names" "$tmp/names"
	check_words "setting" "$2" "$tmp/names" Ic
}
check_settings src/agent/conf.c kmsg-shipper.conf.5
check_settings src/collector/conf.c kmsg-collector.conf.5

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
