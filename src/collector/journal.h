/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Reading one host's journal (docs/STORE.md, format 2 or 1): the segment
 * files of its directory (segment.h) in order of their base, read
 * read-only and sequentially, their sparse indexes (segindex.h) used to
 * skip blocks that cannot hold a selected record.
 *
 * An entry is named by its logical position (segment base + offset in the
 * segment file): positions only grow, and stay valid when retention
 * removes older segments. The reader works while the collector appends
 * and rotates: an incomplete entry at the end reads as "no more for now",
 * and new segments are picked up when the last one is read to its end.
 *
 * The reader checks each entry it returns (length, checksum, record
 * encoding); chain and record numbers are kmsgctl --verify's (verify.h).
 *
 * It returns entries in stored order. An entry stored early (e->early,
 * docs/STORE.md "Early records") belongs further on in its stream; query.c
 * puts it there, with journal_reader_early() when it starts mid-journal.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record.h"

struct journal_entry {
	uint64_t recno;
	uint64_t recv_usec;
	const uint8_t *stream_id; /* 16 bytes */
	struct record rec;
	off_t offset; /* logical position of the entry */
	bool early;   /* stored ahead of its place in its stream (SEGMENT_ENTRY_EARLY) */
};

/* An early-stored entry, by stream and seq. */
struct journal_early {
	uint8_t stream_id[16];
	uint64_t seq;
	off_t offset;
};

/*
 * What the caller will show at most: entries that cannot match are
 * skipped, whole index blocks at a time (levels: bit l = level l; boot:
 * only records of that boot id).
 */
struct journal_select {
	uint8_t levels;
	bool has_since, has_until;
	uint64_t since, until; /* realtime, usec, inclusive */
	bool has_boot;
	uint8_t boot[16];
};

struct journal_reader;

/* The journal in the host directory dir. -ENOENT when it holds no segment yet. */
__attribute__((warn_unused_result)) int journal_reader_open(struct journal_reader **ret, const char *dir);
void journal_reader_free(struct journal_reader *r);

/* From now on skip what sel rules out (NULL: nothing). */
void journal_reader_select(struct journal_reader *r, const struct journal_select *sel);

/*
 * Next entry: 1 and *e (valid until the next call), 0 at the current
 * end, -EBADMSG for a damaged entry at e->offset (the reader stays there:
 * it returns the same again), or -errno.
 */
int journal_reader_next(struct journal_reader *r, struct journal_entry *e);

/* Position just after the last entry returned (or the start). */
off_t journal_reader_offset(const struct journal_reader *r);

/*
 * Go on with the entry at position pos. -ESTALE when no segment holds pos
 * (removed by retention, or never there).
 */
__attribute__((warn_unused_result)) int journal_reader_seek(struct journal_reader *r, off_t pos);

/*
 * The entry at position pos, read on its own (the sequential reading is
 * not disturbed). *ret is valid until the next call. -ESTALE (no such
 * segment), -EBADMSG, -errno.
 */
__attribute__((warn_unused_result)) int journal_reader_read_at(struct journal_reader *r, off_t pos,
							       struct journal_entry *ret);

/*
 * A position from which at least records entries follow that the
 * selection does not rule out by the indexes (without reading the
 * segments), at a block start: for -n. 1 when it is the journal's start
 * (nothing before it), 0 otherwise.
 */
__attribute__((warn_unused_result)) int journal_reader_back(struct journal_reader *r, uint64_t records,
							    off_t *ret);

/*
 * The boot ids of the journal's records (non-zero ones), in the order of
 * their first record, from the indexes and a scan of what they do not
 * cover: *ret (malloc'd, NULL when none) and *ret_n. -EBADMSG when an
 * unindexed entry is damaged (*ret_at: its position; the boots before it
 * are returned), -errno.
 */
__attribute__((warn_unused_result)) int journal_reader_boots(struct journal_reader *r, uint8_t (**ret)[16],
							     size_t *ret_n, off_t *ret_at);

/*
 * The early-stored entries before position pos (an entry's, or the end)
 * whose place is not before pos: no entry of their stream stored in
 * order before pos has a higher stream seq. A reader that starts at pos
 * shows them where their seqs put them. Found in the header of pos's
 * segment and that segment's entries before pos (by the index where it
 * flags blocks). *ret (malloc'd, NULL when none) by stream and seq, and
 * *ret_n. -ESTALE (no segment holds pos), -EBADMSG, -errno.
 */
__attribute__((warn_unused_result)) int journal_reader_early(struct journal_reader *r, off_t pos,
							     struct journal_early **ret, size_t *ret_n);

/* First position of the journal (its oldest segment's first entry). */
off_t journal_reader_start(const struct journal_reader *r);
