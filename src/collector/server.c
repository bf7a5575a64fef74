/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "frame.h"
#include "key.h"
#include "log.h"
#include "mac1.h"
#include "commitment.h"
#include "noise.h"
#include "pad.h"
#include "proto.h"
#include "addrlimit.h"
#include "server.h"

#define SERVER_TICK_MS 1000
/* Frames handled per wakeup of one connection, so one busy agent cannot
 * starve the others; epoll is level-triggered and brings us back. */
#define SERVER_FILLS_PER_WAKEUP 2
/* Connections accepted per wakeup of a listener: a flood of connects
 * cannot keep the loop from the sessions (and timers) between batches. */
#define SERVER_ACCEPTS_PER_WAKEUP 64
/* Outgoing bytes are only msg2 and acks; an agent that lets this much
 * pile up is not reading and is dropped. */
#define SERVER_WBUF_CAP 4096
/* Connections not yet key-confirmed per IPv4 address or IPv6 /64, and per
 * IPv6 /56 (limits.address_handshaking and limits.prefix_handshaking, 8
 * and 32 by default): a newcomer beyond either evicts the oldest of its
 * group, and
 * one beyond max_handshaking the oldest of all (docs/SECURITY.md 5). So
 * silent or slow connections from a few addresses or one /56 never fill
 * max_handshaking, and the oldest ones (the attacker's, held open) go
 * first, not the newest (an agent's, whose msg1 follows its connect). */
/* Under pressure (more than half of max_handshaking in use) connections
 * get this long, if shorter than handshake_timeout, for msg1 and again
 * for key confirmation. */
#define SERVER_PRESSURE_TIMEOUT_MS 1000

enum conn_state {
	CONN_HANDSHAKE, /* waiting for msg1 */
	CONN_READY,	/* msg2 sent; transport (live once confirmed) */
};

struct conn {
	struct server *sv;
	struct conn *prev, *next;
	/* Not yet key-confirmed: in the server's list of those, oldest first. */
	struct conn *hs_prev, *hs_next;
	int fd;
	enum conn_state state;
	char peer[INET6_ADDRSTRLEN + 8];
	struct sockaddr_storage addr;
	uint8_t client_pub[32]; /* the static key it authenticated with */
	uint64_t since_ms;	/* accepted; in CONN_READY: msg2 sent */
	uint64_t last_rx_ms;
	/* Before msg2 the peer is unauthenticated: its bytes go here, read
	 * no further than the frame its header announces, so a connection
	 * that has not authenticated holds at most one msg1 (no read-ahead,
	 * no frame reader buffer). */
	uint8_t hs_buf[FRAME_HDR + PROTO_MSG1_MAX];
	size_t hs_len;
	struct frame_reader fr; /* after msg2; its buffer is freed when empty */
	struct noise_cipher tx, rx;
	struct store_host *host;
	uint8_t sid[PROTO_STREAM_ID_LEN];
	/* A transport message decrypted: the peer has the session keys. Only
	 * then is the session live (counted, replacing an older one of its
	 * stream, leaving events in the journal); until then it still counts
	 * as a handshake in progress and its failures are rejects. */
	bool confirmed;
	uint64_t counter; /* msg1's handshake counter */
	/* What the agent said about itself in msg1: information, never trusted. */
	char claimed_host[PROTO_HOSTNAME_MAX + 1];
	uint8_t claimed_machine[PROTO_MACHINE_ID_LEN];
	bool want_ack;
	/* The extensions of the hello's flags this session uses (PROTO_HELLO_F_*). */
	uint8_t flags;
	/* Next stream seq this connection may carry; acks never exceed it, so
	 * records that reached the store through an older connection of the
	 * same stream are never acked to an agent that has not sent them. */
	uint64_t recv_next;
	/* The next URGENT record must have a seq at least this (and at
	 * least recv_next): they come in increasing order per connection. */
	uint64_t urgent_next;
	uint8_t wbuf[SERVER_WBUF_CAP];
	size_t wlen;
};

struct listener {
	int fd;
	struct server *sv;
};

struct server {
	struct loop *loop;
	const struct collector_conf *conf;
	struct store *store;
	uint8_t priv[32];
	uint8_t pub[32];
	uint8_t mac1_key[MAC1_KEY_LEN];
	struct listener listeners[COLLECTOR_MAX_LISTEN * 4];
	size_t nlisteners;
	struct conn *conns;
	struct conn *hs_head, *hs_tail; /* not key-confirmed, by accept time */
	size_t nconns, nhandshaking;
	struct addrlimit *limit;
	struct loop_timer *commit_timer;
	/* A commit is wanted but its timer could not be added: the next tick
	 * commits (never from inside want_commit, whose caller may still be
	 * using a connection that on_commit would end). */
	bool commit_due;
	struct loop_timer *tick;
	uint8_t *plain; /* PROTO_PLAIN_MAX: decrypted transport message */
	struct server_stats stats;
	void (*commit_hook)(void *data, const char *host);
	void *commit_hook_data;
};

static void hs_unlink(struct conn *c)
{
	struct server *sv = c->sv;
	if (c->hs_prev)
		c->hs_prev->hs_next = c->hs_next;
	else
		sv->hs_head = c->hs_next;
	if (c->hs_next)
		c->hs_next->hs_prev = c->hs_prev;
	else
		sv->hs_tail = c->hs_prev;
	c->hs_prev = c->hs_next = NULL;
	addrlimit_hs_del(sv->limit, (struct sockaddr *)&c->addr);
	sv->nhandshaking--;
}

static void conn_close(struct conn *c)
{
	struct server *sv = c->sv;
	loop_del_fd(sv->loop, c->fd);
	close(c->fd);
	addrlimit_conn_del(sv->limit, (struct sockaddr *)&c->addr);
	sv->nconns--;
	if (!c->confirmed)
		hs_unlink(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		sv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->confirmed) {
		sv->stats.live--;
		store_stream_hold(c->host, c->sid, false);
		log_info("host %s: session from %s ended", store_host_name(c->host), c->peer);
	}
	noise_cipher_wipe(&c->tx);
	noise_cipher_wipe(&c->rx);
	frame_reader_free(&c->fr);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

static void want_commit(struct server *sv);

static void put_session_event(struct conn *c, uint16_t event, const char *reason)
{
	uint8_t fbuf[STORE_EVENT_MAX / 2];
	char msg[160], mid[33];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	int r = record_fields_add(&fb, "PEER", c->peer, strlen(c->peer));
	if (event == RECORD_EV_SESSION_START) {
		for (int i = 0; i < PROTO_MACHINE_ID_LEN; i++)
			snprintf(mid + 2 * i, 3, "%02x", c->claimed_machine[i]);
		r |= record_fields_add(&fb, "CLAIMED_HOSTNAME", c->claimed_host, strlen(c->claimed_host));
		r |= record_fields_add(&fb, "CLAIMED_MACHINE_ID", mid, 32);
		r |= record_fields_addf(&fb, "RESUME_STREAM_SEQ", "%llu", (unsigned long long)c->recv_next);
		snprintf(msg, sizeof(msg), "session from %s started (agent says hostname '%s')", c->peer,
			 c->claimed_host);
	} else {
		r |= record_fields_add(&fb, "END_REASON", reason, strlen(reason));
		snprintf(msg, sizeof(msg), "session from %s ended: %s", c->peer, reason);
	}
	if (r == 0)
		r = store_event(c->host, c->sid, event, LOG_INFO, c->recv_next, NULL, msg, &fb,
				clock_usec(CLOCK_REALTIME));
	if (r < 0)
		log_warn("host %s: cannot store session event: %s", store_host_name(c->host), strerror(-r));
	else
		want_commit(c->sv);
}

/* End a session: an authenticated one leaves a session-end event. */
static void conn_end(struct conn *c, const char *reason)
{
	if (c->confirmed && !store_host_failed(c->host))
		put_session_event(c, RECORD_EV_SESSION_END, reason);
	conn_close(c);
}

/*
 * A refused handshake with a known host's key (replayed counter, no key
 * confirmation, a first message that does not decrypt): into that host's
 * journal, at most one event per STORE_REJECT_EVENT_USEC with the count
 * since the last, so that a replaying attacker cannot fill it.
 */
static void put_reject_event(struct conn *c, const char *what)
{
	uint64_t now = clock_usec(CLOCK_REALTIME), count;
	if (!store_reject_due(c->host, now, &count))
		return;
	uint8_t fbuf[STORE_EVENT_MAX / 2];
	char msg[200];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	int r = record_fields_add(&fb, "PEER", c->peer, strlen(c->peer));
	r |= record_fields_add(&fb, "REJECT_REASON", what, strlen(what));
	r |= record_fields_addf(&fb, "REJECTED_COUNT", "%llu", (unsigned long long)count);
	snprintf(msg, sizeof(msg), "handshake from %s rejected: %s (%llu since the last such event)", c->peer,
		 what, (unsigned long long)count);
	if (r == 0)
		r = store_event(c->host, c->sid, RECORD_EV_HANDSHAKE_REJECTED, LOG_WARNING,
				store_stream_hwm(c->host, c->sid), NULL, msg, &fb, now);
	if (r < 0)
		log_warn("host %s: cannot store handshake-rejected event: %s", store_host_name(c->host),
			 strerror(-r));
	else
		want_commit(c->sv);
}

/* Unauthenticated failure: count it, say nothing to the peer. */
static void conn_reject(struct conn *c, enum server_reject why, const char *what)
{
	c->sv->stats.rejected[why]++;
	/* c->host is set once msg1 named a configured key and its journal
	 * opened: the refusal then belongs to that host. */
	if (c->host && !store_host_failed(c->host) &&
	    (why == REJECT_REPLAY || why == REJECT_TIMEOUT || why == REJECT_HANDSHAKE))
		put_reject_event(c, what);
	/* Kinds that get past mac1 come from someone who knows our public
	 * key: worth a notice. The rest is noise from the network. */
	if (why == REJECT_UNKNOWN || why == REJECT_REPLAY || why == REJECT_STORE)
		log_notice("reject %s: %s", c->peer, what);
	else
		log_debug("reject %s: %s", c->peer, what);
	conn_close(c);
}

static int conn_flush(struct conn *c)
{
	size_t off = 0;
	while (off < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		off += (size_t)n;
	}
	memmove(c->wbuf, c->wbuf + off, c->wlen - off);
	c->wlen -= off;
	return loop_mod_fd(c->sv->loop, c->fd, EPOLLIN | (c->wlen ? EPOLLOUT : 0));
}

static int conn_send(struct conn *c, const uint8_t *p, size_t plen)
{
	/* Only ACKs are sent: one padded one is PAD_BODY_MIN bytes. */
	uint8_t padded[PAD_BODY_MIN - NOISE_TAG_LEN];
	if (c->flags & PROTO_HELLO_F_PAD) {
		int n = pad_wrap(padded, sizeof(padded), p, plen);
		if (n < 0)
			return n;
		p = padded;
		plen = (size_t)n;
	}
	if (c->wlen + FRAME_HDR + plen + NOISE_TAG_LEN > sizeof(c->wbuf))
		return -ENOBUFS;
	int n = noise_encrypt(&c->tx, p, plen, c->wbuf + c->wlen + FRAME_HDR,
			      sizeof(c->wbuf) - c->wlen - FRAME_HDR);
	if (n < 0)
		return n;
	frame_put_header(c->wbuf + c->wlen, (size_t)n);
	c->wlen += FRAME_HDR + (size_t)n;
	return conn_flush(c);
}

static int conn_ack(struct conn *c)
{
	uint64_t hwm = store_stream_hwm(c->host, c->sid);
	if (hwm > c->recv_next)
		hwm = c->recv_next;
	uint8_t ack[PROTO_ACK_COMMIT_LEN];
	ack[0] = PROTO_MSG_ACK;
	put_be64(ack + 1, hwm);
	c->want_ack = false;
	if (!(c->flags & PROTO_HELLO_F_COMMIT))
		return conn_send(c, ack, PROTO_ACK_LEN);
	/* The collector's word on the journal as of this commit (commitment.h). */
	struct commitment cm = { .hwm = store_stream_hwm(c->host, c->sid) };
	snprintf(cm.host, sizeof(cm.host), "%s", store_host_name(c->host));
	memcpy(cm.stream_id, c->sid, sizeof(cm.stream_id));
	store_host_mark(c->host, &cm.records, &cm.end, cm.chain);
	cm.written_usec = clock_usec(CLOCK_REALTIME);
	commitment_encode(ack + PROTO_ACK_LEN, &cm);
	return conn_send(c, ack, sizeof(ack));
}

/* Group commit: one write and one fsync per dirty host for everything
 * that arrived since the last commit, then the acks. */
static void on_commit(struct loop *l, struct loop_timer *t, void *data)
{
	struct server *sv = data;
	sv->commit_timer = NULL;
	sv->commit_due = false;
	int r = store_commit(sv->store);
	sv->stats.commits++;
	if (r < 0)
		log_err("store: commit failed: %s; affected sessions are closed and will resend",
			strerror(-r));
	struct conn *next;
	for (struct conn *c = sv->conns; c; c = next) {
		next = c->next;
		if (c->state != CONN_READY)
			continue;
		if (store_host_failed(c->host)) {
			/* Its records were rolled back: the agent must resend
			 * them, which it does from msg2's mark on reconnect. */
			conn_end(c, "store write failed");
			continue;
		}
		if (c->want_ack && sv->commit_hook)
			sv->commit_hook(sv->commit_hook_data, store_host_name(c->host));
		if (c->want_ack && conn_ack(c) < 0)
			conn_end(c, "ack send failed");
	}
}

/* Test builds: KS_TEST_COMMIT_TIMER_FAIL in the environment makes every
 * commit timer fail, as on allocation failure (tests/faults). */
static int commit_timer_add(struct server *sv)
{
#ifdef KS_TEST_HOOKS
	static int fail = -1;
	if (fail < 0)
		fail = getenv("KS_TEST_COMMIT_TIMER_FAIL") != NULL;
	if (fail)
		return -ENOMEM;
#endif
	return loop_timer_add(sv->loop, 0, on_commit, sv, &sv->commit_timer);
}

/*
 * Called with connections in use by the caller: on_commit may end any of
 * them, so it never runs from here. Without a timer (allocation failure)
 * the next tick commits: acks come up to a tick later, nothing is lost.
 */
static void want_commit(struct server *sv)
{
	if (!sv->commit_timer && !sv->commit_due && commit_timer_add(sv) < 0) {
		sv->commit_timer = NULL;
		sv->commit_due = true;
	}
}

/* Parse the msg1 payload (proto.h). Returns the counter via *counter. */
static int parse_hello(const uint8_t *p, size_t len, uint64_t *counter, char host[PROTO_HOSTNAME_MAX + 1])
{
	if (len < PROTO_HELLO_FIXED || p[0] != PROTO_VERSION)
		return -EPROTO;
	size_t hlen = p[42];
	/* The extension fields of the known flags follow the hostname;
	 * more only from a newer agent that set a flag we do not know. */
	size_t want = PROTO_HELLO_FIXED + hlen + (p[1] & PROTO_HELLO_F_COMMIT ? PROTO_HELLO_COMMIT_LEN : 0);
	if (hlen > PROTO_HOSTNAME_MAX || len < want || (len > want && !(p[1] & ~PROTO_HELLO_F_KNOWN)))
		return -EPROTO;
	*counter = get_be64(p + 2);
	for (size_t i = 0; i < hlen; i++)
		host[i] = (p[43 + i] >= 0x20 && p[43 + i] < 0x7f) ? (char)p[43 + i] : '?';
	host[hlen] = 0;
	return 0;
}

/*
 * The commitment the agent presents (its newest from us, PROTO_HELLO_F_COMMIT
 * field): a journal that no longer holds it was cut or rewritten behind
 * our back. Recorded (STORE_EV_TAMPER, committed with the next commit) and
 * logged; the session goes on. The agent is only trusted about its own
 * host's journal, and that is the only one this touches.
 */
static void check_presented(struct conn *c, const uint8_t *x)
{
	uint64_t records = get_be64(x), end = get_be64(x + 8);
	const char *why = "";
	if (records == 0 && end == 0)
		return; /* none yet */
	int r = store_check_commitment(c->host, records, end, x + 16, &why);
	if (r == 0 || r == -ENOENT)
		return;
	if (r != -ESTALE) {
		log_err("host %s: check the agent's commitment: %s", store_host_name(c->host), strerror(-r));
		return;
	}
	char chain[65], msg[300];
	for (int i = 0; i < 32; i++)
		snprintf(chain + 2 * i, 3, "%02x", x[16 + i]);
	uint64_t have, hend;
	uint8_t hchain[32];
	store_host_mark(c->host, &have, &hend, hchain);
	log_err("host %s: the agent's commitment names %llu records up to position %llu, but %s (the journal "
		"holds %llu records up to %llu): the journal was changed behind the collector's back",
		store_host_name(c->host), (unsigned long long)records, (unsigned long long)end, why,
		(unsigned long long)have, (unsigned long long)hend);
	uint8_t fbuf[STORE_EVENT_MAX / 2];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	if (record_fields_addf(&fb, "COMMITTED_RECORDS", "%llu", (unsigned long long)records) < 0 ||
	    record_fields_addf(&fb, "COMMITTED_END", "%llu", (unsigned long long)end) < 0 ||
	    record_fields_addf(&fb, "COMMITTED_CHAIN", "%s", chain) < 0 ||
	    record_fields_addf(&fb, "JOURNAL_RECORDS", "%llu", (unsigned long long)have) < 0 ||
	    record_fields_addf(&fb, "JOURNAL_END", "%llu", (unsigned long long)hend) < 0 ||
	    record_fields_addf(&fb, "PEER", "%s", c->peer) < 0)
		return;
	snprintf(msg, sizeof(msg),
		 "journal: an agent commitment names %llu records up to position %llu, but %s",
		 (unsigned long long)records, (unsigned long long)end, why);
	if (store_event(c->host, c->sid, STORE_EV_TAMPER, LOG_ERR, c->recv_next, NULL, msg, &fb,
			clock_usec(CLOCK_REALTIME)) == 0)
		want_commit(c->sv);
}

static void handle_msg1(struct conn *c, const uint8_t *msg, size_t len)
{
	struct server *sv = c->sv;
	if (len < PROTO_MSG1_MIN || len > PROTO_MSG1_MAX) {
		conn_reject(c, REJECT_FRAME, "first frame has the wrong size for a handshake");
		return;
	}
	size_t nlen = len - PROTO_MAC1_LEN;
	if (mac1_verify(msg + nlen, sv->mac1_key, msg, nlen) < 0) {
		conn_reject(c, REJECT_MAC1, "bad mac1");
		return;
	}
	if (addrlimit_handshake(sv->limit, (struct sockaddr *)&c->addr, loop_now_ms(sv->loop)) < 0) {
		conn_reject(c, REJECT_RATE, "handshake rate limit of its address");
		return;
	}
	sv->stats.x25519_ops++;
	struct noise_handshake hs;
	uint8_t hello[PROTO_HELLO_MAX];
	int n = noise_handshake_init(&hs, false, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN,
				     sv->priv, NULL);
	if (n == 0)
		n = noise_read_msg1(&hs, msg, nlen, hello, sizeof(hello));
	if (n < 0) {
		noise_handshake_wipe(&hs);
		conn_reject(c, REJECT_HANDSHAKE, "handshake failed");
		return;
	}
	const struct collector_client *cl = collector_conf_client(sv->conf, noise_remote_static(&hs));
	if (!cl) {
		char b64[KEY_B64_LEN + 1];
		key_to_base64(b64, noise_remote_static(&hs));
		noise_handshake_wipe(&hs);
		char what[128];
		snprintf(what, sizeof(what), "unknown key %s", b64);
		conn_reject(c, REJECT_UNKNOWN, what);
		return;
	}
	uint64_t counter;
	char claimed[PROTO_HOSTNAME_MAX + 1];
	if (parse_hello(hello, (size_t)n, &counter, claimed) < 0) {
		noise_handshake_wipe(&hs);
		conn_reject(c, REJECT_HANDSHAKE, "malformed handshake payload");
		return;
	}
	long long cut = 0;
	int r = store_host(sv->store, cl->name, &c->host, &cut);
	if (r < 0) {
		noise_handshake_wipe(&hs);
		log_err("host %s: open journal: %s", cl->name,
			r == -EUCLEAN ? "damaged beyond a torn tail; not touching it" : strerror(-r));
		conn_reject(c, REJECT_STORE, "store unavailable");
		return;
	}
	if (cut > 0)
		log_warn("host %s: journal had a torn tail of %lld bytes; cut", cl->name, cut);
	memcpy(c->client_pub, cl->pub, sizeof(c->client_pub));
	memcpy(c->sid, hello + 10, PROTO_STREAM_ID_LEN);
	memcpy(c->claimed_machine, hello + 26, PROTO_MACHINE_ID_LEN);
	memcpy(c->claimed_host, claimed, sizeof(c->claimed_host));
	c->counter = counter;
	/* A stream the host's table holds: the counter is checked and
	 * persisted now, so a replayed msg1 is refused. A new one enters the
	 * table only at key confirmation (conn_confirm): until then no
	 * handshake can add to it or make it retire another. */
	r = store_stream_known(c->host, c->sid) ? store_stream_counter(c->host, c->sid, counter) : 0;
	if (r < 0) {
		noise_handshake_wipe(&hs);
		if (r != -ESTALE)
			log_err("host %s: persist handshake counter: %s", cl->name, strerror(-r));
		conn_reject(c, r == -ESTALE ? REJECT_REPLAY : REJECT_STORE,
			    r == -ESTALE ? "replayed handshake (counter not above the stored one)"
					 : "cannot persist handshake counter");
		return;
	}
	/* The mark we announce must be durable, and later acks on this
	 * connection count from it. */
	if (store_dirty(sv->store) && (r = store_commit(sv->store)) < 0)
		log_err("store: commit failed: %s", strerror(-r));
	c->recv_next = store_stream_hwm(c->host, c->sid);
	uint8_t offered = hello[1];
	c->flags = offered & PROTO_HELLO_F_KNOWN;
	if (c->flags & PROTO_HELLO_F_COMMIT)
		check_presented(c, hello + PROTO_HELLO_FIXED + hello[42]);
	uint8_t welcome[PROTO_WELCOME_EXT_LEN];
	welcome[0] = PROTO_VERSION;
	put_be64(welcome + 1, c->recv_next);
	welcome[9] = c->flags;
	n = noise_write_msg2(&hs, welcome, offered ? PROTO_WELCOME_EXT_LEN : PROTO_WELCOME_LEN,
			     c->wbuf + FRAME_HDR, sizeof(c->wbuf) - FRAME_HDR);
	if (n < 0 || noise_split(&hs, &c->tx, &c->rx) < 0) {
		noise_handshake_wipe(&hs);
		conn_reject(c, REJECT_HANDSHAKE, "cannot write msg2");
		return;
	}
	frame_put_header(c->wbuf, (size_t)n);
	c->wlen = FRAME_HDR + (size_t)n;
	c->state = CONN_READY;
	c->since_ms = loop_now_ms(sv->loop);
	sv->stats.sessions++;
	log_info("host %s: session from %s (claims hostname '%s'), stream %02x%02x%02x%02x..., resuming at "
		 "%llu",
		 cl->name, c->peer, claimed, c->sid[0], c->sid[1], c->sid[2], c->sid[3],
		 (unsigned long long)c->recv_next);
	if (conn_flush(c) < 0)
		conn_end(c, "send failed");
}

/* First decrypted message: the peer holds the session keys, so an older
 * connection of the same stream is stale (the agent only ever has one).
 * A stream new to the host enters its table now (which may retire a
 * finished one, store.h); -errno when it cannot: still a handshake. */
static int conn_confirm(struct conn *c)
{
	if (!store_stream_known(c->host, c->sid)) {
		int r = store_stream_counter(c->host, c->sid, c->counter);
		if (r < 0) {
			if (r != -ESTALE && r != -EUSERS)
				log_err("host %s: persist handshake counter: %s", store_host_name(c->host),
					strerror(-r));
			return r;
		}
	}
	store_stream_hold(c->host, c->sid, true);
	hs_unlink(c);
	c->confirmed = true;
	c->sv->stats.live++;
	put_session_event(c, RECORD_EV_SESSION_START, NULL);
	struct conn *next;
	for (struct conn *o = c->sv->conns; o; o = next) {
		next = o->next;
		if (o != c && o->state == CONN_READY && o->host == c->host &&
		    memcmp(o->sid, c->sid, PROTO_STREAM_ID_LEN) == 0)
			conn_end(o, "replaced by a new session");
	}
	return 0;
}

/* Event numbers only the collector writes (docs/PROTOCOL.md 6.3): its
 * session events and the store's own (STORE_EV_*, 64 and up). A record
 * from an agent that carries one is a protocol violation, whatever its
 * source: kmsgctl would show it as the collector's. */
static bool event_reserved(uint16_t event)
{
	return (event >= RECORD_EV_SESSION_START && event <= RECORD_EV_HANDSHAKE_REJECTED) ||
	       (event >= STORE_EV_RESERVED_MIN && event <= STORE_EV_RESERVED_MAX);
}

/*
 * A BATCH, or an URGENT message (urgent): N records, each length-checked
 * and decoded. BATCH records go in order (docs/PROTOCOL.md 5.7); URGENT
 * records, of level emerg..err only, may be stored ahead of their place
 * (5.9) and do not move the connection's in-order position.
 *
 * A message is stored whole or not at all (5.2): every record is checked
 * first, with the order rules applied as if the ones before it were
 * stored, and only a message without a fault reaches the store.
 */
static int handle_records(struct conn *c, const uint8_t *p, size_t len, bool urgent)
{
	struct server *sv = c->sv;
	if (len < PROTO_BATCH_HDR)
		return -EPROTO;
	size_t count = get_be16(p + 1), off = PROTO_BATCH_HDR;
	if (count == 0)
		return -EPROTO;
	uint64_t recv_next = c->recv_next, urgent_next = c->urgent_next;
	for (size_t i = 0; i < count; i++) {
		if (len - off < PROTO_BATCH_REC_HDR)
			return -EPROTO;
		size_t rlen = get_be32(p + off);
		off += PROTO_BATCH_REC_HDR;
		if (rlen > len - off)
			return -EPROTO;
		struct record rec;
		uint64_t min = urgent && urgent_next > recv_next ? urgent_next : recv_next;
		/* Collector records are ours alone: an agent cannot forge them. */
		if (record_decode(p + off, rlen, &rec) < 0 || rec.stream_seq < min ||
		    rec.stream_seq == UINT64_MAX || rec.source == RECORD_SRC_COLLECTOR ||
		    event_reserved(rec.event) || (urgent && rec.level > PROTO_URGENT_LEVEL_MAX))
			return -EPROTO;
		if (urgent)
			urgent_next = rec.stream_seq + 1;
		else
			recv_next = rec.stream_seq + 1;
		off += rlen;
	}
	if (off != len)
		return -EPROTO;
	uint64_t now = clock_usec(CLOCK_REALTIME);
	off = PROTO_BATCH_HDR;
	for (size_t i = 0; i < count; i++) {
		size_t rlen = get_be32(p + off);
		off += PROTO_BATCH_REC_HDR;
		struct record rec;
		if (record_decode(p + off, rlen, &rec) < 0)
			return -EPROTO; /* cannot be: checked above */
		int r = urgent ? store_append_early(c->host, c->sid, &rec, p + off, rlen, now)
			       : store_append(c->host, c->sid, &rec, p + off, rlen, now);
		if (r < 0)
			return r;
		if (r == 1)
			sv->stats.records++;
		else if (r == 0)
			sv->stats.duplicates++;
		if (urgent) {
			/* Not held (ahead sets full): the BATCH copy comes later. */
			sv->stats.urgent[r == 1	  ? SERVER_URGENT_STORED
					 : r == 0 ? SERVER_URGENT_DUP
						  : SERVER_URGENT_LATER]++;
			c->urgent_next = rec.stream_seq + 1;
		} else {
			c->recv_next = rec.stream_seq + 1;
		}
		off += rlen;
	}
	/* An URGENT message moves no ack: its records are acked when the
	 * in-order ones pass them. */
	if (!urgent)
		c->want_ack = true;
	want_commit(sv);
	return 0;
}

static int handle_transport(struct conn *c, const uint8_t *msg, size_t len)
{
	struct server *sv = c->sv;
	int n = noise_decrypt(&c->rx, msg, len, sv->plain, PROTO_PLAIN_MAX);
	if (n < 1)
		return n < 0 ? n : -EPROTO;
	int r;
	if (!c->confirmed && (r = conn_confirm(c)) < 0)
		return r;
	/* Padded (pad.h): the message is inside, the rest must be exact. */
	const uint8_t *p = sv->plain;
	if (c->flags & PROTO_HELLO_F_PAD) {
		size_t ml;
		if (pad_unwrap(sv->plain, (size_t)n, &p, &ml) < 0)
			return -EPROTO;
		n = (int)ml;
	}
	/* For --list-hosts and --silent; best effort (store.h). */
	(void)store_host_contact(c->host, clock_usec(CLOCK_REALTIME));
	switch (p[0]) {
	case PROTO_MSG_BATCH:
		return handle_records(c, p, (size_t)n, false);
	case PROTO_MSG_URGENT:
		return handle_records(c, p, (size_t)n, true);
	case PROTO_MSG_HEARTBEAT:
		if (n != 1)
			return -EPROTO;
		c->want_ack = true;
		want_commit(sv);
		return 0;
	case PROTO_MSG_CLOSE:
		return n == PROTO_CLOSE_LEN ? -ECONNRESET : -EPROTO;
	default:
		return -EPROTO;
	}
}

/*
 * Unauthenticated bytes: read exactly the first frame's header, check the
 * length it announces, then read exactly that body. Returns 1 with msg1
 * complete, 0 for more later, -1 when c was rejected (and freed).
 */
static int read_msg1(struct conn *c)
{
	for (;;) {
		size_t want;
		if (c->hs_len < FRAME_HDR) {
			want = FRAME_HDR - c->hs_len;
		} else {
			size_t flen = (size_t)c->hs_buf[0] << 8 | c->hs_buf[1];
			/* Before the body: a length no msg1 has is a reject. */
			if (flen < PROTO_MSG1_MIN || flen > PROTO_MSG1_MAX) {
				conn_reject(c, REJECT_FRAME,
					    "first frame has the wrong size for a handshake");
				return -1;
			}
			want = FRAME_HDR + flen - c->hs_len;
		}
		if (want == 0)
			break;
		ssize_t n = read(c->fd, c->hs_buf + c->hs_len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			conn_reject(c, REJECT_FRAME, n == 0 ? "closed before a handshake" : "read error");
			return -1;
		}
		c->hs_len += (size_t)n;
		c->last_rx_ms = loop_now_ms(c->sv->loop);
	}
	/* msg1 must be the only thing the peer sends before msg2. */
	uint8_t more;
	ssize_t n = recv(c->fd, &more, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0) {
		conn_reject(c, REJECT_FRAME, "data after msg1");
		return -1;
	}
	return 1;
}

/*
 * A session that failed: before key confirmation the peer has not proven
 * it holds the session keys, so that is a reject like one in the
 * handshake; after, the session ends with a journal event.
 */
static void conn_fail(struct conn *c, int r, bool framing)
{
	const char *reason = framing		? "malformed frame (zero length)"
			     : r == -ECONNRESET ? "closed by agent"
			     : r == -EBADMSG	? "message failed authentication"
			     : r == -EPROTO	? "protocol violation"
			     : r == -EUSERS	? "stream table of the host full of streams in use"
			     : r == -ESTALE	? "replayed handshake (counter not above the stored one)"
						: strerror(-r);
	if (!c->confirmed) {
		conn_reject(c,
			    framing					? REJECT_FRAME
			    : r == -ESTALE				? REJECT_REPLAY
			    : r == -EUSERS || r == -EIO || r == -ENOSPC ? REJECT_STORE
									: REJECT_HANDSHAKE,
			    reason);
		return;
	}
	if (r != -ECONNRESET)
		log_warn("host %s: session from %s: %s", store_host_name(c->host), c->peer, reason);
	conn_end(c, reason);
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	struct conn *c = data;
	if ((events & EPOLLOUT) && conn_flush(c) < 0) {
		conn_end(c, "send failed");
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->state == CONN_HANDSHAKE) {
		if (read_msg1(c) == 1)
			handle_msg1(c, c->hs_buf + FRAME_HDR, c->hs_len - FRAME_HDR);
		return; /* c may be gone; the next wakeup reads on */
	}
	for (int i = 0; i < SERVER_FILLS_PER_WAKEUP; i++) {
		ssize_t got = frame_reader_fill(&c->fr, fd);
		if (got == -EAGAIN)
			break;
		if (got <= 0) {
			if (!c->confirmed)
				conn_reject(c, REJECT_FRAME,
					    got == 0 ? "closed before key confirmation" : "read error");
			else
				conn_end(c, "connection closed");
			return;
		}
		c->last_rx_ms = loop_now_ms(l);
		const uint8_t *msg;
		size_t len;
		int r;
		while ((r = frame_reader_next(&c->fr, &msg, &len)) == 1) {
			r = handle_transport(c, msg, len);
			if (r < 0) {
				conn_fail(c, r, false);
				return;
			}
		}
		if (r < 0) { /* the framing itself is broken */
			conn_fail(c, r, true);
			return;
		}
	}
	/* An idle session holds no read buffer. */
	frame_reader_shrink(&c->fr);
}

/*
 * The connection to evict for a newcomer from sa: the oldest not
 * key-confirmed one of the group (group 0: all; 1: sa's address or IPv6
 * /64; 2: its IPv6 /56). One still waiting for msg1 goes before one that
 * has had msg2 (that one passed mac1, a DH and the key and counter
 * checks: nearly always an agent about to confirm).
 */
static struct conn *hs_victim(struct server *sv, const struct sockaddr *sa, int group)
{
	for (int pass = 0; pass < 2; pass++)
		for (struct conn *c = sv->hs_head; c; c = c->hs_next)
			if ((pass == 1 || c->state == CONN_HANDSHAKE) &&
			    (group == 0 || addrlimit_same((struct sockaddr *)&c->addr, sa, group == 2)))
				return c;
	return NULL;
}

/*
 * Room for one more connection that is not key-confirmed, from sa: the
 * oldest such connection of its address (IPv6 /64), of its IPv6 /56, or
 * of all, is evicted when that group is full. A victim whose msg1 is
 * waiting in its socket (an agent that connected just before an
 * attacker's burst) is handled first instead. On success sa's address
 * counts the newcomer (addrlimit_hs_add); the caller adds it to
 * nhandshaking.
 */
static int hs_room(struct server *sv, const struct sockaddr *sa, uint64_t now_ms)
{
	for (int tries = 0; tries < 64; tries++) {
		struct conn *victim;
		if (sv->nhandshaking >= (size_t)sv->conf->max_handshaking) {
			victim = hs_victim(sv, sa, 0);
		} else {
			int r = addrlimit_hs_add(sv->limit, sa, now_ms);
			if (r == 0)
				return 0;
			if (r != -EMFILE && r != -EUSERS)
				return r;
			victim = hs_victim(sv, sa, r == -EUSERS ? 2 : 1);
		}
		if (!victim)
			return -EAGAIN;
		if (victim->state == CONN_HANDSHAKE) {
			int m = read_msg1(victim);
			if (m == 1)
				handle_msg1(victim, victim->hs_buf + FRAME_HDR, victim->hs_len - FRAME_HDR);
			if (m != 0)
				continue; /* handled, or rejected: look again */
		}
		conn_reject(victim, REJECT_EVICTED,
			    "evicted: oldest connection not key-confirmed of a full group");
	}
	return -EAGAIN;
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *data)
{
	struct listener *ln = data;
	struct server *sv = ln->sv;
	for (int i = 0; i < SERVER_ACCEPTS_PER_WAKEUP; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		/* Limits first, before any memory is spent on the peer. */
		int lim = 0;
		if (sv->nconns >= (size_t)sv->conf->max_connections)
			lim = REJECT_BUSY;
		else if (addrlimit_conn_add(sv->limit, (struct sockaddr *)&ss, loop_now_ms(l)) < 0)
			lim = REJECT_ADDRESS;
		else if (hs_room(sv, (struct sockaddr *)&ss, loop_now_ms(l)) < 0) {
			addrlimit_conn_del(sv->limit, (struct sockaddr *)&ss);
			lim = REJECT_ADDRESS;
		}
		if (lim) {
			sv->stats.rejected[lim]++;
			close(cfd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			addrlimit_hs_del(sv->limit, (struct sockaddr *)&ss);
			addrlimit_conn_del(sv->limit, (struct sockaddr *)&ss);
			close(cfd);
			log_warn("accept: out of memory");
			return;
		}
		memcpy(&c->addr, &ss, sizeof(ss));
		sv->nconns++;
		sv->nhandshaking++;
		c->sv = sv;
		c->fd = cfd;
		c->state = CONN_HANDSHAKE;
		c->since_ms = c->last_rx_ms = loop_now_ms(l);
		frame_reader_init(&c->fr);
		char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			    NI_NUMERICHOST | NI_NUMERICSERV);
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (loop_add_fd(l, cfd, EPOLLIN, on_conn, c) < 0) {
			addrlimit_hs_del(sv->limit, (struct sockaddr *)&ss);
			addrlimit_conn_del(sv->limit, (struct sockaddr *)&ss);
			sv->nconns--;
			sv->nhandshaking--;
			close(cfd);
			free(c);
			continue;
		}
		c->next = sv->conns;
		if (sv->conns)
			sv->conns->prev = c;
		sv->conns = c;
		c->hs_prev = sv->hs_tail;
		if (sv->hs_tail)
			sv->hs_tail->hs_next = c;
		else
			sv->hs_head = c;
		sv->hs_tail = c;
	}
}

static void on_tick(struct loop *l, struct loop_timer *t, void *data)
{
	struct server *sv = data;
	uint64_t now = loop_now_ms(l);
	if (sv->commit_due && !sv->commit_timer)
		on_commit(l, NULL, sv); /* from the loop: no connection is in use */
	uint64_t hs_timeout = sv->conf->handshake_timeout_ms;
	if (sv->nhandshaking * 2 > (size_t)sv->conf->max_handshaking &&
	    hs_timeout > SERVER_PRESSURE_TIMEOUT_MS)
		hs_timeout = SERVER_PRESSURE_TIMEOUT_MS;
	struct conn *next;
	for (struct conn *c = sv->conns; c; c = next) {
		next = c->next;
		/* The handshake timeout runs from accept to msg1 and again
		 * from msg2 to key confirmation: an unconfirmed session (a
		 * replayed msg1 that got through, a peer that stalls) holds a
		 * handshake slot, not a session. */
		if (!c->confirmed && now - c->since_ms >= hs_timeout)
			conn_reject(c, REJECT_TIMEOUT,
				    c->state == CONN_HANDSHAKE ? "no handshake in time"
							       : "key confirmation timed out");
		else if (c->confirmed && now - c->last_rx_ms >= sv->conf->idle_timeout_ms) {
			log_info("host %s: session from %s idle for too long", store_host_name(c->host),
				 c->peer);
			conn_end(c, "idle timeout");
		}
	}
	/* Retention between commits: it commits its own events first. */
	if (!store_dirty(sv->store)) {
		int r = store_retention(sv->store, clock_usec(CLOCK_REALTIME));
		if (r < 0)
			log_err("store: retention: %s", strerror(-r));
	}
	if (loop_timer_add(l, SERVER_TICK_MS, on_tick, sv, &sv->tick) < 0)
		sv->tick = NULL;
}

static void limit_conf(const struct collector_conf *conf, struct addrlimit_conf *ac)
{
	*ac = (struct addrlimit_conf){
		.max_conns = (uint32_t)conf->addr_connections,
		.rate = (uint32_t)conf->addr_handshake_rate,
		.burst = (uint32_t)conf->addr_handshake_burst,
		.table_size = (uint32_t)conf->addr_table,
		.max_hs = (uint32_t)conf->addr_handshaking,
		.max_hs_prefix = (uint32_t)conf->prefix_handshaking,
	};
}

const char *server_reject_name(enum server_reject r)
{
	static const char *const names[REJECT_KINDS] = {
		[REJECT_FRAME] = "frame",     [REJECT_MAC1] = "mac1",	    [REJECT_HANDSHAKE] = "handshake",
		[REJECT_UNKNOWN] = "unknown", [REJECT_REPLAY] = "replay",   [REJECT_TIMEOUT] = "timeout",
		[REJECT_STORE] = "store",     [REJECT_BUSY] = "busy",	    [REJECT_ADDRESS] = "address",
		[REJECT_RATE] = "rate",	      [REJECT_EVICTED] = "evicted",
	};
	return r < REJECT_KINDS ? names[r] : "?";
}

void server_set_conf(struct server *sv, const struct collector_conf *conf)
{
	struct addrlimit_conf ac;
	sv->conf = conf;
	store_set_limits(sv->store, &conf->store);
	limit_conf(conf, &ac);
	addrlimit_reconf(sv->limit, &ac);
	struct conn *next;
	for (struct conn *c = sv->conns; c; c = next) {
		next = c->next;
		if (c->state != CONN_READY)
			continue;
		const struct collector_client *cl = collector_conf_client(conf, c->client_pub);
		if (!cl || strcmp(cl->name, store_host_name(c->host)) != 0) {
			log_notice("host %s: key removed from the configuration; closing its session from %s",
				   store_host_name(c->host), c->peer);
			conn_end(c, "key removed from the configuration");
		}
	}
}

int server_new(struct server **ret, struct loop *l, const struct collector_conf *conf, struct store *store,
	       const uint8_t priv[32])
{
	struct server *sv = calloc(1, sizeof(*sv));
	if (!sv)
		return -ENOMEM;
	sv->plain = malloc(PROTO_PLAIN_MAX);
	int r = sv->plain ? key_public(sv->pub, priv) : -ENOMEM;
	if (r < 0) {
		free(sv->plain);
		free(sv);
		return r;
	}
	sv->loop = l;
	sv->conf = conf;
	sv->store = store;
	store_set_limits(store, &conf->store);
	memcpy(sv->priv, priv, 32);
	mac1_key(sv->mac1_key, sv->pub);
	struct addrlimit_conf ac;
	limit_conf(conf, &ac);
	r = addrlimit_new(&sv->limit, &ac);
	if (r == 0)
		r = loop_timer_add(l, SERVER_TICK_MS, on_tick, sv, &sv->tick);
	if (r < 0) {
		addrlimit_free(sv->limit);
		sodium_memzero(sv->priv, sizeof(sv->priv));
		free(sv->plain);
		free(sv);
		return r;
	}
	*ret = sv;
	return 0;
}

static int listen_one(struct server *sv, const struct collector_listen *ls)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	int g = getaddrinfo(ls->address, ls->port, &hints, &res);
	if (g != 0) {
		log_err("listen %s port %s: %s", ls->address ? ls->address : "*", ls->port, gai_strerror(g));
		return -EINVAL;
	}
	/* Every address the name yields must be bound, except those of a
	 * family this host does not have (IPv6 disabled at boot). */
	int r = 0;
	size_t bound = 0;
	for (struct addrinfo *ai = res; ai && r == 0; ai = ai->ai_next) {
		char host[INET6_ADDRSTRLEN] = "?";
		getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
		if (sv->nlisteners == sizeof(sv->listeners) / sizeof(sv->listeners[0])) {
			log_err("listen %s port %s: more than %zu listening sockets", host, ls->port,
				sv->nlisteners);
			r = -ENFILE;
			break;
		}
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			if (errno == EAFNOSUPPORT) {
				log_notice("listen %s port %s: address family not supported here; skipped",
					   host, ls->port);
				continue;
			}
			r = -errno;
			log_err("listen %s port %s: socket: %s", host, ls->port, strerror(-r));
			break;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		struct listener *ln = &sv->listeners[sv->nlisteners];
		/* The kernel caps the backlog at net.core.somaxconn (4096 by
		 * default): a connect flood overflows a short queue, and an
		 * agent whose connection the queue drops waits 1 s or more
		 * for the kernel's retransmission. */
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 65535) < 0)
			r = -errno;
		else
			r = loop_add_fd(sv->loop, fd, EPOLLIN, on_accept, ln);
		if (r < 0) {
			log_err("listen %s port %s: %s", host, ls->port, strerror(-r));
			close(fd);
			break;
		}
		ln->fd = fd;
		ln->sv = sv;
		sv->nlisteners++;
		bound++;
	}
	freeaddrinfo(res);
	if (r == 0 && bound == 0) {
		log_err("listen %s port %s: no address could be bound", ls->address ? ls->address : "*",
			ls->port);
		r = -EADDRNOTAVAIL;
	}
	return r;
}

int server_listen(struct server *sv)
{
	for (size_t i = 0; i < sv->conf->nlisten; i++) {
		int r = listen_one(sv, &sv->conf->listen[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int server_listen_fd(struct server *sv, int fd)
{
	if (sv->nlisteners == sizeof(sv->listeners) / sizeof(sv->listeners[0]))
		return -ENFILE;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	struct listener *ln = &sv->listeners[sv->nlisteners];
	int r = loop_add_fd(sv->loop, fd, EPOLLIN, on_accept, ln);
	if (r < 0)
		return r;
	ln->fd = fd;
	ln->sv = sv;
	sv->nlisteners++;
	return 0;
}

void server_set_commit_hook(struct server *sv, void (*fn)(void *data, const char *host), void *data)
{
	sv->commit_hook = fn;
	sv->commit_hook_data = data;
}

void server_get_stats(const struct server *sv, struct server_stats *st)
{
	*st = sv->stats;
}

void server_free(struct server *sv)
{
	if (!sv)
		return;
	while (sv->conns)
		conn_end(sv->conns, "collector shutdown");
	if (store_dirty(sv->store) && store_commit(sv->store) < 0)
		log_err("store: final commit failed; agents will resend");
	for (size_t i = 0; i < sv->nlisteners; i++) {
		loop_del_fd(sv->loop, sv->listeners[i].fd);
		close(sv->listeners[i].fd);
	}
	if (sv->commit_timer)
		loop_timer_cancel(sv->loop, sv->commit_timer);
	if (sv->tick)
		loop_timer_cancel(sv->loop, sv->tick);
	sodium_memzero(sv->priv, sizeof(sv->priv));
	addrlimit_free(sv->limit);
	free(sv->plain);
	free(sv);
}
