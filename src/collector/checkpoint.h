/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * A host's checkpoints (docs/STORE.md, "Checkpoints"): the file
 * "checkpoints" in its directory, a 16-byte header (magic "KSCKP001", 8
 * reserved) and 96-byte entries, appended:
 *
 *    0  8  records: the journal held this many records (record numbers
 *          0 .. records-1; retention may have removed the oldest since)
 *    8  8  end: logical position just after record records-1
 *   16  8  base of the segment holding that end
 *   24  8  written: usec since the epoch, collector clock
 *   32 32  chain value of record records-1 (of the journal's start when
 *          records is 0)
 *   64 16  reserved (0)
 *   80 16  checksum: BLAKE2b-128 of 0..79
 *
 * A checkpoint is written only for records already fsynced, so one that
 * claims more than the journal holds means the journal was cut.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHECKPOINT_MAGIC "KSCKP001"
#define CHECKPOINT_HDR_LEN 16
#define CHECKPOINT_LEN 96
#define CHECKPOINT_FILE "checkpoints"

struct checkpoint {
	uint64_t records;
	uint64_t end;
	uint64_t segment;
	uint64_t written_usec;
	uint8_t chain[32];
};

void checkpoint_encode(uint8_t out[CHECKPOINT_LEN], const struct checkpoint *c);
/* 0 or -EBADMSG. */
__attribute__((warn_unused_result)) int checkpoint_decode(const uint8_t in[CHECKPOINT_LEN],
							  struct checkpoint *ret);
void checkpoint_header(uint8_t out[CHECKPOINT_HDR_LEN]);

/*
 * The entries of path up to the first bad one: *ret (malloc'd or NULL),
 * *ret_n, *ret_good (the file size holding exactly them) and *ret_size
 * (the file's size). -ENOENT, -EBADMSG (bad header), -errno.
 */
__attribute__((warn_unused_result)) int checkpoint_load(const char *path, struct checkpoint **ret,
							size_t *ret_n, off_t *ret_good, off_t *ret_size);

/*
 * The acknowledged mark (docs/STORE.md, "acked"): the file "acked" in the
 * host's directory, rewritten in place (pwrite at offset 0, not fsynced)
 * after every commit that wrote records, once they are fsynced and before
 * the acks of that commit go out. It is what the collector has told its
 * agents is durable, kept out of the segments so that a cut of a
 * segment's tail cannot also remove it:
 *
 *    0  8  magic "KSACK001"
 *    8  8  records: the journal held this many records
 *   16  8  end: logical position just after record records-1
 *   24  8  written: usec since the epoch, collector clock
 *   32 32  chain value of record records-1
 *   64  4  n: streams that follow
 *   68  4  reserved (0)
 *   72 24n per stream: 16 stream id, u64 durable mark (every agent
 *          record of the stream below it was fsynced; no ack exceeds it)
 *   72+24n 16  checksum: BLAKE2b-128 of 0 .. 72+24n-1
 * Bytes after the checksum are left over from a longer earlier mark.
 */
#define ACKED_FILE "acked"
#define ACKED_MAGIC "KSACK001"
#define ACKED_HDR_LEN 72
#define ACKED_STREAM_LEN 24
#define ACKED_SUM_LEN 16
#define ACKED_STREAMS_MAX 65536

struct acked_stream {
	uint8_t id[16];
	uint64_t hwm;
};

struct acked {
	uint64_t records;
	uint64_t end;
	uint64_t written_usec;
	uint8_t chain[32];
	struct acked_stream *streams; /* malloc'd by acked_load */
	size_t nstreams;
};

static inline size_t acked_size(size_t nstreams)
{
	return ACKED_HDR_LEN + nstreams * ACKED_STREAM_LEN + ACKED_SUM_LEN;
}

/* out holds acked_size(a->nstreams) bytes. */
void acked_encode(uint8_t *out, const struct acked *a);

/* Read path into *ret (ret->streams malloc'd; acked_free). -ENOENT,
 * -EBADMSG (magic, size or checksum), -ENOMEM, -errno. */
__attribute__((warn_unused_result)) int acked_load(const char *path, struct acked *ret);
void acked_free(struct acked *a);

/* The mark of stream id, 0 when it names none. */
uint64_t acked_stream_hwm(const struct acked *a, const uint8_t id[16]);
