/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Framing: every message is a u16 big-endian length followed by that many
 * bytes (1..65535). The reader buffers a non-blocking stream and yields
 * whole frames; it copes with any split of the bytes across reads.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FRAME_HDR 2
#define FRAME_MAX 65535
/* Reader buffer: room for one maximal frame plus read-ahead. */
#define FRAME_READER_CAP (2 * (FRAME_HDR + FRAME_MAX))

struct frame_reader {
	uint8_t *buf; /* FRAME_READER_CAP bytes, malloc'd lazily on first fill */
	size_t start; /* first unconsumed byte */
	size_t end;   /* one past the last byte read */
};

void frame_reader_init(struct frame_reader *r);
void frame_reader_free(struct frame_reader *r);

/*
 * read(2) once from fd into the buffer. Returns bytes read (> 0), 0 on EOF,
 * -EAGAIN when nothing is available, -ENOMEM, or another -errno.
 */
ssize_t frame_reader_fill(struct frame_reader *r, int fd);

/* Append bytes from memory (for tests, fuzzers and TLS-less callers).
 * Returns 0 or -ENOBUFS when the buffer has no room (consume frames first). */
int frame_reader_push(struct frame_reader *r, const uint8_t *data, size_t len);

/*
 * Next complete frame. Returns 1 and points *msg and *len into the buffer (valid
 * until the next fill/push), 0 when more bytes are needed, -EPROTO for a
 * zero-length frame (malformed framing: not -EBADMSG, which callers use for
 * a message that fails authentication).
 */
int frame_reader_next(struct frame_reader *r, const uint8_t **msg, size_t *len);

/* Bytes buffered but not yet returned as frames. */
size_t frame_reader_pending(const struct frame_reader *r);

/*
 * Free the buffer if nothing is pending (the next fill allocates it
 * again): an idle connection then holds no buffer. Pointers from
 * frame_reader_next become invalid.
 */
void frame_reader_shrink(struct frame_reader *r);

/* Write the 2-byte header for a body of len bytes (1..FRAME_MAX). */
static inline void frame_put_header(uint8_t out[FRAME_HDR], size_t len)
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
}
