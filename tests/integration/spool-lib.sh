# SPDX-License-Identifier: ISC
# Helpers for the spool tests (test-spool-*.sh), sourced after lib.sh:
# a kmsg-format file as the agent's source, the sizes to use, random
# delays, and the checker that accounts for every record.
#
# The source is a regular file in the /dev/kmsg text format, which the
# agent follows like tail -f and, after a restart, reads again from the
# start, skipping what its spool's cursor says it already has: what the
# kernel ring does for /dev/kmsg. Record N has kmsg seq N and the message
# "NAME-RUNID-N"; its level and facility follow from N (mostly warning..debug,
# 2% emerg..err), so that the checker can tell every record apart.

# SANITIZED=1 when the binaries are built with ASan/UBSan (CI exports
# ASAN_OPTIONS for that build; a sanitized build dir says so itself):
# the tests then use smaller counts, and print which.
SANITIZED=0
if [ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ] ||
	grep -Eq '"name": *"b_sanitize", *"value": *\[? *"[^n"]' "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null; then
	SANITIZED=1
fi
# scaled FULL REDUCED: FULL in a plain build, REDUCED under sanitizers.
scaled() {
	if [ "$SANITIZED" = 1 ]; then echo "$2"; else echo "$1"; fi
}

# now_ms: milliseconds since the epoch.
now_ms() {
	$PY -c 'import time; print(int(time.time() * 1000))'
}

# rand_sleep LO_MS HI_MS: sleep a random time in [LO, HI).
rand_sleep() {
	r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	ms=$(($1 + r % ($2 - $1)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

# gen_kmsg FILE FIRST COUNT: append records FIRST .. FIRST+COUNT-1.
gen_kmsg() {
	awk -v first="$2" -v n="$3" -v p="$NAME-$RUNID-" 'BEGIN {
		for (i = first; i < first + n; i++) {
			h = (i * 2654435761) % 4294967296
			lv = h % 100 < 2 ? int(h / 7) % 4 : 4 + int(h / 100) % 4
			printf "%d,%d,%d,-;%s%d\n", int(h / 400) % 4 * 8 + lv, i, 1000000 + i * 100, p, i
		}
	}' >>"$1"
}

# gen_marker FILE SEQ: append an err record with kmsg seq SEQ, its token
# "NAME-RUNID-SEQ" in MARKER: a record that no overflow drops while
# the spool has less severe ones, to wait for.
gen_marker() {
	MARKER=$NAME-$RUNID-$2
	printf '3,%d,%d,-;%s\n' "$2" $((1000000 + $2 * 100)) "$MARKER" >>"$1"
}

# start_writer CHUNKS: in the background, append RECORDS records to
# $T/kmsg in CHUNKS chunks at random moments, spread over the KILLS kills
# the test counts in $T/kills (one line each): chunk i waits for kill
# i * KILLS / CHUNKS. WRITER is its pid.
start_writer() {
	: >"$T/kills"
	(
		per=$((RECORDS / $1))
		i=0
		while [ "$i" -lt "$1" ]; do
			while [ "$(wc -l <"$T/kills")" -lt $((i * KILLS / $1)) ]; do sleep 0.02; done
			n=$per
			[ "$i" = $(($1 - 1)) ] && n=$((RECORDS - i * per))
			gen_kmsg "$T/kmsg" $((i * per)) "$n"
			i=$((i + 1))
			rand_sleep 0 100
		done
	) &
	WRITER=$!
	EXTRA_PIDS="$EXTRA_PIDS $WRITER"
}

# spool_configs HOST KMSG_FILE [SPOOL_SETTINGS]: lib.sh's configs, with a
# kmsg file, no pstore input, and the settings of the spool group (e.g.
# 'max_size = "1M";').
spool_configs() {
	write_configs "$1" "$2"
	cat >>"$T/shipper.conf" <<EOC
pstore = { enable = false; };
spool = { ${3:-} };
EOC
}

# spooled TOKEN: the token is in the newest segment file of the agent's
# spool, SPOOL_DIR (the others are not read: a backlog spool is large).
SPOOL_DIR=$T/spool/spool
spooled() {
	sp_newest=$(ls "$SPOOL_DIR"/*.seg 2>/dev/null | tail -n 1)
	[ -n "$sp_newest" ] && grep -qF "$1" "$sp_newest"
}

# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	wf_deadline=$(($(date +%s) + $1))
	wf_what=$2
	shift 2
	until "$@"; do
		[ "$(date +%s)" -ge "$wf_deadline" ] && die "timed out waiting for $wf_what"
		sleep 0.2
	done
}

# quick_start_collector: lib.sh's start_collector, ready when its log says
# "started:" (after it listens) rather than probing the port with a new
# python each time: the kill tests restart it 50 times.
quick_start_collector() {
	qs_n=$(grep -c '^kmsg-collector: started:' "$T/collector.log" 2>/dev/null)
	"$COLLECTOR" -d -c "$T/collector.conf" >>"$T/collector.log" 2>&1 &
	COLLECTOR_PID=$!
	for _ in $(seq 1000); do
		[ "$(grep -c '^kmsg-collector: started:' "$T/collector.log")" -gt "${qs_n:-0}" ] && return 0
		kill -0 "$COLLECTOR_PID" 2>/dev/null || die "collector exited"
		sleep 0.02
	done
	die "collector did not start"
}

# stored_last HOST TOKEN: the store's newest kernel records include TOKEN.
stored_last() {
	"$KMSGCTL" -D "$T/store" -H "$1" -n 50 -o cat 2>/dev/null | grep -qxF "$2"
}

cat >"$T/account.py" <<'EOP'
# account.py JSON KMSG_FILE PREFIX [options]: account for every record.
# JSON: kmsgctl -o json of one host. KMSG_FILE: every record written.
# Prints the counts; exit 0 when all checks hold, 1 with the reasons.
import argparse, bisect, collections, json, re, sys

ap = argparse.ArgumentParser()
ap.add_argument("json")
ap.add_argument("kmsg")
ap.add_argument("prefix")
ap.add_argument("--allow", default="", help="gap causes allowed (comma-separated)")
ap.add_argument("--lossy", action="store_true", help="tokens may be missing if gap records account for them")
ap.add_argument("--agent-events", type=int, help="non-gap agent records produced (all info)")
ap.add_argument("--keep-levels", type=int, default=-1, help="no token of level <= this may be lost")
ap.add_argument("--priority", action="store_true", help="losses go by level, least severe and oldest first")
ap.add_argument("--reread-segment", default="", help="losses of this segment were read again from the source")
ap.add_argument("--ranges", action="store_true", help="missing stream seqs = union of the gap ranges")
ap.add_argument("--newest-after", type=int, default=-1,
                help="of the records after this kmsg seq, the oldest of a level are lost first")
a = ap.parse_args()
SPOOL_CAUSES = ("spool-full", "spool-unwritable", "spool-damaged", "spool-torn")
allowed = set(c for c in a.allow.split(",") if c)
bad = []

written = {}  # token -> (level, facility, kmsg seq)
wlev = [0] * 8
with open(a.kmsg) as f:
    for line in f:
        hdr, _, msg = line.rstrip("\n").partition(";")
        pri, seq = hdr.split(",")[:2]
        pri = int(pri)
        written[msg] = (pri & 7, pri >> 3, int(seq))
        wlev[pri & 7] += 1

rx = re.compile(r'"(PRIORITY|SYSLOG_FACILITY|KMSG_SEQ|KMSG_STREAM_SEQ|MESSAGE)" ?: ?"([^"\\]*)"')
seen = collections.Counter()
got = {}  # token -> stream seq
stream_seqs = collections.Counter()
agent_events = collections.Counter()
gaps = []
order_bad = 0
last_kseq = last_sseq = -1
for line in open(a.json):
    if '"KMSG_SOURCE":"kmsg"' in line:
        d = dict(rx.findall(line))
        tok, sseq, kseq = d.get("MESSAGE"), int(d["KMSG_STREAM_SEQ"]), int(d["KMSG_SEQ"])
        stream_seqs[sseq] += 1
        if kseq <= last_kseq or sseq <= last_sseq:
            order_bad += 1
        last_kseq, last_sseq = kseq, sseq
        if tok not in written:
            bad.append("unexpected kernel record %r" % tok)
            continue
        seen[tok] += 1
        got[tok] = sseq
        lv, fac, ks = written[tok]
        if (int(d["PRIORITY"]), int(d["SYSLOG_FACILITY"]), kseq) != (lv, fac, ks):
            bad.append("%s: level/facility/seq %s/%s/%s, written %d/%d/%d" % (
                tok, d["PRIORITY"], d["SYSLOG_FACILITY"], kseq, lv, fac, ks))
        continue
    o = json.loads(line)
    if o.get("KMSG_SOURCE") != "agent":
        continue  # the collector's own records (sessions, stream jumps)
    sseq = int(o["KMSG_STREAM_SEQ"])
    stream_seqs[sseq] += 1
    if sseq <= last_sseq:
        order_bad += 1
    last_sseq = sseq
    if o.get("KMSG_EVENT") == "gap":
        gaps.append(o)
    else:
        agent_events[o.get("KMSG_EVENT")] += 1
        if o.get("PRIORITY") != "6":
            bad.append("agent event %s at level %s" % (o.get("KMSG_EVENT"), o.get("PRIORITY")))

dup = sum(n - 1 for n in seen.values() if n > 1) + sum(n - 1 for n in stream_seqs.values() if n > 1)
lost = [t for t in written if t not in seen]
lost_lev = [0] * 8
for t in lost:
    lost_lev[written[t][0]] += 1
top = max(stream_seqs) if stream_seqs else -1
missing = [s for s in range(top + 1) if s not in stream_seqs]

# Gap records: the spool's, by cause; kernel-side ones are never expected
# here (the file starts at seq 0 and is dense).
gap_count = collections.Counter()
gap_lev = [0] * 8
levkeys = ["GAP_COUNT_" + k for k in ("EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG")]
reread = 0
ranges = set()
for g in gaps:
    cause = g.get("GAP_CAUSE")
    if cause not in allowed:
        bad.append("gap record %s not expected: %s" % (cause, g.get("MESSAGE")))
    if cause not in SPOOL_CAUSES:
        continue
    n = int(g["GAP_COUNT"])
    gap_count[cause] += n
    if cause in ("spool-full", "spool-unwritable"):
        lv = [int(g.get(k, 0)) for k in levkeys]
        if sum(lv) != n:
            bad.append("%s: GAP_COUNT %d, by level %s" % (cause, n, lv))
        gap_lev = [x + y for x, y in zip(gap_lev, lv)]
    elif g.get("SPOOL_SEGMENT") == a.reread_segment:
        reread += n
    if n:
        ranges.update(range(int(g["GAP_FIRST_STREAM_SEQ"]), int(g["GAP_LAST_STREAM_SEQ"]) + 1))
reported = sum(gap_count.values())

agent_lost = 0
if a.agent_events is not None:
    agent_lost = a.agent_events - sum(agent_events.values())
    if agent_lost < 0:
        bad.append("%d agent events, %d produced" % (sum(agent_events.values()), a.agent_events))

print("written %d (by level %s); delivered %d distinct, lost %d (by level %s), dup %d" % (
    len(written), wlev, len(seen), len(lost), lost_lev, dup))
print("stream seqs 0..%d: %d held, %d missing; gap records %s, reported lost %d%s; agent events %s" % (
    top, len(stream_seqs), len(missing), dict(gap_count) or "none", reported,
    " (by level %s)" % gap_lev if any(gap_lev) else "", dict(agent_events)))

if dup:
    bad.append("%d duplicates" % dup)
if order_bad:
    bad.append("%d records out of order" % order_bad)
if lost and not a.lossy:
    bad.append("%d tokens lost, e.g. %s" % (len(lost), lost[:5]))
# Exact accounting: every missing stream seq is reported, none twice.
if len(missing) != reported:
    bad.append("%d stream seqs missing, gap records report %d" % (len(missing), reported))
if a.ranges and set(missing) != ranges:
    bad.append("missing seqs not the gap ranges: %d missing, %d in ranges, e.g. %s" % (
        len(missing), len(ranges), sorted(set(missing) ^ ranges)[:10]))
elif not a.ranges and not set(missing) <= ranges:
    bad.append("missing stream seqs outside every gap range: %s" % sorted(set(missing) - ranges)[:10])
# The records lost are the ones reported: per level for drops (the agent's
# own start/boot events are info), in total for damage, less what was read
# again from the source. (Without --lossy no token may be lost at all; a
# torn last entry after a SIGKILL is reported, and read again.)
if any(gap_lev) or gap_count["spool-full"] or gap_count["spool-unwritable"]:
    want = list(lost_lev)
    want[6] += agent_lost
    if want != gap_lev:
        bad.append("lost by level %s (agent events %d), gap records say %s" % (lost_lev, agent_lost, gap_lev))
dmg = gap_count["spool-damaged"] + gap_count["spool-torn"] - reread
if a.lossy and len(lost) + agent_lost != dmg + sum(gap_lev):
    bad.append("%d tokens and %d agent events lost, gap records account for %d" % (
        len(lost), agent_lost, dmg + sum(gap_lev)))
if a.keep_levels >= 0 and sum(lost_lev[: a.keep_levels + 1]):
    bad.append("records of level <= %d lost: %s" % (a.keep_levels, lost_lev))
if a.priority:
    # Stream seqs of the lost records: the missing seqs in order, the
    # agent's lost start/boot events first (they come first), then the
    # lost tokens in kernel order. Every record's level and seq is then
    # known. When an episode's drops end (its gap record, seq g), the
    # least severe level it dropped, L, was the least severe held: every
    # record before g of a less severe level was dropped by then, i.e. by
    # this or an earlier episode.
    holes = sorted(missing)
    byseq = {}  # stream seq -> level, every record but gap records
    for t, sq in got.items():
        byseq[sq] = written[t][0]
    for o in (json.loads(l) for l in open(a.json) if '"KMSG_SOURCE":"agent"' in l):
        if o.get("KMSG_EVENT") != "gap":
            byseq[int(o["KMSG_STREAM_SEQ"])] = int(o["PRIORITY"])
    for sq in holes[:agent_lost]:
        byseq[sq] = 6
    lost_sorted = sorted(lost, key=lambda t: written[t][2])
    for t, sq in zip(lost_sorted, holes[agent_lost:]):
        byseq[sq] = written[t][0]
    order = sorted(byseq)
    tseq = [got[t] if t in got else None for t in sorted(written, key=lambda t: written[t][2])]
    it = iter(holes[agent_lost:])
    tseq = [x if x is not None else next(it, None) for x in tseq]
    if None in tseq or any(x >= y for x, y in zip(tseq, tseq[1:])):
        bad.append("the lost records do not fit the missing stream seqs in kernel order")
    before = collections.Counter()
    cum = [0] * 8
    j = 0
    for g in sorted((x for x in gaps if x.get("GAP_CAUSE") == "spool-full"), key=lambda x: int(x["KMSG_STREAM_SEQ"])):
        gs = int(g["KMSG_STREAM_SEQ"])
        while j < len(order) and order[j] < gs:
            before[byseq[order[j]]] += 1
            j += 1
        cnt = [int(g.get(k, 0)) for k in levkeys]
        cum = [x + y for x, y in zip(cum, cnt)]
        L = min(i for i in range(8) if cnt[i])
        for M in range(L + 1, 8):
            if before[M] != cum[M]:
                bad.append("gap record at %d dropped level %d while level %d was held: %d written before it, %d dropped by then" % (
                    gs, L, M, before[M], cum[M]))
                break
        if len(bad) > 10:
            break
    for L in range(8):
        if not lost_lev[L]:
            continue
        newest_lost = max(written[t][2] for t in lost if written[t][0] == L)
        kept_older = [t for t in seen if written[t][0] == L and written[t][2] < newest_lost]
        if kept_older:
            bad.append("level %d: %d older ones delivered than one lost, e.g. %s" % (L, len(kept_older), kept_older[0]))
if a.newest_after >= 0:
    # Records after the given kmsg seq waited in a bounded memory queue:
    # within a level the oldest go first, the newest are kept.
    for L in range(8):
        late = [t for t in written if written[t][0] == L and written[t][2] > a.newest_after]
        lost_late = [written[t][2] for t in late if t not in seen]
        if lost_late:
            kept_older = [t for t in late if t in seen and written[t][2] < max(lost_late)]
            if kept_older:
                bad.append("level %d after kmsg seq %d: %d delivered older than one lost, e.g. %s" % (
                    L, a.newest_after, len(kept_older), kept_older[0]))
for b in bad[:20]:
    print("  " + b)
sys.exit(1 if bad else 0)
EOP

# account HOST TIMEOUT [account.py options]: poll the store until every
# record is accounted for (see account.py), print the counts; die at the
# timeout with what is wrong.
account() {
	ac_host=$1
	ac_deadline=$(($(date +%s) + $2))
	shift 2
	while :; do
		"$KMSGCTL" -D "$T/store" -H "$ac_host" -o json >"$T/out.json" 2>"$T/kmsgctl.err" &&
			$PY "$T/account.py" "$T/out.json" "$T/kmsg" "$NAME-$RUNID-" "$@" >"$T/account.txt" 2>&1 &&
			{ cat "$T/account.txt"; return 0; }
		if [ "$(date +%s)" -ge "$ac_deadline" ]; then
			cat "$T/account.txt" "$T/kmsgctl.err" >&2
			die "records not accounted for"
		fi
		sleep 1
	done
}
