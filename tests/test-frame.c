/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include "check.h"
#include "frame.h"

/* A stream of frames and where each body starts in it. */
struct stream {
	uint8_t *bytes;
	size_t len;
	size_t *body; /* offset of frame i's body */
	size_t *blen;
	size_t n;
};

static uint32_t rng = 0x9e3779b9;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void stream_build(struct stream *s, const size_t *lens, size_t n)
{
	size_t total = 0, off = 0;

	for (size_t i = 0; i < n; i++)
		total += FRAME_HDR + lens[i];
	s->bytes = malloc(total);
	s->body = malloc(n * sizeof(*s->body));
	s->blen = malloc(n * sizeof(*s->blen));
	if (!s->bytes || !s->body || !s->blen)
		abort();
	for (size_t i = 0; i < n; i++) {
		frame_put_header(s->bytes + off, lens[i]);
		off += FRAME_HDR;
		s->body[i] = off;
		s->blen[i] = lens[i];
		for (size_t k = 0; k < lens[i]; k++)
			s->bytes[off + k] = (uint8_t)next_rand();
		off += lens[i];
	}
	s->len = total;
	s->n = n;
}

static void stream_free(struct stream *s)
{
	free(s->bytes);
	free(s->body);
	free(s->blen);
}

/* Take every whole frame, checking each against the stream; returns how many. */
static size_t drain(struct frame_reader *r, const struct stream *s, size_t *next)
{
	const uint8_t *msg;
	size_t len, got = 0;
	int ret;

	while ((ret = frame_reader_next(r, &msg, &len)) == 1) {
		CHECK(*next < s->n);
		if (*next >= s->n)
			break;
		CHECK_EQ_INT(len, s->blen[*next]);
		if (len == s->blen[*next])
			CHECK_EQ_MEM(msg, s->bytes + s->body[*next], len);
		/* Inside the reader's buffer. */
		CHECK(msg >= r->buf && msg + len <= r->buf + FRAME_READER_CAP);
		(*next)++;
		got++;
	}
	CHECK_EQ_INT(ret, 0);
	return got;
}

static const size_t mixed[] = { 1, 2, 300, FRAME_MAX, 7, 1000, 255, 256, 1 };
#define NMIXED (sizeof(mixed) / sizeof(mixed[0]))

static void test_one_byte_at_a_time(void)
{
	struct frame_reader r;
	struct stream s;
	size_t next = 0, frame_end;

	stream_build(&s, mixed, NMIXED);
	frame_reader_init(&r);
	frame_end = s.body[0] + s.blen[0];
	for (size_t i = 0; i < s.len; i++) {
		size_t before = next;
		CHECK_EQ_INT(frame_reader_push(&r, s.bytes + i, 1), 0);
		drain(&r, &s, &next);
		/* A frame comes out exactly when its last byte arrives. */
		if (i + 1 == frame_end) {
			CHECK_EQ_INT(next, before + 1);
			CHECK_EQ_INT(frame_reader_pending(&r), 0);
			if (next < s.n)
				frame_end = s.body[next] + s.blen[next];
		} else {
			CHECK_EQ_INT(next, before);
			CHECK_EQ_INT(frame_reader_pending(&r), i + 1 - (s.body[next] - FRAME_HDR));
		}
	}
	CHECK_EQ_INT(next, s.n);
	frame_reader_free(&r);
	CHECK(r.buf == NULL);
	stream_free(&s);
}

static void test_one_push(void)
{
	struct frame_reader r;
	struct stream s;
	size_t next = 0;

	stream_build(&s, mixed, NMIXED);
	frame_reader_init(&r);
	CHECK_EQ_INT(frame_reader_pending(&r), 0);
	CHECK_EQ_INT(frame_reader_push(&r, s.bytes, s.len), 0);
	CHECK_EQ_INT(frame_reader_pending(&r), s.len);
	CHECK_EQ_INT(drain(&r, &s, &next), s.n);
	CHECK_EQ_INT(frame_reader_pending(&r), 0);
	frame_reader_free(&r);
	stream_free(&s);
}

/* Two maximal frames fill the buffer exactly; consuming one makes room again. */
static void test_full_buffer(void)
{
	static const size_t lens[] = { FRAME_MAX, FRAME_MAX, FRAME_MAX, 5 };
	struct frame_reader r;
	struct stream s;
	const uint8_t *msg;
	size_t len, next = 0, two = 2 * (FRAME_HDR + FRAME_MAX);
	int sv[2];

	CHECK_EQ_INT(two, FRAME_READER_CAP);
	stream_build(&s, lens, 4);
	frame_reader_init(&r);
	CHECK_EQ_INT(frame_reader_push(&r, s.bytes, two), 0);
	CHECK_EQ_INT(frame_reader_push(&r, s.bytes + two, 1), -ENOBUFS);
	/* A full buffer must not read(2) zero bytes and report EOF. */
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ_INT(write(sv[1], "z", 1), 1);
	CHECK_EQ_INT(frame_reader_fill(&r, sv[0]), -ENOBUFS);

	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 1);
	CHECK_EQ_INT(len, FRAME_MAX);
	CHECK_EQ_MEM(msg, s.bytes + s.body[0], FRAME_MAX);
	next = 1;
	/* Exactly one maximal frame of room; the second frame survives compaction. */
	CHECK_EQ_INT(frame_reader_push(&r, s.bytes + two, FRAME_HDR + FRAME_MAX + 1), -ENOBUFS);
	CHECK_EQ_INT(frame_reader_push(&r, s.bytes + two, FRAME_HDR + FRAME_MAX), 0);
	CHECK_EQ_INT(frame_reader_pending(&r), two);
	CHECK_EQ_INT(drain(&r, &s, &next), 2);
	CHECK_EQ_INT(frame_reader_push(&r, s.bytes + two + FRAME_HDR + FRAME_MAX, FRAME_HDR + 5), 0);
	CHECK_EQ_INT(drain(&r, &s, &next), 1);
	CHECK_EQ_INT(next, 4);
	CHECK_EQ_INT(frame_reader_pending(&r), 0);
	close(sv[0]);
	close(sv[1]);
	frame_reader_free(&r);
	stream_free(&s);
}

static void test_bad(void)
{
	static const uint8_t zero[] = { 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'x' };
	struct frame_reader r;
	const uint8_t *msg = NULL;
	size_t len = 0;

	frame_reader_init(&r);
	/* Nothing buffered, nothing allocated. */
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 0);
	CHECK_EQ_INT(frame_reader_push(&r, zero, 1), 0);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 0);
	CHECK_EQ_INT(frame_reader_pending(&r), 1);
	CHECK_EQ_INT(frame_reader_push(&r, zero + 1, sizeof(zero) - 1), 0);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 1);
	CHECK_EQ_INT(len, 3);
	CHECK_EQ_MEM(msg, "abc", 3);
	CHECK_EQ_INT(frame_reader_pending(&r), 5);
	/* Zero length: an error, and it stays one (nothing is skipped). */
	msg = NULL;
	len = 99;
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), -EPROTO);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), -EPROTO);
	CHECK(msg == NULL);
	CHECK_EQ_INT(len, 99);
	CHECK_EQ_INT(frame_reader_pending(&r), 5);
	frame_reader_free(&r);

	/* Shrink frees only an empty buffer. */
	CHECK_EQ_INT(frame_reader_push(&r, zero, 4), 0);
	frame_reader_shrink(&r);
	CHECK(r.buf != NULL);
	CHECK_EQ_INT(frame_reader_push(&r, zero + 4, 1), 0);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 1);
	frame_reader_shrink(&r);
	CHECK(r.buf == NULL);
	CHECK_EQ_INT(frame_reader_pending(&r), 0);
	frame_reader_free(&r);
}

static void test_fill(void)
{
	struct frame_reader r;
	const uint8_t *msg;
	size_t len;
	int sv[2];

	frame_reader_init(&r);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ_INT(frame_reader_fill(&r, sv[0]), -EAGAIN);
	CHECK(r.buf != NULL);

	/* Half a header, then the rest and half the body, then the rest. */
	CHECK_EQ_INT(write(sv[1], "\x00", 1), 1);
	CHECK_EQ_INT(frame_reader_fill(&r, sv[0]), 1);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 0);
	CHECK_EQ_INT(write(sv[1], "\x04he", 3), 3);
	CHECK_EQ_INT(frame_reader_fill(&r, sv[0]), 3);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 0);
	CHECK_EQ_INT(frame_reader_pending(&r), 4);
	CHECK_EQ_INT(write(sv[1], "ll\x00\x01!", 5), 5);
	CHECK_EQ_INT(frame_reader_fill(&r, sv[0]), 5);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 1);
	CHECK_EQ_INT(len, 4);
	CHECK_EQ_MEM(msg, "hell", 4);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 1);
	CHECK_EQ_INT(len, 1);
	CHECK_EQ_MEM(msg, "!", 1);
	CHECK_EQ_INT(frame_reader_next(&r, &msg, &len), 0);
	CHECK_EQ_INT(frame_reader_fill(&r, sv[0]), -EAGAIN);

	CHECK_EQ_INT(write(sv[1], "\x00", 1), 1);
	CHECK_EQ_INT(close(sv[1]), 0);
	CHECK_EQ_INT(frame_reader_fill(&r, sv[0]), 1);
	CHECK_EQ_INT(frame_reader_fill(&r, sv[0]), 0);
	/* A truncated frame at EOF is still pending for the caller to see. */
	CHECK_EQ_INT(frame_reader_pending(&r), 1);
	CHECK_EQ_INT(frame_reader_fill(&r, -1), -EBADF);
	close(sv[0]);
	frame_reader_free(&r);
}

/*
 * Thousands of frames through a non-blocking socketpair, written in random
 * pieces and read whenever the reader gets a turn, so that frames straddle
 * reads and compactions in every possible way.
 */
#define NMANY 5000
static void test_many(void)
{
	static size_t lens[NMANY];
	struct frame_reader r;
	struct stream s;
	size_t wrote = 0, next = 0;
	int sv[2], eof = 0;

	for (size_t i = 0; i < NMANY; i++) {
		uint32_t x = next_rand();
		if (i % 97 == 0)
			lens[i] = FRAME_MAX - (x % 3);
		else if (i % 5 == 0)
			lens[i] = 1 + x % 8;
		else
			lens[i] = 1 + x % 3000;
	}
	stream_build(&s, lens, NMANY);
	frame_reader_init(&r);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	while (!eof) {
		if (wrote < s.len) {
			size_t chunk = 1 + next_rand() % (next_rand() % 2 ? 16 : 20000);
			ssize_t n;
			if (chunk > s.len - wrote)
				chunk = s.len - wrote;
			n = write(sv[1], s.bytes + wrote, chunk);
			CHECK(n > 0 || (n < 0 && errno == EAGAIN));
			if (n > 0)
				wrote += (size_t)n;
			if (wrote == s.len)
				CHECK_EQ_INT(shutdown(sv[1], SHUT_WR), 0);
		}
		/* Read a random number of times so the buffer also sees backlogs. */
		for (uint32_t k = next_rand() % 3; k < 3; k++) {
			ssize_t n = frame_reader_fill(&r, sv[0]);
			if (n == 0) {
				eof = 1;
				break;
			}
			if (n < 0) {
				CHECK_EQ_INT(n, -EAGAIN);
				break;
			}
			drain(&r, &s, &next);
		}
	}
	CHECK_EQ_INT(wrote, s.len);
	CHECK_EQ_INT(next, NMANY);
	CHECK_EQ_INT(frame_reader_pending(&r), 0);
	close(sv[0]);
	close(sv[1]);
	frame_reader_free(&r);
	stream_free(&s);
}

int main(void)
{
	alarm(20);
	test_one_byte_at_a_time();
	test_one_push();
	test_full_buffer();
	test_bad();
	test_fill();
	test_many();
	return CHECK_DONE();
}
