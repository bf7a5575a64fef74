#!/bin/sh
# SPDX-License-Identifier: ISC
# The agent witnesses its collector's journal (issue 17 item 2,
# docs/STORE.md "Commitments"): an agent ships records and keeps the
# collector's newest commitment; kmsg-shipper --print-commitment prints
# it and kmsgctl --verify --commitments accepts it. Then, with the
# collector stopped, the host's journal is cut at an entry boundary and
# all of the collector's metadata made to match (checkpoints emptied,
# acked file removed): kmsgctl --verify alone passes, but the agent's
# commitment (from a file and from standard input) exposes the cut.
# When the agent reconnects, the collector finds the journal does not
# hold what the agent presents: a tamper event, which --verify reports
# from then on.
# Usage: test-commitment.sh BUILD_DIR
BUILD=${1:?usage: test-commitment.sh BUILD_DIR}
NAME=commitment
. "$(dirname "$0")/lib.sh"

make_keys
: >"$T/kmsg.file"
: >"$T/expect"
for i in $(seq 1 30); do
	echo "6,$((i - 1)),$((1000 + i)),-;$NAME-$RUNID-$i" >>"$T/kmsg.file"
	echo "$NAME-$RUNID-$i 6 0" >>"$T/expect"
done
write_configs "witnessed" "$T/kmsg.file"
start_collector
start_shipper
wait_sessions 1
verify witnessed "$T/expect" 30
sleep 2 # the commitment of the last ack is saved within a second
kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=

"$SHIPPER" -c "$T/shipper.conf" --print-commitment >"$T/c.txt" 2>"$T/print.err" ||
	die "--print-commitment: $(cat "$T/print.err")"
grep -q "^kmsg-commitment/1 host=witnessed stream=[0-9a-f]\{32\} hwm=[0-9]* records=[0-9]* end=[0-9]* time=[0-9]* chain=[0-9a-f]\{64\} collector=" "$T/c.txt" ||
	die "--print-commitment printed: $(cat "$T/c.txt")"
"$KMSGCTL" -D "$T/store" --verify --commitments "$T/c.txt" >"$T/v0.txt" 2>&1 ||
	die "--verify --commitments before any change: $(cat "$T/v0.txt")"
grep -q "1 of 1 commitment(s) matched" "$T/v0.txt" || die "commitment not matched: $(cat "$T/v0.txt")"

# Root on the collector: cut the journal's last 5 entries and make its
# own metadata agree.
H=$T/store/hosts/witnessed
seg=$(ls "$H"/*.seg | tail -n 1)
$PY - "$seg" <<'EOP' || die "cut"
import struct, sys
p = sys.argv[1]
b = open(p, "rb").read()
n, m = struct.unpack(">II", b[64:72])
off, ends = 72 + 24 * n + 32 * m + 16, []
while off < len(b):
    off += 4 + (struct.unpack(">I", b[off:off + 4])[0] & 0xffffff) + 4 + 32
    ends.append(off)
open(p, "r+b").truncate(ends[-6])
EOP
printf 'KSCKP001\0\0\0\0\0\0\0\0' >"$H/checkpoints"
rm -f "$H/acked"
"$KMSGCTL" -D "$T/store" --verify >"$T/v1.txt" 2>&1 ||
	die "the doctored journal should pass --verify alone (else this test shows nothing): $(cat "$T/v1.txt")"
if "$KMSGCTL" -D "$T/store" --verify --commitments "$T/c.txt" >"$T/v2.txt" 2>&1; then
	die "--verify --commitments passed a cut journal: $(cat "$T/v2.txt")"
fi
grep -q "^witnessed: FAILED: commitment .*missing stream seq" "$T/v2.txt" ||
	die "--verify --commitments: $(cat "$T/v2.txt")"
echo "file: $(cat "$T/v2.txt")"
if "$SHIPPER" -c "$T/shipper.conf" --print-commitment 2>/dev/null |
	"$KMSGCTL" -D "$T/store" --verify --commitments - >"$T/v3.txt" 2>&1; then
	die "--verify --commitments - passed a cut journal: $(cat "$T/v3.txt")"
fi
grep -q "^witnessed: FAILED: commitment" "$T/v3.txt" || die "--commitments -: $(cat "$T/v3.txt")"
# A host whose journal is gone altogether.
mv "$H" "$T/gone"
if "$KMSGCTL" -D "$T/store" --verify --commitments "$T/c.txt" >"$T/v4.txt" 2>&1; then
	die "--verify --commitments passed a removed host: $(cat "$T/v4.txt")"
fi
grep -q "^witnessed: FAILED: commitment: the store holds no journal" "$T/v4.txt" || die "removed host: $(cat "$T/v4.txt")"
mv "$T/gone" "$H"

# The agent comes back: the collector checks what it presents.
start_collector
start_shipper
wait_sessions 2
for _ in $(seq 100); do
	grep -q "the journal was changed behind the collector's back" "$T/collector.log" && break
	sleep 0.05
done
grep -q "the journal was changed behind the collector's back" "$T/collector.log" || die "no tamper log line"
sleep 1.5
kill "$SHIPPER_PID"
wait "$SHIPPER_PID" 2>/dev/null
SHIPPER_PID=
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
if "$KMSGCTL" -D "$T/store" --verify >"$T/v5.txt" 2>&1; then
	die "--verify passed after the collector recorded the tamper: $(cat "$T/v5.txt")"
fi
grep -q "^witnessed: FAILED: tamper" "$T/v5.txt" || die "no tamper reported: $(cat "$T/v5.txt")"
echo "after the agent's return: $(cat "$T/v5.txt")"
echo "PASS: the agent's commitment exposes a cut journal with consistent metadata"
