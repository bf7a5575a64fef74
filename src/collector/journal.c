/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "durable.h"
#include "journal.h"

#define JOURNAL_BODY_FIXED (8 + 16)
#define JOURNAL_SUM_LEN 16
#define JOURNAL_READ_CHUNK (1 << 20)

static void checksum(uint8_t out[JOURNAL_SUM_LEN], const uint8_t *p, size_t len)
{
	crypto_generichash(out, JOURNAL_SUM_LEN, p, len, NULL, 0);
}

size_t journal_encode(uint8_t *out, uint64_t recv_usec, const uint8_t stream_id[16], const uint8_t *rec,
		      size_t len)
{
	size_t body = JOURNAL_BODY_FIXED + len;
	put_be32(out, (uint32_t)body);
	put_be64(out + 4, recv_usec);
	memcpy(out + 12, stream_id, 16);
	memcpy(out + 28, rec, len);
	checksum(out + 4 + body, out, 4 + body);
	return 4 + body + JOURNAL_SUM_LEN;
}

struct journal_reader {
	int fd;
	uint8_t *buf;
	size_t cap, start, end;
	off_t buf_off; /* file offset of buf[0] */
	off_t good;    /* offset after the last good entry */
};

int journal_reader_open(struct journal_reader **ret, const char *path)
{
	struct journal_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int e = -errno;
		free(r);
		return e;
	}
	uint8_t hdr[JOURNAL_HDR_LEN];
	int e = pread_all(r->fd, hdr, sizeof(hdr), 0);
	if (e == 0 && memcmp(hdr, JOURNAL_MAGIC, 8) != 0)
		e = -EBADMSG;
	r->cap = JOURNAL_READ_CHUNK + RECORD_MAX + JOURNAL_ENTRY_OVERHEAD;
	r->buf = malloc(r->cap);
	if (e == 0 && !r->buf)
		e = -ENOMEM;
	if (e < 0) {
		journal_reader_free(r);
		return e;
	}
	r->buf_off = JOURNAL_HDR_LEN;
	r->good = JOURNAL_HDR_LEN;
	*ret = r;
	return 0;
}

void journal_reader_free(struct journal_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r);
}

off_t journal_reader_offset(const struct journal_reader *r)
{
	return r->good;
}

/* Make at least want bytes available from start. 1 if so, 0 if the file
 * is shorter for now, -errno on error. */
static int want_bytes(struct journal_reader *r, size_t want)
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
		ssize_t n = pread(r->fd, r->buf + r->end, r->cap - r->end, r->buf_off + (off_t)r->end);
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

int journal_reader_next(struct journal_reader *r, struct journal_entry *e)
{
	int w = want_bytes(r, 4);
	if (w <= 0)
		return w;
	const uint8_t *p = r->buf + r->start;
	size_t body = get_be32(p);
	if (body < JOURNAL_BODY_FIXED + RECORD_HDR_LEN || body > JOURNAL_BODY_FIXED + RECORD_MAX) {
		e->offset = r->buf_off + (off_t)r->start;
		return -EBADMSG;
	}
	size_t total = 4 + body + JOURNAL_SUM_LEN;
	w = want_bytes(r, total);
	if (w <= 0)
		return w;
	p = r->buf + r->start;
	uint8_t sum[JOURNAL_SUM_LEN];
	checksum(sum, p, 4 + body);
	e->offset = r->buf_off + (off_t)r->start;
	if (sodium_memcmp(sum, p + 4 + body, JOURNAL_SUM_LEN) != 0)
		return -EBADMSG;
	if (record_decode(p + 4 + JOURNAL_BODY_FIXED, body - JOURNAL_BODY_FIXED, &e->rec) < 0)
		return -EBADMSG;
	e->recv_usec = get_be64(p + 4);
	e->stream_id = p + 12;
	r->start += total;
	r->good = r->buf_off + (off_t)r->start;
	return 1;
}

static int create(const char *path)
{
	uint8_t hdr[JOURNAL_HDR_LEN] = { 0 };
	memcpy(hdr, JOURNAL_MAGIC, 8);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, hdr, sizeof(hdr));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0)
		r = fsync_parent(path);
	return r;
}

int journal_recover(const char *path, journal_scan_fn cb, void *data, off_t *ret_cut)
{
	int r;
	if (access(path, F_OK) < 0) {
		if (errno != ENOENT)
			return -errno;
		if ((r = create(path)) < 0)
			return r;
	}
	struct journal_reader *jr;
	if ((r = journal_reader_open(&jr, path)) < 0)
		return r;
	struct journal_entry e;
	while ((r = journal_reader_next(jr, &e)) == 1)
		cb(&e, data);
	off_t good = journal_reader_offset(jr);
	journal_reader_free(jr);
	if (r < 0 && r != -EBADMSG)
		return r;

	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	/* A torn append leaves at most one partial entry; more than that
	 * after the last good entry is damage, and cutting it would throw
	 * away stored records. Leave the file alone and say so. */
	if (st.st_size - good > (off_t)(JOURNAL_ENTRY_OVERHEAD + RECORD_MAX)) {
		close(fd);
		return -EUCLEAN;
	}
	if (st.st_size > good) {
		if (ftruncate(fd, good) < 0 || fsync(fd) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
	}
	*ret_cut = st.st_size - good;
	return fd;
}
