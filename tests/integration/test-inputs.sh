#!/bin/sh
# SPDX-License-Identifier: ISC
# The journal and pstore inputs through the real agent (issue 3, items 5
# and 6): journal entries of this boot, from journal files made with
# systemd-journal-remote, arrive exactly once with their fields, kernel-
# transport entries do not (kmsg has them); after a stop, and after a
# kill -9, the agent resumes at its cursor: no repeat, no skip. A pstore
# file is shipped once, tagged with its name, removed (pstore.remove), and
# not shipped again when the same file shows up after a restart.
BUILD=$1
NAME=inputs
. "$(dirname "$0")/lib.sh"

JR=
for p in /usr/lib/systemd/systemd-journal-remote /lib/systemd/systemd-journal-remote; do
	[ -x "$p" ] && JR=$p && break
done
[ -n "$JR" ] || { echo "SKIP: systemd-journal-remote not installed"; exit 77; }

BOOT=$(tr -d - </proc/sys/kernel/random/boot_id)
NOW=$(($(date +%s) * 1000000))
mkdir -p "$T/journal" "$T/pstore"
# As /var/log/journal: new journal files get group systemd-journal, which
# the agent keeps when it drops root with the journal input on.
if getent group systemd-journal >/dev/null; then
	chgrp systemd-journal "$T/journal" && chmod g+s "$T/journal" || die "chgrp $T/journal"
fi

# journal FILE FIRST LAST: entries FIRST..LAST of this boot into a new
# journal file; every 10th one also gets a kernel-transport twin.
journal() {
	$PY - "$NAME-$RUNID" "$BOOT" "$NOW" "$2" "$3" <<'EOP' | "$JR" -o "$1" - 2>>"$T/jr.log" || die "systemd-journal-remote -o $1"
import sys
prefix, boot, now, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
out = sys.stdout
for k in range(first, last + 1):
    for kernel in ([False, True] if k % 10 == 0 else [False]):
        out.write("__REALTIME_TIMESTAMP=%d\n" % (now + k * 1000))
        out.write("__MONOTONIC_TIMESTAMP=%d\n" % (1000000 + k * 1000))
        out.write("_BOOT_ID=%s\n" % boot)
        if kernel:
            out.write("MESSAGE=%s-K-%d\n_TRANSPORT=kernel\nPRIORITY=6\nSYSLOG_FACILITY=0\n\n" % (prefix, k))
        else:
            out.write("MESSAGE=%s-J-%d\n_TRANSPORT=journal\nPRIORITY=%d\nSYSLOG_FACILITY=3\n"
                      "SYSLOG_IDENTIFIER=inputs-test\nTEST_FIELD=value %d\n\n" % (prefix, k, k % 8, k))
EOP
}

make_keys
: >"$T/empty.kmsg"
write_configs "inputs-host" "$T/empty.kmsg"
cat >>"$T/shipper.conf" <<EOC
journal = { enable = true; directory = "$T/journal"; };
pstore = { path = "$T/pstore"; remove = true; };
EOC
{ cat "$(dirname "$0")/../data/pstore/dmesg-ramoops-0"; printf '<3>[   13.000001] %s-P-1\n' "$NAME-$RUNID"; } >"$T/dmesg-ramoops-0"
cp "$T/dmesg-ramoops-0" "$T/pstore/"

# check LAST: J-1..J-LAST once each, with their fields; no K; P-1 once.
check() {
	"$KMSGCTL" -D "$T/store" -H inputs-host -o json >"$T/out.json" 2>"$T/kmsgctl.err" || return 1
	$PY - "$T/out.json" "$NAME-$RUNID" "$1" >"$T/check.txt" <<'EOP'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
prefix, last = sys.argv[2], int(sys.argv[3])
seen = {}
for r in recs:
    m = r.get("MESSAGE")
    if isinstance(m, str) and m.startswith(prefix):
        seen.setdefault(m, []).append(r)
bad = []
for k in range(1, last + 1):
    got = seen.get("%s-J-%d" % (prefix, k), [])
    if len(got) != 1:
        bad.append("J-%d: found %d times" % (k, len(got)))
        continue
    r = got[0]
    want = {"KMSG_SOURCE": "journal", "PRIORITY": str(k % 8), "SYSLOG_FACILITY": "3",
            "SYSLOG_IDENTIFIER": "inputs-test", "TEST_FIELD": "value %d" % k, "_TRANSPORT": "journal"}
    for f, v in want.items():
        if r.get(f) != v:
            bad.append("J-%d: %s=%r, expected %r" % (k, f, r.get(f), v))
for m in seen:
    if "-K-" in m:
        bad.append("%s: a kernel-transport entry was shipped" % m)
    elif m.split("-")[-2] == "J" and int(m.split("-")[-1]) > last:
        bad.append("%s: unexpected" % m)
p = seen.get(prefix + "-P-1", [])
if len(p) != 1:
    bad.append("P-1: found %d times" % len(p))
elif (p[0].get("KMSG_SOURCE"), p[0].get("PSTORE_FILE"), p[0].get("PSTORE_BOOT"), p[0].get("PRIORITY")) != \
        ("pstore", "dmesg-ramoops-0", "previous", "3"):
    bad.append("P-1: %s" % p[0])
print("%d journal entries expected, %d distinct records found, %d problems" % (last, len(seen), len(bad)))
for b in bad[:20]:
    print("  " + b)
sys.exit(1 if bad else 0)
EOP
}
wait_check() {
	for _ in $(seq 200); do
		check "$1" && { cat "$T/check.txt"; return 0; }
		sleep 0.1
	done
	cat "$T/check.txt"
	die "$2"
}

journal "$T/journal/a.journal" 1 30
start_collector
start_shipper
wait_check 30 "first start"
[ -e "$T/pstore/dmesg-ramoops-0" ] && die "pstore file not removed"
echo "ok: first start: 30 entries, the pstore file shipped and removed"

# A stop, new entries meanwhile, the same pstore file again.
kill "$SHIPPER_PID"
wait "$SHIPPER_PID"
SHIPPER_PID=
journal "$T/journal/b.journal" 31 40
cp "$T/dmesg-ramoops-0" "$T/pstore/"
start_shipper
wait_check 40 "restart after a stop"
echo "ok: restart: 40 entries, nothing twice, pstore file not shipped again"

# New entries while running, then kill -9 once they are stored.
journal "$T/journal/c.journal" 41 50
wait_check 50 "entries written while running"
kill -9 "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
journal "$T/journal/d.journal" 51 55
start_shipper
wait_check 55 "restart after kill -9"
echo "ok: after kill -9: 55 entries, nothing twice"
grep -F "pstore $T/pstore" "$T/shipper.log" | head -n 2
echo "PASS"
