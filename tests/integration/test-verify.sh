#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsgctl --verify on a journal written through the store API (gen-store,
# several segments), then damaged in each way it must detect: a changed
# byte, a record rewritten with a matching checksum, a removed, a
# duplicated and two swapped records, a cut journal and a missing segment.
# Each time the output must name the right problem at the right file,
# offset and record number, and the exit status must be 1; the pristine
# journal verifies with exit status 0. Another host that is fine is
# reported OK next to the damaged one.
# Usage: test-verify.sh BUILD_DIR
BUILD=${1:?usage: test-verify.sh BUILD_DIR}
KMSGCTL=$BUILD/src/collector/kmsgctl
GEN=$BUILD/bench/gen-store
PY=$(command -v python3) || { echo "SKIP: python3 not installed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ks-verify.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

"$GEN" -s 65536 -b 100 "$T/store" damaged 3000 >/dev/null || { echo "FAIL: gen-store"; exit 1; }
"$GEN" -s 65536 "$T/store" fine 500 >/dev/null || { echo "FAIL: gen-store"; exit 1; }
cp -a "$T/store" "$T/pristine"

"$PY" - "$KMSGCTL" "$T" <<'EOP'
import os, shutil, struct, subprocess, sys

kmsgctl, tmp = sys.argv[1], sys.argv[2]
store, pristine = tmp + "/store", tmp + "/pristine"
host = store + "/hosts/damaged"
failed = 0

def restore():
    shutil.rmtree(store)
    shutil.copytree(pristine, store)

def segments():
    return sorted(f for f in os.listdir(host) if f.endswith(".seg"))

def crc32c(data):
    """CRC-32C, bit by bit (docs/STORE.md: the entry checksum of format 3)."""
    c = 0xffffffff
    for x in data:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 & -(c & 1))
    return c ^ 0xffffffff

def entries(name):
    """(offset, size, recno) of every entry of segment name (format 3)."""
    b = open(os.path.join(host, name), "rb").read()
    if b[:8] != b"KSSEG003":
        raise SystemExit("FAIL: %s: magic %r, not KSSEG003" % (name, b[:8]))
    n, m = struct.unpack(">II", b[64:72])
    off, out = 72 + 24 * n + 32 * m + 16, []
    while off < len(b):
        size = 4 + (struct.unpack(">I", b[off:off + 4])[0] & 0xffffff) + 4 + 32
        out.append((off, size, struct.unpack(">Q", b[off + 4:off + 12])[0]))
        off += size
    return b, out

def verify():
    p = subprocess.run([kmsgctl, "-D", store, "--verify"], capture_output=True, text=True)
    return p.returncode, p.stdout

def check(what, problem, seg, off, recno):
    global failed
    rc, out = verify()
    want = "damaged: FAILED: %s at %s offset %d" % (problem, seg, off)
    line = [l for l in out.splitlines() if l.startswith("damaged:")]
    ok = rc == 1 and line and line[0].startswith(want) and (recno is None or ", record %d)" % recno in line[0])
    ok = ok and any(l.startswith("fine: OK: 500 records") for l in out.splitlines())
    if not ok:
        print("FAIL: %s: exit %d, output:\n%s  want: %s record %s" % (what, rc, out, want, recno))
        failed += 1
    restore()

def write(name, data):
    with open(os.path.join(host, name), "wb") as f:
        f.write(data)

rc, out = verify()
if rc != 0 or "damaged: OK: 3000 records" not in out or "fine: OK: 500 records" not in out:
    print("FAIL: pristine store: exit %d\n%s" % (rc, out))
    sys.exit(1)
segs = segments()
if len(segs) < 4:
    print("FAIL: only %d segments" % len(segs))
    sys.exit(1)
mid = segs[1]
b, ents = entries(mid)
off, size, recno = ents[10]

# A changed byte in the middle of a record.
d = bytearray(b); d[off + 50] ^= 0x40; write(mid, bytes(d))
check("changed byte", "checksum", mid, off, recno)

# The record rewritten with a checksum that matches: the chain breaks there.
L = size - 36
d = bytearray(b); d[off + L - 1] ^= 0x20
d[off + L:off + L + 4] = struct.pack(">I", crc32c(bytes(d[off:off + L])))
write(mid, bytes(d))
check("rewritten record", "chain", mid, off, recno)

# Removed, duplicated, swapped.
write(mid, b[:off] + b[off + size:])
check("removed record", "missing records", mid, off, recno)
write(mid, b[:off + size] + b[off:off + size] + b[off + size:])
check("duplicated record", "order", mid, off + size, recno + 1)
o2, s2, _ = ents[11]
write(mid, b[:off] + b[o2:o2 + s2] + b[off:off + size] + b[o2 + s2:])
check("swapped records", "missing records", mid, off, recno)

# The journal cut after a whole entry of its last segment with records
# (later, empty segments removed): the checkpoints tell.
k = len(segs) - 1
while not entries(segs[k])[1]:
    k -= 1
for later in segs[k + 1:]:
    os.unlink(os.path.join(host, later))
    os.unlink(os.path.join(host, later[:-4] + ".idx"))
lb, lents = entries(segs[k])
lo, ls, lr = lents[len(lents) // 2]
write(segs[k], lb[:lo])
check("cut journal", "truncated", segs[k], lo, lr)

# A segment missing between two.
os.unlink(os.path.join(host, mid))
check("missing segment", "segment", segs[2], 0, None)

sys.exit(1 if failed else 0)
EOP
rc=$?
[ "$rc" = 0 ] && echo "PASS: --verify names the first bad place of each kind of damage"
exit "$rc"
