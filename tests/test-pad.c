/* SPDX-License-Identifier: ISC */
/*
 * Padding (pad.h, docs/PROTOCOL.md 5.10) and commitments (commitment.h,
 * 5.11): the sizes at every boundary, what an unwrap or a decode must
 * refuse, and the text form both ways.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "commitment.h"
#include "pad.h"

static void test_sizes(void)
{
	/* The frame body (plaintext + 16) is the smallest size that holds 2 + L + 16. */
	static const size_t bodies[] = { 512, 1024, 2048, 4096, 8192, 16384, 32768, 65535 };
	size_t prev_max = 0;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t max = bodies[i] - 16 - PAD_HDR; /* largest message of this size */
		if (max > PAD_MSG_MAX)
			max = PAD_MSG_MAX;
		CHECK_EQ_INT(pad_plain_len(prev_max + 1), bodies[i] - 16);
		CHECK_EQ_INT(pad_plain_len(max), bodies[i] - 16);
		prev_max = max;
	}
	CHECK_EQ_INT(prev_max, PAD_MSG_MAX);
	CHECK_EQ_INT(PAD_MSG_MAX, 65517);
	/* A heartbeat, an ACK with a commitment, a small batch: one size. */
	CHECK_EQ_INT(pad_plain_len(1), 496);
	CHECK_EQ_INT(pad_plain_len(169), 496);
	CHECK_EQ_INT(pad_plain_len(494), 496);
	CHECK_EQ_INT(pad_plain_len(495), 1008);
}

static void test_wrap(void)
{
	uint8_t *buf = malloc(PROTO_PLAIN_MAX), *msg = malloc(PAD_MSG_MAX);
	CHECK(buf && msg);
	if (!buf || !msg)
		goto out;
	for (size_t i = 0; i < PAD_MSG_MAX; i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	static const size_t lens[] = { 1, 2, 9, 169, 494, 495, 1000, 32750, 32751, PAD_MSG_MAX };
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t len = lens[k];
		int n = pad_wrap(buf, PROTO_PLAIN_MAX, msg, len);
		CHECK_EQ_INT(n, pad_plain_len(len));
		const uint8_t *p;
		size_t l;
		CHECK_EQ_INT(pad_unwrap(buf, (size_t)n, &p, &l), 0);
		CHECK_EQ_INT(l, len);
		CHECK(p == buf + PAD_HDR && memcmp(p, msg, len) == 0);
		/* Every way to be wrong: a non-zero padding byte, a length
		 * that does not call for this size, too long, zero. */
		if ((size_t)n > PAD_HDR + len) {
			buf[n - 1] = 1;
			CHECK_EQ_INT(pad_unwrap(buf, (size_t)n, &p, &l), -EPROTO);
			buf[n - 1] = 0;
			CHECK_EQ_INT(pad_unwrap(buf, (size_t)n - 1, &p, &l), -EPROTO);
		}
		CHECK_EQ_INT(pad_unwrap(buf, (size_t)n + 16, &p, &l), -EPROTO);
	}
	CHECK_EQ_INT(pad_wrap(buf, PROTO_PLAIN_MAX, msg, 0), -EMSGSIZE);
	CHECK_EQ_INT(pad_wrap(buf, PROTO_PLAIN_MAX, msg, PAD_MSG_MAX + 1), -EMSGSIZE);
	CHECK_EQ_INT(pad_wrap(buf, 100, msg, 10), -ENOSPC);
	const uint8_t *p;
	size_t l;
	memset(buf, 0, 496);
	CHECK_EQ_INT(pad_unwrap(buf, 496, &p, &l), -EPROTO); /* length 0 */
	buf[0] = 0x01;					     /* 256: fits, but calls for 496 too */
	CHECK_EQ_INT(pad_unwrap(buf, 496, &p, &l), 0);
	buf[0] = 0x02; /* 512: more than the plaintext holds */
	CHECK_EQ_INT(pad_unwrap(buf, 496, &p, &l), -EPROTO);
	CHECK_EQ_INT(pad_unwrap(buf, 1, &p, &l), -EPROTO);
out:
	free(buf);
	free(msg);
}

static void test_commitment(void)
{
	struct commitment c = { .hwm = 44, .records = 49, .end = 8549, .written_usec = 1796693953783430ULL };
	strcpy(c.host, "web-1.example_x");
	for (int i = 0; i < 16; i++)
		c.stream_id[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 32; i++)
		c.chain[i] = (uint8_t)i;
	uint8_t b[COMMITMENT_LEN];
	commitment_encode(b, &c);
	CHECK(memcmp(b, "KSCMT001", 8) == 0);
	CHECK_EQ_INT(b[88], strlen(c.host));
	struct commitment d;
	CHECK_EQ_INT(commitment_decode(b, sizeof(b), &d), 0);
	CHECK(strcmp(d.host, c.host) == 0 && d.hwm == c.hwm && d.records == c.records && d.end == c.end &&
	      d.written_usec == c.written_usec && memcmp(d.chain, c.chain, 32) == 0 &&
	      memcmp(d.stream_id, c.stream_id, 16) == 0);
	CHECK_EQ_INT(commitment_decode(b, sizeof(b) - 1, &d), -EBADMSG);
	uint8_t x[COMMITMENT_LEN];
	memcpy(x, b, sizeof(x));
	x[89] = 1; /* reserved */
	CHECK_EQ_INT(commitment_decode(x, sizeof(x), &d), -EBADMSG);
	memcpy(x, b, sizeof(x));
	x[96 + 60] = 'a'; /* after the name */
	CHECK_EQ_INT(commitment_decode(x, sizeof(x), &d), -EBADMSG);
	memcpy(x, b, sizeof(x));
	x[96] = '.'; /* a name that could hide */
	CHECK_EQ_INT(commitment_decode(x, sizeof(x), &d), -EBADMSG);
	memcpy(x, b, sizeof(x));
	x[96 + 3] = '/';
	CHECK_EQ_INT(commitment_decode(x, sizeof(x), &d), -EBADMSG);
	memcpy(x, b, sizeof(x));
	x[88] = 0;
	CHECK_EQ_INT(commitment_decode(x, sizeof(x), &d), -EBADMSG);

	char line[COMMITMENT_TEXT_MAX];
	int n = commitment_format(line, sizeof(line), &c);
	CHECK(n > 0);
	CHECK(strcmp(line,
		     "kmsg-commitment/1 host=web-1.example_x stream=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf hwm=44 "
		     "records=49 end=8549 time=1796693953783430 "
		     "chain=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f") == 0);
	CHECK_EQ_INT(commitment_parse(line, &d), 0);
	CHECK(!d.has_collector && d.records == 49 && memcmp(d.chain, c.chain, 32) == 0);
	c.has_collector = 1;
	memset(c.collector, 0x11, 32);
	CHECK(commitment_format(line, sizeof(line), &c) > 0);
	strcat(line, "\n");
	CHECK_EQ_INT(commitment_parse(line, &d), 0);
	CHECK(d.has_collector && memcmp(d.collector, c.collector, 32) == 0);
	static const char *const bad[] = {
		"",
		"kmsg-commitment/2 host=a stream=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf hwm=1 records=1 end=1 "
		"time=1 "
		"chain=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"kmsg-commitment/1 host=a stream=a0a1 hwm=1 records=1 end=1 time=1 "
		"chain=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"kmsg-commitment/1 host=a stream=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf hwm=x records=1 end=1 "
		"time=1 "
		"chain=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"kmsg-commitment/1 host=a stream=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf records=1 hwm=1 end=1 "
		"time=1 "
		"chain=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"kmsg-commitment/1 host=a stream=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf hwm=1 records=1 end=1 "
		"time=1 "
		"chain=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f extra=1",
		"kmsg-commitment/1 host=a stream=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf hwm=99999999999999999999 "
		"records=1 "
		"end=1 time=1 chain=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"kmsg-commitment/1 host=../x stream=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf hwm=1 records=1 end=1 "
		"time=1 "
		"chain=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (commitment_parse(bad[i], &d) != -EINVAL) {
			fprintf(stderr, "bad line %zu parsed\n", i);
			check_failures++;
		}
	}
}

int main(void)
{
	test_sizes();
	test_wrap();
	test_commitment();
	printf("test-pad: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}
