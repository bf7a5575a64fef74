/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * One segment file of a host's journal (docs/STORE.md, format 3; formats
 * 1 and 2 are still read, and appended to until the next rotation). All
 * integers big-endian.
 *
 *   header: magic "KSSEG003", u64 base (logical position of byte 0),
 *           u64 first record number, u64 created (usec, collector clock),
 *           32 chain in (chain value of the record before the first),
 *           u32 n, u32 m, n x (16 stream id, u64 hwm),
 *           m x (16 stream id, u64 stream seq, u64 position): the
 *           early-stored records of earlier segments whose place had not
 *           come when this one began,
 *           16 checksum: BLAKE2b-128 of everything before it
 *           (format 1, "KSSEG001": m is a reserved 0)
 *   entries, back to back:
 *       u32 L: bits 0..23 the length of the body, bits 24..31 flags
 *              (SEGMENT_ENTRY_EARLY; the others 0)
 *       body: u64 record number, u64 receive time, 16 stream id,
 *             L-32 record encoding (record.h)
 *       format 3: u32 checksum: CRC-32C of the length and the body
 *                 32 chain: BLAKE2b-256(previous chain || digest), the
 *                    digest being BLAKE2b-256 of the length and the body
 *       formats 1, 2: 32 checksum: BLAKE2b-256 of the length and the body
 *                     (it is the digest), 32 chain as above
 *
 * Readers check the cheap checksum of every entry they return; only the
 * verifier and recovery compute the chain. A record's logical position is
 * base + its offset in the file; the next segment's base is this one's
 * base + this file's size, so positions grow across segments and name a
 * record for good (cursors).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bytes.h"
#include "record.h"

#define SEGMENT_MAGIC "KSSEG003"
#define SEGMENT_MAGIC_V2 "KSSEG002"
#define SEGMENT_MAGIC_V1 "KSSEG001"
#define SEGMENT_VERSION 3
#define SEGMENT_HDR_FIXED 72
#define SEGMENT_HDR_SUM 16
#define SEGMENT_STREAM_LEN 24
#define SEGMENT_EARLY_LEN 32
/* A host with more streams than this (agent reinstalls) keeps the
 * newest-numbered ones in the header; see store.c. */
#define SEGMENT_STREAMS_MAX 4096
/* Early-stored records a header lists at most (the store holds no more
 * of a host ahead of its streams' marks: STORE_AHEAD_MAX). */
#define SEGMENT_EARLY_MAX 4096
#define SEGMENT_HDR_MIN (SEGMENT_HDR_FIXED + SEGMENT_HDR_SUM)
#define SEGMENT_HDR_MAX \
	(SEGMENT_HDR_MIN + SEGMENT_STREAMS_MAX * SEGMENT_STREAM_LEN + SEGMENT_EARLY_MAX * SEGMENT_EARLY_LEN)

#define SEGMENT_HASH_LEN 32
#define SEGMENT_CRC_LEN 4
#define SEGMENT_BODY_FIXED (8 + 8 + 16)
/* Bytes after the body: checksum and chain value. */
static inline size_t segment_entry_trailer(unsigned version)
{
	return (version >= 3 ? SEGMENT_CRC_LEN : SEGMENT_HASH_LEN) + SEGMENT_HASH_LEN;
}
/* An entry's bytes besides its record: the most of any format (2). */
#define SEGMENT_ENTRY_OVERHEAD (4 + SEGMENT_BODY_FIXED + 2 * SEGMENT_HASH_LEN)
#define SEGMENT_ENTRY_MAX (SEGMENT_ENTRY_OVERHEAD + RECORD_MAX)
/* Entry flags (the top byte of the length word). EARLY: the collector
 * stored this agent record ahead of its place in the stream (an URGENT
 * message, docs/PROTOCOL.md 5.9): records of its stream with lower stream
 * seqs may follow it in the journal, and it does not move the stream's
 * mark. Readers show it where its stream seq puts it. */
#define SEGMENT_ENTRY_EARLY 0x01u
#define SEGMENT_ENTRY_FLAGS_KNOWN SEGMENT_ENTRY_EARLY

/* File names: 16 lower-case hex digits of the base, then these. */
#define SEGMENT_SUFFIX ".seg"
#define SEGMENT_INDEX_SUFFIX ".idx"
#define SEGMENT_NAME_LEN (16 + 4)

struct segment_stream {
	uint8_t id[16];
	uint64_t hwm; /* every agent record of the stream with seq < hwm is stored */
};

/* An early-stored record (SEGMENT_ENTRY_EARLY) of an earlier segment. */
struct segment_early {
	uint8_t id[16];
	uint64_t seq;
	uint64_t pos; /* logical position of its entry */
};

struct segment_header {
	unsigned version; /* 1, 2 or 3 (encode: 0 is the current one) */
	uint64_t base;
	uint64_t first_recno;
	uint64_t created_usec;
	uint8_t chain_in[SEGMENT_HASH_LEN];
	struct segment_stream *streams; /* decode: malloc'd, segment_header_free */
	size_t nstreams;
	struct segment_early *early; /* decode: malloc'd, segment_header_free */
	size_t nearly;
	size_t len; /* bytes of the header: entries start here */
};

/* Header bytes with nstreams stream entries and no early entry. */
static inline size_t segment_header_size(size_t nstreams)
{
	return SEGMENT_HDR_MIN + nstreams * SEGMENT_STREAM_LEN;
}

static inline size_t segment_header_len(const struct segment_header *h)
{
	return segment_header_size(h->nstreams) + h->nearly * SEGMENT_EARLY_LEN;
}

/* out has segment_header_len(h) bytes; format 1 lists no early entry. */
void segment_header_encode(uint8_t *out, const struct segment_header *h);
/*
 * Read and check the header of the segment file fd (format 1, 2 or 3).
 * -EBADMSG (bad magic, count or checksum), -ENODATA (file shorter than
 * its header), -errno.
 */
__attribute__((warn_unused_result)) int segment_header_read(int fd, struct segment_header *ret);
void segment_header_free(struct segment_header *h);

/* "%016llx.seg" of base into out (cap >= SEGMENT_NAME_LEN + 1); suffix: one of the two above. */
void segment_name(char *out, size_t cap, uint64_t base, const char *suffix);
/* The base of a file name "%016x" + suffix; -EINVAL for any other name. */
__attribute__((warn_unused_result)) int segment_name_parse(const char *name, const char *suffix,
							   uint64_t *ret);

/*
 * Encode an entry of format version into out (cap >= len +
 * SEGMENT_ENTRY_OVERHEAD) with flags (SEGMENT_ENTRY_*; none in format 1).
 * chain: in the previous entry's chain value, out this one's. Returns the
 * length.
 */
size_t segment_entry_encode(uint8_t *out, unsigned version, uint64_t recno, uint64_t recv_usec,
			    const uint8_t sid[16], const uint8_t *rec, size_t len, unsigned flags,
			    uint8_t chain[SEGMENT_HASH_LEN]);

/* Entry size from its first 4 bytes; 0 when the length is out of range
 * or an unknown flag is set. */
static inline size_t segment_entry_size(const uint8_t *p, unsigned version)
{
	uint32_t word = get_be32(p), body = word & 0xffffffu;
	if ((word >> 24) & ~SEGMENT_ENTRY_FLAGS_KNOWN)
		return 0;
	if (body < SEGMENT_BODY_FIXED + RECORD_HDR_LEN || body > SEGMENT_BODY_FIXED + RECORD_MAX)
		return 0;
	return 4 + (size_t)body + segment_entry_trailer(version);
}
static inline unsigned segment_entry_flags(const uint8_t *p)
{
	return p[0];
}
static inline uint64_t segment_entry_recno(const uint8_t *p)
{
	return get_be64(p + 4);
}
static inline uint64_t segment_entry_recv(const uint8_t *p)
{
	return get_be64(p + 12);
}
static inline const uint8_t *segment_entry_sid(const uint8_t *p)
{
	return p + 20;
}
/* The record of an entry whose size segment_entry_size() accepted. */
static inline const uint8_t *segment_entry_record(const uint8_t *p, size_t *len)
{
	*len = (get_be32(p) & 0xffffffu) - SEGMENT_BODY_FIXED;
	return p + 4 + SEGMENT_BODY_FIXED;
}
static inline const uint8_t *segment_entry_chain(const uint8_t *p, size_t size)
{
	return p + size - SEGMENT_HASH_LEN;
}

/* True when the checksum of the entry of size bytes at p is right. */
bool segment_entry_sum_ok(const uint8_t *p, size_t size, unsigned version);
/* The digest the chain links (format 3: computed; 1, 2: the stored
 * checksum, which the caller checked with segment_entry_sum_ok). */
void segment_entry_digest(uint8_t out[SEGMENT_HASH_LEN], const uint8_t *p, size_t size, unsigned version);
/* next = BLAKE2b-256(prev || digest). */
void segment_chain_next(uint8_t next[SEGMENT_HASH_LEN], const uint8_t prev[SEGMENT_HASH_LEN],
			const uint8_t digest[SEGMENT_HASH_LEN]);

/*
 * Sequential reader of one segment file, buffered. It checks the length
 * range and, when asked, the checksum; chain and record numbers are the
 * caller's. Works while the writer appends: an incomplete entry at the
 * end reads as "no more for now".
 */
struct segment_reader;

/* fd is borrowed (not closed), a segment of format version; entries start at file offset from. */
__attribute__((warn_unused_result)) int segment_reader_new(struct segment_reader **ret, int fd,
							   unsigned version, off_t from);
void segment_reader_free(struct segment_reader *r);
/*
 * Next entry: 1, *p (valid until the next call) and *size; 0 at the
 * current end; -EBADMSG for a bad length or (check_sum) checksum at
 * segment_reader_offset (the reader stays there); -errno.
 */
int segment_reader_next(struct segment_reader *r, bool check_sum, const uint8_t **p, size_t *size);
/* File offset just after the last entry returned (or the start). */
off_t segment_reader_offset(const struct segment_reader *r);
/* Go on from file offset off (an entry boundary). */
void segment_reader_seek(struct segment_reader *r, off_t off);
