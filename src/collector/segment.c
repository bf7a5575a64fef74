/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crc32c.h"
#include "durable.h"
#include "segment.h"

/* The reader's buffer: big reads, room for the largest entry after them. */
#define SEGMENT_READ_CHUNK (1 << 20)

/* The magic of each format, by version. */
static const char *const magics[SEGMENT_VERSION + 1] = {
	[1] = SEGMENT_MAGIC_V1,
	[2] = SEGMENT_MAGIC_V2,
	[SEGMENT_VERSION] = SEGMENT_MAGIC,
};

void segment_header_encode(uint8_t *out, const struct segment_header *h)
{
	unsigned v = h->version >= 1 && h->version <= SEGMENT_VERSION ? h->version : SEGMENT_VERSION;
	memcpy(out, magics[v], 8);
	put_be64(out + 8, h->base);
	put_be64(out + 16, h->first_recno);
	put_be64(out + 24, h->created_usec);
	memcpy(out + 32, h->chain_in, SEGMENT_HASH_LEN);
	put_be32(out + 64, (uint32_t)h->nstreams);
	put_be32(out + 68, (uint32_t)h->nearly);
	uint8_t *p = out + SEGMENT_HDR_FIXED;
	for (size_t i = 0; i < h->nstreams; i++, p += SEGMENT_STREAM_LEN) {
		memcpy(p, h->streams[i].id, 16);
		put_be64(p + 16, h->streams[i].hwm);
	}
	for (size_t i = 0; i < h->nearly; i++, p += SEGMENT_EARLY_LEN) {
		memcpy(p, h->early[i].id, 16);
		put_be64(p + 16, h->early[i].seq);
		put_be64(p + 24, h->early[i].pos);
	}
	crypto_generichash(p, SEGMENT_HDR_SUM, out, (size_t)(p - out), NULL, 0);
}

int segment_header_read(int fd, struct segment_header *ret)
{
	uint8_t fixed[SEGMENT_HDR_FIXED];
	int r = pread_all(fd, fixed, sizeof(fixed), 0);
	if (r < 0)
		return r;
	unsigned version = 0;
	for (unsigned v = 1; v <= SEGMENT_VERSION; v++)
		if (memcmp(fixed, magics[v], 8) == 0)
			version = v;
	uint32_t n = get_be32(fixed + 64), m = get_be32(fixed + 68);
	/* Format 1 has a reserved zero where format 2 counts early entries. */
	if (version == 0 || n > SEGMENT_STREAMS_MAX || m > SEGMENT_EARLY_MAX || (version == 1 && m != 0))
		return -EBADMSG;
	size_t len = segment_header_size(n) + (size_t)m * SEGMENT_EARLY_LEN;
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	struct segment_stream *st = n ? calloc(n, sizeof(*st)) : NULL;
	struct segment_early *ea = m ? calloc(m, sizeof(*ea)) : NULL;
	if ((n && !st) || (m && !ea)) {
		free(buf);
		free(st);
		free(ea);
		return -ENOMEM;
	}
	r = pread_all(fd, buf, len, 0);
	uint8_t sum[SEGMENT_HDR_SUM];
	if (r == 0) {
		crypto_generichash(sum, sizeof(sum), buf, len - SEGMENT_HDR_SUM, NULL, 0);
		if (sodium_memcmp(sum, buf + len - SEGMENT_HDR_SUM, SEGMENT_HDR_SUM) != 0)
			r = -EBADMSG;
	}
	if (r < 0) {
		free(buf);
		free(st);
		free(ea);
		return r;
	}
	ret->version = version;
	ret->base = get_be64(buf + 8);
	ret->first_recno = get_be64(buf + 16);
	ret->created_usec = get_be64(buf + 24);
	memcpy(ret->chain_in, buf + 32, SEGMENT_HASH_LEN);
	const uint8_t *p = buf + SEGMENT_HDR_FIXED;
	for (uint32_t i = 0; i < n; i++, p += SEGMENT_STREAM_LEN) {
		memcpy(st[i].id, p, 16);
		st[i].hwm = get_be64(p + 16);
	}
	for (uint32_t i = 0; i < m; i++, p += SEGMENT_EARLY_LEN) {
		memcpy(ea[i].id, p, 16);
		ea[i].seq = get_be64(p + 16);
		ea[i].pos = get_be64(p + 24);
	}
	ret->streams = st;
	ret->nstreams = n;
	ret->early = ea;
	ret->nearly = m;
	ret->len = len;
	free(buf);
	return 0;
}

void segment_header_free(struct segment_header *h)
{
	free(h->streams);
	h->streams = NULL;
	h->nstreams = 0;
	free(h->early);
	h->early = NULL;
	h->nearly = 0;
}

void segment_name(char *out, size_t cap, uint64_t base, const char *suffix)
{
	snprintf(out, cap, "%016llx%s", (unsigned long long)base, suffix);
}

int segment_name_parse(const char *name, const char *suffix, uint64_t *ret)
{
	if (strlen(name) != 16 + strlen(suffix) || strcmp(name + 16, suffix) != 0)
		return -EINVAL;
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = name[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*ret = v;
	return 0;
}

size_t segment_entry_encode(uint8_t *out, unsigned version, uint64_t recno, uint64_t recv_usec,
			    const uint8_t sid[16], const uint8_t *rec, size_t len, unsigned flags,
			    uint8_t chain[SEGMENT_HASH_LEN])
{
	size_t body = SEGMENT_BODY_FIXED + len;
	if (version < 2)
		flags = 0;
	put_be32(out, (uint32_t)body | (uint32_t)(flags & SEGMENT_ENTRY_FLAGS_KNOWN) << 24);
	put_be64(out + 4, recno);
	put_be64(out + 12, recv_usec);
	memcpy(out + 20, sid, 16);
	memcpy(out + 4 + SEGMENT_BODY_FIXED, rec, len);
	uint8_t *t = out + 4 + body, digest[SEGMENT_HASH_LEN];
	crypto_generichash(digest, sizeof(digest), out, 4 + body, NULL, 0);
	segment_chain_next(chain, chain, digest);
	if (version >= 3) {
		put_be32(t, crc32c(out, 4 + body));
		t += SEGMENT_CRC_LEN;
	} else {
		memcpy(t, digest, SEGMENT_HASH_LEN);
		t += SEGMENT_HASH_LEN;
	}
	memcpy(t, chain, SEGMENT_HASH_LEN);
	return (size_t)(t + SEGMENT_HASH_LEN - out);
}

bool segment_entry_sum_ok(const uint8_t *p, size_t size, unsigned version)
{
	size_t n = size - segment_entry_trailer(version);
	if (version >= 3)
		return crc32c(p, n) == get_be32(p + n);
	uint8_t sum[SEGMENT_HASH_LEN];
	crypto_generichash(sum, sizeof(sum), p, n, NULL, 0);
	return sodium_memcmp(sum, p + n, SEGMENT_HASH_LEN) == 0;
}

void segment_entry_digest(uint8_t out[SEGMENT_HASH_LEN], const uint8_t *p, size_t size, unsigned version)
{
	size_t n = size - segment_entry_trailer(version);
	if (version >= 3)
		crypto_generichash(out, SEGMENT_HASH_LEN, p, n, NULL, 0);
	else
		memcpy(out, p + n, SEGMENT_HASH_LEN);
}

void segment_chain_next(uint8_t next[SEGMENT_HASH_LEN], const uint8_t prev[SEGMENT_HASH_LEN],
			const uint8_t digest[SEGMENT_HASH_LEN])
{
	uint8_t in[2 * SEGMENT_HASH_LEN];
	memcpy(in, prev, SEGMENT_HASH_LEN);
	memcpy(in + SEGMENT_HASH_LEN, digest, SEGMENT_HASH_LEN);
	crypto_generichash(next, SEGMENT_HASH_LEN, in, sizeof(in), NULL, 0);
}

struct segment_reader {
	int fd;
	unsigned version;
	uint8_t *buf;
	size_t cap, start, end;
	off_t buf_off; /* file offset of buf[0] */
};

int segment_reader_new(struct segment_reader **ret, int fd, unsigned version, off_t from)
{
	struct segment_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cap = SEGMENT_READ_CHUNK + SEGMENT_ENTRY_MAX;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return -ENOMEM;
	}
	r->fd = fd;
	r->version = version;
	r->buf_off = from;
	*ret = r;
	return 0;
}

void segment_reader_free(struct segment_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

off_t segment_reader_offset(const struct segment_reader *r)
{
	return r->buf_off + (off_t)r->start;
}

void segment_reader_seek(struct segment_reader *r, off_t off)
{
	/* Inside what is buffered: keep it. */
	if (off >= r->buf_off && off <= r->buf_off + (off_t)r->end) {
		r->start = (size_t)(off - r->buf_off);
		return;
	}
	r->buf_off = off;
	r->start = r->end = 0;
}

/* At least want bytes from start: 1, 0 if the file is shorter for now, -errno. */
static int want_bytes(struct segment_reader *r, size_t want)
{
	if (r->end - r->start >= want)
		return 1;
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->buf_off += (off_t)r->start;
		r->end -= r->start;
		r->start = 0;
	}
	while (r->end < want) {
		/* Read a chunk at a time, never more than fits. */
		size_t room = r->cap - r->end;
		if (room > SEGMENT_READ_CHUNK && want <= SEGMENT_READ_CHUNK)
			room = SEGMENT_READ_CHUNK;
		ssize_t n = pread(r->fd, r->buf + r->end, room, r->buf_off + (off_t)r->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		r->end += (size_t)n;
	}
	return 1;
}

int segment_reader_next(struct segment_reader *r, bool check_sum, const uint8_t **p, size_t *size)
{
	int w = want_bytes(r, 4);
	if (w <= 0)
		return w;
	size_t total = segment_entry_size(r->buf + r->start, r->version);
	if (total == 0)
		return -EBADMSG;
	w = want_bytes(r, total);
	if (w <= 0)
		return w;
	const uint8_t *q = r->buf + r->start;
	if (check_sum && !segment_entry_sum_ok(q, total, r->version))
		return -EBADMSG;
	r->start += total;
	*p = q;
	*size = total;
	return 1;
}
