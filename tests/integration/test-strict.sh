#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 17, item 5: protocol strictness of the collector, with a test
# agent (rawagent.c) that sends one crafted transport message after a real
# handshake. A BATCH or URGENT with a fault after valid records is stored
# whole or not at all: nothing of it is stored and the session ends; a
# record with an event number only the collector writes (7 SESSION_START,
# 64 a store event) is refused the same way. A valid BATCH is stored and
# acknowledged (the control). Handshakes that are never key-confirmed add
# no stream to the host's table (issue 22, item 4).
# Usage: test-strict.sh BUILD_DIR RAWAGENT
BUILD=${1:?usage: test-strict.sh BUILD_DIR RAWAGENT}
RAW=${2:?usage: test-strict.sh BUILD_DIR RAWAGENT}
NAME=strict
. "$(dirname "$0")/lib.sh"

make_keys
: >"$T/kmsg.file"
write_configs "strict-host" "$T/kmsg.file"
start_collector
TOK=$NAME-$RUNID

raw() {
	"$RAW" 127.0.0.1 "$PORT" "$T/collector.pub" "$T/agent.key" "$1" "$TOK" 2>>"$T/raw.err"
}

out=$(raw good) || die "good: rawagent failed: $out $(cat "$T/raw.err")"
[ "$out" = "acked 2" ] || die "good: expected 'acked 2', got '$out'"
for c in short trailing bad-second event7 event64 urgent-short; do
	out=$(raw "$c") || die "$c: rawagent failed: $out $(cat "$T/raw.err")"
	[ "$out" = closed ] || die "$c: the collector did not end the session (rawagent: '$out')"
done
# What the store holds of this run: the two good records, nothing else.
sleep 0.5
"$KMSGCTL" -D "$T/store" -o cat >"$T/out.txt" 2>"$T/kmsgctl.err" || die "kmsgctl: $(cat "$T/kmsgctl.err")"
grep "^$TOK-" "$T/out.txt" | sort >"$T/got"
printf '%s\n' "$TOK-good-1" "$TOK-good-2" >"$T/want"
if ! cmp -s "$T/got" "$T/want"; then
	echo "stored of this run:" >&2
	cat "$T/got" >&2
	die "the store holds records of a faulty message (or lacks the good ones)"
fi
v=$(grep -c 'protocol violation' "$T/collector.log")
[ "$v" = 6 ] || die "$v sessions ended as protocol violations, expected 6"
# No session-start shown that the collector did not write: every
# SESSION_START has source collector.
"$KMSGCTL" -D "$T/store" -o json | $PY -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    if o.get("KMSG_EVENT") in ("session-start", "session-end", "torn-tail") and o.get("KMSG_SOURCE") != "collector":
        sys.exit("forged %s from source %s" % (o["KMSG_EVENT"], o.get("KMSG_SOURCE")))
' || die "a forged collector event is in the store"
# Issue 22, item 4: a stream enters the host's stream table only at key
# confirmation. Every session above confirmed (7 streams); handshakes
# that never confirm add none.
streams=$T/store/hosts/strict-host/streams
[ "$(stat -c %s "$streams")" = $((8 + 7 * 24)) ] || die "streams file of $(stat -c %s "$streams") bytes, expected 7 streams"
for i in 1 2 3; do
	out=$(raw silent) || die "silent: rawagent failed: $out $(cat "$T/raw.err")"
done
sleep 0.2
[ "$(stat -c %s "$streams")" = $((8 + 7 * 24)) ] || die "unconfirmed handshakes added streams: $(stat -c %s "$streams") bytes"
echo "PASS: valid BATCH stored and acked; 6 faulty messages stored nothing and ended their sessions; unconfirmed handshakes added no stream"
