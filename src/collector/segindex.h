/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The sparse index of one segment (docs/STORE.md, "Index"): the file
 * BASE.idx next to BASE.seg, a 16-byte header (magic "KSIDX001", u64
 * base) and one 104-byte entry per block of consecutive entries:
 *
 *    0  8  first record number     32  8  lowest realtime
 *    8  8  file offset in segment  40  8  highest realtime
 *   16  4  bytes of the block      48 16  stream id
 *   20  4  records                 64  8  stream hwm: highest seq of an
 *   24  1  levels: bit l = a record       agent record not stored early,
 *          of level l (0xff: some         + 1 (0: none)
 *          level > 7)              72 16  boot id (the block's non-zero
 *   25  1  flags: SEGINDEX_F_EARLY        one; 0: none)
 *          (others 0)              88 16  checksum: BLAKE2b-128 of 0..87
 *   26  6  reserved (0)
 *
 * Blocks follow the writer's rule (segindex_block_breaks): at most
 * SEGINDEX_BLOCK_RECORDS records, one stream, one non-zero boot id, and
 * a segment ends its last block. The rule only depends on the records,
 * so a block is the same whoever rebuilds it. The index is derived data:
 * it is written without fsync and rebuilt from the segment when it is
 * shorter, and readers only use the entries that tile the segment from
 * its first entry on (segindex_load).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define SEGINDEX_MAGIC "KSIDX001"
#define SEGINDEX_HDR_LEN 16
#define SEGINDEX_ENTRY_LEN 104
#define SEGINDEX_BLOCK_RECORDS 64
/* Flag: the block holds an early-stored entry (SEGMENT_ENTRY_EARLY). */
#define SEGINDEX_F_EARLY 0x01u

struct segindex_block {
	uint64_t first_recno;
	uint64_t offset; /* in the segment file */
	uint32_t bytes, count;
	uint8_t levels;
	uint8_t flags; /* SEGINDEX_F_* */
	uint64_t min_real, max_real;
	uint8_t stream_id[16];
	uint64_t hwm;
	uint8_t boot_id[16];
};

void segindex_encode(uint8_t out[SEGINDEX_ENTRY_LEN], const struct segindex_block *b);
/* 0, or -EBADMSG for a bad checksum or reserved bytes. */
__attribute__((warn_unused_result)) int segindex_decode(const uint8_t in[SEGINDEX_ENTRY_LEN],
							struct segindex_block *ret);
void segindex_header(uint8_t out[SEGINDEX_HDR_LEN], uint64_t base);

/* Must the block b (count > 0) end before a record of stream sid and boot? */
bool segindex_block_breaks(const struct segindex_block *b, const uint8_t sid[16], const uint8_t boot[16]);
/* Add the entry (record number, file offset, size) holding rec of stream
 * sid; early: the entry has SEGMENT_ENTRY_EARLY (it sets the block's flag
 * and does not count for the block's stream hwm). */
void segindex_block_add_entry(struct segindex_block *b, uint64_t recno, uint64_t offset, uint32_t size,
			      const uint8_t sid[16], const struct record *rec, bool early);
/* The same for an entry without flags. */
void segindex_block_add(struct segindex_block *b, uint64_t recno, uint64_t offset, uint32_t size,
			const uint8_t sid[16], const struct record *rec);
/* The level bit of level (0xff for a level > 7: it can match any filter). */
uint8_t segindex_level_bit(uint8_t level);

/*
 * The usable entries of the index at path: from its first entry on, as
 * long as each one decodes, starts where the previous ended (the first at
 * first_off with record number first_recno) and ends at or before
 * seg_size. *ret (malloc'd, may be NULL when *ret_n is 0), *ret_n, and
 * *ret_good the file size that holds exactly them. -ENOENT, -EBADMSG (bad
 * header), -errno.
 */
__attribute__((warn_unused_result)) int segindex_load(const char *path, uint64_t base, uint64_t first_off,
						      uint64_t first_recno, uint64_t seg_size,
						      struct segindex_block **ret, size_t *ret_n,
						      uint64_t *ret_good);
