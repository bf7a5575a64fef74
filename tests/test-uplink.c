/* SPDX-License-Identifier: ISC */
/*
 * The agent's uplink against a fake collector in the same event loop: the
 * fake speaks the responder side of the protocol with the project's Noise
 * code, so it can send what the real collector never does at that moment.
 *
 * - ack-race (issue 22, item 3): an ACK right behind msg2, while the agent
 *   has a BATCH built and unsent (its write buffer filled by URGENT
 *   messages of a backlog of err records). The ACK must not overwrite
 *   the BATCH: every message the fake receives must be well-formed.
 * - idle (issue 16, item 2): with nothing to send, the agent confirms the
 *   key with a transport message at once after msg2, not at its next
 *   heartbeat.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "check.h"
#include "frame.h"
#include "key.h"
#include "loop.h"
#include "noise.h"
#include "proto.h"
#include "record.h"
#include "spool.h"
#include "stream.h"
#include "uplink.h"

struct fake {
	struct loop *loop;
	int lfd, fd;
	uint8_t priv[32];
	bool ack_after_msg2;
	bool handshaken;
	struct noise_cipher tx, rx;
	struct frame_reader fr;
	uint8_t plain[PROTO_PLAIN_MAX];
	uint64_t msg2_ms, first_ms;
	int batches, urgents, heartbeats, bad;
	int first_type;
};

/* One transport message from the agent: is it well-formed? */
static void fake_judge(struct fake *f, const uint8_t *p, size_t n)
{
	if (f->first_ms == 0) {
		f->first_ms = mono_ms();
		f->first_type = p[0];
	}
	if (p[0] == PROTO_MSG_HEARTBEAT && n == 1) {
		f->heartbeats++;
		loop_stop(f->loop);
		return;
	}
	if ((p[0] != PROTO_MSG_BATCH && p[0] != PROTO_MSG_URGENT) || n < PROTO_BATCH_HDR) {
		fprintf(stderr, "agent sent type 0x%02x, %zu bytes\n", p[0], n);
		f->bad++;
		loop_stop(f->loop);
		return;
	}
	size_t count = get_be16(p + 1), off = PROTO_BATCH_HDR;
	for (size_t i = 0; i < count; i++) {
		struct record rec;
		size_t rlen = n - off >= PROTO_BATCH_REC_HDR ? get_be32(p + off) : SIZE_MAX;
		if (rlen > n - off - PROTO_BATCH_REC_HDR ||
		    record_decode(p + off + PROTO_BATCH_REC_HDR, rlen, &rec) < 0) {
			f->bad++;
			break;
		}
		off += PROTO_BATCH_REC_HDR + rlen;
	}
	if (count == 0 || off != n) {
		fprintf(stderr, "agent sent type 0x%02x with %zu records in %zu bytes\n", p[0], count, n);
		f->bad++;
	}
	if (p[0] == PROTO_MSG_URGENT) {
		f->urgents++;
		return;
	}
	f->batches++;
	loop_stop(f->loop);
}

static void fake_send(struct fake *f, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(f->fd, buf, len);
		CHECK(w > 0);
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

static void fake_msg1(struct fake *f, const uint8_t *msg, size_t len)
{
	struct noise_handshake hs;
	uint8_t hello[PROTO_HELLO_MAX], out[2 * (FRAME_HDR + 256)];
	CHECK_EQ_INT(noise_handshake_init(&hs, false, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN,
					  f->priv, NULL),
		     0);
	int hl = noise_read_msg1(&hs, msg, len - PROTO_MAC1_LEN, hello, sizeof(hello));
	CHECK(hl > 1);
	/* A hello with flags gets the extended welcome; the fake accepts
	 * none of them (plain transport messages, no commitments). */
	uint8_t welcome[PROTO_WELCOME_EXT_LEN] = { PROTO_VERSION };
	put_be64(welcome + 1, 0);
	size_t wlen = hl > 1 && hello[1] ? PROTO_WELCOME_EXT_LEN : PROTO_WELCOME_LEN;
	int n = noise_write_msg2(&hs, welcome, wlen, out + FRAME_HDR, 256);
	CHECK(n > 0);
	CHECK_EQ_INT(noise_split(&hs, &f->tx, &f->rx), 0);
	frame_put_header(out, (size_t)n);
	size_t olen = FRAME_HDR + (size_t)n;
	if (f->ack_after_msg2) {
		/* In the same segment: the agent reads both in one go. */
		uint8_t ack[PROTO_ACK_LEN] = { PROTO_MSG_ACK };
		put_be64(ack + 1, 0);
		int m = noise_encrypt(&f->tx, ack, sizeof(ack), out + olen + FRAME_HDR, 256);
		CHECK(m > 0);
		frame_put_header(out + olen, (size_t)m);
		olen += FRAME_HDR + (size_t)m;
	}
	fake_send(f, out, olen);
	f->msg2_ms = mono_ms();
	f->handshaken = true;
}

static void fake_io(struct loop *l, int fd, uint32_t events, void *data)
{
	struct fake *f = data;
	ssize_t got = frame_reader_fill(&f->fr, fd);
	if (got == -EAGAIN)
		return;
	if (got <= 0) {
		loop_stop(l);
		return;
	}
	const uint8_t *msg;
	size_t len;
	while (frame_reader_next(&f->fr, &msg, &len) == 1) {
		if (!f->handshaken) {
			fake_msg1(f, msg, len);
			continue;
		}
		int n = noise_decrypt(&f->rx, msg, len, f->plain, sizeof(f->plain));
		CHECK(n > 0);
		if (n <= 0) {
			f->bad++;
			loop_stop(l);
			return;
		}
		fake_judge(f, f->plain, (size_t)n);
	}
}

static void fake_accept(struct loop *l, int fd, uint32_t events, void *data)
{
	struct fake *f = data;
	f->fd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	CHECK(f->fd >= 0);
	if (f->fd >= 0)
		CHECK_EQ_INT(loop_add_fd(l, f->fd, EPOLLIN, fake_io, f), 0);
	loop_del_fd(l, fd);
}

static void on_timeout(struct loop *l, struct loop_timer *t, void *data)
{
	loop_stop(l);
}

static void rm_rf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Run one uplink session against the fake; records: err records of
 * rec_len bytes each, spooled and synced before the uplink starts. */
static void run(struct fake *f, unsigned records, size_t rec_len, uint64_t timeout_ms)
{
	char dir[] = "/tmp/test-uplink.XXXXXX", sdir[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sdir, sizeof(sdir), "%s/spool", dir);
	struct loop *l;
	CHECK_EQ_INT(loop_new(&l), 0);
	f->loop = l;
	f->fd = -1;
	frame_reader_init(&f->fr);
	randombytes_buf(f->priv, sizeof(f->priv));

	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* A small window: the agent's writes stop short (EAGAIN), so that it
	 * still holds its built BATCH when it reads the ACK behind msg2. */
	int small = 4096;
	CHECK(setsockopt(f->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
	CHECK(bind(f->lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CHECK(listen(f->lfd, 4) == 0);
	CHECK(getsockname(f->lfd, (struct sockaddr *)&sin, &sl) == 0);
	CHECK_EQ_INT(loop_add_fd(l, f->lfd, EPOLLIN, fake_accept, f), 0);

	struct stream st;
	CHECK_EQ_INT(stream_open(&st, dir, 1), 0);
	uint8_t boot[16] = { 0xb0 };
	struct spool *q;
	CHECK_EQ_INT(spool_open(&q, sdir, NULL, st.id, boot), 0);
	char *text = malloc(rec_len + 1);
	for (unsigned i = 0; i < records; i++) {
		memset(text, 'a' + i % 26, rec_len);
		struct record r = { .source = RECORD_SRC_KMSG, .level = 3, .kmsg_seq = i };
		memcpy(r.boot_id, boot, 16);
		r.msg = (const uint8_t *)text;
		r.msg_len = (uint32_t)rec_len;
		CHECK_EQ_INT(spool_append(q, &r), 0);
	}
	free(text);
	CHECK_EQ_INT(spool_sync(q), 0);
	CHECK_EQ_INT(spool_synced_seq(q), records);

	char port[8];
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	struct uplink_target t = { .host = "127.0.0.1", .port = port };
	CHECK_EQ_INT(key_public(t.pub, f->priv), 0);
	uint8_t apriv[32];
	randombytes_buf(apriv, sizeof(apriv));
	struct uplink_conf c = { .targets = &t,
				 .ntargets = 1,
				 .priv = apriv,
				 .backoff_max_ms = 60000,
				 .connect_timeout_ms = 10000,
				 .heartbeat_ms = 20000,
				 .session_max_ms = 3600000 };
	struct uplink *u;
	CHECK_EQ_INT(uplink_new(&u, l, &c, q, &st), 0);
	uplink_start(u);
	struct loop_timer *to;
	CHECK_EQ_INT(loop_timer_add(l, timeout_ms, on_timeout, NULL, &to), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	/* The timer may have fired; cancel only one still pending. */
	if (f->batches + f->heartbeats + f->bad > 0)
		loop_timer_cancel(l, to);
	struct uplink_stats us;
	uplink_get_stats(u, &us);
	fprintf(stderr, "uplink: %llu sessions, %llu failures, %llu sent, %llu urgent\n",
		(unsigned long long)us.sessions, (unsigned long long)us.failures, (unsigned long long)us.sent,
		(unsigned long long)us.urgent);
	uplink_free(u);
	(void)spool_close(q);
	if (f->fd >= 0) {
		loop_del_fd(l, f->fd);
		close(f->fd);
	}
	close(f->lfd);
	frame_reader_free(&f->fr);
	noise_cipher_wipe(&f->tx);
	noise_cipher_wipe(&f->rx);
	loop_free(l);
	rm_rf(dir);
}

int main(void)
{
	CHECK(sodium_init() >= 0);

	/* 4,000 err records of 2,000 bytes (8 MB): the first BATCH takes
	 * about 64 KiB, URGENT messages of the rest fill the write buffer
	 * past 256 KiB again and again until the socket (which nobody
	 * reads meanwhile: one loop) takes no more, and the BATCH waits,
	 * built, while msg2's ACK is read. */
	struct fake a = { .ack_after_msg2 = true };
	run(&a, 4000, 2000, 10000);
	fprintf(stderr, "ack-race: %d URGENT, %d BATCH, %d malformed\n", a.urgents, a.batches, a.bad);
	CHECK(a.urgents >= 4); /* the interleaving happened */
	CHECK_EQ_INT(a.batches, 1);
	CHECK_EQ_INT(a.bad, 0);

	/* Nothing to send: the first message comes at once, not after the
	 * 20 s heartbeat interval (the collector would drop the session
	 * after its 5 s handshake_timeout). */
	struct fake b = { .ack_after_msg2 = false };
	run(&b, 0, 0, 3000);
	fprintf(stderr, "idle: first message type 0x%02x %llu ms after msg2\n", b.first_type,
		b.first_ms ? (unsigned long long)(b.first_ms - b.msg2_ms) : 0ULL);
	CHECK(b.handshaken);
	CHECK(b.first_ms != 0);
	CHECK(b.first_ms - b.msg2_ms < 500);
	CHECK_EQ_INT(b.first_type, PROTO_MSG_HEARTBEAT);
	CHECK_EQ_INT(b.bad, 0);
	return CHECK_DONE();
}
