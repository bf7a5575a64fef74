/* SPDX-License-Identifier: ISC */
/*
 * bench-sessions: many authenticated, idle agent sessions from one
 * process, for the collector's memory and CPU per session. It speaks
 * kmsg-shipper/1 with the project's own Noise, mac1 and framing code
 * (src/common) but keeps no spool and sends no records: each session
 * completes the handshake, sends a HEARTBEAT at once (so the collector
 * records the session's start) and then one every HEARTBEAT seconds,
 * as an idle agent does, and reads the ACKs.
 *
 *   bench-sessions keys N DIR
 *       N key pairs: DIR/keys (one private key per line, base64) and
 *       DIR/clients.d/bNNNNNN.pub (for the collector's clients_dir).
 *   bench-sessions hold ADDR PORT COLLECTOR_PUB_FILE KEYS_FILE STEPS HOLD HEARTBEAT
 *       STEPS is a comma-separated list of session counts, ascending. For
 *       each: open sessions (at most 64 handshakes in flight) until that
 *       many are established, print "held N MS" (MS: time to open them),
 *       keep them HOLD seconds, print "idle N HB ACKS", next step.
 *
 * Each session uses its own key (its own host on the collector) and a
 * fresh random stream id with handshake counter 1. A session the
 * collector closes is counted as failed; the exit status is 1 if any
 * failed, 0 otherwise. Lines go to stdout, flushed, so a harness can
 * sample the collector while the sessions are held.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "key.h"
#include "mac1.h"
#include "noise.h"
#include "proto.h"

#define INFLIGHT_MAX 64
#define HANDSHAKE_TIMEOUT_MS 10000

enum conn_state {
	CONN_IDLE = 0,	 /* not opened yet */
	CONN_CONNECTING, /* TCP connect in progress */
	CONN_MSG2,	 /* msg1 sent, waiting for msg2 */
	CONN_UP,	 /* transport */
	CONN_FAILED,
};

struct conn {
	int fd;
	enum conn_state state;
	uint8_t priv[KEY_LEN];
	struct noise_handshake hs;
	struct noise_cipher tx, rx;
	struct frame_reader fr;
	uint64_t deadline_ms; /* CONNECTING/MSG2: handshake timeout; UP: next heartbeat */
};

static struct {
	struct conn *c;
	size_t n;
	int ep;
	uint8_t collector_pub[KEY_LEN];
	uint8_t mac1_key[MAC1_KEY_LEN];
	struct sockaddr_in addr;
	size_t inflight, up, failed;
	uint64_t heartbeats, acks;
	uint64_t hb_ms;
} g;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_fail(struct conn *c, const char *why)
{
	if (c->state == CONN_CONNECTING || c->state == CONN_MSG2)
		g.inflight--;
	if (c->state == CONN_UP)
		g.up--;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CONN_FAILED;
	noise_handshake_wipe(&c->hs);
	noise_cipher_wipe(&c->tx);
	noise_cipher_wipe(&c->rx);
	frame_reader_free(&c->fr);
	if (g.failed++ < 5)
		fprintf(stderr, "bench-sessions: session %zu: %s\n", (size_t)(c - g.c), why);
}

/* Whole frames only; the socket buffer always has room for these. */
static int send_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_msg1(struct conn *c)
{
	uint8_t pub[KEY_LEN], hello[PROTO_HELLO_FIXED] = { PROTO_VERSION, 0 };
	uint8_t out[FRAME_HDR + PROTO_MSG1_MAX];
	int r;
	if ((r = key_public(pub, c->priv)) < 0)
		return r;
	/* counter 1 (u64 BE at 2), random stream id at 10, machine id 0, H = 0 */
	hello[9] = 1;
	randombytes_buf(hello + 10, PROTO_STREAM_ID_LEN);
	if ((r = noise_handshake_init(&c->hs, true, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN,
				      c->priv, g.collector_pub)) < 0)
		return r;
	int n = noise_write_msg1(&c->hs, hello, sizeof(hello), out + FRAME_HDR,
				 sizeof(out) - FRAME_HDR - MAC1_LEN);
	if (n < 0)
		return n;
	mac1_compute(out + FRAME_HDR + n, g.mac1_key, out + FRAME_HDR, (size_t)n);
	frame_put_header(out, (size_t)n + MAC1_LEN);
	return send_all(c->fd, out, FRAME_HDR + (size_t)n + MAC1_LEN);
}

static int send_plain(struct conn *c, const uint8_t *p, size_t len)
{
	uint8_t out[FRAME_HDR + 64];
	int n = noise_encrypt(&c->tx, p, len, out + FRAME_HDR, sizeof(out) - FRAME_HDR);
	if (n < 0)
		return n;
	frame_put_header(out, (size_t)n);
	return send_all(c->fd, out, FRAME_HDR + (size_t)n);
}

static int heartbeat(struct conn *c)
{
	static const uint8_t hb[1] = { PROTO_MSG_HEARTBEAT };
	g.heartbeats++;
	c->deadline_ms = now_ms() + g.hb_ms;
	return send_plain(c, hb, sizeof(hb));
}

static int conn_open(struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	int one = 1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	frame_reader_init(&c->fr);
	c->state = CONN_CONNECTING;
	c->deadline_ms = now_ms() + HANDSHAKE_TIMEOUT_MS;
	g.inflight++;
	if (connect(c->fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) < 0 && errno != EINPROGRESS)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -errno;
	return 0;
}

static void on_frame(struct conn *c, const uint8_t *msg, size_t len)
{
	uint8_t plain[PROTO_PLAIN_MAX];
	if (c->state == CONN_MSG2) {
		int n = noise_read_msg2(&c->hs, msg, len, plain, sizeof(plain));
		if (n != PROTO_WELCOME_LEN || plain[0] != PROTO_VERSION) {
			conn_fail(c, "bad msg2");
			return;
		}
		if (noise_split(&c->hs, &c->tx, &c->rx) < 0) {
			conn_fail(c, "split");
			return;
		}
		c->state = CONN_UP;
		g.inflight--;
		g.up++;
		if (heartbeat(c) < 0)
			conn_fail(c, "send heartbeat");
		return;
	}
	int n = noise_decrypt(&c->rx, msg, len, plain, sizeof(plain));
	if (n != PROTO_ACK_LEN || plain[0] != PROTO_MSG_ACK) {
		conn_fail(c, "bad transport message");
		return;
	}
	g.acks++;
}

static void on_event(struct conn *c, uint32_t events)
{
	if (c->state == CONN_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
			conn_fail(c, "connect failed");
			return;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 || send_msg1(c) < 0) {
			conn_fail(c, "send msg1");
			return;
		}
		c->state = CONN_MSG2;
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n = frame_reader_fill(&c->fr, c->fd);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			conn_fail(c, n == 0 ? "closed by collector" : "read error");
			return;
		}
		const uint8_t *msg;
		size_t len;
		int r;
		while ((r = frame_reader_next(&c->fr, &msg, &len)) == 1) {
			on_frame(c, msg, len);
			if (c->state == CONN_FAILED)
				return;
		}
		if (r < 0) {
			conn_fail(c, "bad frame");
			return;
		}
	}
	frame_reader_shrink(&c->fr);
}

/* Run the loop until stop_ms (0: until no handshake is in flight). */
static void run(uint64_t stop_ms, size_t *next_open, size_t target)
{
	struct epoll_event evs[256];
	for (;;) {
		while (*next_open < target && g.inflight < INFLIGHT_MAX) {
			struct conn *c = &g.c[(*next_open)++];
			if (conn_open(c) < 0)
				conn_fail(c, "connect");
		}
		uint64_t now = now_ms();
		if (stop_ms ? now >= stop_ms : (*next_open >= target && g.inflight == 0))
			return;
		int n = epoll_wait(g.ep, evs, 256, 50);
		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		now = now_ms();
		for (size_t i = 0; i < *next_open; i++) {
			struct conn *c = &g.c[i];
			if (c->state == CONN_IDLE || c->state == CONN_FAILED || now < c->deadline_ms)
				continue;
			if (c->state != CONN_UP)
				conn_fail(c, "handshake timeout");
			else if (heartbeat(c) < 0)
				conn_fail(c, "send heartbeat");
		}
	}
}

static int cmd_keys(size_t n, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/clients.d", dir);
	if (mkdir(dir, 0711) < 0 && errno != EEXIST)
		return perror(dir), 1;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return perror(path), 1;
	snprintf(path, sizeof(path), "%s/keys", dir);
	FILE *keys = fopen(path, "w");
	if (!keys)
		return perror(path), 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t priv[KEY_LEN], pub[KEY_LEN];
		char b64[KEY_B64_LEN + 1];
		key_generate(priv);
		if (key_public(pub, priv) < 0)
			return fprintf(stderr, "bench-sessions: bad key\n"), 1;
		key_to_base64(b64, priv);
		fprintf(keys, "%s\n", b64);
		key_to_base64(b64, pub);
		snprintf(path, sizeof(path), "%s/clients.d/b%06zu.pub", dir, i);
		FILE *f = fopen(path, "w");
		if (!f || fprintf(f, "%s\n", b64) < 0 || fclose(f) != 0)
			return perror(path), 1;
		sodium_memzero(priv, sizeof(priv));
	}
	return fclose(keys) == 0 ? 0 : 1;
}

static int cmd_hold(char **argv)
{
	const char *addr = argv[0], *steps = argv[4];
	int port = atoi(argv[1]);
	unsigned hold_s = (unsigned)atoi(argv[5]);
	g.hb_ms = (uint64_t)atoi(argv[6]) * 1000;
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &g.addr.sin_addr) != 1 || port <= 0 || g.hb_ms == 0)
		return fprintf(stderr, "bench-sessions: bad address, port or heartbeat\n"), 2;
	if (key_read_public_file(argv[2], g.collector_pub) < 0)
		return fprintf(stderr, "bench-sessions: cannot read %s\n", argv[2]), 1;
	mac1_key(g.mac1_key, g.collector_pub);
	FILE *kf = fopen(argv[3], "r");
	if (!kf)
		return perror(argv[3]), 1;
	char line[128];
	size_t cap = 0;
	while (fgets(line, sizeof(line), kf)) {
		if (g.n == cap) {
			cap = cap ? 2 * cap : 1024;
			struct conn *nc = realloc(g.c, cap * sizeof(*g.c));
			if (!nc)
				return fprintf(stderr, "bench-sessions: out of memory\n"), 1;
			g.c = nc;
		}
		struct conn *c = &g.c[g.n];
		memset(c, 0, sizeof(*c));
		c->fd = -1;
		if (key_parse_text(c->priv, line, strlen(line)) < 0)
			return fprintf(stderr, "bench-sessions: bad key in %s\n", argv[3]), 1;
		g.n++;
	}
	fclose(kf);
	struct rlimit rl = { .rlim_cur = g.n + 64, .rlim_max = g.n + 64 };
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		perror("bench-sessions: setrlimit");
	if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return perror("epoll_create1"), 1;
	size_t next_open = 0;
	for (const char *p = steps; *p;) {
		char *end;
		size_t target = strtoull(p, &end, 10);
		if (end == p || target > g.n)
			return fprintf(stderr, "bench-sessions: bad step (at most %zu keys)\n", g.n), 2;
		p = *end == ',' ? end + 1 : end;
		uint64_t t0 = now_ms();
		run(0, &next_open, target);
		printf("held %zu %llu\n", g.up, (unsigned long long)(now_ms() - t0));
		fflush(stdout);
		uint64_t hb0 = g.heartbeats, ack0 = g.acks;
		run(now_ms() + hold_s * 1000ULL, &next_open, target);
		printf("idle %zu %llu %llu\n", g.up, (unsigned long long)(g.heartbeats - hb0),
		       (unsigned long long)(g.acks - ack0));
		fflush(stdout);
	}
	printf("failed %zu\n", g.failed);
	return g.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 4 && strcmp(argv[1], "keys") == 0)
		return cmd_keys(strtoull(argv[2], NULL, 10), argv[3]);
	if (argc == 9 && strcmp(argv[1], "hold") == 0)
		return cmd_hold(argv + 2);
	fprintf(stderr,
		"usage: bench-sessions keys N DIR\n"
		"       bench-sessions hold ADDR PORT COLLECTOR_PUB_FILE KEYS_FILE STEPS HOLD HEARTBEAT\n");
	return 2;
}
