/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
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
#include "noise.h"
#include "pad.h"
#include "proto.h"
#include "session.h"
#include "uplink.h"
#include "witness.h"

/* Batches are built only while less than this is waiting in the socket
 * buffer of our own: TCP flow control does the rest. */
#define UPLINK_WBUF_LOW (256 * 1024)
#define UPLINK_WBUF_CAP (UPLINK_WBUF_LOW + 2 * (FRAME_HDR + FRAME_MAX))
#define UPLINK_TICK_MS 1000
#define UPLINK_BACKOFF_MIN_MS 200
/* For this long after a session that worked broke, the backoff does not
 * grow: a restarting collector (which closes every session, then listens
 * again a moment later) is found within UPLINK_BACKOFF_MIN_MS of being
 * back. Refused connects are cheap for both sides. */
#define UPLINK_RESTART_WINDOW_MS 5000
/* A collector that ended a session with URGENT messages before its first
 * ACK gets none for this long: it may be an older one, which closes on the
 * unknown type (docs/PROTOCOL.md 5.9); without the pause every session
 * would end the same way while a backlog waits. */
#define UPLINK_URGENT_PAUSE_MS (10 * 60 * 1000)
/* A collector that closed right after a msg1 offering extensions (hello
 * flags) gets hellos without them for this long: it may be one from
 * before the flags, which rejects them (docs/PROTOCOL.md 7.1). */
#define UPLINK_LEGACY_MS (10 * 60 * 1000)

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
	size_t target;	 /* index into conf.targets of the current attempt */
	unsigned addr;	 /* which of the target's resolved addresses */
	unsigned naddrs; /* how many it resolved to at the last attempt */
	bool acked_once; /* this session got an ACK: the collector works */
	uint64_t backoff_ms;
	struct loop_timer *retry;
	struct loop_timer *tick;

	struct noise_handshake hs;
	struct noise_cipher tx, rx;
	struct frame_reader fr;
	uint8_t *wbuf;
	size_t woff, wlen;
	uint8_t *plain;	 /* the next BATCH, built (pend_count > 0) and not yet sent */
	uint8_t *uplain; /* an URGENT message being built */
	/* Decrypted messages from the collector: never plain or uplain, as
	 * an ACK may arrive while a built BATCH waits to be sent. */
	uint8_t *rplain;
	uint64_t session_msgs; /* transport messages put in this session */
	uint64_t lost_ms;      /* when a session that worked last broke (0: never) */
	size_t pend_off;
	uint16_t pend_count;
	uint64_t pend_end; /* the seq after the last record of that BATCH */
	/* This session: the urgent records below this were sent in URGENT
	 * messages (or are in order before it); reset by each session, so
	 * that a new collector gets them first too. */
	uint64_t urgent_next;
	uint64_t session_urgent; /* records sent in URGENT messages in this session */
	size_t urgent_pause_target;
	uint64_t urgent_pause_until_ms; /* 0: no pause */

	uint64_t send_next; /* next stream seq to send in order */
	uint64_t acked;	    /* collector's high-water mark */
	/* The highest mark any collector acknowledged since the agent
	 * started, and which one: with failover, records below it are held
	 * by that collector and are not sent to another (7.3). */
	uint64_t acked_max;
	size_t acked_max_target;
	uint64_t since_ms; /* state entered */
	uint64_t last_rx_ms;
	uint64_t last_tx_ms;
	/* A HEARTBEAT awaiting its ACK: ticks seen since it went out (0: none
	 * out) and when. The peer is dead only when it left one unanswered
	 * for a heartbeat interval that included a read of the socket: a
	 * loop iteration busy with a long burst of fsyncs is the agent's own
	 * delay, not the collector's silence. */
	int heartbeat_out;
	uint64_t heartbeat_sent_ms;

	/* Extensions (hello flags): offered in this attempt's msg1, accepted
	 * by the collector's welcome; a collector that seems to predate them
	 * gets none until legacy_until_ms. */
	uint8_t offered, accepted;
	size_t legacy_target;
	uint64_t legacy_until_ms; /* 0: none */
	uint8_t *padbuf;	  /* PROTO_PLAIN_MAX: a padded plaintext */
	struct witness *witness;  /* commitments kept (NULL: none) */

	struct uplink_stats stats;
};

static void schedule_retry(struct uplink *u, uint64_t extra_ms);
static int put_transport(struct uplink *u, const uint8_t *p, size_t plen);
static int flush_wbuf(struct uplink *u);
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
	u->pend_count = 0;
	u->state = UP_IDLE;
	u->stats.connected = 0;
}

/*
 * The failover rules (docs/PROTOCOL.md 7.1):
 * - Every series of attempts goes through the configured list in order,
 *   from the first collector; within a collector, through the addresses
 *   its name resolves to (resolved again at each attempt).
 * - A failed attempt (connect, handshake, or a session that ends before
 *   its first ACK) moves on at once to the next address or collector.
 *   After a whole round of failures the wait doubles, from
 *   UPLINK_BACKOFF_MIN_MS up to backoff_max, with jitter (half to all of it).
 * - A session that worked (it got an ACK) and then broke starts the next
 *   series from the first collector after a short random delay
 *   (under UPLINK_BACKOFF_MIN_MS), with the backoff reset.
 * - A session ended on purpose (lifetime, failback) starts the next
 *   series at once, from the first collector: that is the failback.
 */
static void next_target(struct uplink *u)
{
	u->addr = 0;
	u->target = (u->target + 1) % u->conf.ntargets;
	if (u->target == 0 && u->lost_ms && loop_now_ms(u->loop) - u->lost_ms < UPLINK_RESTART_WINDOW_MS) {
		u->backoff_ms = UPLINK_BACKOFF_MIN_MS; /* maybe a restart: look again soon */
	} else if (u->target == 0) {
		u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : UPLINK_BACKOFF_MIN_MS;
		if (u->backoff_ms > u->conf.backoff_max_ms)
			u->backoff_ms = u->conf.backoff_max_ms;
	}
}

static void fail(struct uplink *u, const char *why)
{
	bool worked = u->state == UP_READY && u->acked_once;
	bool connecting = u->state == UP_CONNECTING;
	if (u->state == UP_READY && !u->acked_once && u->session_urgent) {
		log_notice("collector %s ended the session after URGENT messages, before any ack: none to it "
			   "for "
			   "%d minutes (an older collector closes on them)",
			   target_name(u), UPLINK_URGENT_PAUSE_MS / 60000);
		u->urgent_pause_target = u->target;
		u->urgent_pause_until_ms = loop_now_ms(u->loop) + UPLINK_URGENT_PAUSE_MS;
	}
	bool closed = why && strcmp(why, "connection closed by collector") == 0;
	if (u->state == UP_HANDSHAKE && !u->offered && closed && u->legacy_until_ms &&
	    u->legacy_target == u->target) {
		/* The plain hello is refused too: the collector is not one from
		 * before the flags, it refuses for another reason (busy, rate,
		 * replay). Offer them again from the next attempt. */
		u->legacy_until_ms = 0;
	} else if (u->state == UP_HANDSHAKE && u->offered && closed && !u->conf.require_extensions) {
		log_notice("collector %s closed the connection after a handshake offering extensions: none "
			   "offered to it for %d minutes (a collector from before them closes on them; "
			   "padding and commitments are off meanwhile)",
			   target_name(u), UPLINK_LEGACY_MS / 60000);
		u->legacy_target = u->target;
		u->legacy_until_ms = loop_now_ms(u->loop) + UPLINK_LEGACY_MS;
	}
	drop_connection(u, why);
	if (worked) {
		u->lost_ms = loop_now_ms(u->loop);
		u->target = 0;
		u->addr = 0;
		u->backoff_ms = 0;
		schedule_retry(u, randombytes_uniform(UPLINK_BACKOFF_MIN_MS));
		return;
	}
	if (connecting && u->addr + 1 < u->naddrs)
		u->addr++; /* the same collector at its next address */
	else
		next_target(u);
	schedule_retry(u, 0);
}

/* End a healthy session on purpose and start over from the first collector. */
static void rotate(struct uplink *u, uint8_t reason)
{
	uint8_t bye[PROTO_CLOSE_LEN] = { PROTO_MSG_CLOSE, reason };
	if (put_transport(u, bye, sizeof(bye)) == 0)
		(void)flush_wbuf(u);
	drop_connection(u, NULL);
	u->target = 0;
	u->addr = 0;
	u->backoff_ms = 0;
	schedule_retry(u, 0);
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
	/* What was sent goes first: callers keep the unsent part under
	 * UPLINK_WBUF_LOW before they add a frame, but flush_wbuf moves it
	 * to the front only past UPLINK_WBUF_LOW. */
	if (u->wlen + FRAME_HDR + plen + NOISE_TAG_LEN > UPLINK_WBUF_CAP && u->woff > 0) {
		memmove(u->wbuf, u->wbuf + u->woff, u->wlen - u->woff);
		u->wlen -= u->woff;
		u->woff = 0;
	}
	if (u->accepted & PROTO_HELLO_F_PAD) {
		/* The real length inside the encryption, sizes from a few (pad.h). */
		int pn = pad_wrap(u->padbuf, PROTO_PLAIN_MAX, p, plen);
		if (pn < 0)
			return pn;
		p = u->padbuf;
		plen = (size_t)pn;
		if (u->wlen + FRAME_HDR + plen + NOISE_TAG_LEN > UPLINK_WBUF_CAP && u->woff > 0) {
			memmove(u->wbuf, u->wbuf + u->woff, u->wlen - u->woff);
			u->wlen -= u->woff;
			u->woff = 0;
		}
	}
	if (u->wlen + FRAME_HDR + plen + NOISE_TAG_LEN > UPLINK_WBUF_CAP)
		return -ENOBUFS;
	int n = noise_encrypt(&u->tx, p, plen, u->wbuf + u->wlen + FRAME_HDR,
			      UPLINK_WBUF_CAP - u->wlen - FRAME_HDR);
	if (n < 0)
		return n;
	frame_put_header(u->wbuf + u->wlen, (size_t)n);
	u->wlen += FRAME_HDR + (size_t)n;
	u->session_msgs++;
	return 0;
}

/* The largest message of this session: padding takes its length field. */
static size_t plain_max(const struct uplink *u)
{
	return u->accepted & PROTO_HELLO_F_PAD ? PAD_MSG_MAX : PROTO_PLAIN_MAX;
}

/* Build the next BATCH into plain: spooled records from send_next on, as
 * many as fit. Seqs the spool no longer holds (dropped on overflow,
 * damaged) are skipped: the spool's gap records say why. Only fsynced
 * records are sent (below limit): one that a power loss could still take
 * from the spool would leave its seq free for another record, which the
 * collector, holding the first, would then drop as a duplicate
 * (docs/SPOOL.md). */
static int build_batch(struct uplink *u, uint64_t limit)
{
	size_t off = PROTO_BATCH_HDR;
	uint16_t count = 0;
	uint64_t next = u->send_next;
	while (count < UINT16_MAX) {
		const uint8_t *rec;
		size_t len;
		uint64_t seq;
		int r = spool_read(u->q, next, &rec, &len, &seq);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
		if (seq >= limit || off + PROTO_BATCH_REC_HDR + len > plain_max(u))
			break;
		put_be32(u->plain + off, (uint32_t)len);
		memcpy(u->plain + off + PROTO_BATCH_REC_HDR, rec, len);
		off += PROTO_BATCH_REC_HDR + len;
		count++;
		next = seq + 1;
	}
	u->plain[0] = PROTO_MSG_BATCH;
	put_be16(u->plain + 1, count);
	u->pend_off = off;
	u->pend_count = count;
	u->pend_end = next;
	return 0;
}

/*
 * Priority (docs/SPOOL.md): one URGENT message of the urgent records
 * (level <= PROTO_URGENT_LEVEL_MAX, from the spool's index) that lie
 * beyond the pending BATCH and were not sent urgently in this session.
 * Returns how many records it carries (0: none, nothing sent) or -errno.
 */
static int put_urgent(struct uplink *u, uint64_t limit)
{
	uint64_t from = u->pend_end > u->urgent_next ? u->pend_end : u->urgent_next, seqs[64];
	size_t off = PROTO_BATCH_HDR;
	uint16_t count = 0;
	bool full = false;
	while (!full && from < limit) {
		size_t n = spool_urgent(u->q, from, limit, seqs, sizeof(seqs) / sizeof(seqs[0]));
		if (n == 0) {
			from = limit;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			const uint8_t *rec;
			size_t len;
			uint64_t seq;
			int r = spool_read(u->q, seqs[i], &rec, &len, &seq);
			if (r < 0 && r != -ENOENT)
				return r;
			/* Gone since (overflow, damage): skipped. The index holds
			 * only records of level <= SPOOL_URGENT_LEVEL, which is
			 * what URGENT may carry. */
			if (r == -ENOENT || seq != seqs[i]) {
				from = seqs[i] + 1;
				continue;
			}
			if (off + PROTO_BATCH_REC_HDR + len > plain_max(u) || count == UINT16_MAX) {
				full = true;
				break;
			}
			put_be32(u->uplain + off, (uint32_t)len);
			memcpy(u->uplain + off + PROTO_BATCH_REC_HDR, rec, len);
			off += PROTO_BATCH_REC_HDR + len;
			count++;
			from = seq + 1;
		}
	}
	u->urgent_next = from;
	if (count == 0)
		return 0;
	u->uplain[0] = PROTO_MSG_URGENT;
	put_be16(u->uplain + 1, count);
	int r = put_transport(u, u->uplain, off);
	if (r < 0)
		return r;
	u->stats.urgent += count;
	u->session_urgent += count;
	return count;
}

/*
 * Fill the write buffer with messages while less than UPLINK_WBUF_LOW is
 * unsent: BATCHes of the records from send_next on, in order. While a
 * backlog waits (records beyond what the next BATCH carries), the urgent
 * records among them go first, in URGENT messages.
 */
static int send_batches(struct uplink *u)
{
	uint64_t limit = spool_synced_seq(u->q);
again:;
	uint64_t msgs = u->session_msgs;
	while (u->wlen - u->woff < UPLINK_WBUF_LOW) {
		int r;
		if (u->pend_count == 0) {
			if (u->send_next >= limit)
				break;
			if ((r = build_batch(u, limit)) < 0)
				return r;
			if (u->pend_count == 0)
				break;
		}
		bool paused = u->urgent_pause_until_ms && u->urgent_pause_target == u->target &&
			      loop_now_ms(u->loop) < u->urgent_pause_until_ms;
		if (u->pend_end < limit && !paused) {
			if ((r = put_urgent(u, limit)) < 0)
				return r;
			if (r > 0)
				continue;
		}
		if ((r = put_transport(u, u->plain, u->pend_off)) < 0)
			return r;
		u->send_next = u->pend_end;
		u->stats.sent += u->pend_count;
		u->pend_count = 0;
	}
	int r = flush_wbuf(u);
	/* The socket took all of it: no EPOLLOUT will come back for the
	 * rest (URGENT messages get no ACK), so go on while there is more. */
	if (r == 0 && u->wlen == 0 && u->session_msgs > msgs)
		goto again;
	return r;
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
	struct session_hello h;
	int r = stream_next_counter(u->st, &h.counter);
	if (r < 0) {
		log_err("persist handshake counter: %s", strerror(-r));
		return r;
	}
	char host[PROTO_HOSTNAME_MAX + 1];
	hostinfo_hostname(host, sizeof(host));
	h.hostname = host;
	memcpy(h.stream_id, u->st->id, PROTO_STREAM_ID_LEN);
	hostinfo_machine_id(h.machine_id);
	bool legacy = u->legacy_until_ms && u->legacy_target == u->target &&
		      loop_now_ms(u->loop) < u->legacy_until_ms && !u->conf.require_extensions;
	u->offered = legacy ? 0 : PROTO_HELLO_F_COMMIT | (u->conf.padding ? PROTO_HELLO_F_PAD : 0);
	u->accepted = 0;
	h.flags = u->offered;
	h.presented = u->witness ? witness_get(u->witness, t->pub) : NULL;
	int n = session_write_msg1(&u->hs, u->priv, t->pub, &h, u->wbuf + FRAME_HDR,
				   UPLINK_WBUF_CAP - FRAME_HDR);
	if (n < 0)
		return n;
	frame_put_header(u->wbuf, (size_t)n);
	u->woff = 0;
	u->wlen = FRAME_HDR + (size_t)n;
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
	uint64_t hwm;
	int r = session_read_msg2_ext(&u->hs, msg, len, spool_next_seq(u->q), u->offered, &u->tx, &u->rx,
				      &hwm, &u->accepted);
	if (r < 0)
		return r;
	if (u->conf.require_extensions && u->accepted != u->offered) {
		log_warn("collector %s did not accept the extensions offered (0x%02x of 0x%02x), which "
			 "network.require_extensions requires",
			 target_name(u), u->accepted, u->offered);
		return -EPROTO;
	}
	uint64_t from = hwm;
	if (u->acked_max > hwm && u->acked_max_target != u->target) {
		/* Another collector holds hwm .. acked_max - 1: this one
		 * stores them as a stream-jump gap; their union is complete. */
		log_info("collector %s has this stream up to %llu; up to %llu it is with collector %s: "
			 "continuing from there",
			 target_name(u), (unsigned long long)hwm, (unsigned long long)u->acked_max,
			 u->acked_max_target < u->conf.ntargets ? u->conf.targets[u->acked_max_target].host
								: "(no longer configured)");
		from = u->acked_max;
	} else if (u->acked_max > hwm) {
		log_warn("collector %s acknowledged this stream up to %llu, now says %llu: it lost records; "
			 "resending what the spool still holds",
			 target_name(u), (unsigned long long)u->acked_max, (unsigned long long)hwm);
	}
	ack(u, hwm);
	if (hwm > u->acked_max) {
		u->acked_max = hwm;
		u->acked_max_target = u->target;
	}
	u->acked = hwm;
	u->stats.acked_hwm = hwm;
	u->send_next = from;
	u->urgent_next = from;
	u->session_urgent = 0;
	u->session_msgs = 0;
	u->pend_count = 0;
	u->state = UP_READY;
	u->since_ms = loop_now_ms(u->loop);
	u->acked_once = false;
	u->stats.sessions++;
	u->stats.connected = 1;
	u->stats.target = u->target;
	log_info("connected to collector %s port %s, resuming at stream seq %llu", target_name(u),
		 u->conf.targets[u->target].port, (unsigned long long)hwm);
	if ((r = send_batches(u)) < 0 || u->session_msgs > 0)
		return r;
	/* Key confirmation (docs/PROTOCOL.md 5.3): the collector counts the
	 * session only once a transport message from us decrypts, and drops
	 * it after handshake_timeout otherwise. With nothing to send, a
	 * HEARTBEAT confirms at once; its ACK is awaited like any other. */
	uint8_t hb = PROTO_MSG_HEARTBEAT;
	if ((r = put_transport(u, &hb, 1)) < 0 || (r = flush_wbuf(u)) < 0)
		return r;
	u->heartbeat_out = 1;
	u->heartbeat_sent_ms = loop_now_ms(u->loop);
	return 0;
}

static int handle_transport(struct uplink *u, const uint8_t *msg, size_t len)
{
	uint64_t hwm;
	struct commitment cm;
	int r = session_read_transport_ext(&u->rx, msg, len, u->acked, u->send_next, u->accepted, u->st->id,
					   u->rplain, &hwm, &cm);
	if (r < 0)
		return r;
	if ((u->accepted & PROTO_HELLO_F_COMMIT) && u->witness) {
		witness_put(u->witness, u->conf.targets[u->target].pub, &cm);
		(void)witness_save(u->witness, loop_now_ms(u->loop));
	}
	/* PROTO_MSG_ACK: the collector works; a later break starts over
	 * from the first collector without backoff. */
	ack(u, hwm);
	if (hwm > u->acked_max) {
		u->acked_max = hwm;
		u->acked_max_target = u->target;
	}
	u->acked = hwm;
	u->stats.acked_hwm = hwm;
	u->heartbeat_out = 0;
	u->acked_once = true;
	u->backoff_ms = 0;
	return send_batches(u);
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
			bool hs = u->state == UP_HANDSHAKE;
			fail(u, r == -EBADMSG ? "authentication failed"
				: r == -EPROTO && hs
					? "malformed msg2, or a high-water mark above this stream's "
					  "records"
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
		u->naddrs = 0;
		return -EHOSTUNREACH;
	}
	/* Addresses u->addr and on, in the resolver's order: an address
	 * whose connect fails at once is skipped here, one that fails later
	 * (refused, timed out) makes fail() come back with the next. */
	unsigned i = 0;
	int r = -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a; a = a->ai_next, i++) {
		if (i < u->addr || u->fd >= 0)
			continue;
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
			continue;
		}
		u->fd = fd;
		u->addr = i;
	}
	u->naddrs = i;
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
		fail(u, strerror(-r)); /* not connecting: the next collector */
}

/* The next attempt after the backoff (with jitter: half to all of it) plus extra_ms. */
static void schedule_retry(struct uplink *u, uint64_t extra_ms)
{
	uint64_t d = u->backoff_ms;
	if (d > 0)
		d = d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1));
	if (u->retry)
		loop_timer_cancel(u->loop, u->retry);
	if (loop_timer_add(u->loop, d + extra_ms, on_retry, u, &u->retry) < 0)
		u->retry = NULL;
}

/* Once a second: connect/handshake timeouts, heartbeats, dead peers and the
 * session lifetime. */
static void on_tick(struct loop *l, struct loop_timer *t, void *data)
{
	struct uplink *u = data;
	uint64_t now = loop_now_ms(l);
	u->tick = NULL;
	/* A commitment newer than the one saved: at most a second late. */
	if (u->witness)
		(void)witness_save(u->witness, now);
	if ((u->state == UP_CONNECTING || u->state == UP_HANDSHAKE) &&
	    now - u->since_ms > u->conf.connect_timeout_ms) {
		fail(u, u->state == UP_CONNECTING ? "connect timed out" : "handshake timed out");
	} else if (u->state == UP_READY) {
		if (u->heartbeat_out && ++u->heartbeat_out > 2 &&
		    now - u->heartbeat_sent_ms > u->conf.heartbeat_ms) {
			fail(u, "no answer from collector");
		} else if (now - u->since_ms + UPLINK_TICK_MS > u->conf.session_max_ms) {
			/* Checked once a tick: end it one tick early rather
			 * than let it run past the limit. A new session: fresh
			 * keys, nonces from zero (the old keys are wiped). */
			log_info("collector %s: session lifetime reached; new session", target_name(u));
			rotate(u, PROTO_CLOSE_LIFETIME);
		} else if (u->target > 0 && now - u->since_ms >= u->conf.backoff_max_ms) {
			/* On a fallback collector: try the list from the top
			 * again every backoff_max (failback). */
			log_info("collector %s is not the first in the list; trying the list from the top",
				 target_name(u));
			rotate(u, PROTO_CLOSE_FAILBACK);
		} else if (now - u->last_rx_ms > u->conf.heartbeat_ms && !u->heartbeat_out) {
			uint8_t hb = PROTO_MSG_HEARTBEAT;
			int r = put_transport(u, &hb, 1);
			if (r == 0)
				r = flush_wbuf(u);
			if (r < 0)
				fail(u, strerror(-r));
			else {
				u->heartbeat_out = 1;
				u->heartbeat_sent_ms = now;
			}
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
	u->uplain = malloc(PROTO_PLAIN_MAX);
	u->rplain = malloc(PROTO_PLAIN_MAX);
	u->padbuf = malloc(PROTO_PLAIN_MAX);
	if (!u->wbuf || !u->plain || !u->uplain || !u->rplain || !u->padbuf) {
		free(u->wbuf);
		free(u->plain);
		free(u->uplain);
		free(u->rplain);
		free(u->padbuf);
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
	schedule_retry(u, 0);
	if (loop_timer_add(u->loop, UPLINK_TICK_MS, on_tick, u, &u->tick) < 0)
		u->tick = NULL;
}

void uplink_get_stats(const struct uplink *u, struct uplink_stats *st)
{
	*st = u->stats;
	st->host = u->conf.targets[u->target].host;
	st->port = u->conf.targets[u->target].port;
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
	free(u->uplain);
	if (u->rplain)
		sodium_memzero(u->rplain, PROTO_PLAIN_MAX);
	free(u->rplain);
	free(u->padbuf);
	if (u->witness && witness_save(u->witness, 0) < 0)
		log_warn("save %s: %s", WITNESS_FILE, strerror(errno));
	free(u);
}

void uplink_set_witness(struct uplink *u, struct witness *w)
{
	u->witness = w;
}

static bool same_target(const struct uplink_target *a, const struct uplink_target *b)
{
	return strcmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0 &&
	       sodium_memcmp(a->pub, b->pub, sizeof(a->pub)) == 0;
}

void uplink_set_conf(struct uplink *u, const struct uplink_conf *c)
{
	const struct uplink_target *old = u->conf.targets;
	bool keep = u->target < c->ntargets && same_target(&old[u->target], &c->targets[u->target]);
	/* Which collector holds acked_max, in the new list (none: another
	 * collector than any of them, which is what the rule needs). */
	size_t held = SIZE_MAX;
	for (size_t i = 0; u->acked_max_target < u->conf.ntargets && i < c->ntargets; i++)
		if (same_target(&old[u->acked_max_target], &c->targets[i]))
			held = i;
	u->acked_max_target = held;
	u->conf.targets = c->targets;
	u->conf.ntargets = c->ntargets;
	u->urgent_pause_until_ms = 0; /* another list: no pause carries over */
	u->conf.backoff_max_ms = c->backoff_max_ms;
	u->conf.connect_timeout_ms = c->connect_timeout_ms;
	u->conf.heartbeat_ms = c->heartbeat_ms;
	u->conf.session_max_ms = c->session_max_ms;
	u->conf.padding = c->padding; /* from the next session */
	u->conf.require_extensions = c->require_extensions;
	if (keep)
		return;
	/* The collector in use moved or left the list: start over from the
	 * new list's first. */
	if (u->state == UP_READY) {
		rotate(u, PROTO_CLOSE_FAILBACK);
		return;
	}
	drop_connection(u, NULL);
	u->target = 0;
	u->addr = 0;
	u->backoff_ms = 0;
	schedule_retry(u, 0);
}
