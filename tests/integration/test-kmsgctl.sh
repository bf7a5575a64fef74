#!/bin/sh
# SPDX-License-Identifier: ISC
# kmsgctl against a store made by the real collector and agents on loopback.
# The agents read crafted kmsg-format files (kmsg.path), so the records are
# known: levels, facilities, dictionary fields, continuation fragments,
# a malformed line and planted sequence gaps.
#
#   alpha  from = "boot"; seqs start at 2 (overwritten-before-start 0-1),
#          jump 11 -> 15 (seq-jump), a malformed line before 20 (seq-jump
#          + malformed-input for 19); the golden files are its kernel records
#   beta   from = "now": lines present before the agent starts are skipped
#          (started-from-now 0-4); later lines have times relative to now
#   gamma  1 MiB queue, 2.9 MB of lines read while the collector is down:
#          queue overflow, and a stream jump at the collector
#   delta  two boots (the agent run twice in a mount namespace with another
#          /proc/sys/kernel/random/boot_id; skipped where unshare cannot)
#
# Golden files (tests/data/kmsgctl/) hold alpha's kernel records in every
# output format. The realtime of a record comes from the agent's clock
# (boot time + the line's timestamp), so it is masked: the leading time of
# the short formats becomes TIME, and __REALTIME_TIMESTAMP, __CURSOR (it
# holds file offsets, which depend on the collector's session records),
# _BOOT_ID, KMSG_STREAM_ID and KMSG_RECEIVED_TIMESTAMP become X in json,
# json-pretty and export. Monotonic times, messages and every other field
# are compared exactly. KMSGCTL_UPDATE_GOLDEN=1 rewrites the files.
#
# Usage: test-kmsgctl.sh BUILD_DIR
BUILD=${1:?usage: test-kmsgctl.sh BUILD_DIR}
NAME=kmsgctl
. "$(dirname "$0")/lib.sh"

GOLDEN=$(cd "$(dirname "$0")/../data/kmsgctl" && pwd) || exit 1
export TZ=UTC LC_ALL=C.UTF-8
unset SYSTEMD_COLORS NO_COLOR SYSTEMD_PAGER PAGER SYSTEMD_LESS
AGENT_PIDS=
trap 'for p in $AGENT_PIDS; do kill -9 "$p" 2>/dev/null; done; cleanup' EXIT

kc() { "$KMSGCTL" -D "$T/store" "$@"; }
checks=0
ok() { checks=$((checks + 1)); }

# same_lines EXPECTED_FILE ARGS...: kmsgctl -o cat ARGS gives exactly these lines.
same_lines() {
	exp=$1
	shift
	kc -o cat "$@" >"$T/got" || die "kmsgctl $*: exit $?"
	cmp -s "$exp" "$T/got" || { diff "$exp" "$T/got" >&2; die "kmsgctl $*"; }
	ok
}
lines() { printf '%s\n' "$@" >"$T/exp"; }

# ---- the store ----

for h in alpha beta gamma delta; do
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
  { name = "alpha"; public_key = "$(cat "$T/alpha.pub")"; },
  { name = "beta"; public_key = "$(cat "$T/beta.pub")"; },
  { name = "gamma"; public_key = "$(cat "$T/gamma.pub")"; },
  { name = "delta"; public_key = "$(cat "$T/delta.pub")"; }
);
EOC

# agent_conf HOST FROM [EXTRA]
agent_conf() {
	cat >"$T/$1.conf" <<EOC
private_key_file = "$T/$1.key";
state_dir = "$T/spool-$1";
kmsg = { path = "$T/$1.kmsg"; from = "$2"; };
network = { backoff_max = "1s"; heartbeat = "2s"; };
collectors = ( { address = "127.0.0.1"; port = $PORT; public_key = "$(cat "$T/collector.pub")"; } );
${3:-}
EOC
}

# start_agent HOST [BOOT_ID]: in the background; AGENT_PID is its pid.
start_agent() {
	if [ -n "${2:-}" ]; then
		echo "$2" >"$T/boot_id.$2"
		# shellcheck disable=SC2016
		$UNSHARE sh -c 'mount --bind "$1" /proc/sys/kernel/random/boot_id && exec "$2" -d -c "$3"' \
			sh "$T/boot_id.$2" "$SHIPPER" "$T/$1.conf" >>"$T/$1.log" 2>&1 &
	else
		"$SHIPPER" -d -c "$T/$1.conf" >>"$T/$1.log" 2>&1 &
	fi
	AGENT_PID=$!
	AGENT_PIDS="$AGENT_PIDS $AGENT_PID"
}

# wait_msg HOST MESSAGE: until a record of HOST has exactly this message.
wait_msg() {
	for _ in $(seq 400); do
		kc -H "$1" -o cat 2>/dev/null | grep -qxF "$2" && return 0
		sleep 0.05
	done
	die "host $1: message '$2' not stored"
}

# Where the agent's file is read up to: /proc/PID/fdinfo of the fd open on FILE.
read_pos() {
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = "$2" ] && sed -n 's/^pos:[[:space:]]*//p' /proc/"$1"/fdinfo/"${fd##*/}" && return
	done
	echo 0
}

# gamma first, with the collector down: its queue overflows.
agent_conf gamma boot 'spool = { max_size = "1M"; };'
$PY -c '
import sys
out = open(sys.argv[1], "w")
for i in range(14000):
    out.write("6,%d,%d,-;gamma filler %05d %s\n" % (i, 1000000 + i, i, "x" * 120))
out.write("6,14000,20000000,-;gamma last\n")
' "$T/gamma.kmsg"
start_agent gamma
GAMMA_PID=$AGENT_PID
size=$(wc -c <"$T/gamma.kmsg")
for _ in $(seq 400); do
	[ "$(read_pos "$GAMMA_PID" "$T/gamma.kmsg")" -ge "$size" ] && break
	sleep 0.05
done
[ "$(read_pos "$GAMMA_PID" "$T/gamma.kmsg")" -ge "$size" ] || die "gamma did not read its file"
start_collector

# alpha: the golden records.
printf '%s\n' \
	'6,2,1000000,-;Linux version test' \
	'3,3,1100000,-,caller=T1;usb 1-1: device descriptor read error' \
	' SUBSYSTEM=usb' \
	' DEVICE=c189:1' \
	'4,4,1200000,-;warning line' \
	'5,5,1300000,-;notice line' \
	'7,6,1400000,-;debug line' \
	'0,7,1500000,-;emergency line' \
	'14,8,1600000,-;user facility info' \
	'30,9,1700000,-;first\x0asecond line' \
	'6,10,1800000,-;tab\x09and bin\x01ary' \
	'189,11,1850000,-;local7 notice' \
	'6,15,1900000,-;after a jump caf\xc3\xa9' \
	' 1lower=x y' \
	'6,16,2000000,c;cont part one' \
	'6,17,2100000,+; and two' \
	'6,18,2200000,-;last' \
	'this line is not a kmsg record' \
	'6,20,2300000,-;after malformed' >"$T/alpha.kmsg"
agent_conf alpha boot
start_agent alpha
ALPHA_PID=$AGENT_PID

# beta: five old lines, skipped on purpose; the rest is written once it runs.
printf '6,%d,%d,-;beta before start %d\n' 0 100 0 1 200 1 2 300 2 3 400 3 4 500 4 >"$T/beta.kmsg"
agent_conf beta now
start_agent beta
BETA_PID=$AGENT_PID
for _ in $(seq 200); do
	[ "$(read_pos "$BETA_PID" "$T/beta.kmsg")" -ge "$(wc -c <"$T/beta.kmsg")" ] && break
	sleep 0.05
done
UPTIME=$($PY -c 'import time; print(int(time.monotonic()))')
$PY -c '
import sys, time
m = int(time.monotonic() * 1e6)
with open(sys.argv[1], "a") as f:
    f.write("6,5,%d,-;beta old\n" % (m - 90000000))
    f.write("3,6,%d,-;beta recent error\n" % (m - 1000000))
    f.write("6,7,%d,-;beta now\n" % m)
' "$T/beta.kmsg"

wait_msg beta "beta now"
# Relative --since/--until against beta's times (now - 90 s, now - 1 s,
# now): at once, while "30s ago" still means what the expectations say
# (later, on a loaded machine, the rest of the test may take longer).
if [ "$UPTIME" -ge 200 ]; then
	lines "beta recent error" "beta now"
	same_lines "$T/exp" -H beta _TRANSPORT=kernel -S -1min
	same_lines "$T/exp" -H beta _TRANSPORT=kernel --since "30s ago" --until "+1h"
	lines "beta old"
	same_lines "$T/exp" -H beta _TRANSPORT=kernel -S -5min -U -1min
	kc -H beta -S today -U now -o cat | grep -q "beta now" || die "-S today -U now"
	ok
	kc -H beta -S yesterday -U -1d -q -o cat | grep -q "beta" && die "-S yesterday -U -1d"
	ok
else
	echo "NOTE: uptime ${UPTIME}s: relative --since/--until checks skipped"
fi
wait_msg alpha "after malformed"
wait_msg gamma "gamma last"
kill "$GAMMA_PID"
wait "$GAMMA_PID" 2>/dev/null

# delta: two boots, where a mount namespace can fake the boot id.
BOOT_A=11111111-2222-3333-4444-555555555555
BOOT_B=66666666-7777-8888-9999-aaaaaaaaaaaa
UNSHARE=
echo "$BOOT_A" >"$T/probe_boot"
for u in "unshare -m" "unshare -rm"; do
	if $u sh -c 'mount --bind "$1" /proc/sys/kernel/random/boot_id && grep -q 1111 /proc/sys/kernel/random/boot_id' \
		sh "$T/probe_boot" 2>/dev/null; then
		UNSHARE=$u
		break
	fi
done
if [ -n "$UNSHARE" ]; then
	printf '6,%d,%d,-;delta boot one %d\n' 0 1000 0 1 2000 1 2 3000 2 >"$T/delta.kmsg"
	agent_conf delta boot
	start_agent delta "$BOOT_A"
	wait_msg delta "delta boot one 2"
	kill "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	printf '6,%d,%d,-;delta boot two %d\n' 0 1000 0 1 2000 1 >"$T/delta.kmsg"
	start_agent delta "$BOOT_B"
	wait_msg delta "delta boot two 1"
else
	echo "NOTE: no mount namespace here: the two-boot checks (delta) are skipped"
fi

# ---- golden files ----

mask() {
	LC_ALL=C sed -E \
		-e 's/^([A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4}) alpha /TIME alpha /' \
		-e 's/"(__CURSOR|__REALTIME_TIMESTAMP|_BOOT_ID|KMSG_STREAM_ID|KMSG_RECEIVED_TIMESTAMP)"( ?: ?)"[^"]*"/"\1"\2"X"/g' \
		-e 's/^(__CURSOR|__REALTIME_TIMESTAMP|_BOOT_ID|KMSG_STREAM_ID|KMSG_RECEIVED_TIMESTAMP)=.*/\1=X/'
}
for fmt in short short-iso short-precise short-monotonic cat json json-pretty export; do
	kc -H alpha --utc -o "$fmt" _TRANSPORT=kernel >"$T/raw.$fmt" || die "kmsgctl -o $fmt: exit $?"
	mask <"$T/raw.$fmt" >"$T/alpha.$fmt"
	if [ "${KMSGCTL_UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$T/alpha.$fmt" "$GOLDEN/alpha.$fmt"
	fi
	cmp -s "$T/alpha.$fmt" "$GOLDEN/alpha.$fmt" || {
		diff -a "$GOLDEN/alpha.$fmt" "$T/alpha.$fmt" >&2
		die "-o $fmt differs from $GOLDEN/alpha.$fmt"
	}
	ok
done
# The masks hid what they should: the times are there and look right.
grep -Eq '^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} alpha kernel: last$' "$T/raw.short" || die "short time"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+0000 alpha kernel: last$' "$T/raw.short-iso" || die "iso"
grep -Eq '^\[    2\.200000\] alpha kernel: last$' "$T/raw.short-monotonic" || die "short-monotonic"
ok

# ---- --gaps ----

# gaps_masked ARGS...: the report with ids masked; its exit status in $rc.
gaps_masked() {
	kc --gaps "$@" >"$T/gaps.raw"
	rc=$?
	sed -E 's/[0-9a-f]{32}/ID/g' "$T/gaps.raw"
}
gaps_masked -H alpha >"$T/alpha.gaps"
[ "$rc" = 1 ] || die "--gaps on alpha: exit $rc, expected 1 (records are missing)"
[ "${KMSGCTL_UPDATE_GOLDEN:-0}" = 1 ] && cp "$T/alpha.gaps" "$GOLDEN/alpha.gaps"
cmp -s "$T/alpha.gaps" "$GOLDEN/alpha.gaps" || { diff "$GOLDEN/alpha.gaps" "$T/alpha.gaps" >&2; die "--gaps alpha"; }
ok
gaps_masked -H alpha -o json >"$T/alpha.gaps.json"
[ "${KMSGCTL_UPDATE_GOLDEN:-0}" = 1 ] && cp "$T/alpha.gaps.json" "$GOLDEN/alpha.gaps.json"
cmp -s "$T/alpha.gaps.json" "$GOLDEN/alpha.gaps.json" || {
	diff "$GOLDEN/alpha.gaps.json" "$T/alpha.gaps.json" >&2
	die "--gaps -o json alpha"
}
ok

# gaps_check HOST EXIT PYTHON: the JSON report of HOST, exit status EXIT, PYTHON asserts on it (r).
gaps_check() {
	kc --gaps -H "$1" -o json >"$T/g.json"
	rc=$?
	[ "$rc" = "$2" ] || die "--gaps -H $1: exit $rc, expected $2: $(cat "$T/g.json")"
	$PY -c "
import json, sys
r = json.loads(open(sys.argv[1]).read())
def causes(m): return sorted(c['cause'] for c in m['causes'])
$3
" "$T/g.json" || die "--gaps -H $1: $(cat "$T/g.json")"
	ok
}
# from = "now": 0-4 are shown, declared, and no failure (exit 0).
gaps_check beta 0 '
b = r["boots"][0]
assert b["held"] == [[5, 7]], b
assert [(m["first"], m["last"], causes(m), m.get("declared")) for m in b["missing"]] == [(0, 4, ["started-from-now"], True)], b
assert r["streams"][0]["missing"] == [], r
assert r["complete"] is True'
kc --gaps -H beta >"$T/beta.gaps" || die "--gaps -H beta: exit $?"
grep -q "^    missing kmsg seq 0-4 (5): started-from-now (declared, not lost)$" "$T/beta.gaps" &&
	grep -q "^  complete$" "$T/beta.gaps" || die "--gaps -H beta: $(cat "$T/beta.gaps")"
ok
gaps_check gamma 1 '
b = r["boots"][0]
assert b["held"][-1][1] == 14000 and len(b["held"]) == 1, b
m = b["missing"]
assert len(m) == 1 and m[0]["first"] == 0 and m[0]["last"] == b["held"][0][0] - 1, m
assert set(causes(m[0])) <= {"queue-overflow", "spool-full", "stream-jump"} and causes(m[0]), m
s = r["streams"][0]["missing"]
assert s and s[0]["first"] == 0, s
for piece in s:
    assert "unknown" not in causes(piece), s
assert any("stream-jump" in causes(p) for p in s), s'
if [ -n "$UNSHARE" ]; then
	gaps_check delta 0 '
assert [b["boot_id"] for b in r["boots"]] == ["11111111222233334444555555555555", "66666666777788889999aaaaaaaaaaaa"], r
assert [b["held"] for b in r["boots"]] == [[[0, 2]], [[0, 1]]], r
assert all(b["missing"] == [] for b in r["boots"]) and r["complete"] is True, r
assert len(r["streams"]) == 1, r  # the spool keeps one stream across agent restarts'
	kc --gaps -H delta -b -1 -o json >"$T/g.json" || die "--gaps -b -1"
	$PY -c 'import json, sys; r = json.load(open(sys.argv[1])); assert [b["boot_id"] for b in r["boots"]] == ["11111111222233334444555555555555"], r' "$T/g.json" ||
		die "--gaps -b -1 shows other boots: $(cat "$T/g.json")"
	ok
fi
# Every host at once: something is missing somewhere.
kc --gaps >/dev/null
[ $? = 1 ] || die "--gaps over all hosts should exit 1"
ok

# ---- export round trip through systemd-journal-remote and journalctl ----

JREMOTE=
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
	[ -x "$p" ] && JREMOTE=$p && break
done
if [ -n "$JREMOTE" ] && command -v journalctl >/dev/null; then
	kc -o export >"$T/all.export" || die "-o export"
	"$JREMOTE" -o "$T/out.journal" - <"$T/all.export" 2>"$T/jremote.log" || die "systemd-journal-remote: $(cat "$T/jremote.log")"
	journalctl --file "$T/out.journal" -o json >"$T/jr.json" || die "journalctl --file"
	kc -o json >"$T/kc.json" || die "-o json"
	$PY - "$T/jr.json" "$T/kc.json" <<'EOP' || die "export round trip"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) and len(a) > 1000, (len(a), len(b))
# The export holds records without a boot back until their host's next
# record with one (kmsgctl(1), export): match entries by their place.
def key(x):
    return (x["_HOSTNAME"], x["KMSG_STREAM_ID"], x["KMSG_STREAM_SEQ"], x.get("KMSG_EVENT"), x["MESSAGE"] if isinstance(x["MESSAGE"], str) else str(x["MESSAGE"]))
byk = {key(y): y for y in b}
assert len(byk) == len(b)
zero = "0" * 32
boots = {}
for y in b:
    if y["_BOOT_ID"] != zero:
        boots.setdefault(y["_HOSTNAME"], set()).add(y["_BOOT_ID"])
claims = {}
for i, x in enumerate(a):
    y = byk[key(x)]
    for k in set(x) | set(y):
        if k in ("__CURSOR", "_BOOT_ID", "__MONOTONIC_TIMESTAMP", "_MACHINE_ID", "KMSG_MACHINE_ID_CLAIMED"):
            continue
        assert x.get(k) == y.get(k), (i, k, x.get(k), y.get(k))
    # A record without a boot is put in a boot of its host; a collector
    # event's monotonic time is its boot's time at that point.
    # The export adds the machine id the host's agent claims, once known.
    if "_MACHINE_ID" in x and "KMSG_MACHINE_ID_CLAIMED" in x:
        claims.setdefault(x["_HOSTNAME"], set()).add(x["_MACHINE_ID"])
    if y["_BOOT_ID"] == zero:
        assert x["_BOOT_ID"] in boots.get(y["_HOSTNAME"], ()), (i, x["_BOOT_ID"], y)
    else:
        assert x["_BOOT_ID"] == y["_BOOT_ID"], (i, x, y)
        # Never back within a boot (raised where the stored order has an
        # older time next; the agent's and collector's events are put at
        # the time before them); a kernel record's own time is also in
        # _SOURCE_MONOTONIC_TIMESTAMP.
        if y["KMSG_SOURCE"] not in ("agent", "collector"):
            assert int(x["__MONOTONIC_TIMESTAMP"]) >= int(y["__MONOTONIC_TIMESTAMP"]), (i, x, y)
        if y["KMSG_SOURCE"] == "kmsg":
            assert x["_SOURCE_MONOTONIC_TIMESTAMP"] == y["__MONOTONIC_TIMESTAMP"], (i, x, y)
assert claims and all(len(v) == 1 for v in claims.values()), claims
for y in b:
    if y.get("KMSG_EVENT") == "session-start":
        assert claims[y["_HOSTNAME"]] == {y["CLAIMED_MACHINE_ID"]}, (y, claims)
print("export round trip: %d records, every field the same" % len(a))
EOP
	ok
	# The journal made from the export is sound, and its boots are the hosts'.
	journalctl --file "$T/out.journal" --verify >"$T/verify.log" 2>&1 || die "journalctl --verify: $(cat "$T/verify.log")"
	journalctl --file "$T/out.journal" --list-boots --no-pager >"$T/jr.boots" || die "journalctl --list-boots"
	grep -q 00000000000000000000000000000000 "$T/jr.boots" && die "a boot of zeros in the export: $(cat "$T/jr.boots")"
	# (hosts of one test machine share its boot: compare the ids)
	[ "$(grep -o '[0-9a-f]\{32\}' "$T/jr.boots" | sort -u)" = "$(kc --list-boots | grep -o '[0-9a-f]\{32\}' | sort -u)" ] ||
		die "journalctl's boots of the export are not kmsgctl's: $(cat "$T/jr.boots"; kc --list-boots)"
	ok
	# The short formats are journalctl's, byte for byte, for the same records.
	for fmt in short short-iso short-precise short-monotonic cat; do
		journalctl --file "$T/out.journal" -q --utc -o "$fmt" >"$T/jr.$fmt" || die "journalctl -o $fmt"
		kc -q --utc -o "$fmt" >"$T/kc.$fmt" || die "kmsgctl -o $fmt"
		# The export puts the agent's and collector's events at their boot's
		# time (kmsgctl(1), export): their monotonic time is not theirs there.
		if [ "$fmt" = short-monotonic ]; then
			for f in jr kc; do
				grep -v ' kmsg-collector: \| kmsg-shipper: ' "$T/$f.$fmt" >"$T/$f.$fmt.k"
				mv "$T/$f.$fmt.k" "$T/$f.$fmt"
			done
		fi
		cmp -s "$T/jr.$fmt" "$T/kc.$fmt" || { diff "$T/jr.$fmt" "$T/kc.$fmt" | head >&2; die "-o $fmt is not journalctl's"; }
		ok
	done
	# --list-boots as journalctl's on each host's export (issue 18).
	for h in alpha beta gamma delta; do
		kc -H "$h" -o export >"$T/$h.export" || die "-H $h -o export"
		"$JREMOTE" -o "$T/$h.journal" - <"$T/$h.export" 2>"$T/jremote.log" || die "journal-remote $h"
		journalctl --file "$T/$h.journal" --utc --list-boots --no-pager >"$T/jr.boots.$h" || die "list-boots $h"
		kc -H "$h" --utc --list-boots >"$T/kc.boots.$h" || die "kmsgctl --list-boots $h"
		cmp -s "$T/jr.boots.$h" "$T/kc.boots.$h" || { diff "$T/jr.boots.$h" "$T/kc.boots.$h" >&2; die "--list-boots of $h is not journalctl's"; }
		ok
	done
	TZ=Asia/Kolkata journalctl --file "$T/out.journal" -q -o short-iso >"$T/jr.local" || die "journalctl local"
	TZ=Asia/Kolkata kc -q -o short-iso >"$T/kc.local" || die "kmsgctl local"
	cmp -s "$T/jr.local" "$T/kc.local" && grep -q '+0530 alpha' "$T/kc.local" || die "local time differs from journalctl's"
	ok
else
	echo "NOTE: systemd-journal-remote or journalctl missing: export round trip skipped"
fi

# ---- selection ----

lines "usb 1-1: device descriptor read error" "emergency line"
same_lines "$T/exp" -H alpha -p err
same_lines "$T/exp" -H alpha -p 0..3
lines "warning line" "notice line" "local7 notice"
same_lines "$T/exp" -H alpha -p warning..notice _TRANSPORT=kernel
same_lines "$T/exp" -H alpha -p 5..4 _TRANSPORT=kernel
lines "user facility info"
same_lines "$T/exp" -H alpha --facility user
lines "first" "second line" "local7 notice"
same_lines "$T/exp" -H alpha --facility daemon,23
# grep: lower case is case-insensitive, upper case is not, --case-sensitive decides.
lines "after a jump café" "after malformed"
same_lines "$T/exp" -H alpha -g '^after'
same_lines "$T/exp" -H alpha -g '^AFTER' --case-sensitive=no
lines "usb 1-1: device descriptor read error"
same_lines "$T/exp" -H alpha -g 'USB|usb [0-9]-'
kc -H alpha -g '^AFTER' -o cat >"$T/got"
[ $? = 1 ] && [ ! -s "$T/got" ] || die "-g with no match: expected exit 1 and no output"
ok
# matches: the record's own key or the journal name; same field OR, different AND, + alternatives.
lines "usb 1-1: device descriptor read error"
same_lines "$T/exp" -H alpha SUBSYSTEM=usb
same_lines "$T/exp" _KERNEL_DEVICE=c189:1
same_lines "$T/exp" SUBSYSTEM=usb _HOSTNAME=alpha
lines "warning line" "emergency line"
same_lines "$T/exp" -H alpha _TRANSPORT=kernel PRIORITY=4 PRIORITY=0
lines "emergency line" "beta recent error"
same_lines "$T/exp" PRIORITY=0 _HOSTNAME=alpha + PRIORITY=3 _HOSTNAME=beta
: >"$T/exp"
kc -q -o cat SUBSYSTEM=usb _HOSTNAME=beta >"$T/got" && [ ! -s "$T/got" ] || die "AND of fields"
ok
lines "cont part one and two"
same_lines "$T/exp" KMSG_SEQ_FIRST=16 KMSG_RECORD_FLAGS=cont
lines "kernel records 0..1 lost (2): overwritten-before-start" "kernel records 12..14 lost (3): seq-jump" \
	"kernel records 19..19 lost (1): seq-jump"
same_lines "$T/exp" -H alpha KMSG_EVENT=gap

# -n, -r
kc -H alpha -o json >"$T/all.alpha.json" || die "alpha json"
tail -n 3 "$T/all.alpha.json" >"$T/exp"
kc -H alpha -o json -n 3 >"$T/got" && cmp -s "$T/exp" "$T/got" || die "-n 3"
ok
tail -n 10 "$T/all.alpha.json" >"$T/exp"
kc -H alpha -o json -n >"$T/got" && cmp -s "$T/exp" "$T/got" || die "-n without a number is -n 10"
ok
tac "$T/all.alpha.json" >"$T/exp"
kc -H alpha -o json -r >"$T/got" && cmp -s "$T/exp" "$T/got" || die "-r"
ok
tail -n 2 "$T/all.alpha.json" | tac >"$T/exp"
kc -H alpha -o json -r -n 2 >"$T/got" && cmp -s "$T/exp" "$T/got" || die "-r -n 2"
ok
kc -H alpha -o json -n all >"$T/got" && cmp -s "$T/all.alpha.json" "$T/got" || die "-n all"
ok
kc -H alpha -o json --lines=0 >"$T/got" && [ ! -s "$T/got" ] || die "-n 0"
ok

# Several hosts: merged by realtime, each host's own order kept.
kc -o json >"$T/merged.json" || die "merged"
HOSTS="alpha beta gamma${UNSHARE:+ delta}"
for h in $HOSTS; do kc -H "$h" -o json >"$T/host.$h.json" || die "host $h"; done
$PY - "$T" $HOSTS <<'EOP' || die "merge of hosts"
import json, sys, os
t = sys.argv[1]
merged = [json.loads(l) for l in open(t + "/merged.json")]
per = {h: [json.loads(l) for l in open("%s/host.%s.json" % (t, h))] for h in sys.argv[2:]}
# Expected: repeatedly take the head with the lowest realtime, ties to the first host by name.
heads = {h: 0 for h in per}
exp = []
while True:
    best = None
    for h in sorted(per):
        if heads[h] < len(per[h]):
            x = per[h][heads[h]]
            if best is None or int(x["__REALTIME_TIMESTAMP"]) < int(per[best][heads[best]]["__REALTIME_TIMESTAMP"]):
                best = h
    if best is None:
        break
    exp.append(per[best][heads[best]]["__CURSOR"])
    heads[best] += 1
assert [x["__CURSOR"] for x in merged] == exp
assert {x["_HOSTNAME"] for x in merged} >= {"alpha", "beta", "gamma"}
EOP
ok
lines "beta recent error" "usb 1-1: device descriptor read error"
same_lines "$T/exp" -H beta -H alpha -p err -p 3 _TRANSPORT=kernel PRIORITY=3 -n 2 -r

# --since / --until: absolute, from the records' own times, and relative.
$PY - "$T/all.alpha.json" >"$T/times" <<'EOP'
import json, sys, time
recs = [json.loads(l) for l in open(sys.argv[1])]
t = {r["MESSAGE"]: int(r["__REALTIME_TIMESTAMP"]) for r in recs if isinstance(r["MESSAGE"], str)}
def fmt(us): return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(us // 1000000))
s = t["notice line"] + 1
u = t["local7 notice"] + 10
print(fmt(s) + ".%06d" % (s % 1000000), "%d.%06d" % (u // 1000000, u % 1000000), fmt(t["after malformed"]))
EOP
read -r since_d since_t until_at last_d last_t <"$T/times"
lines "debug line" "emergency line" "user facility info" "first" "second line" "$(printf 'tab\tand bin\001ary')" "local7 notice"
same_lines "$T/exp" -H alpha -S "$since_d $since_t" -U "@$until_at" _TRANSPORT=kernel
kc -H alpha -o cat -S "$last_d $last_t" _TRANSPORT=kernel >"$T/got" || die "-S seconds"
grep -qx "after malformed" "$T/got" && ! grep -q "Linux version" "$T/got" || die "-S DATE TIME: $(cat "$T/got")"
ok
kc -H alpha -o cat -S "$since_d" -U "$since_d 23:59:59" _TRANSPORT=kernel | grep -q "after malformed" || die "-S DATE"
ok

# Cursors.
$PY - "$T/all.alpha.json" >"$T/cursors" <<'EOP'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
i = [r["MESSAGE"] for r in recs].index("local7 notice")
print(recs[i]["__CURSOR"])
print(recs[-1]["__CURSOR"])
EOP
{ read -r cur; read -r last; } <"$T/cursors"
kc -H alpha -o cat --cursor "$cur" | head -n 1 | grep -qx "local7 notice" || die "--cursor"
ok
kc -H alpha -o cat --after-cursor "$cur" | head -n 2 | tail -n 1 | grep -qx "after a jump café" || die "--after-cursor"
ok
kc -H alpha -o cat --show-cursor -n 1 >"$T/got" || die "--show-cursor"
[ "$(tail -n 1 "$T/got")" = "-- cursor: $last" ] || die "--show-cursor: $(cat "$T/got")"
ok
kc -H alpha -o cat --after-cursor "$last" >"$T/got" && [ ! -s "$T/got" ] || die "--after-cursor of the last record"
ok
# A cursor of alpha with all hosts: alpha from the record on, the others from its time on.
kc -o json --cursor "$cur" >"$T/got" || die "--cursor, all hosts"
$PY - "$T" "$cur" $HOSTS <<'EOP' || die "--cursor over merged hosts"
import json, sys
t, cur = sys.argv[1:3]
per = {h: [json.loads(l) for l in open("%s/host.%s.json" % (t, h))] for h in sys.argv[3:]}
got = [json.loads(l)["__CURSOR"] for l in open(t + "/got")]
i = [x["__CURSOR"] for x in per["alpha"]].index(cur)
r = int(per["alpha"][i]["__REALTIME_TIMESTAMP"])
per["alpha"] = per["alpha"][i:]
for h in per:
    if h != "alpha":
        per[h] = [x for x in per[h] if int(x["__REALTIME_TIMESTAMP"]) >= r]
heads = {h: 0 for h in per}
exp = []
while True:
    best = None
    for h in sorted(per):
        if heads[h] < len(per[h]) and (best is None or int(per[h][heads[h]]["__REALTIME_TIMESTAMP"]) < int(per[best][heads[best]]["__REALTIME_TIMESTAMP"])):
            best = h
    if best is None:
        break
    exp.append(per[best][heads[best]]["__CURSOR"])
    heads[best] += 1
assert got == exp, (len(got), len(exp))
EOP
ok

# -b and --list-boots
kc --list-boots -H alpha >"$T/boots" || die "--list-boots"
head -n 1 "$T/boots" | grep -qx 'IDX BOOT ID                          FIRST ENTRY                 LAST ENTRY' || die "--list-boots header: $(head -n 1 "$T/boots")"
grep -Eq '^  0 [0-9a-f]{32} [A-Z][a-z]{2} [0-9-]{10} [0-9:]{8} UTC [A-Z][a-z]{2} [0-9-]{10} [0-9:]{8} UTC$' "$T/boots" || die "--list-boots row: $(cat "$T/boots")"
ok
kc -H alpha -b 0 -o cat _TRANSPORT=kernel | tail -n 1 | grep -qx "after malformed" || die "-b 0"
ok
kc -H alpha -b -1 >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "no boot" "$T/err" || die "-b -1 on one boot"
ok
if [ -n "$UNSHARE" ]; then
	kc --list-boots -H delta -o json >"$T/boots.json" || die "--list-boots -o json"
	$PY - "$T/boots.json" <<'EOP' || die "--list-boots delta"
import json, sys
b = [json.loads(l) for l in open(sys.argv[1])]
assert [(x["index"], x["boot_id"]) for x in b] == [(-1, "11111111222233334444555555555555"), (0, "66666666777788889999aaaaaaaaaaaa")], b
EOP
	ok
	lines "delta boot one 0" "delta boot one 1" "delta boot one 2"
	same_lines "$T/exp" -H delta -b -1 _TRANSPORT=kernel
	same_lines "$T/exp" -H delta -b 1 _TRANSPORT=kernel
	same_lines "$T/exp" -H delta --boot=11111111-2222-3333-4444-555555555555 _TRANSPORT=kernel
	same_lines "$T/exp" -H delta -b 66666666777788889999aaaaaaaaaaaa-1 _TRANSPORT=kernel
	lines "delta boot two 0" "delta boot two 1"
	same_lines "$T/exp" -H delta -b _TRANSPORT=kernel
	same_lines "$T/exp" -b 66666666777788889999aaaaaaaaaaaa _TRANSPORT=kernel
	# journalctl's boot line, once, where the boot changes; none with -q.
	kc -H delta >"$T/got" || die "delta short"
	[ "$(grep -c '^-- Boot ' "$T/got")" = 1 ] && grep -qx -- '-- Boot 66666666777788889999aaaaaaaaaaaa --' "$T/got" || die "boot line: $(cat "$T/got")"
	ok
	kc -H delta -q | grep -q '^-- Boot' && die "-q still shows the boot line"
	ok
	kc --list-boots -H alpha -H delta | head -n 1 | grep -q '^HOST  *IDX BOOT ID' || die "--list-boots of two hosts"
	ok
fi

# --list-hosts
kc --list-hosts >"$T/hosts" || die "--list-hosts"
head -n 1 "$T/hosts" | grep -Eq '^HOST +FIRST ENTRY +LAST ENTRY +LAST SEEN +LAG LAST SESSION GAPS +FWD LAG$' || die "--list-hosts header: $(head -n 1 "$T/hosts")"
nhosts=3
[ -n "$UNSHARE" ] && nhosts=4
[ "$(wc -l <"$T/hosts")" = $((nhosts + 1)) ] || die "--list-hosts rows: $(cat "$T/hosts")"
ok
kc --list-hosts -o json >"$T/hosts.json" || die "--list-hosts -o json"
$PY - "$T/hosts.json" "$UNSHARE" <<'EOP' || die "--list-hosts: $(cat "$T/hosts.json")"
import json, sys
h = {x["host"]: x for x in map(json.loads, open(sys.argv[1]))}
assert h["alpha"]["last_session"] == "open" and h["gamma"]["last_session"] == "closed", h
assert h["alpha"]["gaps"] == 3 and h["beta"]["gaps"] == 1 and h["gamma"]["gaps"] >= 2, h
for x in h.values():
    assert x["first_entry"] <= x["last_entry"] and x["last_seen"] >= x["first_entry"], x
if sys.argv[2]:
    assert h["delta"]["boots"] == 2 and h["delta"]["gaps"] == 0, h["delta"]
# beta's newest record was written about now: its lag is small.
assert -1000000 <= h["beta"]["lag_usec"] < 30000000, h["beta"]
EOP
ok

# ---- errors: one line naming the problem, exit 1 ----

# fails PHRASE ARGS...
fails() {
	phrase=$1
	shift
	"$KMSGCTL" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q -- "$phrase" "$T/err" ||
		die "kmsgctl $*: exit $rc, stderr: $(cat "$T/err"), expected one line with '$phrase'"
	ok
}
fails "unknown option '--bogus'" -D "$T/store" --bogus
fails "unknown option '-Z'" -D "$T/store" -Z
fails "needs an argument" -D "$T/store" --since
fails "bad time '2026-02-30'" -D "$T/store" -S 2026-02-30
fails "bad time 'yesterdy'" -D "$T/store" -U yesterdy
fails "bad time '-1 fortnight'" -D "$T/store" -S "-1 fortnight"
fails "--since is after --until" -D "$T/store" -S now -U -1h
fails "bad regular expression 'a(b'" -D "$T/store" -g 'a(b'
fails "unknown host 'nosuch'" -D "$T/store" -H nosuch
fails "not a valid host name" -D "$T/store" -H ../alpha
# A store no host has sent to: no records, not an error (issue 16; more in
# test-kmsgctl-empty.sh).
[ "$("$KMSGCTL" -D "$T/nostore" 2>/dev/null)" = "-- No entries --" ] || die "-D nostore"
ok
fails "Not a directory" -D /etc/passwd
fails "bad priority 'loud'" -D "$T/store" -p loud
fails "bad facility" -D "$T/store" --facility kern,nope
fails "unknown output format 'nonesuch'" -D "$T/store" -o nonesuch
fails "bad cursor" -D "$T/store" --cursor nonsense
fails "not selected" -D "$T/store" -H beta --cursor "$cur"
fails "not a match" -D "$T/store" nonsense
fails "exclude each other" -D "$T/store" -f -r
fails "bad boot" -D "$T/store" --boot=nonsense
mkdir -p "$T/private/hosts" && chmod 700 "$T/private"
unpriv=
can_deny=1
if [ "$(id -u)" = 0 ]; then
	# root reads anything: be nobody for this (and for the read-only store below).
	if command -v setpriv >/dev/null; then
		chmod o+x "$T"
		unpriv="setpriv --reuid=65534 --regid=65534 --clear-groups"
	else
		can_deny=0
		echo "NOTE: root without setpriv(1): the unreadable-directory check is skipped"
	fi
else
	chmod 000 "$T/private"
fi
if [ "$can_deny" = 1 ]; then
	$unpriv "$KMSGCTL" -D "$T/private" >"$T/out" 2>"$T/err"
	[ $? = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "Permission denied" "$T/err" ||
		die "unreadable directory: $(cat "$T/err")"
	ok
fi
chmod 700 "$T/private"
kc --facility=help | grep -qx local7 || die "--facility=help"
ok
kc -b all -H alpha -o cat | grep -qx "after malformed" || die "-b all"
ok

# ---- read-only ----
# A copy of the store that the reader may not write (another user where we
# are root); every kind of query runs on it and leaves it byte for byte.
cp -a "$T/store" "$T/ro"
chmod -R a+rX,a-w "$T/ro"
( cd "$T/ro" && find . -type f -exec sha256sum {} + | sort ) >"$T/ro.before"
for args in "" "-o json" "-o export" "-r -n 5" "--gaps" "--list-hosts" "--silent 0" "--list-boots" "-b 0" "-g usb" "SUBSYSTEM=usb"; do
	# shellcheck disable=SC2086
	$unpriv "$KMSGCTL" -D "$T/ro" $args >/dev/null 2>"$T/err"
	rc=$?
	[ "$rc" -le 1 ] && [ ! -s "$T/err" ] || die "read-only store, kmsgctl $args: exit $rc: $(cat "$T/err")"
done
( cd "$T/ro" && find . -type f -exec sha256sum {} + | sort ) >"$T/ro.after"
cmp -s "$T/ro.before" "$T/ro.after" || die "kmsgctl changed the store"
ok

# ---- terminal: pager and colours ----

kc -H alpha -p err | grep -q "$(printf '\033')" && die "colour escapes in piped output"
ok
SYSTEMD_COLORS=1 kc -H alpha -p err >"$T/got"
grep -q "$(printf '\033')\[0;1;31musb 1-1: device descriptor read error$(printf '\033')\[0m" "$T/got" || die "no red for err: $(od -c "$T/got" | head)"
ok
SYSTEMD_COLORS=1 kc -H alpha -p warning..notice _TRANSPORT=kernel -o cat >"$T/got"
grep -q "$(printf '\033')\[0;1;38;5;185mwarning line" "$T/got" && grep -q "$(printf '\033')\[0;1;39mnotice line" "$T/got" || die "warning/notice colours"
ok
SYSTEMD_COLORS=1 kc -H alpha -g usb -o cat >"$T/got"
grep -q "$(printf '\033')\[0;1;39musb$(printf '\033')\[0;1;31m 1-1" "$T/got" || die "grep highlight"
ok
if command -v script >/dev/null; then
	pagercmd="sh -c 'env >$T/pager.env; cat >$T/paged'"
	script -qec "TERM=xterm SYSTEMD_PAGER=\"$pagercmd\" $KMSGCTL -D $T/store -H alpha -p err" /dev/null </dev/null >"$T/tty.out" 2>&1
	[ -s "$T/paged" ] || die "no pager on a terminal: $(cat "$T/tty.out")"
	grep -qx "LESS=FRSXMK" "$T/pager.env" || die "pager without LESS=FRSXMK"
	grep -q "$(printf '\033')\[0;1;31memergency line" "$T/paged" || die "no colour through the pager on a terminal"
	ok
	rm -f "$T/paged"
	script -qec "TERM=xterm SYSTEMD_PAGER=\"$pagercmd\" $KMSGCTL -D $T/store -H alpha -p err --no-pager" /dev/null </dev/null >"$T/tty.out" 2>&1
	[ ! -e "$T/paged" ] && grep -q "emergency line" "$T/tty.out" || die "--no-pager"
	ok
	SYSTEMD_PAGER="sh -c 'cat >$T/paged'" TERM=xterm kc -H alpha -p err >/dev/null
	[ ! -e "$T/paged" ] || die "pager used although the output is piped"
	ok
else
	echo "NOTE: script(1) missing: pager checks skipped"
fi

# -q and "-- No entries --"
kc -H alpha -g nothing-matches-this >"$T/got"
[ "$(cat "$T/got")" = "-- No entries --" ] || die "no entries line: $(cat "$T/got")"
kc -H alpha -q -g nothing-matches-this >"$T/got"
[ ! -s "$T/got" ] || die "-q"
ok

# ---- follow: a new record within a second ----

"$KMSGCTL" -D "$T/store" -f -H alpha -o cat >"$T/follow.out" 2>&1 &
FOLLOW_PID=$!
AGENT_PIDS="$AGENT_PIDS $FOLLOW_PID"
kc -H alpha -o cat -n 10 >"$T/exp"
for _ in $(seq 100); do cmp -s "$T/exp" "$T/follow.out" && break; sleep 0.05; done
cmp -s "$T/exp" "$T/follow.out" || { diff "$T/exp" "$T/follow.out" >&2; die "-f does not start with the last 10 records"; }
tok="$NAME-$RUNID-followed"
printf '6,21,2400000,-;%s\n' "$tok" >>"$T/alpha.kmsg"
start=$($PY -c 'import time; print(time.time())')
seen=
for _ in $(seq 100); do
	grep -qx "$tok" "$T/follow.out" && seen=$($PY -c 'import time; print(time.time())') && break
	sleep 0.01
done
[ -n "$seen" ] || die "-f did not show the new record"
$PY -c 'import sys; d = float(sys.argv[2]) - float(sys.argv[1]); print("follow: new record shown after %.0f ms" % (d * 1000)); sys.exit(d > 1.0)' "$start" "$seen" ||
	die "-f took more than a second"
kill "$FOLLOW_PID"
wait "$FOLLOW_PID" 2>/dev/null
ok

# ---- --silent: the hosts without a record received for longer than SECONDS ----

# alpha's last record is the one just followed. Its agent is stopped, so
# that nothing at all comes from alpha any more (heartbeats included).
kill "$ALPHA_PID"
wait "$ALPHA_PID" 2>/dev/null
# seen_ago HOST: whole seconds since HOST's last_seen (--list-hosts), rounded up.
seen_ago() {
	kc --list-hosts -H "$1" -o json | $PY -c '
import json, sys, time
print(int(time.time() - json.loads(sys.stdin.readline())["last_seen"] / 1e6) + 1)'
}
ago=$(seen_ago alpha) && [ "$ago" -ge 1 ] || die "alpha's last seen: '$ago'"
lim=$((ago + 3))
kc --silent "$lim" -H alpha >"$T/got"
rc=$?
[ "$rc" = 0 ] && [ ! -s "$T/got" ] || die "--silent $lim, alpha seen ${ago}s ago: exit $rc: $(cat "$T/got")"
ok
kc --silent 100000 >"$T/got"
rc=$?
[ "$rc" = 0 ] && [ ! -s "$T/got" ] || die "--silent 100000: exit $rc: $(cat "$T/got")"
ok
# --silent 0: every host, one line each under a header, as --list-hosts.
kc --silent 0 >"$T/got"
rc=$?
[ "$rc" = 1 ] || die "--silent 0: exit $rc, expected 1: $(cat "$T/got")"
head -n 1 "$T/got" | grep -Eq '^HOST +LAST SEEN +SECONDS SILENT$' || die "--silent header: $(head -n 1 "$T/got")"
[ "$(wc -l <"$T/got")" = $((nhosts + 1)) ] || die "--silent 0 rows: $(cat "$T/got")"
grep -Eq '^alpha +[A-Z][a-z]{2} [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC +[0-9]+$' "$T/got" || die "--silent row: $(cat "$T/got")"
ok
kc --list-hosts -o json >"$T/hosts.json" || die "--list-hosts -o json"
kc --silent 0 -o json >"$T/silent.json"
[ $? = 1 ] || die "--silent 0 -o json: exit status"
$PY - "$T/hosts.json" "$T/silent.json" <<'EOP' || die "--silent 0 -o json: $(cat "$T/silent.json")"
import json, sys, time
now = time.time()
h = {x["host"]: x for x in map(json.loads, open(sys.argv[1]))}
s = [json.loads(l) for l in open(sys.argv[2])]
assert sorted(x["host"] for x in s) == sorted(h), (s, h)
for x in s:
    assert x["last_seen"] == h[x["host"]]["last_seen"], (x, h[x["host"]])
    assert 0 <= x["silent_sec"] <= now - x["last_seen"] / 1e6 + 1, (x, now)
EOP
ok
# Once more than lim seconds have passed since alpha's last record: listed, exit 1.
sleep 5
kc --silent "$lim" -H alpha -o json >"$T/got"
rc=$?
[ "$rc" = 1 ] || die "--silent $lim after 5 s more: exit $rc, expected 1: $(cat "$T/got")"
$PY - "$T/got" "$lim" <<'EOP' || die "--silent $lim: $(cat "$T/got")"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
assert len(s) == 1 and s[0]["host"] == "alpha" and s[0]["silent_sec"] >= int(sys.argv[2]), s
EOP
ok
# A host never heard from (no journal at all) is silent however large SECONDS is.
kc --silent 100000 -H alpha -H nosuch >"$T/got"
rc=$?
[ "$rc" = 1 ] && [ "$(wc -l <"$T/got")" = 2 ] && grep -Eq '^nosuch +- +-$' "$T/got" ||
	die "--silent, a host never seen: exit $rc: $(cat "$T/got")"
ok
kc --silent 100000 -H nosuch -o json >"$T/got"
[ $? = 1 ] && [ "$(cat "$T/got")" = '{ "host" : "nosuch", "last_seen" : null, "silent_sec" : null }' ] ||
	die "--silent -o json, a host never seen: $(cat "$T/got")"
ok
fails "bad number of seconds 'soon'" -D "$T/store" --silent soon
fails "bad number of seconds '-5'" -D "$T/store" --silent -5
fails "exclude each other" -D "$T/store" --silent 5 --list-hosts

echo "PASS: $checks checks"
