/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The agent's durable spool: every record the agent produces is appended
 * here, gets the next stream sequence number, and stays until the collector
 * acks it. (It replaced the in-memory queue of the first version.) The format and the
 * recovery rules are in docs/SPOOL.md; the layout constants are below.
 *
 * Directory (one per agent, STATE_DIR/spool): segment files named by the
 * stream seq of their first record, "%016" PRIx64 ".seg". Each segment is a
 * SPOOL_SEG_HDR_LEN header and then entries:
 *     u32 L | L bytes of record encoding (record.h) | 16 bytes checksum
 * checksum = BLAKE2b-128 keyed with the stream id, over the 4 + L bytes
 * before it. All integers big-endian.
 *
 * Segment header (SPOOL_SEG_HDR_LEN = 96 bytes):
 *   off len
 *     0   8  magic "KSSPOOL1"
 *     8  16  stream id
 *    24   8  first seq: stream seq of the segment's first record when it was created (= name)
 *    32   8  cursor stream seq: stream seq of the kmsg record below
 *    40   8  cursor kmsg seq
 *    48  16  cursor boot id
 *    64   4  flags: bit 0 = the cursor fields are valid; others zero
 *    68   8  next seq: every stream seq below it had been assigned when
 *            the header was written (= first seq at creation)
 *    76   4  reserved, zero
 *    80  16  BLAKE2b-128 (unkeyed) over bytes 0..79
 * The cursor is the newest kernel record (source KMSG) written to the spool
 * before the header was written (creation, or rewrite of the newest
 * segment by an overflow drop). First seq is a lower bound: an overflow
 * drop may remove the segment's first records without renaming it; every
 * record of a segment is below the next segment's first seq. Next seq keeps
 * the seqs of records an overflow drop removed from the newest segment
 * from being reused after a restart.
 *
 * Decisions:
 * - Appends never block and never lose silently. A full spool (max_bytes)
 *   drops records by priority (debug first ... emergency last, the agent's
 *   own gap records after everything else), rewriting the oldest segments
 *   without them; one gap record (GAP_CAUSE=spool-full) per drop episode
 *   accounts for them. A failing disk (ENOSPC, EIO, EROFS, EFBIG, a failed
 *   fdatasync) switches to a bounded memory queue (spool_degraded()) which is
 *   written out in order when the disk works again, then a gap record
 *   (GAP_CAUSE=spool-unwritable) for what the memory bound dropped.
 * - Recovery on open never fails because of file contents: torn tails are
 *   truncated, damaged entries skipped, damaged headers renamed aside
 *   (NAME.damaged); each loss becomes a gap record appended by the spool
 *   itself (GAP_CAUSE=spool-torn / spool-damaged) and an entry in
 *   spool_recovery() for the caller to log.
 * - Stream seqs are never reused: the next seq is past every record and
 *   every identified torn entry. WARNING: a record that was sent before it
 *   was fsynced can vanish without a trace in a power loss, and its seq be
 *   reused for another record that the collector then takes for a
 *   duplicate. Callers that want to exclude this send only records below
 *   spool_synced_seq() (see docs/SPOOL.md, "What each policy risks").
 * - The module does not log; errors are returned, losses are gap records,
 *   conditions are in spool_degraded(), spool_recovery() and the stats.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto.h"
#include "record.h"

#define SPOOL_MAGIC "KSSPOOL1"
#define SPOOL_SEG_HDR_LEN 96
#define SPOOL_SEG_SUFFIX ".seg"
#define SPOOL_ENTRY_LEN_BYTES 4
#define SPOOL_ENTRY_SUM_BYTES 16
#define SPOOL_ENTRY_OVERHEAD (SPOOL_ENTRY_LEN_BYTES + SPOOL_ENTRY_SUM_BYTES)
#define SPOOL_HDR_F_CURSOR 1u
/* With SPOOL_HDR_F_CURSOR: the cursor is a boot event, not a kernel record
 * (no kmsg seq; docs/SPOOL.md, "Cursor"). */
#define SPOOL_HDR_F_BOOT_EVENT 2u
/* Records of this level or more important are urgent: spool_urgent finds
 * them (docs/SPOOL.md, "Priority"); what an URGENT message may carry. */
#define SPOOL_URGENT_LEVEL PROTO_URGENT_LEVEL_MAX
/* Urgent records the index holds at most (64 KiB of memory). */
#define SPOOL_URGENT_MAX 8192
/* Appended entries wait in memory (the write buffer) and reach the newest
 * segment in one write: at spool_flush or spool_sync, before a
 * fdatasync, or once this many bytes wait (docs/SPOOL.md, "Durability"). */
#define SPOOL_WBUF_BYTES (64 * 1024)
/* Room kept free for a gap record (an encoded gap entry is under 800 bytes). */
#define SPOOL_GAP_RESERVE 1024
/* Smallest max_bytes: two largest entries in their own segments, plus reserve. */
#define SPOOL_MIN_BYTES (2 * (SPOOL_SEG_HDR_LEN + SPOOL_ENTRY_OVERHEAD + RECORD_MAX) + 4 * SPOOL_GAP_RESERVE)

struct spool;

struct spool_conf {
	uint64_t max_bytes;	   /* bound of all segment files; default 64 MiB, >= SPOOL_MIN_BYTES */
	uint64_t segment_bytes;	   /* a new segment starts when an entry would pass this; default 4 MiB,
				      at most max_bytes and 256 MiB */
	uint64_t mem_max;	   /* memory queue bound while degraded; default 8 MiB, >= 128 KiB */
	uint64_t cache_bytes;	   /* tail of the newest segment kept for spool_read; default 1 MiB */
	int sync_level;		   /* fdatasync at once for records with level <= this; default 3 (err) */
	uint32_t sync_records;	   /* ... or once this many records are unsynced; default 256 */
	uint32_t sync_interval_ms; /* ... or once the oldest unsynced write is this old; default 1000 */
	uint32_t retry_ms;	   /* degraded: try the disk again this often; default 1000 */
};

/* Fill c with the defaults above. */
void spool_conf_init(struct spool_conf *c);

/*
 * Open (and recover) or create the spool in dir (created with mode 0700 if
 * missing). stream_id is used only for a spool without a valid segment;
 * otherwise the newest segment's stream id wins (spool_stream_id()).
 * boot_id goes into the gap records the spool writes. conf NULL: defaults.
 *
 * Returns 0, -EINVAL for a bad conf, -ENOMEM, or -errno when dir cannot be
 * created, opened or listed. Damaged or torn contents never fail the open;
 * a disk that cannot be written starts the spool degraded.
 */
__attribute__((warn_unused_result)) int spool_open(struct spool **ret, const char *dir,
						   const struct spool_conf *conf, const uint8_t stream_id[16],
						   const uint8_t boot_id[16]);

/*
 * Write a pending gap record, try to write the memory queue out, fdatasync,
 * and free s (always). Returns 0, or the first -errno; records still only
 * in memory are then lost (their number is in the stats just before).
 */
int spool_close(struct spool *s);

/* The stream id the spool's records belong to (16 bytes). */
const uint8_t *spool_stream_id(const struct spool *s);

/*
 * The kmsg cursor: boot id and kernel seq of the newest record with source
 * KMSG accepted by spool_append (on disk, in the write buffer, in the
 * memory queue, or dropped at once by overflow), or, after a restart,
 * recovered from the files: only what was written counts there, so the
 * records a crash took from the buffer are read from the kernel again.
 * Returns 1 and fills both, or 0 if the spool has none (both untouched),
 * also when only a boot event of the newest boot is known (see below).
 */
int spool_cursor(const struct spool *s, uint8_t boot_id[16], uint64_t *kmsg_seq);

/*
 * Whether the spool holds (or held: the position outlives the records)
 * a boot event record or a kernel record of boot boot_id, as the newest
 * boot it saw: the boot was announced. The same position as
 * spool_cursor's, kept with the boot event record when it is written, so
 * a crash cannot leave the event without it or the reverse.
 */
bool spool_boot_announced(const struct spool *s, const uint8_t boot_id[16]);

/* The stream seq the next record gets. */
uint64_t spool_next_seq(const struct spool *s);

/* Every record with a smaller stream seq that is held is on disk and fsynced. */
uint64_t spool_synced_seq(const struct spool *s);

/*
 * Set rec->stream_seq to the next seq and keep the record. Returns 0 (in
 * the spool: written to the newest segment, or in its write buffer until
 * the next spool_flush, spool_sync or sync-policy fdatasync, or once
 * SPOOL_WBUF_BYTES wait), 1 (kept in memory: the spool is degraded), or -EMSGSIZE,
 * -EINVAL (level > 7 or unknown source), -ENOMEM, -EOVERFLOW (seqs used up,
 * 2^62): not kept, no seq used.
 * Applies the sync policy. May first write gap records (which take seqs).
 * A record dropped at once because the spool is full of more important
 * records still returns 0: its drop is reported by the episode's gap record.
 */
__attribute__((warn_unused_result)) int spool_append(struct spool *s, struct record *rec);

/*
 * The held record with the smallest stream seq >= from_seq: sets *buf and
 * *len to its encoding and *seq to its stream seq (which may be above
 * from_seq: records can be missing). *buf is valid until the next call on
 * s. Returns 0, -ENOENT if there is none, or -errno (-ENOMEM). Damage found
 * while reading is skipped and reported by a gap record on the next append
 * or sync, like damage found on open.
 */
__attribute__((warn_unused_result)) int spool_read(struct spool *s, uint64_t from_seq, const uint8_t **buf,
						   size_t *len, uint64_t *seq);

/*
 * The urgent records (level <= SPOOL_URGENT_LEVEL) held with from <= seq
 * < to: up to max of their seqs, ascending, into seqs; returns how many.
 * From an index in memory, not the files: it holds the seqs of urgent
 * records appended (or found on open) and not yet acked, at most
 * SPOOL_URGENT_MAX (urgent records appended while it is full are not in
 * it: stats.urgent_unindexed). A seq may name a record overflow or damage
 * took since: spool_read then returns a higher seq.
 */
size_t spool_urgent(const struct spool *s, uint64_t from, uint64_t to, uint64_t *seqs, size_t max);

/*
 * The collector holds every record below hwm: delete whole segments whose
 * records are all below it (never the newest segment: it keeps the stream
 * position and cursor), and free such records from the memory queue.
 * Returns 0 or -errno of an unlink or directory fsync.
 */
int spool_ack(struct spool *s, uint64_t hwm);

/*
 * Write what the write buffer holds to the newest segment in one write,
 * without fdatasync: call it at the end of a read burst, and after a
 * record that cannot be read again from its source. A kill -9 loses only
 * what was never written. Returns 0 (also when degraded: the bytes wait
 * in memory for the retry), or -errno: the write failed and the spool is
 * now degraded.
 */
int spool_flush(struct spool *s);

/*
 * For the caller's timer: write pending gap records, retry a degraded disk
 * when due, write the buffer and fdatasync what is unsynced. Returns 0 or
 * -errno.
 */
int spool_sync(struct spool *s);

/* Milliseconds until spool_sync has something to do (0: now), or -1: nothing pending. */
int spool_sync_due_ms(const struct spool *s);

/* 0, or the -errno that made the spool keep records in memory. */
int spool_degraded(const struct spool *s);

/* A loss found by recovery on open, for the caller to log. */
struct spool_loss {
	const char *cause; /* "spool-torn", "spool-damaged", "spool-foreign" (other stream id) */
	char segment[40];  /* file name as found */
	uint64_t offset;   /* byte range of the segment file, bytes 0: whole file */
	uint64_t bytes;
	uint64_t first_seq; /* stream seqs lost; count 0 if none is known lost */
	uint64_t last_seq;
	uint64_t count;
};

/* The losses recovery found on open; valid until spool_close. */
const struct spool_loss *spool_recovery(const struct spool *s, size_t *n);

struct spool_stats {
	uint64_t appended;    /* records accepted by spool_append (not counting gap records) */
	uint64_t gap_records; /* gap records the spool wrote */
	uint64_t bytes;	      /* bytes of segment files */
	uint64_t segments;
	uint64_t held[8]; /* records on disk by level (acked ones included until deleted) */
	uint64_t writes;  /* writes of buffered entries to segment files that succeeded */
	uint64_t fsyncs;  /* fdatasync/fsync calls that succeeded */
	uint64_t sync_errors;
	uint64_t write_errors;
	uint64_t rewrites;   /* segments rewritten or deleted by overflow drops, or repaired */
	uint64_t dropped[8]; /* records dropped by level (disk overflow and memory bound) */
	uint64_t dropped_total;
	uint64_t damaged;	   /* stream seqs reported lost to damage or torn writes */
	uint64_t mem_records;	   /* records in the memory queue now */
	uint64_t urgent_indexed;   /* seqs in the urgent index now */
	uint64_t urgent_unindexed; /* urgent records that found the index full */
	uint64_t mem_bytes;
	int degraded; /* spool_degraded() */
};

void spool_get_stats(const struct spool *s, struct spool_stats *st);

/*
 * Read-only report of the spool in dir, to out: segments with record
 * counts, seq ranges, stream id, cursor, damaged byte ranges, torn tail,
 * what recovery would do. Opens everything O_RDONLY and changes nothing.
 * Returns 0 if clean, 1 if damaged, -errno if dir cannot be read.
 */
int spool_check(const char *dir, FILE *out);
