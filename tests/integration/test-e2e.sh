#!/bin/sh
# SPDX-License-Identifier: ISC
# The first real path: 200 lines with unique tokens, at every level and at
# facilities 1..23, written to the real /dev/kmsg, shipped over a Noise
# session on loopback and found exactly once each through kmsgctl, with
# the right priority, facility and host name (the collector's name for the
# key, not the machine's).
# Usage: test-e2e.sh BUILD_DIR
BUILD=${1:?usage: test-e2e.sh BUILD_DIR}
NAME=e2e
. "$(dirname "$0")/lib.sh"
need_kmsg

make_keys
write_configs "e2e-host"
start_collector
start_shipper

: >"$T/expect"
for i in $(seq 1 200); do
	lvl=$((i % 8)) fac=$((i % 23 + 1))
	tok="$NAME-$RUNID-$i"
	kmsg_line $((fac * 8 + lvl)) "$tok"
	echo "$tok $lvl $fac" >>"$T/expect"
done
verify e2e-host "$T/expect"
cat "$T/verify.txt"

# The short format is journalctl's: "Mon DD HH:MM:SS host IDENT: message";
# token 17 has facility 18 (local2), not kern, and no "ident:" prefix, so
# it has no identifier, as journald reads such a line (kmsgctl(1), Fields).
"$KMSGCTL" -D "$T/store" -H e2e-host >"$T/short.txt" || die "kmsgctl short"
grep -Eq "^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} e2e-host unknown: $NAME-$RUNID-17\$" "$T/short.txt" ||
	die "short format line for token 17 not found: $(grep "$NAME-$RUNID-17\$" "$T/short.txt")"
echo "PASS: 200 tokens shipped, each stored once, short format as journalctl"
