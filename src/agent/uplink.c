/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "frame.h"
#include "hostinfo.h"
#include "log.h"
#include "mac1.h"
#include "noise.h"
#include "proto.h"
#include "uplink.h"

/* Batches are built only while less than this is waiting in the socket
 * buffer of our own: TCP flow control does the rest. */
#define UPLINK_WBUF_LOW (256 * 1024)
#define UPLINK_WBUF_CAP (UPLINK_WBUF_LOW + 2 * (FRAME_HDR + FRAME_MAX))
#define UPLINK_TICK_MS 1000
#define UPLINK_BACKOFF_MIN_MS 200

enum uplink_state {
	UP_IDLE,       /* waiting for the reconnect timer */
	UP_CONNECTING, /* non-blocking connect in progress */
	UP_HANDSHAKE,  /* msg1 sent, waiting for msg2 */
	UP_READY,      /* transport */
};

struct uplink {
	struct loop *loop;
	struct uplink_conf conf;
	uint8_t priv[32];
	struct spool *q;
	struct stream *st;

	enum uplink_state state;
	int fd;
	size_t target;
	uint64_t backoff_ms;
	struct loop_timer *retry;
	struct loop_timer *tick;

	struct noise_handshake hs;
	struct noise_cipher tx, rx;
	struct frame_reader fr;
	uint8_t *wbuf;
	size_t woff, wlen;
	uint8_t *plain;

	uint64_t send_next; /* next stream seq to send */
	uint64_t acked;	    /* collector's high-water mark */
	uint64_t since_ms;  /* state entered */
	uint64_t last_rx_ms;
	uint64_t last_tx_ms;
	int heartbeat_out;

	struct uplink_stats stats;
};

static void schedule_retry(struct uplink *u);
static void on_io(struct loop *l, int fd, uint32_t events, void *data);

static const char *target_name(const struct uplink *u)
{
	return u->conf.targets[u->target].host;
}

static void drop_connection(struct uplink *u, const char *why)
{
	if (u->fd >= 0) {
		loop_del_fd(u->loop, u->fd);
		close(u->fd);
		u->fd = -1;
	}
	if (why) {
		log_warn("collector %s port %s: %s", target_name(u), u->conf.targets[u->target].port, why);
		u->stats.failures++;
	}
	noise_handshake_wipe(&u->hs);
	noise_cipher_wipe(&u->tx);
	noise_cipher_wipe(&u->rx);
	frame_reader_free(&u->fr);
	u->woff = u->wlen = 0;
	u->state = UP_IDLE;
	u->stats.connected = 0;
}

/* A failed attempt moves on to the next collector in the list; a full
 * round of failures doubles the delay up to the cap, with jitter. */
static void fail(struct uplink *u, const char *why)
{
	drop_connection(u, why);
	u->target = (u->target + 1) % u->conf.ntargets;
	if (u->target == 0) {
		u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : UPLINK_BACKOFF_MIN_MS;
		if (u->backoff_ms > u->conf.backoff_max_ms)
			u->backoff_ms = u->conf.backoff_max_ms;
	}
	schedule_retry(u);
}

static int flush_wbuf(struct uplink *u)
{
	while (u->woff < u->wlen) {
		ssize_t n = send(u->fd, u->wbuf + u->woff, u->wlen - u->woff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		u->woff += (size_t)n;
		u->last_tx_ms = loop_now_ms(u->loop);
	}
	if (u->woff == u->wlen)
		u->woff = u->wlen = 0;
	else if (u->woff > UPLINK_WBUF_LOW) {
		memmove(u->wbuf, u->wbuf + u->woff, u->wlen - u->woff);
		u->wlen -= u->woff;
		u->woff = 0;
	}
	uint32_t ev = EPOLLIN | (u->wlen > u->woff ? EPOLLOUT : 0);
	loop_mod_fd(u->loop, u->fd, ev);
	return 0;
}

/* Encrypt plaintext into the write buffer as one frame. */
static int put_transport(struct uplink *u, const uint8_t *p, size_t plen)
{
	if (u->wlen + FRAME_HDR + plen + NOISE_TAG_LEN > UPLINK_WBUF_CAP)
		return -ENOBUFS;
	int n = noise_encrypt(&u->tx, p, plen, u->wbuf + u->wlen + FRAME_HDR,
			      UPLINK_WBUF_CAP - u->wlen - FRAME_HDR);
	if (n < 0)
		return n;
	frame_put_header(u->wbuf + u->wlen, (size_t)n);
	u->wlen += FRAME_HDR + (size_t)n;
	return 0;
}

/* Fill the write buffer with batches of spooled records from send_next
 * on. Seqs the spool no longer holds (dropped on overflow, damaged) are
 * skipped: the spool's gap records say why. Only fsynced records are sent:
 * one that a power loss could still take from the spool would leave its
 * seq free for another record, which the collector, holding the first,
 * would then drop as a duplicate (docs/SPOOL.md). */
static int send_batches(struct uplink *u)
{
	uint64_t limit = spool_synced_seq(u->q);
	while (u->wlen - u->woff < UPLINK_WBUF_LOW && u->send_next < limit) {
		size_t off = PROTO_BATCH_HDR;
		uint16_t count = 0;
		while (count < UINT16_MAX) {
			const uint8_t *rec;
			size_t len;
			uint64_t seq;
			int r = spool_read(u->q, u->send_next, &rec, &len, &seq);
			if (r == -ENOENT)
				break;
			if (r < 0)
				return r;
			if (seq >= limit || off + PROTO_BATCH_REC_HDR + len > PROTO_PLAIN_MAX)
				break;
			put_be32(u->plain + off, (uint32_t)len);
			memcpy(u->plain + off + PROTO_BATCH_REC_HDR, rec, len);
			off += PROTO_BATCH_REC_HDR + len;
			count++;
			u->send_next = seq + 1;
		}
		if (count == 0)
			break;
		u->plain[0] = PROTO_MSG_BATCH;
		put_be16(u->plain + 1, count);
		int r = put_transport(u, u->plain, off);
		if (r < 0)
			return r;
		u->stats.sent += count;
	}
	return flush_wbuf(u);
}

void uplink_pump(struct uplink *u)
{
	if (u->state != UP_READY)
		return;
	int r = send_batches(u);
	if (r < 0)
		fail(u, r == -ERANGE ? "nonce limit reached" : strerror(-r));
}

static int send_msg1(struct uplink *u)
{
	const struct uplink_target *t = &u->conf.targets[u->target];
	uint64_t counter;
	int r = stream_next_counter(u->st, &counter);
	if (r < 0) {
		log_err("persist handshake counter: %s", strerror(-r));
		return r;
	}
	uint8_t hello[PROTO_HELLO_MAX];
	char host[PROTO_HOSTNAME_MAX + 1];
	size_t hlen = hostinfo_hostname(host, sizeof(host));
	hello[0] = PROTO_VERSION;
	hello[1] = 0;
	put_be64(hello + 2, counter);
	memcpy(hello + 10, u->st->id, PROTO_STREAM_ID_LEN);
	hostinfo_machine_id(hello + 26);
	hello[42] = (uint8_t)hlen;
	memcpy(hello + PROTO_HELLO_FIXED, host, hlen);

	r = noise_handshake_init(&u->hs, true, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, u->priv,
				 t->pub);
	if (r < 0)
		return r;
	uint8_t *m = u->wbuf + FRAME_HDR;
	int n = noise_write_msg1(&u->hs, hello, PROTO_HELLO_FIXED + hlen, m, UPLINK_WBUF_CAP - FRAME_HDR);
	if (n < 0)
		return n;
	uint8_t key[MAC1_KEY_LEN];
	mac1_key(key, t->pub);
	mac1_compute(m + n, key, m, (size_t)n);
	frame_put_header(u->wbuf, (size_t)n + MAC1_LEN);
	u->woff = 0;
	u->wlen = FRAME_HDR + (size_t)n + MAC1_LEN;
	u->state = UP_HANDSHAKE;
	u->since_ms = loop_now_ms(u->loop);
	return flush_wbuf(u);
}

/* Free what the collector holds; a failed unlink only delays freeing. */
static void ack(struct uplink *u, uint64_t hwm)
{
	int r = spool_ack(u->q, hwm);
	if (r < 0)
		log_warn("spool: free acked records: %s", strerror(-r));
}

static int handle_msg2(struct uplink *u, const uint8_t *msg, size_t len)
{
	uint8_t welcome[PROTO_WELCOME_LEN];
	int n = noise_read_msg2(&u->hs, msg, len, welcome, sizeof(welcome));
	if (n < 0)
		return n;
	if (n != PROTO_WELCOME_LEN || welcome[0] != PROTO_VERSION)
		return -EPROTO;
	int r = noise_split(&u->hs, &u->tx, &u->rx);
	if (r < 0)
		return r;
	uint64_t hwm = get_be64(welcome + 1);
	if (hwm > spool_next_seq(u->q)) {
		log_err("collector %s claims records up to %llu of this stream, only %llu exist",
			target_name(u), (unsigned long long)hwm, (unsigned long long)spool_next_seq(u->q));
		return -EPROTO;
	}
	ack(u, hwm);
	u->acked = hwm;
	u->stats.acked_hwm = hwm;
	u->send_next = hwm;
	u->state = UP_READY;
	u->since_ms = loop_now_ms(u->loop);
	u->backoff_ms = 0;
	u->stats.sessions++;
	u->stats.connected = 1;
	u->stats.target = u->target;
	log_info("connected to collector %s port %s, resuming at stream seq %llu", target_name(u),
		 u->conf.targets[u->target].port, (unsigned long long)hwm);
	return send_batches(u);
}

static int handle_transport(struct uplink *u, const uint8_t *msg, size_t len)
{
	int n = noise_decrypt(&u->rx, msg, len, u->plain, PROTO_PLAIN_MAX);
	if (n < 0)
		return n;
	if (n < 1)
		return -EPROTO;
	switch (u->plain[0]) {
	case PROTO_MSG_ACK: {
		if (n != PROTO_ACK_LEN)
			return -EPROTO;
		uint64_t hwm = get_be64(u->plain + 1);
		if (hwm < u->acked || hwm > u->send_next)
			return -EPROTO;
		ack(u, hwm);
		u->acked = hwm;
		u->stats.acked_hwm = hwm;
		u->heartbeat_out = 0;
		return send_batches(u);
	}
	case PROTO_MSG_CLOSE:
		return n == PROTO_CLOSE_LEN ? -ECONNRESET : -EPROTO;
	default:
		return -EPROTO;
	}
}

static void on_readable(struct uplink *u)
{
	for (;;) {
		ssize_t n = frame_reader_fill(&u->fr, u->fd);
		if (n == -EAGAIN)
			break;
		if (n == 0) {
			fail(u, "connection closed by collector");
			return;
		}
		if (n < 0) {
			fail(u, strerror((int)-n));
			return;
		}
		u->last_rx_ms = loop_now_ms(u->loop);
		const uint8_t *msg;
		size_t len;
		int r;
		while ((r = frame_reader_next(&u->fr, &msg, &len)) == 1) {
			if (u->state == UP_HANDSHAKE)
				r = handle_msg2(u, msg, len);
			else if (u->state == UP_READY)
				r = handle_transport(u, msg, len);
			else
				r = -EPROTO;
			if (r < 0)
				break;
		}
		if (r < 0) {
			fail(u, r == -EBADMSG	   ? "authentication failed"
				: r == -EPROTO	   ? "protocol violation"
				: r == -ECONNRESET ? "session closed by collector"
						   : strerror(-r));
			return;
		}
	}
}

static void on_io(struct loop *l, int fd, uint32_t events, void *data)
{
	struct uplink *u = data;
	if (u->state == UP_CONNECTING) {
		int err = 0;
		socklen_t sl = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		if (err) {
			fail(u, strerror(err));
			return;
		}
		int r = send_msg1(u);
		if (r < 0)
			fail(u, strerror(-r));
		return;
	}
	if (events & EPOLLOUT) {
		int r = flush_wbuf(u);
		if (r < 0) {
			fail(u, strerror(-r));
			return;
		}
		if (u->state == UP_READY && (r = send_batches(u)) < 0) {
			fail(u, strerror(-r));
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(u);
}

static int connect_target(struct uplink *u)
{
	const struct uplink_target *t = &u->conf.targets[u->target];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *ai = NULL;
	/* Resolved at each connect so a moved collector is found. */
	int g = getaddrinfo(t->host, t->port, &hints, &ai);
	if (g != 0) {
		log_warn("collector %s port %s: %s", t->host, t->port, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	int r = -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			r = -errno;
			close(fd);
			continue;
		}
		r = loop_add_fd(u->loop, fd, EPOLLIN | EPOLLOUT, on_io, u);
		if (r < 0) {
			close(fd);
			break;
		}
		u->fd = fd;
		break;
	}
	freeaddrinfo(ai);
	if (u->fd < 0)
		return r;
	frame_reader_init(&u->fr);
	u->state = UP_CONNECTING;
	u->since_ms = loop_now_ms(u->loop);
	u->last_rx_ms = u->since_ms;
	u->heartbeat_out = 0;
	return 0;
}

static void on_retry(struct loop *l, struct loop_timer *t, void *data)
{
	struct uplink *u = data;
	u->retry = NULL;
	int r = connect_target(u);
	if (r < 0)
		fail(u, strerror(-r));
}

static void schedule_retry(struct uplink *u)
{
	uint64_t d = u->backoff_ms;
	if (d > 0)
		d = d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1));
	if (u->retry)
		loop_timer_cancel(u->loop, u->retry);
	if (loop_timer_add(u->loop, d, on_retry, u, &u->retry) < 0)
		u->retry = NULL;
}

/* Once a second: connect/handshake timeouts, heartbeats, dead peers and the
 * session lifetime. */
static void on_tick(struct loop *l, struct loop_timer *t, void *data)
{
	struct uplink *u = data;
	uint64_t now = loop_now_ms(l);
	u->tick = NULL;
	if ((u->state == UP_CONNECTING || u->state == UP_HANDSHAKE) &&
	    now - u->since_ms > u->conf.connect_timeout_ms) {
		fail(u, u->state == UP_CONNECTING ? "connect timed out" : "handshake timed out");
	} else if (u->state == UP_READY) {
		if (now - u->last_rx_ms > 2 * u->conf.heartbeat_ms) {
			fail(u, "no answer from collector");
		} else if (now - u->since_ms + UPLINK_TICK_MS > u->conf.session_max_ms) {
			/* Checked once a tick: end it one tick early rather
			 * than let it run past the limit. */
			/* A new session: fresh keys, nonces from zero. */
			uint8_t bye[PROTO_CLOSE_LEN] = { PROTO_MSG_CLOSE, PROTO_CLOSE_LIFETIME };
			if (put_transport(u, bye, sizeof(bye)) == 0)
				(void)flush_wbuf(u);
			drop_connection(u, NULL);
			u->backoff_ms = 0;
			schedule_retry(u);
		} else if (now - u->last_rx_ms > u->conf.heartbeat_ms && !u->heartbeat_out) {
			uint8_t hb = PROTO_MSG_HEARTBEAT;
			int r = put_transport(u, &hb, 1);
			if (r == 0)
				r = flush_wbuf(u);
			if (r < 0)
				fail(u, strerror(-r));
			else
				u->heartbeat_out = 1;
		}
	}
	if (loop_timer_add(l, UPLINK_TICK_MS, on_tick, u, &u->tick) < 0)
		u->tick = NULL;
}

int uplink_new(struct uplink **ret, struct loop *l, const struct uplink_conf *c, struct spool *q,
	       struct stream *st)
{
	if (c->ntargets == 0)
		return -EINVAL;
	struct uplink *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->wbuf = malloc(UPLINK_WBUF_CAP);
	u->plain = malloc(PROTO_PLAIN_MAX);
	if (!u->wbuf || !u->plain) {
		free(u->wbuf);
		free(u->plain);
		free(u);
		return -ENOMEM;
	}
	u->loop = l;
	u->conf = *c;
	memcpy(u->priv, c->priv, sizeof(u->priv));
	u->conf.priv = NULL;
	u->q = q;
	u->st = st;
	u->fd = -1;
	frame_reader_init(&u->fr);
	*ret = u;
	return 0;
}

void uplink_start(struct uplink *u)
{
	schedule_retry(u);
	if (loop_timer_add(u->loop, UPLINK_TICK_MS, on_tick, u, &u->tick) < 0)
		u->tick = NULL;
}

void uplink_get_stats(const struct uplink *u, struct uplink_stats *st)
{
	*st = u->stats;
}

void uplink_free(struct uplink *u)
{
	if (!u)
		return;
	if (u->state == UP_READY) {
		uint8_t bye[PROTO_CLOSE_LEN] = { PROTO_MSG_CLOSE, PROTO_CLOSE_SHUTDOWN };
		if (put_transport(u, bye, sizeof(bye)) == 0)
			(void)flush_wbuf(u);
	}
	drop_connection(u, NULL);
	if (u->retry)
		loop_timer_cancel(u->loop, u->retry);
	if (u->tick)
		loop_timer_cancel(u->loop, u->tick);
	sodium_memzero(u->priv, sizeof(u->priv));
	free(u->wbuf);
	free(u->plain);
	free(u);
}
