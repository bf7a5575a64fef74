/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * One host's journal file (docs/STORE.md, format version 0):
 *
 *   file header, 16 bytes: magic "KSJRNL00", 8 bytes reserved (0)
 *   entries, each:
 *     u32 length L of the body
 *     body: u64 receive time (usec since the epoch, collector clock)
 *           16   stream id
 *           L-24 record encoding (record.h)
 *     16   checksum: BLAKE2b-128 over the length and the body
 *
 * Append-only. A torn or damaged tail is cut off by journal_recover.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record.h"

#define JOURNAL_MAGIC "KSJRNL00"
#define JOURNAL_HDR_LEN 16
#define JOURNAL_ENTRY_OVERHEAD (4 + 8 + 16 + 16)

struct journal_entry {
	uint64_t recv_usec;
	const uint8_t *stream_id; /* 16 bytes */
	struct record rec;
	off_t offset; /* of the entry in the file */
};

/* Encode an entry into out (cap >= len + JOURNAL_ENTRY_OVERHEAD). Returns its length. */
size_t journal_encode(uint8_t *out, uint64_t recv_usec, const uint8_t stream_id[16], const uint8_t *rec,
		      size_t len);

/*
 * Sequential reader over a journal file opened read-only. Works while the
 * collector appends: an incomplete tail reads as "no more yet".
 */
struct journal_reader;

__attribute__((warn_unused_result)) int journal_reader_open(struct journal_reader **ret, const char *path);
void journal_reader_free(struct journal_reader *r);
/*
 * Next entry: 1 and *e (valid until the next call), 0 at the current end,
 * -EBADMSG for a damaged entry at *e->offset (the reader stops there).
 */
int journal_reader_next(struct journal_reader *r, struct journal_entry *e);
/* Offset just after the last good entry returned. */
off_t journal_reader_offset(const struct journal_reader *r);

/*
 * Open path for appending (creating it with a header if new), scan it with
 * cb called on every good entry, and cut off anything after the last good
 * entry. *ret_cut receives the number of bytes cut. Returns the fd or -errno;
 * -EUCLEAN (file untouched) when more than one entry's worth of bytes
 * follows the last good entry: that is damage, not a torn append.
 */
typedef void (*journal_scan_fn)(const struct journal_entry *e, void *data);
__attribute__((warn_unused_result)) int journal_recover(const char *path, journal_scan_fn cb, void *data,
							off_t *ret_cut);
