#!/bin/sh
# SPDX-License-Identifier: ISC
# Capture losses are reported exactly (issue 3, item 2):
#  A. a kmsg-format file with a sequence jump and a malformed line: one gap
#     record "seq-jump" for exactly the missing seqs, the malformed line
#     kept as a record with its raw bytes;
#  B. a real ring overrun: the agent is stopped (SIGSTOP) on the real
#     /dev/kmsg while more lines are written than the ring holds, so its
#     next read fails with EPIPE. Every kernel seq from the first token to
#     the last must then be stored exactly once or lie in exactly one gap
#     record, and one of them must say "ring-overrun".
# Part B overwrites the whole kernel ring: meson runs this test alone.
BUILD=$1
NAME=capgaps
. "$(dirname "$0")/lib.sh"

make_keys

# --- A: a file with a jump of 5 seqs and a malformed line.
{
	for i in 0 1 2 3 4 5 6 7 8 9; do
		printf '6,%d,%d,-;%s-A-%d\n' "$i" $((1000 + i)) "$NAME-$RUNID" "$i"
	done
	for i in 15 16 17; do
		printf '6,%d,%d,-;%s-A-%d\n' "$i" $((1000 + i)) "$NAME-$RUNID" "$i"
	done
	printf 'this line is no kmsg record %s-A-bad\n' "$NAME-$RUNID"
	for i in 18 19; do
		printf '6,%d,%d,-;%s-A-%d\n' "$i" $((1000 + i)) "$NAME-$RUNID" "$i"
	done
} >"$T/a.kmsg"
write_configs "file-host" "$T/a.kmsg"
start_collector
start_shipper

check_a() {
	"$KMSGCTL" -D "$T/store" -H file-host -o json >"$T/a.json" 2>"$T/kmsgctl.err" || return 1
	$PY - "$T/a.json" "$NAME-$RUNID-A-" >"$T/a.txt" <<'EOP'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
prefix = sys.argv[2]
bad = []
toks = [r["MESSAGE"] for r in recs if r.get("KMSG_SOURCE") == "kmsg" and r["MESSAGE"].startswith(prefix)]
want = [prefix + str(i) for i in list(range(10)) + [15, 16, 17, 18, 19]]
if toks != want:
    bad.append("kernel records %s, expected %s" % (toks, want))
seqs = [r["KMSG_SEQ"] for r in recs if r.get("KMSG_SOURCE") == "kmsg" and r["MESSAGE"].startswith(prefix)]
if seqs != [str(i) for i in list(range(10)) + [15, 16, 17, 18, 19]]:
    bad.append("kernel seqs %s" % seqs)
gaps = [r for r in recs if r.get("KMSG_EVENT") == "gap" and r.get("GAP_CAUSE") == "seq-jump"]
if [(g["GAP_FIRST"], g["GAP_LAST"], g["GAP_COUNT"]) for g in gaps] != [("10", "14", "5")]:
    bad.append("seq-jump gaps %s, expected one 10..14 (5)" % [(g.get("GAP_FIRST"), g.get("GAP_LAST"), g.get("GAP_COUNT")) for g in gaps])
mal = [r for r in recs if prefix + "bad" in r.get("MESSAGE", "")]
if len(mal) != 1 or "malformed" not in mal[0].get("KMSG_RECORD_FLAGS", "") or \
        mal[0]["MESSAGE"] != "this line is no kmsg record " + prefix + "bad\n":  # the raw bytes, newline included
    bad.append("malformed line: %s" % mal)
print("A: %d kernel records, %d seq-jump gaps, %d malformed, %d problems" % (len(toks), len(gaps), len(mal), len(bad)))
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOP
}
ok=0
for _ in $(seq 150); do
	check_a && { ok=1; break; }
	sleep 0.2
done
cat "$T/a.txt"
[ "$ok" = 1 ] || die "part A"
kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=

# --- B: a real ring overrun.
need_kmsg
cat >"$T/shipper.conf" <<EOC
private_key_file = "$T/agent.key";
state_dir = "$T/spool-b";
kmsg = { path = "/dev/kmsg"; from = "now"; };
network = { backoff_max = "1s"; heartbeat = "2s"; };
collectors = ( { address = "127.0.0.1"; port = $PORT; public_key = "$(cat "$T/collector.pub")"; } );
EOC
# The collector knows the agent's key as file-host: part B's records go
# there as well, as a second stream.
start_shipper
wait_sessions 2
for i in $(seq 10); do kmsg_line 6 "$NAME-$RUNID-B-pre-$i"; done
# Until the agent has shipped the last of them.
for _ in $(seq 200); do
	"$KMSGCTL" -D "$T/store" -H file-host -o cat 2>/dev/null | grep -qx "$NAME-$RUNID-B-pre-10" && break
	sleep 0.1
done
kill -STOP "$SHIPPER_PID"
# Write until the first line written while the agent is stopped is no
# longer in the ring: its seq is below the ring's first.
$PY - "$NAME-$RUNID-B-fill-" >"$T/fill.txt" <<'EOP' || die "overrunning the ring: $(cat "$T/fill.txt")"
import os, sys
prefix = sys.argv[1]
def write(line):
    with open("/dev/kmsg", "w") as f:   # one open per line: the kernel rate-limits per file
        f.write(line + "\n")
def first_seq():
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                return int(os.read(fd, 8192).split(b",")[1])
            except BrokenPipeError:
                continue
    finally:
        os.close(fd)
fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
os.lseek(fd, 0, os.SEEK_END)
write(prefix + "0 " + "x" * 150)
mine = None
while mine is None:
    rec = os.read(fd, 8192)
    if (prefix + "0 ").encode() in rec:
        mine = int(rec.split(b",")[1])
os.close(fd)
n = 1
while first_seq() <= mine:
    for _ in range(200):
        write(prefix + "%d %s" % (n, "x" * 150))
        n += 1
    if n > 200000:
        sys.exit("ring never overran")
print("wrote %d lines; the first, seq %d, is overwritten" % (n, mine))
EOP
cat "$T/fill.txt"
kill -CONT "$SHIPPER_PID"
for i in $(seq 10); do kmsg_line 6 "$NAME-$RUNID-B-post-$i"; done

check_b() {
	"$KMSGCTL" -D "$T/store" -H file-host -o json >"$T/b.json" 2>"$T/kmsgctl.err" || return 1
	$PY - "$T/b.json" "$NAME-$RUNID-B-" "$(tr -d - </proc/sys/kernel/random/boot_id)" >"$T/b.txt" <<'EOP'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
prefix, boot = sys.argv[2], sys.argv[3]
bad = []
kern = [r for r in recs if r.get("KMSG_SOURCE") == "kmsg" and r["_BOOT_ID"] == boot]
count = {}
for r in kern:
    count[int(r["KMSG_SEQ"])] = count.get(int(r["KMSG_SEQ"]), 0) + 1
tok = {r["MESSAGE"]: int(r["KMSG_SEQ"]) for r in kern if r["MESSAGE"].startswith(prefix)}
for w in ["pre-%d" % i for i in range(1, 11)] + ["post-%d" % i for i in range(1, 11)]:
    if prefix + w not in tok:
        bad.append("%s%s not stored" % (prefix, w))
if bad:
    print("B: waiting: " + "; ".join(bad[:3]))
    sys.exit(1)
lo, hi = tok[prefix + "pre-1"], tok[prefix + "post-10"]
gaps = []
for r in recs:
    if r.get("KMSG_EVENT") == "gap" and r["_BOOT_ID"] == boot and "GAP_FIRST" in r:
        gaps.append((int(r["GAP_FIRST"]), int(r["GAP_LAST"]), int(r["GAP_COUNT"]), r["GAP_CAUSE"]))
overrun = [g for g in gaps if g[3] == "ring-overrun"]
if not overrun:
    bad.append("no ring-overrun gap record among %s" % gaps)
for g in gaps:
    if g[1] - g[0] + 1 != g[2]:
        bad.append("gap %s: count does not match its range" % (g,))
for s in range(lo, hi + 1):
    n = count.get(s, 0) + sum(1 for g in gaps if g[0] <= s <= g[1])
    if n != 1:
        bad.append("kernel seq %d: stored %d times, in %d gap records" % (s, count.get(s, 0), n - count.get(s, 0)))
lost = sum(g[2] for g in overrun)
stored = sum(1 for s in range(lo, hi + 1) if s in count)
print("B: seqs %d..%d: %d stored, %d reported lost by ring-overrun gap records %s, %d problems"
      % (lo, hi, stored, lost, [(g[0], g[1]) for g in overrun], len(bad)))
for b in bad[:20]:
    print("  " + b)
sys.exit(1 if bad else 0)
EOP
}
ok=0
for _ in $(seq 200); do
	check_b && { ok=1; break; }
	sleep 0.2
done
cat "$T/b.txt"
[ "$ok" = 1 ] || die "part B"
echo "PASS"
