#!/bin/sh
# SPDX-License-Identifier: ISC
# A host journal of more than 42 segments (64 KiB segments here) is
# opened again after a collector restart, in the sandbox: glibc's qsort of
# its segment list asks the kernel for the memory size (sysinfo), which
# the seccomp filter must allow, or the collector is killed (SIGSYS) at
# the agent's next handshake. The agent's records written after the
# restart must arrive, the collector must stay up.
# Usage: test-many-segments.sh BUILD_DIR
BUILD=${1:?usage: test-many-segments.sh BUILD_DIR}
NAME=manyseg
. "$(dirname "$0")/lib.sh"

make_keys
$PY -c '
import sys
for i in range(1, 120001):
    print("6,%d,%d,-;%s-%d %s" % (i, i * 1000, sys.argv[1], i, "x" * 100))' "$NAME-$RUNID-filler" >"$T/kmsg.file"
write_configs "seg-host" "$T/kmsg.file"
echo 'store = { segment_size = "64K"; };' >>"$T/collector.conf"
start_collector
start_shipper
n=0
for _ in $(seq 240); do
	n=$(ls "$T/store/hosts/seg-host/" 2>/dev/null | grep -c 'seg$')
	[ "$n" -ge 50 ] && break
	sleep 0.5
done
[ "$n" -ge 50 ] || die "only $n segments"
kill "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
COLLECTOR_PID=
start_collector
echo "6,200000,200000000,-;$NAME-$RUNID-after" >>"$T/kmsg.file"
for _ in $(seq 200); do
	"$KMSGCTL" -D "$T/store" -o cat 2>/dev/null | grep -q "^$NAME-$RUNID-after\$" && break
	if ! kill -0 "$COLLECTOR_PID" 2>/dev/null; then
		wait "$COLLECTOR_PID"
		st=$?
		COLLECTOR_PID=
		die "the collector died reopening a journal of $n segments (exit status $st)"
	fi
	sleep 0.1
done
"$KMSGCTL" -D "$T/store" -o cat 2>/dev/null | grep -q "^$NAME-$RUNID-after\$" || die "the record after the restart did not arrive"
kill -0 "$COLLECTOR_PID" 2>/dev/null || die "the collector died"
echo "PASS: a journal of $n segments reopened after a restart; the next record arrived"
