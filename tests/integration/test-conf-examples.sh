#!/bin/sh
# SPDX-License-Identifier: ISC
# The example configurations conf/shipper.conf and conf/collector.conf:
# as shipped they are refused, naming a placeholder; with the placeholders
# replaced by fresh keys, `-n` accepts them, also with every optional
# setting uncommented (so the defaults shown are valid); they mention every
# setting the code reads; and broken variants are refused with exit status
# 1 and a message naming file, line and setting.
# Usage: test-conf-examples.sh SRCDIR SHIPPER COLLECTOR KEYGEN
# Exits 1 if any check failed, naming each failure.
# 'cond && ok || fail' is safe here: ok always succeeds.
# shellcheck disable=SC2015

set -u

usage="usage: test-conf-examples.sh SRCDIR SHIPPER COLLECTOR KEYGEN"
src=${1:?$usage}
shipper=${2:?$usage}
collector=${3:?$usage}
keygen=${4:?$usage}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-conf-examples.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# -n checks the start conditions too: the users exist (as after an
# install), and, run as root, that they can reach the configuration in $tmp.
chmod 711 "$tmp"
if [ "$(id -u)" = 0 ] && ! { getent passwd kmsg-shipper && getent passwd kmsg-collector; } >/dev/null; then
	systemd-sysusers "$src/systemd/kmsg-shipper.sysusers" >/dev/null 2>&1 ||
		{ echo "FAIL: cannot create the users kmsg-shipper and kmsg-collector" >&2; exit 1; }
fi
failed=0
passed=0
ok() { passed=$((passed + 1)); }
fail() { printf 'FAIL: %s\n' "$*" >&2; failed=$((failed + 1)); }

# Fresh keys, private ones mode 600.
for k in agent collector; do
	(umask 077 && "$keygen" genkey >"$tmp/$k.key") || { fail "genkey"; exit 1; }
	chmod 600 "$tmp/$k.key"
	"$keygen" pubkey <"$tmp/$k.key" >"$tmp/$k.pub" || { fail "pubkey"; exit 1; }
done
# The collector's key as docs/INSTALL.md has it: its user's (-n as root
# checks it as that user, who runs the service).
[ "$(id -u)" = 0 ] && chown kmsg-collector "$tmp/collector.key"
agent_pub=$(cat "$tmp/agent.pub")
collector_pub=$(cat "$tmp/collector.pub")

# accept NAME BINARY FILE: -n exits 0 and says "FILE: configuration OK".
accept() {
	"$2" -n -c "$3" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$1: exit status $rc, expected 0: $(cat "$tmp/err")"
	elif ! grep -qF "$3: configuration OK" "$tmp/out"; then
		fail "$1: no 'configuration OK' on stdout: $(cat "$tmp/out")"
	else
		ok
	fi
}

# reject NAME BINARY FILE TEXT...: -n exits 1, prints nothing on stdout,
# and its message on stderr holds each TEXT.
reject() {
	name=$1 bin=$2 file=$3
	shift 3
	"$bin" -n -c "$file" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 1 ]; then
		fail "$name: exit status $rc, expected 1; stderr: $(cat "$tmp/err")"
		return
	fi
	[ -s "$tmp/out" ] && fail "$name: wrote to stdout: $(cat "$tmp/out")"
	for text in "$@"; do
		if ! grep -qF -- "$text" "$tmp/err"; then
			fail "$name: message lacks '$text': $(cat "$tmp/err")"
			return
		fi
	done
	ok
}

# line_of FILE TEXT: the number of the one line holding TEXT.
line_of() {
	n=$(grep -cF -- "$2" "$1")
	[ "$n" -eq 1 ] || { fail "$(basename "$1"): '$2' is on $n lines, expected 1"; echo 0; return; }
	grep -nF -- "$2" "$1" | cut -d: -f1
}

# uncomment FILE: every commented-out setting ("#name = ...", no space
# after '#') made active; prose comments ("# ...") stay.
uncomment() {
	sed 's/^\([[:space:]]*\)#\([^[:space:]#]\)/\1\2/' "$1"
}

# with_key FILE KEYFILE PLACEHOLDER PUB: private_key_file (commented out or
# not) set to KEYFILE, the placeholder public key replaced by PUB.
with_key() {
	sed -e "s|^#\{0,1\}private_key_file = .*|private_key_file = \"$2\";|" -e "s|$3|$4|" "$1"
}

# settings FILE.c: the setting paths the configuration code reads.
settings() {
	grep -oE '(cfg_[a-z_]+\([a-z]+|snprintf\([a-z]+, sizeof\(?[a-z]+\)?), "[a-z_]+(\.(\[%d\]|[a-z_]+))*"' "$1" |
		sed -E 's/.*"(.*)"/\1/' | sort -u
}

# block FILE NAME: the lines of group or list NAME, from "NAME = {" or
# "NAME = (" to the top-level line (column 0) that closes it, and comment
# lines showing one.
block() {
	awk -v name="$2" '
		!inside && $0 ~ "^" name " = [({]" { inside = 1 }
		inside { print; if ($0 ~ /^[)}];[[:space:]]*$/) inside = 0; next }
		$0 ~ "^[[:space:]]*#.*" name " = [({]" { print }
	' "$1"
}

# check_example NAME BINARY EXAMPLE KEYFILE PLACEHOLDER PUB CODE
check_example() {
	name=$1 bin=$2 ex=$3 keyfile=$4 placeholder=$5 pub=$6 code=$7
	base=$(basename "$ex")
	if [ ! -f "$ex" ]; then
		fail "$ex: missing"
		return 1
	fi

	# As shipped: refused because of the placeholder key.
	grep -qF "$placeholder" "$ex" && ok || fail "$base: no placeholder $placeholder"
	reject "$base as shipped" "$bin" "$ex" "$ex:$(line_of "$ex" "$placeholder"):" "public_key" "44 characters"

	# Placeholders replaced.
	with_key "$ex" "$keyfile" "$placeholder" "$pub" >"$tmp/$base"
	grep -q "^private_key_file = \"$keyfile\";" "$tmp/$base" && ok ||
		fail "$base: no private_key_file line to set"
	grep -qF "$placeholder" "$tmp/$base" && fail "$base: placeholder $placeholder left after replacing it"
	accept "$base" "$bin" "$tmp/$base"

	# Every optional setting uncommented, with its default value.
	# The clients directory must exist: point it at an empty one.
	mkdir -p "$tmp/clients.d"
	uncomment "$ex" | sed "s|^clients_dir = .*|clients_dir = \"$tmp/clients.d\";|" >"$tmp/all.in"
	with_key "$tmp/all.in" "$keyfile" "$placeholder" "$pub" >"$tmp/all-$base"
	accept "$base with every setting uncommented" "$bin" "$tmp/all-$base"

	# Every setting the code reads is in the example: "a.b" as "b = "
	# inside "a = { ... };", "a.[%d].b" as "b = " inside "a = ( ... );"
	# (or on a comment line showing "a = (" with an example).
	settings "$code" >"$tmp/paths"
	[ "$(wc -l <"$tmp/paths")" -ge 5 ] && ok ||
		fail "$code: found only $(wc -l <"$tmp/paths") settings; has the code changed its style? (see settings() in $0)"
	while read -r path; do
		leaf=${path##*.}
		top=${path%%.*}
		if [ "$path" = "$top" ]; then
			grep -qE "^#?$top = " "$tmp/all.in" && ok || fail "$base: setting $path missing"
		else
			block "$tmp/all.in" "$top" | grep -qE "(^|[[:space:]{])$leaf = " && ok ||
				fail "$base: setting $path missing"
		fi
	done <"$tmp/paths"
}

ship_ex=$src/conf/shipper.conf
coll_ex=$src/conf/collector.conf
check_example kmsg-shipper "$shipper" "$ship_ex" "$tmp/agent.key" \
	REPLACE_WITH_COLLECTOR_PUBLIC_KEY "$collector_pub" "$src/src/agent/conf.c"
check_example kmsg-collector "$collector" "$coll_ex" "$tmp/collector.key" \
	REPLACE_WITH_AGENT_PUBLIC_KEY "$agent_pub" "$src/src/collector/conf.c"
ship=$tmp/shipper.conf
coll=$tmp/collector.conf

# variant NAME BASE SED: BASE edited by the sed script, in $tmp/NAME.conf.
variant() {
	sed -e "$3" "$2" >"$tmp/$1.conf"
	cmp -s "$2" "$tmp/$1.conf" && fail "$1: the edit '$3' changed nothing"
}

# Broken variants of the agent's example.
f=$tmp/s-unknown.conf
{ cat "$ship"; echo 'bogus_setting = 1;'; } >"$f"
reject "unknown setting" "$shipper" "$f" "$f:$(line_of "$f" bogus_setting): unknown setting 'bogus_setting'"

variant s-unknown-nested "$ship" 's/^\([[:space:]]*\)#heartbeat = .*/&\n\1heartbeet = "20s";/'
f=$tmp/s-unknown-nested.conf
reject "unknown nested setting" "$shipper" "$f" "$f:$(line_of "$f" heartbeet): unknown setting 'network.heartbeet'"

variant s-duration "$ship" 's/#heartbeat = .*/heartbeat = "soon";/'
f=$tmp/s-duration.conf
reject "bad duration" "$shipper" "$f" "$f:$(line_of "$f" '"soon"'): network.heartbeat: expected a duration" "between 1s and 1h"

variant s-duration-range "$ship" 's/#connect_timeout = .*/connect_timeout = "2h";/'
f=$tmp/s-duration-range.conf
reject "duration out of range" "$shipper" "$f" "$f:$(line_of "$f" '"2h"'): network.connect_timeout: expected a duration" "between 100ms and 1h"

variant s-size "$ship" 's/#max_size = .*/max_size = "64X";/'
f=$tmp/s-size.conf
reject "bad size" "$shipper" "$f" "$f:$(line_of "$f" '"64X"'): spool.max_size: expected a size"

variant s-match "$ship" 's/#matches = .*/matches = ( "_SYSTEMD_UNIT=ssh.service", "lower=x" );/'
f=$tmp/s-match.conf
reject "bad journal match" "$shipper" "$f" "$f:$(line_of "$f" lower=x): journal.matches.[1]: expected \"FIELD=value\""

variant s-sync "$ship" 's/#sync_level = .*/sync_level = "warn";/'
f=$tmp/s-sync.conf
reject "bad sync_level" "$shipper" "$f" "$f:$(line_of "$f" '"warn"'): spool.sync_level: expected one of"

variant s-port "$ship" 's/#port = .*/port = 70000;/'
f=$tmp/s-port.conf
reject "port 70000" "$shipper" "$f" "$f:$(line_of "$f" 70000): collectors.[0].port: expected an integer between 1 and 65535"

variant s-level "$ship" 's/#log_level = .*/log_level = "loud";/'
f=$tmp/s-level.conf
reject "bad log_level" "$shipper" "$f" "$f:$(line_of "$f" loud): log_level: expected one of"

variant s-from "$ship" '/^kmsg = {/,/^};/s/#from = .*/from = "yesterday";/'
f=$tmp/s-from.conf
reject "bad kmsg.from" "$shipper" "$f" "$f:$(line_of "$f" yesterday): kmsg.from: expected one of \"boot\", \"now\""

variant s-type "$ship" '/^kmsg = {/,/^};/s/#path = .*/path = 42;/'
f=$tmp/s-type.conf
reject "kmsg.path not a string" "$shipper" "$f" "$f:$(line_of "$f" 'path = 42'): kmsg.path: expected a string"

variant s-no-address "$ship" '/^[[:space:]]*address = /d'
f=$tmp/s-no-address.conf
reject "collector without address" "$shipper" "$f" "$f:" "collectors.[0].address: missing required setting"

variant s-pubkey "$ship" "s|$collector_pub|not-a-key|"
f=$tmp/s-pubkey.conf
reject "bad public key" "$shipper" "$f" "$f:$(line_of "$f" not-a-key): collectors.[0].public_key:" "44 characters"

# Key file problems name the key file.
cp "$tmp/agent.key" "$tmp/group.key"
chmod 640 "$tmp/group.key"
variant s-group-key "$ship" "s|$tmp/agent.key|$tmp/group.key|"
reject "group-readable private key" "$shipper" "$tmp/s-group-key.conf" "private key $tmp/group.key" "chmod 600"

variant s-no-key "$ship" "s|$tmp/agent.key|$tmp/missing.key|"
reject "missing private key" "$shipper" "$tmp/s-no-key.conf" "private key $tmp/missing.key"

(umask 077 && echo "not a key" >"$tmp/junk.key")
variant s-junk-key "$ship" "s|$tmp/agent.key|$tmp/junk.key|"
reject "private key that is not a key" "$shipper" "$tmp/s-junk-key.conf" "private key $tmp/junk.key" "kmsg-keygen genkey"

# Broken variants of the collector's example.
f=$tmp/c-unknown.conf
{ cat "$coll"; echo 'bogus_setting = "x";'; } >"$f"
reject "collector: unknown setting" "$collector" "$f" "$f:$(line_of "$f" bogus_setting): unknown setting 'bogus_setting'"

variant c-name "$coll" 's|name = "host1";|name = "../x";|'
f=$tmp/c-name.conf
reject "collector: client name ../x" "$collector" "$f" "$f:$(line_of "$f" '"../x"'): clients.[0].name:" "host name"

variant c-dotname "$coll" 's|name = "host1";|name = ".hidden";|'
f=$tmp/c-dotname.conf
reject "collector: client name .hidden" "$collector" "$f" "$f:$(line_of "$f" '".hidden"'): clients.[0].name:" "not starting with '.'"

variant c-idle "$coll" 's/#idle_timeout = .*/idle_timeout = "5 min";/'
f=$tmp/c-idle.conf
reject "collector: bad duration" "$collector" "$f" "$f:$(line_of "$f" '"5 min"'): network.idle_timeout: expected a duration" "between 1s and 1d"

variant c-port "$coll" 's/#listen = .*/listen = ( { port = 70000; } );/'
f=$tmp/c-port.conf
reject "collector: listen port 70000" "$collector" "$f" "$f:$(line_of "$f" 70000): listen.[0].port: expected an integer between 1 and 65535"

variant c-dup "$coll" "s|^);\$|\t, { name = \"host1\"; public_key = \"$collector_pub\"; }\n);|"
f=$tmp/c-dup.conf
reject "collector: duplicate client name" "$collector" "$f" "$f:$(line_of "$f" "$collector_pub"): clients.[1].name:" "already used by clients.[0]"

variant c-dupkey "$coll" "s|^);\$|\t, { name = \"host2\"; public_key = \"$agent_pub\"; }\n);|"
f=$tmp/c-dupkey.conf
reject "collector: duplicate client key" "$collector" "$f" "$f:$(line_of "$f" host2): clients.[1].public_key:" "already used by clients.[0]"

variant c-group-key "$coll" "s|$tmp/collector.key|$tmp/group.key|"
reject "collector: group-readable private key" "$collector" "$tmp/c-group-key.conf" "private key $tmp/group.key" "chmod 600"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
