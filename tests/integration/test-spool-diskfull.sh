#!/bin/sh
# SPDX-License-Identifier: ISC
# Issue 4, items 7 and 8: the agent's state directory on a small tmpfs
# that fills up (a filler file leaves about 1 MiB), collector down, 40,000
# records, spool.memory_max 1 MiB:
# - the agent keeps reading the source to its end (its read position
#   reaches the file's size) and keeps the newest records in memory;
# - it reports the condition ("No space left on device" in its log);
# - when the filler is deleted it returns to the spool: the records kept in
#   memory and the "spool-unwritable" gap record for what the memory bound
#   dropped are written to the spool files;
# - once the collector is up: every record is delivered once or counted
#   by that gap record, per level; no emerg..err record is lost.
# Needs root (mount); skipped otherwise.
# Usage: test-spool-diskfull.sh BUILD_DIR
BUILD=${1:?usage: test-spool-diskfull.sh BUILD_DIR}
NAME=sdiskfull
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool-lib.sh"

RECORDS=40000
DISK=$T/disk
mkdir "$DISK"
mount -t tmpfs -o size=3m,mode=0755 tmpfs "$DISK" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
trap 'umount -l "$DISK" 2>/dev/null; cleanup' EXIT
dd if=/dev/zero of="$DISK/filler" bs=1k count=2048 2>/dev/null || die "filler"
echo "$RECORDS records; spool on a 3 MiB tmpfs with a 2 MiB filler file, spool.memory_max 1 MiB"

make_keys
: >"$T/kmsg"
spool_configs sdiskfull-host "$T/kmsg" 'memory_max = "1M";'
sed -i "s|^state_dir = .*|state_dir = \"$DISK/state\";|" "$T/shipper.conf"
SPOOL_DIR=$DISK/state/spool
start_shipper
gen_kmsg "$T/kmsg" 0 "$RECORDS"
gen_marker "$T/kmsg" "$RECORDS"

# read_all: the agent's read position in the source is the file's size.
read_all() {
	for fd in /proc/"$SHIPPER_PID"/fd/*; do
		[ "$(readlink "$fd")" = "$T/kmsg" ] || continue
		pos=$(awk '$1 == "pos:" { print $2 }' /proc/"$SHIPPER_PID"/fdinfo/"${fd##*/}")
		[ "$pos" = "$(stat -c %s "$T/kmsg")" ] && return 0
	done
	return 1
}
enospc() {
	grep -c 'No space left on device' "$T/shipper.log"
}
more_enospc() {
	[ "$(enospc)" -gt "$1" ]
}
wait_for 60 "the agent to read the whole source" read_all
# The condition is logged once, when the spool turns to memory.
wait_for 30 "the agent to report the full disk" more_enospc 0
# The read position moves before the burst's records are handed on: let
# the loop finish the burst (milliseconds), or the check below could pass
# before the marker was even handed to the spool.
sleep 0.5
grep 'No space left on device' "$T/shipper.log" | head -n 2
df -k "$DISK" | tail -n 1
spooled "$MARKER" && die "the newest record is on disk, yet the disk was full"
# What reached the disk (read-only, while the agent runs). The records
# of the write that failed stay in the spool's write buffer, to be written
# again; the records after them (the agent logs from which kernel seq on)
# wait in the memory queue, where its bound drops the oldest of the least
# severe level first.
"$SHIPPER" -c "$T/shipper.conf" --spool-check >"$T/check.txt" 2>&1
ondisk=$(sed -n 's/^cursor: .*kmsg seq \([0-9]*\) .*/\1/p' "$T/check.txt")
[ -n "$ondisk" ] || { cat "$T/check.txt"; die "no cursor in the spool"; }
inmem=$(sed -n 's/.*keeping the kernel records after seq \([0-9]*\) in memory.*/\1/p' "$T/shipper.log" | head -n 1)
[ -n "$inmem" ] && [ "$inmem" -gt "$ondisk" ] || die "no kernel seq from which records wait in memory (on disk: $ondisk)"
echo "on disk: kernel records up to kmsg seq $ondisk; up to $inmem in doubt; the rest in memory or dropped"
kill -0 "$SHIPPER_PID" || die "agent exited"

# Space is back: the memory queue goes to the spool (retried every second).
rm "$DISK/filler"
wait_for 30 "the newest record in the spool" spooled "$MARKER"
wait_for 30 "the spool-unwritable gap record in the spool" spooled spool-unwritable
back() { grep -q 'spool: writing to disk again' "$T/shipper.log"; }
wait_for 10 "the agent to report the disk back" back
ls -l "$DISK/state/spool"

start_collector
wait_for 60 "the last record in the store" stored_last sdiskfull-host "$MARKER"
account sdiskfull-host 60 --allow spool-unwritable --lossy --agent-events 2 --keep-levels 3 \
	--newest-after "$inmem"
grep -q 'lost 0 ' "$T/account.txt" && die "nothing was dropped: the memory bound was not reached"
echo "PASS: a full disk: reading went on, the newest records waited in memory, the rest were counted by level"
