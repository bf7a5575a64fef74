/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "durable.h"
#include "segindex.h"

#define SEGINDEX_SUM_AT 88

static const uint8_t zero16[16];

void segindex_encode(uint8_t out[SEGINDEX_ENTRY_LEN], const struct segindex_block *b)
{
	memset(out, 0, SEGINDEX_ENTRY_LEN);
	put_be64(out, b->first_recno);
	put_be64(out + 8, b->offset);
	put_be32(out + 16, b->bytes);
	put_be32(out + 20, b->count);
	out[24] = b->levels;
	out[25] = b->flags;
	put_be64(out + 32, b->min_real);
	put_be64(out + 40, b->max_real);
	memcpy(out + 48, b->stream_id, 16);
	put_be64(out + 64, b->hwm);
	memcpy(out + 72, b->boot_id, 16);
	crypto_generichash(out + SEGINDEX_SUM_AT, 16, out, SEGINDEX_SUM_AT, NULL, 0);
}

int segindex_decode(const uint8_t in[SEGINDEX_ENTRY_LEN], struct segindex_block *ret)
{
	uint8_t sum[16];
	crypto_generichash(sum, sizeof(sum), in, SEGINDEX_SUM_AT, NULL, 0);
	if (sodium_memcmp(sum, in + SEGINDEX_SUM_AT, 16) != 0 || (in[25] & ~SEGINDEX_F_EARLY) != 0 ||
	    memcmp(in + 26, zero16, 6) != 0)
		return -EBADMSG;
	struct segindex_block b = {
		.first_recno = get_be64(in),
		.offset = get_be64(in + 8),
		.bytes = get_be32(in + 16),
		.count = get_be32(in + 20),
		.levels = in[24],
		.flags = in[25],
		.min_real = get_be64(in + 32),
		.max_real = get_be64(in + 40),
		.hwm = get_be64(in + 64),
	};
	memcpy(b.stream_id, in + 48, 16);
	memcpy(b.boot_id, in + 72, 16);
	if (b.count == 0 || b.count > SEGINDEX_BLOCK_RECORDS || b.bytes == 0)
		return -EBADMSG;
	*ret = b;
	return 0;
}

void segindex_header(uint8_t out[SEGINDEX_HDR_LEN], uint64_t base)
{
	memcpy(out, SEGINDEX_MAGIC, 8);
	put_be64(out + 8, base);
}

uint8_t segindex_level_bit(uint8_t level)
{
	return level < 8 ? (uint8_t)(1u << level) : 0xff;
}

bool segindex_block_breaks(const struct segindex_block *b, const uint8_t sid[16], const uint8_t boot[16])
{
	if (b->count >= SEGINDEX_BLOCK_RECORDS || memcmp(b->stream_id, sid, 16) != 0)
		return true;
	return memcmp(boot, zero16, 16) != 0 && memcmp(b->boot_id, zero16, 16) != 0 &&
	       memcmp(boot, b->boot_id, 16) != 0;
}

void segindex_block_add_entry(struct segindex_block *b, uint64_t recno, uint64_t offset, uint32_t size,
			      const uint8_t sid[16], const struct record *rec, bool early)
{
	if (b->count == 0) {
		memset(b, 0, sizeof(*b));
		b->first_recno = recno;
		b->offset = offset;
		memcpy(b->stream_id, sid, 16);
		b->min_real = b->max_real = rec->real_usec;
	}
	b->count++;
	b->bytes += size;
	b->levels |= segindex_level_bit(rec->level);
	if (rec->real_usec < b->min_real)
		b->min_real = rec->real_usec;
	if (rec->real_usec > b->max_real)
		b->max_real = rec->real_usec;
	if (memcmp(b->boot_id, zero16, 16) == 0)
		memcpy(b->boot_id, rec->boot_id, 16);
	/* Collector records carry their session's seq: not the stream's. An
	 * early-stored record is ahead of the stream's mark: it says nothing
	 * about the records below it. */
	if (early)
		b->flags |= SEGINDEX_F_EARLY;
	else if (rec->source != RECORD_SRC_COLLECTOR && rec->stream_seq + 1 > b->hwm)
		b->hwm = rec->stream_seq + 1;
}

void segindex_block_add(struct segindex_block *b, uint64_t recno, uint64_t offset, uint32_t size,
			const uint8_t sid[16], const struct record *rec)
{
	segindex_block_add_entry(b, recno, offset, size, sid, rec, false);
}

int segindex_load(const char *path, uint64_t base, uint64_t first_off, uint64_t first_recno,
		  uint64_t seg_size, struct segindex_block **ret, size_t *ret_n, uint64_t *ret_good)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	uint8_t hdr[SEGINDEX_HDR_LEN];
	int r = fstat(fd, &st) < 0 ? -errno : pread_all(fd, hdr, sizeof(hdr), 0);
	if (r == -ENODATA || (r == 0 && (memcmp(hdr, SEGINDEX_MAGIC, 8) != 0 || get_be64(hdr + 8) != base)))
		r = -EBADMSG;
	if (r < 0) {
		close(fd);
		return r;
	}
	size_t max = (size_t)((st.st_size - SEGINDEX_HDR_LEN) / SEGINDEX_ENTRY_LEN);
	uint8_t *raw = max ? malloc(max * SEGINDEX_ENTRY_LEN) : NULL;
	struct segindex_block *b = max ? malloc(max * sizeof(*b)) : NULL;
	if (max && (!raw || !b)) {
		free(raw);
		free(b);
		close(fd);
		return -ENOMEM;
	}
	if (max && (r = pread_all(fd, raw, max * SEGINDEX_ENTRY_LEN, SEGINDEX_HDR_LEN)) < 0) {
		/* Shrunk meanwhile: use what is there on the next look. */
		max = 0;
	}
	close(fd);
	size_t n = 0;
	uint64_t off = first_off, recno = first_recno;
	for (size_t i = 0; i < max; i++) {
		struct segindex_block x;
		if (segindex_decode(raw + i * SEGINDEX_ENTRY_LEN, &x) < 0 || x.offset != off ||
		    x.first_recno != recno || off > seg_size || x.bytes > seg_size - off)
			break;
		b[n++] = x;
		off += x.bytes;
		recno += x.count;
	}
	free(raw);
	if (n == 0) {
		free(b);
		b = NULL;
	}
	*ret = b;
	*ret_n = n;
	*ret_good = SEGINDEX_HDR_LEN + n * SEGINDEX_ENTRY_LEN;
	return 0;
}
