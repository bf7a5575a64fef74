#!/bin/sh
# SPDX-License-Identifier: ISC
# "Last seen" counts heartbeats: an agent that is connected but has
# nothing to ship (heartbeat 2 s) is not reported by kmsgctl --silent,
# and --list-hosts shows it seen recently, because the collector records
# its last authenticated contact (store.h: STORE_CONTACT_FILE, rewritten
# at most every 10 s). Once the agent is gone, the same host is silent.
# Usage: test-contact.sh BUILD_DIR
BUILD=${1:?usage: test-contact.sh BUILD_DIR}
NAME=contact
. "$(dirname "$0")/lib.sh"

make_keys
echo "6,1,1000,-;$NAME-$RUNID-first" >"$T/kmsg.file"
write_configs "contact-host" "$T/kmsg.file"
start_collector
start_shipper
wait_sessions 1
echo "$NAME-$RUNID-first 6 0" >"$T/expect"
verify contact-host "$T/expect" 30

# Idle for longer than the limit: only heartbeats arrive. The contact is
# at most 10 s (rewrite interval) + 2 s (heartbeat) old.
sleep 20
"$KMSGCTL" -D "$T/store" --silent 15 >"$T/silent.txt" || die "connected idle host reported silent: $(cat "$T/silent.txt")"
[ ! -s "$T/silent.txt" ] || die "--silent printed: $(cat "$T/silent.txt")"
seen=$("$KMSGCTL" -D "$T/store" --list-hosts -o json | $PY -c 'import json,sys; print(json.loads(sys.stdin.readline())["last_seen"])')
now=$($PY -c 'import time; print(int(time.time() * 1e6))')
[ $((now - seen)) -lt 15000000 ] || die "--list-hosts last seen $(((now - seen) / 1000000)) s ago, expected under 15"

# The agent stops: after the limit the host is silent (exit status 1).
kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
sleep 6
if "$KMSGCTL" -D "$T/store" --silent 5 >"$T/silent.txt"; then
	die "a host gone for 6 s is not silent with --silent 5"
fi
grep -q "contact-host" "$T/silent.txt" || die "--silent did not name the host: $(cat "$T/silent.txt")"
echo "PASS: idle but connected: not silent (last seen $(((now - seen) / 1000000)) s ago); gone: silent"
