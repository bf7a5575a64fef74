# SPDX-License-Identifier: ISC
# Shared helpers for the integration tests: keys, configs, daemons on
# loopback, waiting, and the token verifier. Source it after setting
# BUILD (the build directory) and NAME (the test's name).
#
# Every test writes lines with unique tokens "NAME-RUNID-N" and checks the
# store through kmsgctl, so tests may run in parallel and on a machine with
# an old kernel ring full of earlier runs.

set -u

SHIPPER=$BUILD/src/agent/kmsg-shipper
COLLECTOR=$BUILD/src/collector/kmsg-collector
KMSGCTL=$BUILD/src/collector/kmsgctl
KEYGEN=$BUILD/src/tools/kmsg-keygen
PY=/usr/bin/python3

T=$(mktemp -d "${TMPDIR:-/tmp}/ks-$NAME.XXXXXX") || exit 1
# Started as root, the daemons become their users (kmsg-shipper,
# kmsg-collector) after opening what needs root: those users must exist
# (as after an install: sysusers.d) and reach the state directories in $T.
chmod 711 "$T"
if [ "$(id -u)" = 0 ] && ! { getent passwd kmsg-shipper && getent passwd kmsg-collector; } >/dev/null; then
	systemd-sysusers "$(dirname "$0")/../../systemd/kmsg-shipper.sysusers" >/dev/null 2>&1 ||
		{ echo "FAIL: cannot create the users kmsg-shipper and kmsg-collector" >&2; exit 1; }
fi
RUNID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
COLLECTOR_PID=
SHIPPER_PID=
EXTRA_PIDS= # helpers a test starts (proxies, listeners): killed at exit

cleanup() {
	for p in $EXTRA_PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "$SHIPPER_PID" ] && kill -9 "$SHIPPER_PID" 2>/dev/null
	[ -n "$COLLECTOR_PID" ] && kill -9 "$COLLECTOR_PID" 2>/dev/null
	wait 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

die() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
	done
	exit 1
}

# Tests that need the real kernel log: skip (77) when we cannot write it.
need_kmsg() {
	[ -w /dev/kmsg ] && [ -r /dev/kmsg ] || { echo "SKIP: /dev/kmsg not readable and writable"; exit 77; }
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# make_keys: collector and agent key pairs in $T.
make_keys() {
	(umask 077 && "$KEYGEN" genkey >"$T/collector.key" && "$KEYGEN" genkey >"$T/agent.key") || die "genkey"
	"$KEYGEN" pubkey <"$T/collector.key" >"$T/collector.pub" || die "pubkey"
	"$KEYGEN" pubkey <"$T/agent.key" >"$T/agent.pub" || die "pubkey"
}

# write_configs HOSTNAME [KMSG_PATH]
write_configs() {
	PORT=$(free_port)
	cat >"$T/collector.conf" <<EOC
private_key_file = "$T/collector.key";
state_dir = "$T/store";
listen = ( { address = "127.0.0.1"; port = $PORT; } );
clients = ( { name = "$1"; public_key = "$(cat "$T/agent.pub")"; } );
EOC
	cat >"$T/shipper.conf" <<EOC
private_key_file = "$T/agent.key";
state_dir = "$T/spool";
kmsg = { path = "${2:-/dev/kmsg}"; };
network = { backoff_max = "1s"; heartbeat = "2s"; };
collectors = ( { address = "127.0.0.1"; port = $PORT; public_key = "$(cat "$T/collector.pub")"; } );
EOC
}

start_collector() {
	"$COLLECTOR" -d -c "$T/collector.conf" >>"$T/collector.log" 2>&1 &
	COLLECTOR_PID=$!
	# Ready when it accepts connections.
	for _ in $(seq 100); do
		$PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2).close()" 2>/dev/null && return 0
		kill -0 "$COLLECTOR_PID" 2>/dev/null || die "collector exited"
		sleep 0.05
	done
	die "collector not listening on port $PORT"
}

start_shipper() {
	"$SHIPPER" -d -c "$T/shipper.conf" >>"$T/shipper.log" 2>&1 &
	SHIPPER_PID=$!
}

# kmsg_line PRI TEXT: one open per line, as the kernel rate-limits per file.
kmsg_line() {
	printf '<%d>%s\n' "$1" "$2" >/dev/kmsg || die "write /dev/kmsg"
}

# verify HOST EXPECTFILE [TIMEOUT_S]: every line "TOKEN PRIORITY FACILITY" of
# EXPECTFILE must be in the store exactly once with that priority,
# facility and host; no other token of this run may appear. Waits until
# true or the timeout; prints what is wrong at the end.
verify() {
	deadline=$(($(date +%s) + ${3:-20}))
	while :; do
		"$KMSGCTL" -D "$T/store" -o json >"$T/out.json" 2>"$T/kmsgctl.err" || true
		$PY - "$T/out.json" "$2" "$1" "$NAME-$RUNID-" >"$T/verify.txt" <<'EOP' && return 0
import json, sys
out, expect, host, prefix = sys.argv[1:5]
want = {}
for line in open(expect):
    tok, pri, fac = line.split()
    want[tok] = (pri, fac)
seen = {}
for line in open(out):
    o = json.loads(line)
    msg = o.get("MESSAGE")
    if not isinstance(msg, str) or not msg.startswith(prefix):
        continue
    seen.setdefault(msg, []).append(o)
bad = []
for tok, (pri, fac) in want.items():
    got = seen.get(tok, [])
    if len(got) != 1:
        bad.append("%s: found %d times" % (tok, len(got)))
        continue
    o = got[0]
    if (o["PRIORITY"], o["SYSLOG_FACILITY"], o["_HOSTNAME"]) != (pri, fac, host):
        bad.append("%s: priority/facility/host %s/%s/%s, expected %s/%s/%s" % (tok, o["PRIORITY"], o["SYSLOG_FACILITY"], o["_HOSTNAME"], pri, fac, host))
for tok in seen:
    if tok not in want:
        bad.append("%s: unexpected" % tok)
print("%d expected, %d distinct found, %d problems" % (len(want), len(seen), len(bad)))
for b in bad[:20]:
    print("  " + b)
sys.exit(1 if bad else 0)
EOP
		[ "$(date +%s)" -ge "$deadline" ] && { cat "$T/verify.txt" >&2; cat "$T/kmsgctl.err" >&2; die "verify"; }
		sleep 0.2
	done
}

# wait_sessions N: until the collector has logged N sessions in total.
wait_sessions() {
	for _ in $(seq 200); do
		[ "$(grep -c 'session from .* resuming at' "$T/collector.log")" -ge "$1" ] && return 0
		sleep 0.05
	done
	die "agent did not open session $1"
}
