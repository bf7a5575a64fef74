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
 *   bench-sessions ingest ADDR PORT COLLECTOR_PUB_FILE KEYS_FILE N SECONDS WINDOW [PREFIX]
 *       A load generator for the collector's ingest (like wrk for a web
 *       server): N sessions (the first N keys) send BATCHes of kernel
 *       records as fast as the collector acks them, without the agent's
 *       spool and fsyncs. See "Ingest" below for what it sends.
 *
 * Each session uses its own key (its own host on the collector) and a
 * fresh random stream id with handshake counter 1. A session the
 * collector closes is counted as failed; the exit status is 1 if any
 * failed, 0 otherwise. Lines go to stdout, flushed, so a harness can
 * sample the collector while the sessions are held.
 *
 * Ingest. Once a session's handshake completes (welcome hwm 0: a new
 * stream), it sends BATCH messages packed as the agent packs them
 * (src/agent/uplink.c build_batch: as many records as fit in one
 * transport plaintext, PROTO_PLAIN_MAX), stream seq 0, 1, 2, ... dense,
 * as a new agent stream's, keeping at most WINDOW records sent and not
 * yet acked (a BATCH goes out when a full one fits in the window). Each record is what the agent makes of a
 * kernel line (source kmsg, level 6, facility 0, no fields, kmsg seq = stream seq: a boot's kernel records
 * count from 0; the session's random boot id; monotonic time now and strictly increasing; realtime =
 * monotonic + the clocks' offset) with an 80-byte text that starts with a unique token PREFIX-SSSS-QQQQQQQQQQ
 * (session, stream seq), so that a harness can count every record in the store. The records are encoded once
 * per session (record_encode); a BATCH only patches seqs, times and token digits, so the generator's CPU goes
 * to encryption and system calls. Output: "batch R WINDOW" (records per full BATCH), "up N MS" when all N are
 * established (MS since the start); SECONDS later the sessions stop sending and wait (at most 30 s) until
 * everything sent is acked, then send CLOSE. Then "sent I COUNT" per session, "cpu S" (the generator's user +
 * system CPU seconds from "up" to the end), and "ingest N SENT ACKED SECONDS": records sent in all, records
 * acked from "up" to the last ack, and the seconds between those two.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
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

#include "bytes.h"
#include "frame.h"
#include "key.h"
#include "mac1.h"
#include "noise.h"
#include "proto.h"
#include "record.h"

#define INFLIGHT_MAX 64
#define HANDSHAKE_TIMEOUT_MS 10000
/* Ingest: how long the sessions wait for the last acks after sending. */
#define DRAIN_TIMEOUT_MS 30000
/* The kernel line of every ingest record: token, then this, cut to TEXT_LEN. */
#define TEXT_LEN 80
#define TEXT_TAIL " usb 1-1.4: new high-speed USB device number 5 using xhci_hcd and 480M"
#define SEQ_DIGITS 10
#define SESSION_DIGITS 4
#define INGEST_SESSIONS_MAX 9999

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
	/* Ingest only: */
	uint64_t seq;	    /* next stream seq to send */
	uint64_t acked;	    /* hwm of the last ACK */
	uint64_t mono_last; /* monotonic usec of the last record */
	uint8_t *plain;	    /* a full BATCH of this session's records, encoded once */
	uint8_t *out;	    /* one encrypted frame, being sent */
	size_t out_off, out_len;
	bool want_out; /* EPOLLOUT registered */
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
	/* Ingest only: */
	bool ingest, stop_sending;
	size_t rec_len;	  /* encoded record, without its u32 length */
	size_t per_batch; /* records in a full BATCH */
	size_t seq_off;	  /* offset of the seq digits in a record */
	uint64_t window;  /* records sent and not acked, per session */
	int64_t real_off; /* realtime - monotonic, usec */
	uint64_t sent, acked_total, last_ack_ms;
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

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Fixed-width decimal, for the token's digits. */
static void put_digits(uint8_t *p, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (uint8_t)('0' + v % 10);
		v /= 10;
	}
}

/*
 * Encode one full BATCH of session id's records into c->plain: the
 * layout of docs/PROTOCOL.md 5.2, each record from record_encode. What
 * differs between messages (count, stream and kmsg seqs, times, token
 * digits) is patched by put_batch.
 */
static int ingest_prepare(struct conn *c, size_t id, const char *prefix)
{
	char text[TEXT_LEN + 64];
	int tl = snprintf(text, sizeof(text), "%s-%0*zu-%0*d%s", prefix, SESSION_DIGITS, id, SEQ_DIGITS, 0,
			  TEXT_TAIL);
	if (tl < 0 || (size_t)tl >= sizeof(text))
		return -ENAMETOOLONG;
	size_t len = (size_t)tl > TEXT_LEN ? TEXT_LEN : (size_t)tl;
	if (len < g.seq_off + SEQ_DIGITS)
		return -ENAMETOOLONG;
	struct record rec = {
		.source = RECORD_SRC_KMSG,
		.level = 6,    /* info */
		.facility = 0, /* kern */
		.msg = (const uint8_t *)text,
		.msg_len = (uint32_t)len,
	};
	randombytes_buf(rec.boot_id, sizeof(rec.boot_id)); /* each session its own host, own boot */
	g.rec_len = record_encoded_len(&rec);
	g.per_batch = (PROTO_PLAIN_MAX - PROTO_BATCH_HDR) / (PROTO_BATCH_REC_HDR + g.rec_len);
	if (!(c->plain = malloc(PROTO_PLAIN_MAX)) || !(c->out = malloc(FRAME_HDR + FRAME_MAX)))
		return -ENOMEM;
	c->plain[0] = PROTO_MSG_BATCH;
	for (size_t i = 0; i < g.per_batch; i++) {
		uint8_t *r = c->plain + PROTO_BATCH_HDR + i * (PROTO_BATCH_REC_HDR + g.rec_len);
		put_be32(r, (uint32_t)g.rec_len);
		int n = record_encode(&rec, r + PROTO_BATCH_REC_HDR, g.rec_len);
		if (n != (int)g.rec_len)
			return n < 0 ? n : -EINVAL;
	}
	return 0;
}

/* The next COUNT records (stream seq c->seq on) as one encrypted BATCH
 * frame in c->out. Header offsets: record.h. */
static int put_batch(struct conn *c, size_t count)
{
	uint64_t now = clock_us(CLOCK_MONOTONIC);
	for (size_t i = 0; i < count; i++) {
		uint8_t *r = c->plain + PROTO_BATCH_HDR + i * (PROTO_BATCH_REC_HDR + g.rec_len) +
			     PROTO_BATCH_REC_HDR;
		uint64_t seq = c->seq + i;
		uint64_t mono = now > c->mono_last ? now : c->mono_last + 1;
		c->mono_last = mono;
		put_be64(r + 8, seq);
		put_be64(r + 16, seq); /* a boot's first kernel record is kmsg seq 0 */
		put_be64(r + 24, mono);
		put_be64(r + 32, (uint64_t)((int64_t)mono + g.real_off));
		put_digits(r + RECORD_HDR_LEN + g.seq_off, seq, SEQ_DIGITS);
	}
	put_be16(c->plain + 1, (uint16_t)count);
	int n = noise_encrypt(&c->tx, c->plain, PROTO_BATCH_HDR + count * (PROTO_BATCH_REC_HDR + g.rec_len),
			      c->out + FRAME_HDR, FRAME_MAX);
	if (n < 0)
		return n;
	frame_put_header(c->out, (size_t)n);
	c->out_off = 0;
	c->out_len = FRAME_HDR + (size_t)n;
	c->seq += count;
	g.sent += count;
	return 0;
}

/* Send while the window allows (and, once stopped, only the rest of the
 * frame under way); EPOLLOUT while the socket is full. */
static void pump(struct conn *c)
{
	for (;;) {
		if (c->out_off == c->out_len) {
			/* Full BATCHes only, as an agent with a backlog sends
			 * (a window below one BATCH: BATCHes of the window). */
			size_t count = g.window < g.per_batch ? (size_t)g.window : g.per_batch;
			if (g.stop_sending || c->seq - c->acked + count > g.window)
				break;
			if (put_batch(c, count) < 0) {
				conn_fail(c, "encrypt");
				return;
			}
		}
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_fail(c, "send");
			return;
		}
		c->out_off += (size_t)n;
	}
	bool want = c->out_off < c->out_len;
	if (want != c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
		if (epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
			conn_fail(c, "epoll_ctl");
			return;
		}
		c->want_out = want;
	}
}

/* ACK: previous hwm <= hwm <= next seq to send, as the agent checks
 * (docs/PROTOCOL.md 5.4). */
static void on_ingest_ack(struct conn *c, const uint8_t *plain)
{
	uint64_t hwm = get_be64(plain + 1);
	if (hwm < c->acked || hwm > c->seq) {
		conn_fail(c, "ack out of range");
		return;
	}
	g.acked_total += hwm - c->acked;
	if (hwm > c->acked)
		g.last_ack_ms = now_ms();
	c->acked = hwm;
	pump(c);
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
		if (g.ingest) {
			/* A new stream: the collector holds nothing of it. */
			if (get_be64(plain + 1) != 0) {
				conn_fail(c, "welcome hwm is not 0");
				return;
			}
			c->deadline_ms = UINT64_MAX; /* never idle: no heartbeat */
			pump(c);
		} else if (heartbeat(c) < 0) {
			conn_fail(c, "send heartbeat");
		}
		return;
	}
	int n = noise_decrypt(&c->rx, msg, len, plain, sizeof(plain));
	if (n != PROTO_ACK_LEN || plain[0] != PROTO_MSG_ACK) {
		conn_fail(c, "bad transport message");
		return;
	}
	g.acks++;
	if (g.ingest)
		on_ingest_ack(c, plain);
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
	if (c->state == CONN_UP && g.ingest && (events & EPOLLOUT)) {
		pump(c);
		if (c->state == CONN_FAILED)
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

/* Address, collector key, the session keys of KEYS_FILE (at most max
 * of them), the descriptor limit and the epoll set. */
static int setup(char **argv, size_t max)
{
	const char *addr = argv[0];
	int port = atoi(argv[1]);
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &g.addr.sin_addr) != 1 || port <= 0)
		return fprintf(stderr, "bench-sessions: bad address or port\n"), 2;
	if (key_read_public_file(argv[2], g.collector_pub) < 0)
		return fprintf(stderr, "bench-sessions: cannot read %s\n", argv[2]), 1;
	mac1_key(g.mac1_key, g.collector_pub);
	FILE *kf = fopen(argv[3], "r");
	if (!kf)
		return perror(argv[3]), 1;
	char line[128];
	size_t cap = 0;
	while (g.n < max && fgets(line, sizeof(line), kf)) {
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
	return 0;
}

static int cmd_hold(char **argv)
{
	const char *steps = argv[4];
	unsigned hold_s = (unsigned)atoi(argv[5]);
	g.hb_ms = (uint64_t)atoi(argv[6]) * 1000;
	if (g.hb_ms == 0)
		return fprintf(stderr, "bench-sessions: bad heartbeat\n"), 2;
	int r = setup(argv, SIZE_MAX);
	if (r != 0)
		return r;
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

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Sessions still up with something unsent or unacked. */
static size_t ingest_pending(void)
{
	size_t n = 0;
	for (size_t i = 0; i < g.n; i++) {
		const struct conn *c = &g.c[i];
		if (c->state == CONN_UP && (c->out_off < c->out_len || c->acked < c->seq))
			n++;
	}
	return n;
}

static int cmd_ingest(char **argv, const char *prefix)
{
	size_t n = strtoull(argv[4], NULL, 10);
	unsigned seconds = (unsigned)atoi(argv[5]);
	g.window = strtoull(argv[6], NULL, 10);
	if (n == 0 || n > INGEST_SESSIONS_MAX || seconds == 0 || g.window == 0 || strlen(prefix) > 40 ||
	    strspn(prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(prefix))
		return fprintf(stderr,
			       "bench-sessions: bad N (1..%d), SECONDS, WINDOW or PREFIX ([a-z0-9-], at "
			       "most 40)\n",
			       INGEST_SESSIONS_MAX),
		       2;
	int r = setup(argv, n);
	if (r != 0)
		return r;
	if (g.n < n)
		return fprintf(stderr, "bench-sessions: %s holds %zu keys, not %zu\n", argv[3], g.n, n), 2;
	g.ingest = true;
	g.seq_off = strlen(prefix) + 1 + SESSION_DIGITS + 1;
	g.real_off = (int64_t)clock_us(CLOCK_REALTIME) - (int64_t)clock_us(CLOCK_MONOTONIC);
	for (size_t i = 0; i < n; i++)
		if ((r = ingest_prepare(&g.c[i], i, prefix)) < 0)
			return fprintf(stderr, "bench-sessions: records: %s\n", strerror(-r)), 1;
	printf("batch %zu %llu\n", g.per_batch, (unsigned long long)g.window);
	fflush(stdout);

	size_t next_open = 0;
	uint64_t t0 = now_ms();
	run(0, &next_open, n);
	uint64_t up_ms = now_ms(), acked0 = g.acked_total;
	double cpu0 = cpu_s();
	printf("up %zu %llu\n", g.up, (unsigned long long)(up_ms - t0));
	fflush(stdout);
	run(up_ms + seconds * 1000ULL, &next_open, n);

	/* Stop; the frames under way are finished, then every record sent
	 * must be acked. */
	g.stop_sending = true;
	uint64_t drain_end = now_ms() + DRAIN_TIMEOUT_MS;
	while (ingest_pending() > 0 && now_ms() < drain_end)
		run(now_ms() + 50, &next_open, n);
	size_t pending = ingest_pending();
	if (pending > 0) {
		fprintf(stderr, "bench-sessions: %zu sessions not fully acked %d s after the end\n", pending,
			DRAIN_TIMEOUT_MS / 1000);
		g.failed += pending;
	}
	double cpu = cpu_s() - cpu0;
	static const uint8_t close_msg[PROTO_CLOSE_LEN] = { PROTO_MSG_CLOSE, PROTO_CLOSE_SHUTDOWN };
	for (size_t i = 0; i < n; i++) {
		struct conn *c = &g.c[i];
		if (c->state == CONN_UP)
			(void)send_plain(c, close_msg, sizeof(close_msg)); /* best effort, as the agent */
		printf("sent %zu %llu\n", i, (unsigned long long)g.c[i].seq);
	}
	uint64_t last = g.last_ack_ms > up_ms ? g.last_ack_ms : up_ms;
	printf("cpu %.3f\n", cpu);
	printf("ingest %zu %llu %llu %.3f\n", g.up, (unsigned long long)g.sent,
	       (unsigned long long)(g.acked_total - acked0), (double)(last - up_ms) / 1000.0);
	printf("failed %zu\n", g.failed);
	fflush(stdout);
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
	if ((argc == 9 || argc == 10) && strcmp(argv[1], "ingest") == 0)
		return cmd_ingest(argv + 2, argc == 10 ? argv[9] : "ingest");
	fprintf(stderr,
		"usage: bench-sessions keys N DIR\n"
		"       bench-sessions hold ADDR PORT COLLECTOR_PUB_FILE KEYS_FILE STEPS HOLD HEARTBEAT\n"
		"       bench-sessions ingest ADDR PORT COLLECTOR_PUB_FILE KEYS_FILE N SECONDS WINDOW "
		"[PREFIX]\n");
	return 2;
}
