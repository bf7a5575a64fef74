#!/bin/sh
# SPDX-License-Identifier: ISC
# A printk storm on the real /dev/kmsg (issue 19 item 1), with an agent
# whose spool fdatasyncs every record (spool.sync_level = "debug"), so that
# taking records into the spool is slow:
#  A. the reader thread reads into its memory queue whatever the spool
#     does: at least 75 % of the storm is captured (the agent before the
#     reader thread: 32-39 %, the rest lost to ring overruns), and every
#     kernel seq from the agent's first to the last line is stored once or
#     in exactly one gap record;
#  B. with the smallest queue (kmsg.queue_size = "64K") the queue fills:
#     what it drops is reported exactly, in gap records "queue-full", and
#     the accounting still adds up.
# It overwrites the kernel ring: meson runs it alone.
BUILD=$1
NAME=capstorm
. "$(dirname "$0")/lib.sh"

need_kmsg
make_keys
N=${STORM_LINES:-20000}

# storm PART EXTRA_KMSG_SETTINGS: start an agent, write the storm and a
# last line, wait for it, stop the agent; $T/PART.txt has the figures
# (every kernel seq up to the first last line stored is checked).
storm() {
	write_configs "storm-$1" /dev/kmsg
	sed -i "s|^kmsg = { path = \"/dev/kmsg\"; };|kmsg = { path = \"/dev/kmsg\"; from = \"now\"; $2 };\\
spool = { sync_level = \"debug\"; };|" "$T/shipper.conf"
	sed -i "s|state_dir = \"$T/spool\";|state_dir = \"$T/spool-$1\";|" "$T/shipper.conf"
	grep -q 'sync_level = "debug"' "$T/shipper.conf" || die "config: $(cat "$T/shipper.conf")"
	# The collector of the new configuration (its port and client).
	if [ -n "$COLLECTOR_PID" ]; then
		kill "$COLLECTOR_PID"
		wait "$COLLECTOR_PID" 2>/dev/null
	fi
	start_collector
	start_shipper
	for _ in $(seq 200); do
		grep -q "connected to collector" "$T/shipper.log" && grep -q "kmsg reader: thread started" "$T/shipper.log" &&
			break
		sleep 0.05
	done
	grep -q "kmsg reader: thread started" "$T/shipper.log" || die "$1: the reader thread did not start"
	$PY - "$NAME-$RUNID-$1-" "$N" <<'EOP' || die "$1: writing the storm"
import os, sys
prefix, n = sys.argv[1], int(sys.argv[2])
# One open per line: the kernel rate-limits writers per open file (unless
# kernel.printk_devkmsg = on, which this test leaves alone).
for i in range(n):
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    os.write(fd, b"<7>%s%06d storm\n" % (prefix.encode(), i))
    os.close(fd)
EOP
	# A last line, again every second: one read while the queue is still
	# full is dropped (and reported) like the storm's lines.
	for i in $(seq 1200); do
		[ $((i % 10)) = 1 ] && kmsg_line 6 "$NAME-$RUNID-$1-last"
		"$KMSGCTL" -D "$T/store" -H "storm-$1" -n 5 -o cat 2>/dev/null | grep -qx "$NAME-$RUNID-$1-last" && break
		sleep 0.1
	done
	kill "$SHIPPER_PID"
	wait "$SHIPPER_PID" 2>/dev/null
	SHIPPER_PID=
	"$KMSGCTL" -D "$T/store" -H "storm-$1" -o json >"$T/$1.json" 2>"$T/kmsgctl.err" || die "$1: kmsgctl"
	$PY - "$T/$1.json" "$NAME-$RUNID-$1-" "$N" >"$T/$1.txt" <<'EOP' || die "$1: $(cat "$T/$1.txt")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
prefix, n = sys.argv[2], int(sys.argv[3])
held, gaps, storm, last = [], [], 0, None
for r in recs:
    if r.get("KMSG_SOURCE") == "kmsg" and "KMSG_SEQ" in r:
        held.append(int(r["KMSG_SEQ"]))
        m = r.get("MESSAGE", "")
        if m.startswith(prefix) and m.endswith(" storm"):
            storm += 1
        if m == prefix + "last" and last is None:
            last = int(r["KMSG_SEQ"])
    elif r.get("KMSG_EVENT") == "gap" and "GAP_FIRST" in r and r.get("GAP_CAUSE") != "started-from-now":
        gaps.append((int(r["GAP_FIRST"]), int(r["GAP_LAST"]), int(r["GAP_COUNT"]), r["GAP_CAUSE"]))
if last is None:
    sys.exit("the last line is not stored")
first = min(held + [g[0] for g in gaps])
seen = {}
for s in held:
    seen[s] = seen.get(s, 0) + 1
for lo, hi, cnt, cause in gaps:
    if cnt != hi - lo + 1:
        sys.exit("gap %d..%d says %d" % (lo, hi, cnt))
    for s in range(lo, hi + 1):
        seen[s] = seen.get(s, 0) + 1
bad = [s for s in range(first, last + 1) if seen.get(s, 0) != 1]
causes = {}
for g in gaps:
    causes[g[3]] = causes.get(g[3], 0) + g[2]
print("%d of %d storm lines captured (%.1f %%); kernel seqs %d-%d: %d held, lost by cause %s; %d not exactly once" %
      (storm, n, 100.0 * storm / n, first, last, len(set(held)), causes, len(bad)))
if bad:
    sys.exit("seqs not stored or reported exactly once: %s" % bad[:20])
EOP
	cat "$T/$1.txt"
}

# --- A: the default queue.
storm a ""
$PY - "$T/a.txt" <<'EOP' || die "A: $(cat "$T/a.txt")"
import re, sys
pct = float(re.search(r"\(([0-9.]+) %\)", open(sys.argv[1]).read()).group(1))
# Reading no longer waits for the spool's fdatasyncs. Seen on 2 busy
# cores: 100 % (3 runs); the agent before the reader thread, which synced
# before its next read, 32-39 % (3 runs). The bound leaves room for a
# busy machine.
sys.exit(0 if pct >= 75 else "only %.1f %% captured" % pct)
EOP

# --- B: the smallest queue fills; its losses are exact and named.
storm b 'queue_size = "64K";'
grep -q "'queue-full'" "$T/b.txt" || die "B: no queue-full gap: $(cat "$T/b.txt")"
echo "PASS"
