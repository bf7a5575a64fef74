/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The collector's store (docs/STORE.md, format 2): one directory per host
 * under STATE_DIR/hosts/, holding that host's journal and its state:
 *
 *   STATE_DIR/hosts/NAME/BASE.seg     segments, append-only (segment.h)
 *   STATE_DIR/hosts/NAME/BASE.idx     their sparse indexes (segindex.h)
 *   STATE_DIR/hosts/NAME/checkpoints  chain head checkpoints (checkpoint.h)
 *   STATE_DIR/hosts/NAME/streams      handshake counters, replaced durably:
 *       magic "KSSTRS00", then per stream: 16 stream id, u64 counter
 *
 * NAME is the host name from the collector's config; store_name_valid()
 * is what keeps it inside STATE_DIR.
 *
 * Per stream the store knows two high-water marks: pending (records
 * appended to the host's buffer) and durable (fsynced). Records with a
 * stream seq below pending are duplicates and are dropped. store_commit
 * writes every host's buffer, fsyncs each segment once, then promotes
 * pending to durable: only durable marks may be acked.
 *
 * Records of an URGENT message (docs/PROTOCOL.md 5.9) may be stored ahead
 * of the mark (store_append_early): flagged in the journal
 * (SEGMENT_ENTRY_EARLY), kept per stream in an "ahead set" until the
 * in-order records pass them, bounded by STORE_AHEAD_MAX per host. A
 * record of the set is a duplicate when it comes again; the mark goes on
 * over it when the records before it are in; a jump over it leaves gap
 * records only for the seqs really missing. The sets survive a restart:
 * every segment header lists the early records not yet passed when it
 * began, recovery adds those of the active segment. A segment that
 * reached the configured size is sealed after a commit and the next one
 * started (fsynced with its directory before anything is written to it);
 * store_retention removes whole old segments, recording what it removed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define STORE_STREAM_ID_LEN 16
#define STORE_NAME_MAX 64

struct store;
struct store_host;

/* [A-Za-z0-9_-][A-Za-z0-9._-]{0,63}: no '/', no leading '.', so it can
 * neither escape the directory nor hide. */
bool store_name_valid(const char *name);

#define STORE_SEGMENT_SIZE_DEFAULT (64ULL << 20)
/* Retention looks at the disk no more often than this, unless a segment was sealed. */
#define STORE_RETENTION_EVERY_USEC (10ULL * 1000000)
/* A checkpoint is written by the commit that reaches this many records
 * or this much time since the last one (and at every rotation). */
#define STORE_CHECKPOINT_RECORDS 4096
#define STORE_CHECKPOINT_USEC (1000ULL * 1000)

/* Early-stored records a host holds ahead of its streams' marks at most;
 * an URGENT record beyond that is not stored (it comes again in order). */
#define STORE_AHEAD_MAX 4096

/* Collector events of the store itself (source COLLECTOR; record.h has the protocol's). */
#define STORE_EV_TORN_TAIL 64 /* TORN_BYTES, SEGMENT, SEGMENT_OFFSET */
#define STORE_EV_SHORT 65     /* CHECKPOINT_RECORDS, JOURNAL_RECORDS: the journal ends before a checkpoint */
/* A stream left the full stream table of its host (store_stream_counter):
 * RETIRED_STREAM_ID, RETIRED_COUNTER, RETIRED_STREAM_SEQ, STREAMS_MAX. */
#define STORE_EV_STREAM_RETIRED 68
/* Event numbers kept for the collector's own events: a record from an
 * agent with one of these (or 7..9, record.h) is refused (PROTOCOL.md 6.3). */
#define STORE_EV_RESERVED_MIN 64
#define STORE_EV_RESERVED_MAX 127
/* ACKED_RECORDS, JOURNAL_RECORDS: the journal ends before what was acknowledged (the acked file) */
#define STORE_EV_ACKED_LOST 66
/* COMMITTED_RECORDS, COMMITTED_END, COMMITTED_CHAIN, REASON: an agent's commitment names what the journal no
 * longer holds */
#define STORE_EV_TAMPER 67

struct store_limits {
	uint64_t segment_size;	/* seal a segment at this size */
	uint64_t host_max_size; /* segments of one host; 0: no limit */
	uint64_t max_size;	/* segments of all hosts; 0: no limit */
	uint64_t max_age_usec;	/* segments last written longer ago are removed; 0: no limit */
};

/* Create STATE_DIR/hosts if needed. Limits: defaults (64 MiB segments, no retention). */
__attribute__((warn_unused_result)) int store_open(struct store **ret, const char *state_dir);
/* Write a last checkpoint of every open host and free. */
void store_free(struct store *s);
void store_set_limits(struct store *s, const struct store_limits *l);
/* Segments created from now on are of format version (1 .. the current
 * one, the default): tests make an older collector's journals with it. */
__attribute__((warn_unused_result)) int store_set_format(struct store *s, unsigned version);
/*
 * At most hosts hosts keep their journal files open (3 descriptors each;
 * 0, the default: no limit). Opening or writing one more closes the
 * least recently written idle ones (a checkpoint first); they reopen when
 * next written, so a collector with more hosts than descriptors keeps
 * working. Hosts with records not yet committed are never closed.
 */
void store_set_open_max(struct store *s, size_t hosts);

/* At most one handshake-rejected event per host this often. */
#define STORE_REJECT_EVENT_USEC (60ULL * 1000000)
/*
 * A handshake with h's key was refused at now (usec): returns true when an
 * event is due (none in the last STORE_REJECT_EVENT_USEC), with *count
 * the refusals since the last event, this one included; false when it is
 * only counted (kept in memory: a restart loses the count, not the next
 * event).
 */
bool store_reject_due(struct store_host *h, uint64_t now, uint64_t *count);

/*
 * Last authenticated contact with h (any transport message, heartbeats
 * included) at now (usec), for kmsgctl --list-hosts and --silent: kept in
 * STATE_DIR/hosts/NAME/contact (STORE_CONTACT_MAGIC, then u64 BE usec),
 * rewritten at most every STORE_CONTACT_USEC and not fsynced: a crash may
 * lose the last update, never a record. Returns 0 or -errno of the write.
 */
#define STORE_CONTACT_FILE "contact"
#define STORE_CONTACT_MAGIC "KSCONT01"
#define STORE_CONTACT_LEN 16
#define STORE_CONTACT_USEC (10ULL * 1000000)
int store_host_contact(struct store_host *h, uint64_t now);

/*
 * The host called name, opened (and recovered) on first use: a torn
 * tail of its last segment is cut, its size given in *ret_cut for the
 * log, and recorded as a STORE_EV_TORN_TAIL event (committed with the
 * next commit). -EUCLEAN when the journal is damaged beyond a torn tail
 * (nothing is changed then).
 */
__attribute__((warn_unused_result)) int store_host(struct store *s, const char *name, struct store_host **ret,
						   long long *ret_cut);
const char *store_host_name(const struct store_host *h);

/*
 * Handshake counter rule: counter must be higher than the highest seen
 * for (host, stream); it is then persisted before this returns 0. A
 * stream not in the table is added (at the bound, after retiring one:
 * store_set_streams_max). -ESTALE for a replayed or old counter, -EUSERS
 * for a new stream when the table is full of streams in use, other
 * -errno when it could not be persisted (the handshake must then fail).
 */
__attribute__((warn_unused_result)) int store_stream_counter(struct store_host *h,
							     const uint8_t sid[STORE_STREAM_ID_LEN],
							     uint64_t counter);

/* Durable high-water mark of a stream (0 for an unknown stream). */
uint64_t store_stream_hwm(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN]);

/* Streams a host's table holds at most by default (store_set_streams_max):
 * its streams file stays under 25 KiB. */
#define STORE_STREAMS_MAX 1024
/*
 * The stream table of each host holds at most n streams (0: the
 * default). A new stream beyond that retires the least recently used
 * finished one (not held, nothing uncommitted, no early records), with a
 * STORE_EV_STREAM_RETIRED event in the journal; when none is finished,
 * store_stream_counter fails with -EUSERS.
 */
void store_set_streams_max(struct store *s, size_t n);
/* Is sid in the host's table? (Constant time in the table size.) */
bool store_stream_known(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN]);
/* A live session holds its stream (hold true), or let it go (false). */
void store_stream_hold(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], bool hold);
/* Streams in the host's table. */
size_t store_stream_count(const struct store_host *h);

/*
 * Append one record (its encoding enc/len, decoded as rec) of stream sid.
 * Returns 1 if appended, 0 if dropped as a duplicate (seq below the
 * stream's pending mark, or stored early), or -errno. A jump forward in
 * seq first appends a collector gap record (GAP_CAUSE=stream-jump,
 * GAP_COUNT, GAP_FIRST_STREAM_SEQ, GAP_LAST_STREAM_SEQ) per run of
 * missing seqs (seqs stored early are not missing).
 */
__attribute__((warn_unused_result)) int store_append(struct store_host *h,
						     const uint8_t sid[STORE_STREAM_ID_LEN],
						     const struct record *rec, const uint8_t *enc, size_t len,
						     uint64_t recv_usec);

/*
 * Store one record of an URGENT message: ahead of its place when its seq
 * is above the stream's pending mark (its entry flagged early, its seq
 * into the stream's ahead set), in place when the seq is the mark.
 * Returns 1 if stored, 0 if dropped as a duplicate (below the mark, or
 * already stored early), 2 if not stored because the host's ahead sets
 * are full (STORE_AHEAD_MAX) or its active segment is of format 1, or
 * -errno (-ERANGE for seq 2^64 - 1 or a collector record).
 */
__attribute__((warn_unused_result)) int store_append_early(struct store_host *h,
							   const uint8_t sid[STORE_STREAM_ID_LEN],
							   const struct record *rec, const uint8_t *enc,
							   size_t len, uint64_t recv_usec);

/* Largest message + fields of a collector event. */
#define STORE_EVENT_MAX 1024

/*
 * Append a collector event (source COLLECTOR, facility 5) of stream sid
 * to the host's buffer; committed with the records. boot_id may be NULL
 * (all zero). Collector events never move a high-water mark.
 * Returns 0 or -errno (-ENOSPC if message and fields exceed
 * STORE_EVENT_MAX).
 */
__attribute__((warn_unused_result)) int store_event(struct store_host *h,
						    const uint8_t sid[STORE_STREAM_ID_LEN], uint16_t event,
						    uint8_t level, uint64_t stream_seq,
						    const uint8_t boot_id[RECORD_BOOT_ID_LEN],
						    const char *msg, const struct record_fields *fb,
						    uint64_t recv_usec);

/* True when some host has appended records not yet committed. */
bool store_dirty(const struct store *s);

/*
 * Group commit: write and fsync every dirty host. Returns 0, or the first
 * -errno; a host whose write or fsync failed is rolled back to its last
 * durable state (file truncated, pending marks reset) and store_host_failed
 * reports it until the next commit.
 */
__attribute__((warn_unused_result)) int store_commit(struct store *s);
bool store_host_failed(const struct store_host *h);

/*
 * Enforce the retention limits (store_set_limits) at time now: per open
 * host by size and age, then all hosts under STATE_DIR/hosts by size
 * (opening the hosts it takes segments from). The active segment of a
 * host is never removed. Before segments are removed, a gap event per
 * stream (GAP_CAUSE=retention, the stream seqs removed, and RETENTION_*
 * fields: reason, records, record numbers, times, segments, bytes) is
 * committed, so completeness reports name the cause. Must be called when
 * nothing is pending (!store_dirty); does nothing more often than every
 * STORE_RETENTION_EVERY_USEC unless a segment was sealed. 0, or the first
 * -errno (what could be removed was).
 */
__attribute__((warn_unused_result)) int store_retention(struct store *s, uint64_t now_usec);

/* The host's journal as of the last commit: records, the position just
 * after the last one, its chain value (what a commitment names). */
void store_host_mark(const struct store_host *h, uint64_t *records, uint64_t *end, uint8_t chain[32]);

/*
 * Does the journal hold what a commitment names: a record records-1
 * ending at position end with chain value chain? 0 yes (or records 0),
 * -ESTALE no (*why says how it differs), -ENOENT those records were
 * removed by retention (nothing to compare), another -errno.
 */
__attribute__((warn_unused_result)) int store_check_commitment(struct store_host *h, uint64_t records,
							       uint64_t end, const uint8_t chain[32],
							       const char **why);
