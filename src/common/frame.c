/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

/*
 * Buffer layout: [0, start) consumed, [start, end) pending, [end, CAP) free.
 * The pending bytes are moved to the front only when the free space drops
 * below one maximal frame (or below what a push needs). Once the caller has
 * taken every whole frame, less than one maximal frame is pending, so after
 * compaction a fill always has room.
 */

void frame_reader_init(struct frame_reader *r)
{
	r->buf = NULL;
	r->start = 0;
	r->end = 0;
}

void frame_reader_free(struct frame_reader *r)
{
	free(r->buf);
	frame_reader_init(r);
}

/* Allocate if needed and make room for at least want bytes if possible. */
static int make_room(struct frame_reader *r, size_t want)
{
	size_t pending;

	if (!r->buf) {
		r->buf = malloc(FRAME_READER_CAP);
		if (!r->buf)
			return -ENOMEM;
		r->start = r->end = 0;
	}
	pending = r->end - r->start;
	if (pending == 0) {
		r->start = r->end = 0;
	} else if (FRAME_READER_CAP - r->end < FRAME_HDR + FRAME_MAX || FRAME_READER_CAP - r->end < want) {
		memmove(r->buf, r->buf + r->start, pending);
		r->start = 0;
		r->end = pending;
	}
	return 0;
}

ssize_t frame_reader_fill(struct frame_reader *r, int fd)
{
	ssize_t n;
	int e = make_room(r, 1);

	if (e < 0)
		return e;
	/* A zero-length read would return 0 and look like EOF. */
	if (r->end == FRAME_READER_CAP)
		return -ENOBUFS;
	do {
		n = read(fd, r->buf + r->end, FRAME_READER_CAP - r->end);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	r->end += (size_t)n;
	return n;
}

int frame_reader_push(struct frame_reader *r, const uint8_t *data, size_t len)
{
	int e;

	if (len == 0)
		return 0;
	e = make_room(r, len);
	if (e < 0)
		return e;
	if (FRAME_READER_CAP - r->end < len)
		return -ENOBUFS;
	memcpy(r->buf + r->end, data, len);
	r->end += len;
	return 0;
}

int frame_reader_next(struct frame_reader *r, const uint8_t **msg, size_t *len)
{
	size_t avail = r->end - r->start, flen;
	const uint8_t *p;

	if (avail < FRAME_HDR)
		return 0;
	p = r->buf + r->start;
	flen = (size_t)p[0] << 8 | p[1];
	/* Not consumed: the stream is broken and the caller drops it. */
	if (flen == 0)
		return -EPROTO;
	if (avail - FRAME_HDR < flen)
		return 0;
	*msg = p + FRAME_HDR;
	*len = flen;
	r->start += FRAME_HDR + flen;
	return 1;
}

size_t frame_reader_pending(const struct frame_reader *r)
{
	return r->end - r->start;
}

void frame_reader_shrink(struct frame_reader *r)
{
	if (r->end == r->start)
		frame_reader_free(r);
}
