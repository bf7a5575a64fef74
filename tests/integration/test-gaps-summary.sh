#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsgctl --gaps after a storm (issue 19 item 3; issue 16 item 7):
#  A. a host with 40 sequence jumps, a malformed line, then 10 more jumps:
#     the default report is a summary (one line per run of gaps with the
#     same causes: the run's span, its count and number of gaps, and the
#     times of its gap records; the held ranges as first-last with their
#     count), --gaps=full lists every range, and the exit status is 1
#     either way;
#  B. from = "now": the kernel records before the agent's start are shown
#     as declared and do not fail (exit 0); a loss after the start does
#     (exit 1).
BUILD=$1
NAME=gapsum
. "$(dirname "$0")/lib.sh"

for h in many now1 now2; do
	(umask 077 && "$KEYGEN" genkey >"$T/$h.key") || die "genkey"
	"$KEYGEN" pubkey <"$T/$h.key" >"$T/$h.pub" || die "pubkey"
done
(umask 077 && "$KEYGEN" genkey >"$T/collector.key") || die "genkey"
"$KEYGEN" pubkey <"$T/collector.key" >"$T/collector.pub" || die "pubkey"
PORT=$(free_port)
cat >"$T/collector.conf" <<EOC
private_key_file = "$T/collector.key";
state_dir = "$T/store";
listen = ( { address = "127.0.0.1"; port = $PORT; } );
clients = (
  { name = "many"; public_key = "$(cat "$T/many.pub")"; },
  { name = "now1"; public_key = "$(cat "$T/now1.pub")"; },
  { name = "now2"; public_key = "$(cat "$T/now2.pub")"; }
);
EOC
# agent_conf HOST FROM
agent_conf() {
	cat >"$T/$1.conf" <<EOC
private_key_file = "$T/$1.key";
state_dir = "$T/spool-$1";
kmsg = { path = "$T/$1.kmsg"; from = "$2"; };
network = { backoff_max = "1s"; heartbeat = "2s"; };
collectors = ( { address = "127.0.0.1"; port = $PORT; public_key = "$(cat "$T/collector.pub")"; } );
EOC
}
PIDS=
start_agent() {
	"$SHIPPER" -d -c "$T/$1.conf" >>"$T/$1.log" 2>&1 &
	PIDS="$PIDS $!"
	EXTRA_PIDS="$EXTRA_PIDS $!"
}
kc() { "$KMSGCTL" -D "$T/store" --no-pager "$@"; }
wait_msg() {
	for _ in $(seq 400); do
		kc -H "$1" -o cat 2>/dev/null | grep -qxF "$2" && return 0
		sleep 0.05
	done
	die "host $1: message '$2' not stored"
}
# Where the agent's file is read up to.
read_pos() {
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = "$2" ] && sed -n 's/^pos:[[:space:]]*//p' /proc/"$1"/fdinfo/"${fd##*/}" && return
	done
	echo 0
}

start_collector

# --- A: seqs 0-4, then 40 times one kept and two lost (5, 8, ... 122),
# a malformed line where 124 would be (123-124 lost), then 10 more times
# (125, 128, ... 152), then 153.
$PY -c '
import sys
out = open(sys.argv[1], "w")
seq = 0
def rec(s, text):
    out.write("6,%d,%d,-;%s\n" % (s, 1000000 + s * 1000, text))
for s in range(5):
    rec(s, "many %d" % s)
for k in range(40):
    rec(5 + 3 * k, "many %d" % (5 + 3 * k))
out.write("this line is no kmsg record\n")
for k in range(10):
    rec(125 + 3 * k, "many %d" % (125 + 3 * k))
rec(153, "many last")
' "$T/many.kmsg"
agent_conf many boot
start_agent many
wait_msg many "many last"

kc --gaps -H many >"$T/many.sum"
rc=$?
[ "$rc" = 1 ] || die "--gaps -H many: exit $rc, expected 1"
kc --gaps=full -H many >"$T/many.full"
rc=$?
[ "$rc" = 1 ] || die "--gaps=full -H many: exit $rc, expected 1"
$PY - "$T/many.sum" "$T/many.full" <<'EOP' || die "A: $(cat "$T/many.sum")"
import re, sys
summ = open(sys.argv[1]).read().splitlines()
full = open(sys.argv[2]).read().splitlines()
T = r"[A-Z][a-z]{2} [ 0-9][0-9] \d\d:\d\d:\d\d\.\d{6}"
want = [
    r"host many$",
    r"  boot [0-9a-f]{32} \(-b 0\)$",
    r"    held kmsg seq 0-153 \(56 in 50 ranges\)$",
    r"    missing kmsg seq 6-121 \(78 in 39 gaps, %s to %s\): seq-jump$" % (T, T),
    r"    missing kmsg seq 123-124 \(2\): seq-jump, malformed-input$",
    r"    missing kmsg seq 126-151 \(18 in 9 gaps, %s to %s\): seq-jump$" % (T, T),
    r"  stream [0-9a-f]{32} \(boot -b 0\)$",
    r"    held stream seq 0-\d+$",
    r"  incomplete$",
]
bad = len(summ) != len(want) or any(not re.match(w, l) for w, l in zip(want, summ))
if bad:
    print("summary:\n" + "\n".join(summ))
    sys.exit(1)
miss = [l for l in full if l.startswith("    missing kmsg seq ")]
if len(miss) != 39 + 1 + 9 or miss[0] != "    missing kmsg seq 6-7 (2): seq-jump" or \
        not any(l.startswith("    held kmsg seq 0-5, 8, 11, ") for l in full):
    print("full:\n" + "\n".join(full))
    sys.exit(1)
print("A: summary %d lines, full %d missing lines" % (len(summ), len(miss)))
EOP

# --- B: from = "now". now1 misses only what came before its start; now2
# also loses 7-8 after it.
for h in now1 now2; do
	printf '6,%d,%d,-;%s before start\n' 0 100 "$h" 1 200 "$h" 2 300 "$h" 3 400 "$h" 4 500 "$h" >"$T/$h.kmsg"
	agent_conf "$h" now
	start_agent "$h"
	pid=${PIDS##* }
	for _ in $(seq 200); do
		[ "$(read_pos "$pid" "$T/$h.kmsg")" -ge "$(wc -c <"$T/$h.kmsg")" ] && break
		sleep 0.05
	done
done
printf '6,5,600,-;now1 a\n6,6,700,-;now1 last\n' >>"$T/now1.kmsg"
printf '6,5,600,-;now2 a\n6,6,700,-;now2 b\n6,9,800,-;now2 last\n' >>"$T/now2.kmsg"
wait_msg now1 "now1 last"
wait_msg now2 "now2 last"
kc --gaps -H now1 >"$T/now1.gaps"
rc=$?
[ "$rc" = 0 ] || die "--gaps -H now1: exit $rc, expected 0: $(cat "$T/now1.gaps")"
grep -qx "    missing kmsg seq 0-4 (5): started-from-now (declared, not lost)" "$T/now1.gaps" &&
	grep -qx "  complete" "$T/now1.gaps" || die "--gaps -H now1: $(cat "$T/now1.gaps")"
kc --gaps -H now2 -o json >"$T/now2.json"
rc=$?
[ "$rc" = 1 ] || die "--gaps -H now2: exit $rc, expected 1: $(cat "$T/now2.json")"
$PY - "$T/now2.json" <<'EOP' || die "B: $(cat "$T/now2.json")"
import json, sys
r = json.load(open(sys.argv[1]))
m = [(x["first"], x["last"], [c["cause"] for c in x["causes"]], x.get("declared", False)) for x in r["boots"][0]["missing"]]
assert m == [(0, 4, ["started-from-now"], True), (7, 8, ["seq-jump"], False)], m
assert r["complete"] is False, r
EOP
# Both hosts at once: one failure is enough.
kc --gaps -H now1 -H now2 >/dev/null
[ $? = 1 ] || die "--gaps -H now1 -H now2 should exit 1"
echo "B: from = now declared (exit 0), a later loss fails (exit 1)"
for p in $PIDS; do kill "$p" 2>/dev/null; done
echo "PASS"
