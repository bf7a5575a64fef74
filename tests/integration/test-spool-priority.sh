#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 4, item 6: priority. The collector is down while RECORDS records
# are spooled, info records with an err or crit record every 997th. Once
# it is up, the err+ records arrive first (URGENT messages) and are
# stored ahead of the older info records; every record is stored once,
# kmsgctl shows them in kernel order (also -r, -n), --gaps finds nothing
# missing, --verify passes.
# Then a second backlog, and the collector is killed (SIGKILL) while it
# holds that backlog's err+ records but none of its info records: a
# proxy passes each connection's handshake and first message (the URGENT
# one) and holds the rest. After the restart every record is still
# stored exactly once: the urgent records sent again are duplicates,
# known from the journal.
# Sanitized builds: 50,000 records per backlog.
# Usage: test-spool-priority.sh BUILD_DIR
BUILD=${1:?usage: test-spool-priority.sh BUILD_DIR}
NAME=sprio
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool-lib.sh"

RECORDS=$(scaled 200000 50000)
HOST=sprio-host
echo "2 backlogs of $RECORDS records (sanitized build: $SANITIZED)"

# gen_prio FILE FIRST COUNT: records FIRST .. FIRST+COUNT-1, info but every
# 997th (seq % 997 == 500): err and crit in turn.
gen_prio() {
	awk -v first="$2" -v n="$3" -v p="$NAME-$RUNID-" 'BEGIN {
		for (i = first; i < first + n; i++) {
			lv = i % 997 == 500 ? (int(i / 997) % 2 ? 2 : 3) : 6
			printf "%d,%d,%d,-;%s%d\n", lv, i, 1000000 + i * 100, p, i
		}
	}' >>"$1"
}

# The proxy between agent and collector: every connection passes its
# first FRAMES frames (msg1 and the first transport message) towards the
# collector and holds the rest until CALM_FILE exists; the collector's
# bytes pass at once.
cat >"$T/stall.py" <<'EOP'
import os, socket, sys, threading, time
lport, cport, frames, calm = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def up(a, b):
    buf, passed, sent = b"", 0, 0
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            buf += d
            if not os.path.exists(calm):
                # Frame boundaries: u16 length, then the body.
                while passed < frames and len(buf) - sent >= 2:
                    n = 2 + int.from_bytes(buf[sent:sent + 2], "big")
                    if len(buf) - sent < n:
                        break
                    b.sendall(buf[sent:sent + n])
                    sent += n
                    passed += 1
                while passed >= frames and not os.path.exists(calm):
                    a.settimeout(0.05)
                    try:
                        d = a.recv(65536)
                        if not d:
                            raise EOFError
                        buf += d
                    except socket.timeout:
                        pass
                a.settimeout(None)
            if os.path.exists(calm):
                b.sendall(buf[sent:])
                sent = len(buf)
    except (OSError, EOFError):
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def down(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport))
ls.listen(16)
while True:
    c, _ = ls.accept()
    try:
        s = socket.create_connection(("127.0.0.1", cport))
    except OSError:
        c.close()
        continue
    threading.Thread(target=up, args=(c, s), daemon=True).start()
    threading.Thread(target=down, args=(s, c), daemon=True).start()
EOP

# check.py JSON PHASE FIRST LAST: kmsgctl -o json of the host; the records
# of kmsg seq FIRST..LAST are one backlog. Prints what it finds.
#   stored: every err+ record from FIRST + 2000 on is flagged as stored
#           early and lies before the info record FIRST + 1000 in the
#           journal (cursor offset); the output is in kernel order.
#   killed: the backlog's err+ records from FIRST + 2000 on are there,
#           stored early, and none of its info records from FIRST + 1000.
cat >"$T/check.py" <<'EOP'
import json, re, sys
path, phase, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bad = []
recs = []
for line in open(path):
    o = json.loads(line)
    if o.get("KMSG_SOURCE") != "kmsg":
        continue
    k = int(o["KMSG_SEQ"])
    off = int(re.search(r"o=(\d+)", o["__CURSOR"]).group(1))
    recs.append((k, int(o["KMSG_STREAM_SEQ"]), int(o["PRIORITY"]), off, o.get("KMSG_STORED_EARLY") == "1"))
for a, b in zip(recs, recs[1:]):
    if b[0] <= a[0] or b[1] <= a[1]:
        bad.append("not in kernel order: kmsg seq %d then %d" % (a[0], b[0]))
        break
mine = [r for r in recs if first <= r[0] <= last]
urgent = [r for r in mine if r[2] <= 3 and r[0] >= first + 2000]
info = {r[0]: r for r in mine if r[2] == 6}
early = sum(1 for r in mine if r[4])
want = sum(1 for k in range(first + 2000, last + 1) if k % 997 == 500)
print("%s: %d records of the backlog shown, %d err+ after the first batches (%d written), %d stored early" % (
    phase, len(mine), len(urgent), want, early))
if len(urgent) != want:
    bad.append("%d err+ records from kmsg seq %d, %d written" % (len(urgent), first + 2000, want))
late = [r[0] for r in urgent if not r[4]]
if late:
    bad.append("err+ records not stored early: %s" % late[:5])
if any(r[4] and r[2] > 3 for r in mine):
    bad.append("an info record stored early")
if phase == "stored":
    ref = info.get(first + 1000)
    if not ref:
        bad.append("info record %d missing" % (first + 1000))
    else:
        after = [r[0] for r in urgent if r[3] > ref[3]]
        print("err+ records stored after info record %d: %d; last err+ at offset %d, info %d at offset %d" % (
            first + 1000, len(after), max(r[3] for r in urgent) if urgent else -1, first + 1000, ref[3]))
        if after:
            bad.append("err+ records stored after the older info record %d: %s" % (first + 1000, after[:5]))
else:
    held = [k for k in info if k >= first + 1000]
    print("info records of the backlog from kmsg seq %d stored: %d" % (first + 1000, len(held)))
    if held:
        bad.append("info records stored before the kill: %s" % sorted(held)[:5])
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOP

make_keys
: >"$T/kmsg"
spool_configs "$HOST" "$T/kmsg" 'max_size = "1G";'
# The agent goes through the proxy.
PPORT=$(free_port)
sed -i "s/port = $PORT;/port = $PPORT;/" "$T/shipper.conf"
grep -q "port = $PPORT;" "$T/shipper.conf" || die "proxy port not set"
touch "$T/calm"
$PY "$T/stall.py" "$PPORT" "$PORT" 2 "$T/calm" &
EXTRA_PIDS="$EXTRA_PIDS $!"

# 1. A backlog, then the collector.
start_shipper
gen_prio "$T/kmsg" 0 "$RECORDS"
last=$NAME-$RUNID-$((RECORDS - 1))
wait_for 300 "the first backlog in the spool" spooled "$last"
start_collector
wait_for 300 "the first backlog in the store" stored_last "$HOST" "$last"
account "$HOST" 60 --agent-events 2
"$KMSGCTL" -D "$T/store" -H "$HOST" -o json >"$T/all.json" || die "kmsgctl"
$PY "$T/check.py" "$T/all.json" stored 0 $((RECORDS - 1)) || die "priority"
# -r is the same in reverse; -n the last ones of it.
"$KMSGCTL" -D "$T/store" -H "$HOST" -o cat >"$T/fwd.txt" || die "kmsgctl"
"$KMSGCTL" -D "$T/store" -H "$HOST" -o cat -r >"$T/rev.txt" || die "kmsgctl -r"
tac "$T/rev.txt" | cmp -s - "$T/fwd.txt" || die "-r is not the reverse"
"$KMSGCTL" -D "$T/store" -H "$HOST" -o cat -n 3000 >"$T/tail.txt" || die "kmsgctl -n"
tail -n 3000 "$T/fwd.txt" | cmp -s - "$T/tail.txt" || die "-n 3000 is not the end"
"$KMSGCTL" -D "$T/store" -H "$HOST" --gaps >"$T/gaps.txt" || { cat "$T/gaps.txt"; die "--gaps"; }
"$KMSGCTL" -D "$T/store" -H "$HOST" --verify >"$T/verify.txt" || { cat "$T/verify.txt"; die "--verify"; }
echo "first backlog: $(wc -l <"$T/fwd.txt") lines; -r, -n, --gaps, --verify agree"

# 2. Another backlog; the collector gets only its URGENT messages, then is killed.
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
rm -f "$T/calm"
gen_prio "$T/kmsg" "$RECORDS" "$RECORDS"
last=$NAME-$RUNID-$((2 * RECORDS - 1))
wait_for 300 "the second backlog in the spool" spooled "$last"
start_collector
lastu=$((2 * RECORDS - 1))
while [ $((lastu % 997)) -ne 500 ]; do lastu=$((lastu - 1)); done
wait_for 120 "the last err+ record in the store" stored_last "$HOST" "$NAME-$RUNID-$lastu"
kill -9 "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
"$KMSGCTL" -D "$T/store" -H "$HOST" -o json >"$T/killed.json" || die "kmsgctl"
$PY "$T/check.py" "$T/killed.json" killed "$RECORDS" $((2 * RECORDS - 1)) || die "state at the kill"
touch "$T/calm"
start_collector
wait_for 300 "the second backlog in the store" stored_last "$HOST" "$last"
account "$HOST" 60 --agent-events 2
"$KMSGCTL" -D "$T/store" -H "$HOST" -o json >"$T/all.json" || die "kmsgctl"
$PY "$T/check.py" "$T/all.json" stored "$RECORDS" $((2 * RECORDS - 1)) || die "priority after the kill"
"$KMSGCTL" -D "$T/store" -H "$HOST" --gaps >"$T/gaps.txt" || { cat "$T/gaps.txt"; die "--gaps"; }
"$KMSGCTL" -D "$T/store" -H "$HOST" --verify >"$T/verify.txt" || { cat "$T/verify.txt"; die "--verify"; }
echo "PASS: err+ records of a backlog stored first and once, in kernel order, also across a SIGKILL"
