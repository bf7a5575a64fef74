/* SPDX-License-Identifier: ISC */
/*
 * rawagent: a test agent that completes a real handshake (the agent's own
 * session.c, a fresh stream id, counter 1) and then sends one transport
 * message built as the named case says, valid or not, to see what the
 * collector stores of it (tests/integration/test-strict.sh).
 *
 * Usage: rawagent HOST PORT COLLECTOR_PUB_FILE AGENT_KEY_FILE CASE TOKEN
 * Records carry the message "TOKEN-CASE-K" (K = 1, 2, ...). Prints
 * "acked HWM" when the collector acknowledges, "closed" when it closes
 * the connection; exits 0 for either, 2 when nothing happens within 3 s,
 * 1 on a local error.
 *
 * Cases:
 *   good        BATCH, N = 2, two kernel records
 *   short       BATCH, N = 2 but one record
 *   trailing    BATCH, N = 1, one record and one byte more
 *   bad-second  BATCH, N = 2: a valid record, then one that does not decode
 *   event7      BATCH, N = 2: a valid record, then an agent record with
 *               event 7 (SESSION_START, the collector's)
 *   event64     BATCH, N = 1: an agent record with event 64 (STORE_EV_TORN_TAIL)
 *   urgent-short URGENT, N = 2 but one err record
 *   silent      nothing after msg2 (no key confirmation)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "frame.h"
#include "key.h"
#include "noise.h"
#include "proto.h"
#include "record.h"
#include "session.h"

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One frame into buf (cap bytes); returns its body length or -1 (EOF: 0 read). */
static ssize_t read_frame(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	size_t have = 0, want = FRAME_HDR;
	while (have < want) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, timeout_ms) != 1)
			return -2;
		ssize_t n = read(fd, buf + have, want - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		if (have == FRAME_HDR) {
			want = FRAME_HDR + ((size_t)buf[0] << 8 | buf[1]);
			if (want > cap)
				return -1;
		}
	}
	memmove(buf, buf + FRAME_HDR, want - FRAME_HDR);
	return (ssize_t)(want - FRAME_HDR);
}

/* Append one record (u32 length, encoding) at *off of plain. */
static void put_rec(uint8_t *plain, size_t *off, uint8_t source, uint8_t level, uint16_t event, uint64_t seq,
		    const char *msg)
{
	struct record r = { .source = source, .level = level, .event = event, .stream_seq = seq };
	r.msg = (const uint8_t *)msg;
	r.msg_len = (uint32_t)strlen(msg);
	int n = record_encode(&r, plain + *off + PROTO_BATCH_REC_HDR,
			      PROTO_PLAIN_MAX - *off - PROTO_BATCH_REC_HDR);
	if (n < 0) {
		fprintf(stderr, "rawagent: encode: %s\n", strerror(-n));
		exit(1);
	}
	put_be32(plain + *off, (uint32_t)n);
	*off += PROTO_BATCH_REC_HDR + (size_t)n;
}

int main(int argc, char **argv)
{
	if (argc != 7 || sodium_init() < 0) {
		fprintf(stderr, "usage: rawagent HOST PORT COLLECTOR_PUB_FILE AGENT_KEY_FILE CASE TOKEN\n");
		return 1;
	}
	/* Never NULL (argc is 7); said so for the compiler's format checks. */
	const char *cs = argv[5] ? argv[5] : "", *tok = argv[6] ? argv[6] : "";
	uint8_t cpub[32], priv[32];
	if (key_read_public_file(argv[3], cpub) < 0 || key_read_private_file(argv[4], priv) < 0) {
		fprintf(stderr, "rawagent: cannot read the keys\n");
		return 1;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		return 1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("rawagent: connect");
		return 1;
	}
	freeaddrinfo(ai);

	static uint8_t buf[FRAME_HDR + PROTO_FRAME_MAX], plain[PROTO_PLAIN_MAX];
	struct noise_handshake hs;
	struct noise_cipher tx, rx;
	struct session_hello h = { .counter = 1, .hostname = "rawagent" };
	randombytes_buf(h.stream_id, sizeof(h.stream_id));
	int n = session_write_msg1(&hs, priv, cpub, &h, buf + FRAME_HDR, sizeof(buf) - FRAME_HDR);
	if (n < 0)
		return 1;
	frame_put_header(buf, (size_t)n);
	if (write_all(fd, buf, FRAME_HDR + (size_t)n) < 0)
		return 1;
	ssize_t len = read_frame(fd, buf, sizeof(buf), 3000);
	uint64_t hwm;
	if (len < 0 || session_read_msg2(&hs, buf, (size_t)len, 0, &tx, &rx, &hwm) < 0) {
		fprintf(stderr, "rawagent: no valid msg2\n");
		return 1;
	}

	if (strcmp(cs, "silent") == 0) {
		/* msg2 and no transport message: never key-confirmed. */
		close(fd);
		printf("silent\n");
		return 0;
	}
	char m1[128], m2[128];
	snprintf(m1, sizeof(m1), "%s-%s-1", tok, cs);
	snprintf(m2, sizeof(m2), "%s-%s-2", tok, cs);
	size_t off = PROTO_BATCH_HDR;
	uint16_t count = 2;
	plain[0] = PROTO_MSG_BATCH;
	if (strcmp(cs, "good") == 0) {
		put_rec(plain, &off, RECORD_SRC_KMSG, 6, 0, hwm, m1);
		put_rec(plain, &off, RECORD_SRC_KMSG, 6, 0, hwm + 1, m2);
	} else if (strcmp(cs, "short") == 0) {
		put_rec(plain, &off, RECORD_SRC_KMSG, 6, 0, hwm, m1);
	} else if (strcmp(cs, "trailing") == 0) {
		count = 1;
		put_rec(plain, &off, RECORD_SRC_KMSG, 6, 0, hwm, m1);
		plain[off++] = 0;
	} else if (strcmp(cs, "bad-second") == 0) {
		put_rec(plain, &off, RECORD_SRC_KMSG, 6, 0, hwm, m1);
		size_t at = off;
		put_rec(plain, &off, RECORD_SRC_KMSG, 6, 0, hwm + 1, m2);
		plain[at + PROTO_BATCH_REC_HDR] = 0xee; /* the record's version byte */
	} else if (strcmp(cs, "event7") == 0) {
		put_rec(plain, &off, RECORD_SRC_KMSG, 6, 0, hwm, m1);
		put_rec(plain, &off, RECORD_SRC_AGENT, 6, RECORD_EV_SESSION_START, hwm + 1, m2);
	} else if (strcmp(cs, "event64") == 0) {
		count = 1;
		put_rec(plain, &off, RECORD_SRC_AGENT, 6, 64, hwm, m1);
	} else if (strcmp(cs, "urgent-short") == 0) {
		plain[0] = PROTO_MSG_URGENT;
		put_rec(plain, &off, RECORD_SRC_KMSG, 3, 0, hwm, m1);
	} else {
		fprintf(stderr, "rawagent: unknown case %s\n", cs);
		return 1;
	}
	put_be16(plain + 1, count);
	n = noise_encrypt(&tx, plain, off, buf + FRAME_HDR, sizeof(buf) - FRAME_HDR);
	if (n < 0)
		return 1;
	frame_put_header(buf, (size_t)n);
	if (write_all(fd, buf, FRAME_HDR + (size_t)n) < 0)
		return 1;
	len = read_frame(fd, buf, sizeof(buf), 3000);
	if (len == -2) {
		printf("nothing\n");
		return 2;
	}
	if (len < 0) {
		printf("closed\n");
		return 0;
	}
	if (session_read_transport(&rx, buf, (size_t)len, hwm, hwm + count, plain, &hwm) != PROTO_MSG_ACK) {
		fprintf(stderr, "rawagent: bad message from the collector\n");
		return 1;
	}
	printf("acked %llu\n", (unsigned long long)hwm);
	close(fd);
	return 0;
}
