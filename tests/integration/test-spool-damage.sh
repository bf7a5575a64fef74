#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 4, items 4 and 8: spool files damaged on purpose while the agent is
# stopped (kill -9, collector down, 4,000 records in 64 KiB segments):
# - the oldest segment truncated in the middle of a record: the records
#   from there to the segment's end are lost, one "spool-torn" gap record
#   with exactly that count;
# - a byte flipped in the middle of another segment: the record it falls
#   in is lost, one "spool-damaged" gap record with count 1;
# - the newest segment truncated in the middle of its last record: a torn
#   tail ("spool-torn", count 1); that record is read again from the
#   source (the spool's cursor is the last intact one), so it is not lost.
# kmsg-shipper --spool-check reports the damage (exit 1) and changes
# nothing; the restarted agent recovers (the spool then checks clean),
# everything else is delivered once, the stream seqs missing are exactly
# the gap records' ranges, and after a clean stop the spool checks clean.
# Usage: test-spool-damage.sh BUILD_DIR
BUILD=${1:?usage: test-spool-damage.sh BUILD_DIR}
NAME=sdamage
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool-lib.sh"

RECORDS=4000
make_keys
: >"$T/kmsg"
spool_configs sdamage-host "$T/kmsg" 'segment_size = "64K";'
start_shipper
gen_kmsg "$T/kmsg" 0 "$RECORDS"
wait_for 60 "the last record in the spool" spooled "$NAME-$RUNID-$((RECORDS - 1))"
kill -9 "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SPOOL=$SPOOL_DIR
ls -l "$SPOOL"

# Damage, and say what each damage must cost (entries: u32 length L, the
# record with its stream seq at offset 8, a 16-byte checksum; a 96-byte
# segment header first: docs/SPOOL.md).
$PY - "$SPOOL" >"$T/damage.txt" <<'EOP' || die "damage the spool"
import os, struct, sys
d = sys.argv[1]
segs = sorted(f for f in os.listdir(d) if f.endswith(".seg"))
if len(segs) < 4:
    sys.exit("only %d segments" % len(segs))
def entries(name):
    b = open(os.path.join(d, name), "rb").read()
    p, out = 96, []
    while p + 4 <= len(b):
        n = struct.unpack(">I", b[p:p + 4])[0]
        out.append((p, n, struct.unpack(">Q", b[p + 12:p + 20])[0]))
        p += 4 + n + 16
    return out
# Oldest segment: cut 60% in, in the middle of a record.
e = entries(segs[0])
i = len(e) * 6 // 10
off, n, seq = e[i]
os.truncate(os.path.join(d, segs[0]), off + 4 + n // 2)
print("torn-old %s %d %d" % (segs[0], len(e) - i, seq))
# Third segment: flip a byte in the middle.
path = os.path.join(d, segs[2])
size = os.path.getsize(path)
with open(path, "r+b") as f:
    f.seek(size // 2)
    c = f.read(1)
    f.seek(size // 2)
    f.write(bytes([c[0] ^ 0x20]))
hit = [x for x in entries(segs[2]) if x[0] <= size // 2 < x[0] + 4 + x[1] + 16]
print("flipped %s 1 %d" % (segs[2], hit[0][2]))
# Newest segment: cut in the middle of its last record.
e = entries(segs[-1])
off, n, seq = e[-1]
os.truncate(os.path.join(d, segs[-1]), off + 4 + n // 2)
print("torn-new %s 1 %d" % (segs[-1], seq))
EOP
cat "$T/damage.txt"
newest=$(awk '$1 == "torn-new" { print $2 }' "$T/damage.txt")

# The read-only report, before recovery: damaged, and nothing changed.
ls -l "$SPOOL" >"$T/before.ls"
sum_before=$(cat "$SPOOL"/* | md5sum)
"$SHIPPER" -c "$T/shipper.conf" --spool-check >"$T/check1.txt" 2>&1
rc=$?
echo "--- kmsg-shipper --spool-check (exit $rc):"
cat "$T/check1.txt"
[ "$rc" = 1 ] || die "--spool-check exit $rc on a damaged spool, expected 1"
grep -q 'result: damaged' "$T/check1.txt" || die "--spool-check does not say damaged"
[ "$(cat "$SPOOL"/* | md5sum)" = "$sum_before" ] && ls -l "$SPOOL" | cmp -s - "$T/before.ls" ||
	die "--spool-check changed the spool"

# Recovery (the collector still down): torn tails truncated, the damaged
# region cut out, so that the spool then checks clean.
start_shipper
wait_for 30 "the agent to start" grep -q 'started: reading' "$T/shipper.log"
check_clean() {
	"$SHIPPER" -c "$T/shipper.conf" --spool-check >"$T/check2.txt" 2>&1
}
wait_for 30 "a clean spool after recovery" check_clean
grep -E '^(segment|records|result)' "$T/check2.txt"
start_collector
wait_for 60 "the last record in the store" stored_last sdamage-host "$NAME-$RUNID-$((RECORDS - 1))"
account sdamage-host 60 --allow spool-torn,spool-damaged --lossy --ranges --agent-events 3 \
	--reread-segment "$newest"
grep -q 'lost 0 ' "$T/account.txt" && die "no record lost: the damage did not take"
# Each damage is its own gap record with the count it must have.
$PY - "$T/out.json" "$T/damage.txt" <<'EOP' || die "gap records do not match the damage"
import json, sys
gaps = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("KMSG_EVENT") == "gap":
        gaps.setdefault(o.get("SPOOL_SEGMENT"), []).append((o["GAP_CAUSE"], int(o["GAP_COUNT"]), int(o["GAP_FIRST_STREAM_SEQ"])))
ok = True
for line in open(sys.argv[2]):
    what, seg, count, seq = line.split()
    cause = "spool-damaged" if what == "flipped" else "spool-torn"
    want = [(cause, int(count), int(seq))]
    print("%s %s: gap records %s, expected %s" % (what, seg, gaps.get(seg), want))
    ok &= gaps.get(seg) == want
sys.exit(0 if ok else 1)
EOP
grep 'spool .*records lost' "$T/shipper.log" || die "the agent did not log what recovery found"

# A clean stop; the spool then checks clean.
kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
"$SHIPPER" -c "$T/shipper.conf" --spool-check >"$T/check3.txt" 2>&1
rc=$?
tail -n 3 "$T/check3.txt"
[ "$rc" = 0 ] || { cat "$T/check3.txt"; die "--spool-check exit $rc after a clean stop, expected 0"; }
echo "PASS: a torn old segment, a flipped byte and a torn tail: each lost record reported once with its count, the rest delivered once"
