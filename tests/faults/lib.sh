# SPDX-License-Identifier: ISC
# Fault scenarios: helpers on top of tests/integration/lib.sh for a fleet
# of agents (host-1 ... host-N), each reading its own kmsg-format file that
# a feeder appends to, into one collector. Source it after setting BUILD
# and NAME. Each scenario injects one kind of fault and ends with
# fleet_verify, which counts every record by its unique token.
#
# FAULTS_LONG=1 selects the long form (more records, more faults).

. "$(dirname "$0")/../integration/lib.sh"

LONG=${FAULTS_LONG:-0}
NHOSTS=0
PREFIX=$NAME-$RUNID
COLLECTOR_ARGS=

# fleet_setup N [COLLECTOR_EXTRA]: keys, configs and kmsg files for N
# agents; COLLECTOR_EXTRA is appended to collector.conf.
fleet_setup() {
	NHOSTS=$1
	PORT=$(free_port)
	LISTEN_ADDR=${LISTEN_ADDR:-127.0.0.1}
	CONNECT_ADDR=${CONNECT_ADDR:-127.0.0.1}
	(umask 077 && "$KEYGEN" genkey >"$T/collector.key") || die "genkey"
	"$KEYGEN" pubkey <"$T/collector.key" >"$T/collector.pub" || die "pubkey"
	for i in $(seq "$NHOSTS"); do
		(umask 077 && "$KEYGEN" genkey >"$T/h$i.key") || die "genkey"
		"$KEYGEN" pubkey <"$T/h$i.key" >"$T/h$i.pub" || die "pubkey"
		: >"$T/h$i.kmsg"
		cat >"$T/h$i.conf" <<EOC
private_key_file = "$T/h$i.key";
state_dir = "$T/state-h$i";
kmsg = { path = "$T/h$i.kmsg"; };
network = { backoff_max = "1s"; heartbeat = "1s"; connect_timeout = "2s"; };
# Small segments: acked ones are deleted soon, so a wrong ack loses records.
spool = { segment_size = "64K"; };
collectors = ( { address = "$CONNECT_ADDR"; port = $PORT; public_key = "$(cat "$T/collector.pub")"; } );
EOC
	done
	write_collector_conf "$(seq "$NHOSTS")" "${2:-}"
}

# write_collector_conf "1 2 ..." [EXTRA]: the clients listed, and EXTRA.
write_collector_conf() {
	{
		echo "private_key_file = \"$T/collector.key\";"
		echo "state_dir = \"${STORE_DIR:-$T/store}\";"
		echo "listen = ( { address = \"$LISTEN_ADDR\"; port = $PORT; } );"
		echo "network = { idle_timeout = \"5s\"; handshake_timeout = \"2s\"; };"
		echo "clients = ("
		sep=
		for i in $1; do
			printf '%s { name = "host-%d"; public_key = "%s"; }\n' "$sep" "$i" "$(cat "$T/h$i.pub")"
			sep=,
		done
		echo ");"
		echo "${2:-}"
	} >"$T/collector.conf"
}

# fleet_start_collector: start_collector, optionally inside $NETNS.
fleet_start_collector() {
	if [ -n "${NETNS:-}" ]; then
		ip netns exec "$NETNS" "$COLLECTOR" -d -c "$T/collector.conf" >>"$T/collector.log" 2>&1 &
		COLLECTOR_PID=$!
		for _ in $(seq 100); do
			grep -q 'listening\|started' "$T/collector.log" 2>/dev/null && return 0
			kill -0 "$COLLECTOR_PID" 2>/dev/null || die "collector exited"
			sleep 0.05
		done
		return 0
	fi
	start_collector
}

# agent_start I / agent_kill I [SIGNAL]: the agent of host-I; its pid in AGENT_PID_I.
agent_start() {
	"$SHIPPER" -d -c "$T/h$1.conf" >>"$T/h$1.log" 2>&1 &
	eval "AGENT_PID_$1=$!"
	EXTRA_PIDS="$EXTRA_PIDS $!"
}
agent_pid() { eval "echo \${AGENT_PID_$1:-}"; }
agent_kill() {
	p=$(agent_pid "$1")
	[ -n "$p" ] || return 0
	kill "-${2:-9}" "$p" 2>/dev/null
	[ "${2:-9}" = 9 ] && wait "$p" 2>/dev/null
	return 0
}

# feed I COUNT RATE: append COUNT records with tokens PREFIX-hI-1.. to
# host-I's file, RATE per second (in bursts of 50), in the background; the
# feeder's pid goes into FEEDERS. Seqs and timestamps grow; levels as
# FEED_MIX says (all, the default: every level in turn; kernel: mostly info).
FEEDERS=
feed() {
	$PY - "$T/h$1.kmsg" "$PREFIX-h$1-" "$2" "$3" "${FEED_MIX:-all}" <<'EOP' &
import sys, time
path, prefix, count, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
# all: every level in turn (half of them err or worse, each fsynced on
# its own by the default spool policy); kernel: like a busy kernel log,
# 1 % err, 9 % warning, the rest info.
mix = sys.argv[5]
def level(k):
    if mix == "all":
        return k % 8
    return 3 if k % 100 == 0 else 4 if k % 10 == 0 else 6
t0 = time.monotonic()
with open(path, "a") as f:
    for k in range(1, count + 1):
        f.write("%d,%d,%d,-;%s%d\n" % (level(k) | (1 << 3), k, 1000000 + k * 1000, prefix, k))
        if k % 50 == 0:
            f.flush()
            ahead = k / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
EOP
	FEEDERS="$FEEDERS $!"
	EXTRA_PIDS="$EXTRA_PIDS $!"
}
feeders_wait() {
	for p in $FEEDERS; do wait "$p" || die "feeder $p failed"; done
	FEEDERS=
}

# fleet_verify "I:COUNT ..." [TIMEOUT_S]: host-I holds PREFIX-hI-1..COUNT
# exactly once each, every one under host-I, in kernel order; nothing of
# these hosts is lost or doubled (hosts not listed are not looked at).
# Waits until true or the timeout.
fleet_verify() {
	deadline=$(($(date +%s) + ${2:-60}))
	while :; do
		"$KMSGCTL" -D "${STORE_DIR:-$T/store}" -o json >"$T/all.json" 2>"$T/kmsgctl.err" || true
		$PY - "$T/all.json" "$PREFIX" "$1" >"$T/verify.txt" <<'EOP' && { cat "$T/verify.txt"; return 0; }
import json, sys
path, prefix, spec = sys.argv[1], sys.argv[2], sys.argv[3]
want = {int(i): int(n) for i, n in (x.split(":") for x in spec.split())}
seen = {}
order = {}
for line in open(path):
    o = json.loads(line)
    m = o.get("MESSAGE")
    if not isinstance(m, str) or not m.startswith(prefix + "-h"):
        continue
    host, k = m[len(prefix) + 2:].split("-")
    seen.setdefault((int(host), int(k)), []).append(o["_HOSTNAME"])
    order.setdefault(o["_HOSTNAME"], []).append(int(k))
lost = dup = wrong = 0
bad = []
for i, n in want.items():
    for k in range(1, n + 1):
        got = seen.get((i, k), [])
        if not got:
            lost += 1
            if lost <= 5: bad.append("host-%d token %d: lost" % (i, k))
        elif len(got) > 1:
            dup += 1
            if dup <= 5: bad.append("host-%d token %d: %d times" % (i, k, len(got)))
        elif got[0] != "host-%d" % i:
            wrong += 1
            bad.append("host-%d token %d: stored under %s" % (i, k, got[0]))
extra = sum(1 for (i, k) in seen if i in want and k > want[i])
unordered = sum(1 for h, ks in order.items() if ks != sorted(ks))
total = sum(want.values())
print("verify: %d records expected on %d hosts: lost %d, duplicated %d, wrong host %d, unexpected %d, out of order hosts %d"
      % (total, len(want), lost, dup, wrong, extra, unordered))
for b in bad[:10]:
    print("  " + b)
sys.exit(1 if lost or dup or wrong or extra or unordered else 0)
EOP
		[ "$(date +%s)" -ge "$deadline" ] && { cat "$T/verify.txt" >&2; cat "$T/kmsgctl.err" >&2; die "verify"; }
		sleep 0.5
	done
}

# rand N: a random integer in 0..N-1.
rand() { echo $(($(od -An -N4 -tu4 /dev/urandom) % $1)); }
