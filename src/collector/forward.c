/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>
#include <sodium.h>

#include "bytes.h"
#include "checkpoint.h"
#include "forward.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "view.h"

/* Entries one host publishes per turn before the next host's turn. */
#define FWD_TURN 256
/* Cursors are written at most this often, and every check runs then. */
#define FWD_TICK_MS 1000
/* After a publish error, wait this long before publishing again. */
#define FWD_BACKOFF_MS 1000
/* A reader keeps every segment it has read open: closed and opened again
 * at the cursor this often (when nothing of the host is in flight), so
 * that segments retention removed do not stay on the disk through it. */
#define FWD_REOPEN_TICKS 10

struct fwd_host {
	char name[STORE_NAME_MAX + 1];
	char *dir;
	struct journal_reader *rd; /* NULL until the journal has a segment */
	/* The cursor: what JetStream acked (or what is not published). */
	uint64_t acked_pos, acked_recno, acked_usec;
	bool cursor_dirty;
	uint64_t read_recno; /* the record number after the last entry read */
	/* Checkpoints (checkpoint.h) published and acked, and published. */
	uint64_t cp_acked, cp_read;
	bool want;	     /* may have entries to publish */
	uint64_t inflight;   /* its messages awaiting an ack */
	unsigned ticks_open; /* ticks since the reader was opened */
};

/* A message awaiting its ack, in publish order. */
struct fwd_slot {
	natsMsg *msg; /* owned by libnats until its ack comes */
	struct fwd_host *h;
	bool checkpoint;	  /* a checkpoint (cp_next), else a record */
	uint64_t end, next_recno; /* the cursor once this is acked */
	uint64_t cp_next;
	uint64_t sent_ms;
	bool acked;
};

/* What a libnats thread hands the loop: the message, and how it went. */
struct fwd_ack {
	natsMsg *msg;
	int8_t ok; /* 1 acked, 2 acked as a duplicate, 0 error */
	natsStatus err;
	int errcode; /* JetStream's error code, 0 if none */
};

struct forward {
	struct loop *loop;
	/* The settings of the start: a reload only adds hosts (forward.h). */
	char *state_dir, *prefix;
	uint64_t ack_timeout_ms;
	char origin[STORE_NAME_MAX + 1];
	struct fwd_host *hosts;
	size_t nhosts;
	struct fwd_host **byname; /* sorted by name, for forward_committed */
	size_t rr;		  /* next host's turn */
	struct fwd_slot *ring;
	size_t cap, head, n; /* ring of conf->forward.window slots */
	struct view *view;
	FILE *jf; /* open_memstream: the JSON of one record */
	char *jbuf;
	size_t jlen;
	uint8_t *enc; /* RECORD_MAX: a record's encoding */
	char *b64;    /* its base64 */
	char *subject;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	int efd; /* eventfd: acks or a connection change are queued */
	pthread_mutex_t lock;
	struct fwd_ack *q; /* acks from libnats, under lock */
	size_t qn, qcap;
	atomic_int connected;
	struct loop_timer *pump_timer, *tick;
	uint64_t hold_until_ms; /* after an error: no publishing before */
	uint64_t last_rewind_log_ms;
	struct forward_stats st;
};

static void wake(struct forward *fw)
{
	uint64_t one = 1;
	ssize_t w = write(fw->efd, &one, sizeof(one));
	(void)w; /* a full counter still wakes the loop */
}

/* libnats thread: queue the ack for the loop. The message is destroyed by
 * the loop, so its address names its slot until then. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct forward *fw = closure;
	struct fwd_ack a = { .msg = msg, .ok = pa ? (pa->Duplicate ? 2 : 1) : 0 };
	if (!pa && pae) {
		a.err = pae->Err;
		a.errcode = (int)pae->ErrCode;
	}
	pthread_mutex_lock(&fw->lock);
	if (fw->qn == fw->qcap) {
		size_t nc = fw->qcap ? 2 * fw->qcap : 1024;
		struct fwd_ack *q = realloc(fw->q, nc * sizeof(*q));
		if (!q) {
			/* Dropped: the slot times out and is published again. */
			pthread_mutex_unlock(&fw->lock);
			natsMsg_Destroy(msg);
			return;
		}
		fw->q = q;
		fw->qcap = nc;
	}
	fw->q[fw->qn++] = a;
	pthread_mutex_unlock(&fw->lock);
	wake(fw);
}

static void on_conn_change(natsConnection *nc, void *closure)
{
	struct forward *fw = closure;
	atomic_store(&fw->connected, natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED);
	wake(fw);
}

static void want_pump(struct forward *fw);

/* ---- cursors ---- */

static int cursor_load(struct fwd_host *h)
{
	char p[4096];
	uint8_t b[FORWARD_CURSOR_LEN];
	snprintf(p, sizeof(p), "%s/" FORWARD_CURSOR_FILE, h->dir);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ssize_t n = read(fd, b, sizeof(b));
	close(fd);
	if (n != (ssize_t)sizeof(b) || memcmp(b, FORWARD_CURSOR_MAGIC, 8) != 0)
		return -EBADMSG;
	h->acked_pos = get_be64(b + 8);
	h->acked_recno = get_be64(b + 16);
	h->acked_usec = get_be64(b + 24);
	h->cp_acked = get_be64(b + 32);
	return 0;
}

static int cursor_save(struct fwd_host *h)
{
	char p[4096], t[4100];
	uint8_t b[FORWARD_CURSOR_LEN];
	memcpy(b, FORWARD_CURSOR_MAGIC, 8);
	put_be64(b + 8, h->acked_pos);
	put_be64(b + 16, h->acked_recno);
	put_be64(b + 24, h->acked_usec);
	put_be64(b + 32, h->cp_acked);
	snprintf(p, sizeof(p), "%s/" FORWARD_CURSOR_FILE, h->dir);
	snprintf(t, sizeof(t), "%s.tmp", p);
	int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b) || fdatasync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (r == 0 && rename(t, p) < 0)
		r = -errno;
	if (r < 0)
		unlink(t);
	else
		h->cursor_dirty = false;
	return r;
}

static void cursors_save(struct forward *fw)
{
	for (size_t i = 0; i < fw->nhosts; i++) {
		struct fwd_host *h = &fw->hosts[i];
		int r;
		if (h->cursor_dirty && (r = cursor_save(h)) < 0)
			log_warn("forward: host %s: cannot write its cursor: %s (published again after a "
				 "restart; JetStream drops the duplicates)",
				 h->name, strerror(-r));
	}
}

/* ---- hosts ---- */

static int cmp_host(const void *a, const void *b)
{
	return strcmp((*(struct fwd_host *const *)a)->name, (*(struct fwd_host *const *)b)->name);
}

static struct fwd_host *host_find(struct forward *fw, const char *name)
{
	size_t lo = 0, hi = fw->nhosts;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, fw->byname[mid]->name);
		if (c == 0)
			return fw->byname[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The hosts of conf not known yet are added (none is ever removed: what a
 * removed client stored is still forwarded). */
static int hosts_add(struct forward *fw, const struct collector_conf *conf)
{
	size_t add = 0;
	for (size_t i = 0; i < conf->nclients; i++)
		add += host_find(fw, conf->clients[i].name) == NULL;
	if (add == 0)
		return 0;
	/* The ring points at hosts: grow only when nothing is in flight's
	 * way, i.e. move slots' host pointers along. */
	struct fwd_host *old = fw->hosts;
	struct fwd_host *nh = calloc(fw->nhosts + add, sizeof(*nh));
	struct fwd_host **nb = calloc(fw->nhosts + add, sizeof(*nb));
	if (!nh || !nb) {
		free(nh);
		free(nb);
		return -ENOMEM;
	}
	if (fw->nhosts)
		memcpy(nh, old, fw->nhosts * sizeof(*nh));
	for (size_t k = 0; k < fw->n; k++) {
		struct fwd_slot *s = &fw->ring[(fw->head + k) % fw->cap];
		s->h = nh + (s->h - old);
	}
	size_t n = fw->nhosts;
	int r = 0;
	for (size_t i = 0; i < conf->nclients && r == 0; i++) {
		const char *name = conf->clients[i].name;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(nh[k].name, name) == 0;
		if (dup)
			continue;
		struct fwd_host *h = &nh[n];
		snprintf(h->name, sizeof(h->name), "%s", name);
		if (asprintf(&h->dir, "%s/hosts/%s", fw->state_dir, name) < 0) {
			h->dir = NULL;
			r = -ENOMEM;
			break;
		}
		int c = cursor_load(h);
		if (c < 0) {
			log_warn("forward: host %s: cursor unreadable (%s); publishing its journal from the "
				 "start",
				 name, strerror(-c));
			h->acked_pos = h->acked_recno = 0;
		}
		h->read_recno = h->acked_recno;
		h->cp_read = h->cp_acked;
		h->want = true;
		n++;
	}
	fw->hosts = nh;
	fw->nhosts = n;
	free(old);
	free(fw->byname);
	fw->byname = nb;
	for (size_t i = 0; i < n; i++)
		nb[i] = &nh[i];
	qsort(nb, n, sizeof(*nb), cmp_host);
	return r;
}

/* Open the journal (when it has a segment) and go to the cursor. */
static int host_open(struct forward *fw, struct fwd_host *h)
{
	if (h->rd)
		return 1;
	int r = journal_reader_open(&h->rd, h->dir);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		h->rd = NULL;
		return r;
	}
	if (h->acked_pos == 0)
		return 1;
	r = journal_reader_seek(h->rd, (off_t)h->acked_pos);
	if (r == -ESTALE) {
		/* Retention removed records never acked: they are gone. */
		log_warn("forward: host %s: its cursor's segment was removed by retention; going on from "
			 "the oldest record kept",
			 h->name);
		journal_reader_free(h->rd);
		h->rd = NULL;
		r = journal_reader_open(&h->rd, h->dir);
		if (r < 0)
			h->rd = NULL;
		return r < 0 ? r : 1;
	}
	return r < 0 ? r : 1;
}

/* ---- publishing ---- */

static void hex(char *out, const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* kmsgctl -o json's object for e (the members by view_json_members, as
 * output.c's print_json writes them), into memory. */
static int entry_json(struct forward *fw, const char *host, const struct journal_entry *e)
{
	if (view_build(fw->view, host, e, true) < 0)
		return -ENOMEM;
	rewind(fw->jf);
	struct json j;
	json_init(&j, fw->jf, false);
	json_object_begin(&j);
	view_json_members(fw->view, &j, NULL, NULL);
	json_object_end(&j);
	if (fflush(fw->jf) != 0)
		return -ENOMEM;
	off_t len = ftello(fw->jf);
	if (len < 0)
		return -errno;
	fw->jlen = (size_t)len;
	return 0;
}

/* Hand m to libnats and take a slot of the window for it (sl filled in
 * but for msg and sent_ms). m is gone either way. */
static int send_msg(struct forward *fw, natsMsg *m, const struct fwd_slot *sl)
{
	natsMsg *keep = m;
	natsStatus s = js_PublishMsgAsync(fw->js, &m, NULL);
	if (s != NATS_OK) {
		/* Not taken: m is still ours. */
		natsMsg_Destroy(m);
		log_debug("forward: publish: %s", natsStatus_GetText(s));
		return -EAGAIN;
	}
	struct fwd_slot *n = &fw->ring[(fw->head + fw->n) % fw->cap];
	*n = *sl;
	n->msg = keep;
	n->sent_ms = loop_now_ms(fw->loop);
	fw->n++;
	if (!sl->checkpoint)
		sl->h->inflight++;
	fw->st.published++;
	return 0;
}

static int publish(struct forward *fw, struct fwd_host *h, const struct journal_entry *e)
{
	char sid[33], id[64], seq[24];
	int r = entry_json(fw, h->name, e);
	if (r < 0)
		return r;
	int elen = record_encode(&e->rec, fw->enc, RECORD_MAX);
	if (elen < 0)
		return elen;
	sodium_bin2base64(fw->b64, sodium_base64_ENCODED_LEN(RECORD_MAX, sodium_base64_VARIANT_ORIGINAL),
			  fw->enc, (size_t)elen, sodium_base64_VARIANT_ORIGINAL);
	hex(sid, e->stream_id, 16);
	snprintf(id, sizeof(id), "%s:%016" PRIx64, sid, e->rec.stream_seq);
	snprintf(seq, sizeof(seq), "%" PRIu64, e->rec.stream_seq);
	snprintf(fw->subject, STORE_NAME_MAX * 2 + 256, "%s.%s", fw->prefix, h->name);
	natsMsg *m = NULL;
	natsStatus s = natsMsg_Create(&m, fw->subject, NULL, fw->jbuf, (int)fw->jlen);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Kmsg-Host", h->name);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Kmsg-Origin", fw->origin);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Kmsg-Stream-Id", sid);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Kmsg-Stream-Seq", seq);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Kmsg-Record", fw->b64);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		return -ENOMEM;
	}
	struct fwd_slot sl = {
		.h = h,
		.end = (uint64_t)journal_reader_offset(h->rd),
		.next_recno = e->recno + 1,
	};
	return send_msg(fw, m, &sl);
}

/* Everything not acked is published again, from the cursors. */
static void rewind_all(struct forward *fw, const char *why)
{
	natsMsgList pending = { 0 };
	/* Messages libnats still waits for: they will get no ack call. */
	if (js_PublishAsyncGetPendingList(&pending, fw->js) == NATS_OK)
		natsMsgList_Destroy(&pending);
	/* Acks already queued name messages whose slots go now: their
	 * messages are destroyed when the queue is read (no slot found). */
	fw->st.rewinds++;
	/* Once a minute at most: a stream that refuses everything would
	 * say so every second. The count is in STATUS. */
	uint64_t now = loop_now_ms(fw->loop);
	if (fw->n && (fw->last_rewind_log_ms == 0 || now - fw->last_rewind_log_ms >= 60000)) {
		log_notice("forward: %s; publishing %zu unacked records again (%llu times so far)", why,
			   fw->n, (unsigned long long)fw->st.rewinds);
		fw->last_rewind_log_ms = now;
	}
	fw->head = fw->n = 0;
	for (size_t i = 0; i < fw->nhosts; i++) {
		struct fwd_host *h = &fw->hosts[i];
		h->inflight = 0;
		h->want = true;
		h->read_recno = h->acked_recno;
		h->cp_read = h->cp_acked;
		if (!h->rd)
			continue;
		int r = h->acked_pos ? journal_reader_seek(h->rd, (off_t)h->acked_pos) : -ESTALE;
		if (r < 0) {
			/* From the start (no cursor yet, or retention took it). */
			journal_reader_free(h->rd);
			h->rd = NULL;
		}
	}
	fw->hold_until_ms = loop_now_ms(fw->loop) + FWD_BACKOFF_MS;
}

/* The oldest slots that are acked move their hosts' cursors. */
static void advance(struct forward *fw)
{
	uint64_t now = clock_usec(CLOCK_REALTIME);
	while (fw->n && fw->ring[fw->head].acked) {
		struct fwd_slot *s = &fw->ring[fw->head];
		if (s->checkpoint) {
			s->h->cp_acked = s->cp_next;
			s->h->cursor_dirty = true;
			fw->head = (fw->head + 1) % fw->cap;
			fw->n--;
			continue;
		}
		s->h->acked_pos = s->end;
		s->h->acked_recno = s->next_recno;
		s->h->acked_usec = now;
		s->h->cursor_dirty = true;
		/* Nothing of the host in flight: what was read after its last
		 * publish (collector events) is passed too. */
		if (--s->h->inflight == 0 && s->h->rd) {
			s->h->acked_pos = (uint64_t)journal_reader_offset(s->h->rd);
			s->h->acked_recno = s->h->read_recno;
		}
		fw->head = (fw->head + 1) % fw->cap;
		fw->n--;
	}
}

/*
 * The tamper commitments of h: its checkpoints (checkpoint.h) not yet
 * published, to PREFIX.$checkpoint.ORIGIN.HOST (a '$' token no host name
 * can have), message id "checkpoint:ORIGIN:HOST:RECORDS" (hex), header
 * Kmsg-Kind: checkpoint, the body a JSON object (docs/FLEET.md). What
 * another collector and the stream hold of them exposes a journal
 * rewritten here. The commitment module of issue "Integrity and abuse"
 * publishes its chain heads through this same path (a slot with
 * checkpoint set): its records replace the checkpoint file read here.
 * Returns 0, or -EAGAIN when publishing must stop for now.
 */
static int host_checkpoints(struct forward *fw, struct fwd_host *h)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/" CHECKPOINT_FILE, h->dir);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int r = 0;
	while (fw->n < fw->cap) {
		uint8_t b[CHECKPOINT_LEN];
		struct checkpoint c;
		ssize_t n =
			pread(fd, b, sizeof(b), (off_t)(CHECKPOINT_HDR_LEN + h->cp_read * CHECKPOINT_LEN));
		if (n != (ssize_t)sizeof(b) || checkpoint_decode(b, &c) < 0)
			break; /* the end, or one being written */
		char chain[65], id[STORE_NAME_MAX * 2 + 64];
		hex(chain, c.chain, sizeof(c.chain));
		snprintf(id, sizeof(id), "checkpoint:%s:%s:%016" PRIx64, fw->origin, h->name, c.records);
		snprintf(fw->subject, STORE_NAME_MAX * 2 + 256, "%s.$checkpoint.%s.%s", fw->prefix,
			 fw->origin, h->name);
		rewind(fw->jf);
		struct json j;
		json_init(&j, fw->jf, false);
		json_object_begin(&j);
		json_key(&j, "host");
		json_cstring(&j, h->name);
		json_key(&j, "origin");
		json_cstring(&j, fw->origin);
		json_key(&j, "records");
		json_u64(&j, c.records);
		json_key(&j, "end");
		json_u64(&j, c.end);
		json_key(&j, "segment");
		json_u64(&j, c.segment);
		json_key(&j, "written_usec");
		json_u64(&j, c.written_usec);
		json_key(&j, "chain");
		json_cstring(&j, chain);
		json_object_end(&j);
		off_t len = fflush(fw->jf) == 0 ? ftello(fw->jf) : -1;
		natsMsg *m = NULL;
		natsStatus s =
			len < 0 ? NATS_NO_MEMORY : natsMsg_Create(&m, fw->subject, NULL, fw->jbuf, (int)len);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Kmsg-Kind", "checkpoint");
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Kmsg-Host", h->name);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Kmsg-Origin", fw->origin);
		if (s != NATS_OK) {
			natsMsg_Destroy(m);
			r = -ENOMEM;
			break;
		}
		struct fwd_slot sl = { .h = h, .checkpoint = true, .cp_next = h->cp_read + 1 };
		if ((r = send_msg(fw, m, &sl)) < 0)
			break;
		h->cp_read++;
	}
	close(fd);
	if (r < 0) {
		fw->st.errors++;
		rewind_all(fw, "publish failed");
		return -EAGAIN;
	}
	return 0;
}

/* Entries of h until its turn ends, the window is full, or its journal
 * ends. Returns 0, or -EAGAIN when publishing must stop for now. */
static int host_pump(struct forward *fw, struct fwd_host *h)
{
	int r = host_open(fw, h);
	if (r <= 0) {
		if (r < 0)
			log_warn("forward: host %s: journal: %s", h->name, strerror(-r));
		h->want = false;
		return 0;
	}
	for (int i = 0; i < FWD_TURN && fw->n < fw->cap; i++) {
		struct journal_entry e;
		r = journal_reader_next(h->rd, &e);
		if (r == 0) {
			h->want = false;
			break;
		}
		if (r < 0) {
			log_err("forward: host %s: journal entry at %lld: %s; not forwarding it further",
				h->name, (long long)e.offset, strerror(-r));
			h->want = false;
			break;
		}
		h->read_recno = e.recno + 1;
		if (e.rec.source == RECORD_SRC_COLLECTOR) {
			/* Not published: the cursor passes it when nothing of the
			 * host waits for an ack (else the next ack covers it). */
			if (h->inflight == 0) {
				h->acked_pos = (uint64_t)journal_reader_offset(h->rd);
				h->acked_recno = e.recno + 1;
				h->cursor_dirty = true;
			}
			continue;
		}
		r = publish(fw, h, &e);
		if (r < 0) {
			fw->st.errors++;
			rewind_all(fw, "publish failed");
			return -EAGAIN;
		}
	}
	return 0;
}

static void pump(struct forward *fw)
{
	if (!atomic_load(&fw->connected) || loop_now_ms(fw->loop) < fw->hold_until_ms)
		return;
	/* Round robin: a host with a large backlog takes turns with the rest. */
	bool any = true;
	while (any && fw->n < fw->cap) {
		any = false;
		for (size_t k = 0; k < fw->nhosts && fw->n < fw->cap; k++) {
			struct fwd_host *h = &fw->hosts[(fw->rr + k) % fw->nhosts];
			if (!h->want)
				continue;
			any = true;
			if (host_pump(fw, h) < 0)
				return;
		}
		if (fw->nhosts)
			fw->rr = (fw->rr + 1) % fw->nhosts;
	}
}

static void on_pump(struct loop *l, struct loop_timer *t, void *data)
{
	struct forward *fw = data;
	fw->pump_timer = NULL;
	pump(fw);
}

static void want_pump(struct forward *fw)
{
	if (!fw->pump_timer && loop_timer_add(fw->loop, 0, on_pump, fw, &fw->pump_timer) < 0)
		fw->pump_timer = NULL; /* the tick pumps */
}

/* The loop's side of the eventfd: acks and connection changes. */
static void on_event(struct loop *l, int fd, uint32_t events, void *data)
{
	struct forward *fw = data;
	uint64_t v;
	ssize_t rd = read(fd, &v, sizeof(v));
	(void)rd;
	pthread_mutex_lock(&fw->lock);
	struct fwd_ack *q = fw->q;
	size_t qn = fw->qn;
	fw->q = NULL;
	fw->qn = fw->qcap = 0;
	pthread_mutex_unlock(&fw->lock);
	char why[160] = "";
	for (size_t i = 0; i < qn; i++) {
		/* Acks come mostly in publish order: look from the oldest. */
		struct fwd_slot *s = NULL;
		for (size_t k = 0; k < fw->n && !s; k++) {
			struct fwd_slot *c = &fw->ring[(fw->head + k) % fw->cap];
			if (c->msg == q[i].msg && !c->acked)
				s = c;
		}
		natsMsg_Destroy(q[i].msg);
		if (!s)
			continue; /* its slot went with a rewind */
		s->msg = NULL;
		if (q[i].ok) {
			s->acked = true;
			fw->st.acked++;
			fw->st.duplicates += q[i].ok == 2;
		} else if (!why[0]) {
			fw->st.errors++;
			snprintf(why, sizeof(why), "JetStream did not take a publish: %s (error code %d)",
				 natsStatus_GetText(q[i].err), q[i].errcode);
		} else {
			fw->st.errors++;
		}
	}
	free(q);
	advance(fw);
	if (why[0])
		rewind_all(fw, why);
	want_pump(fw);
}

static void on_tick(struct loop *l, struct loop_timer *t, void *data)
{
	struct forward *fw = data;
	uint64_t now = loop_now_ms(l);
	if (fw->n && now - fw->ring[fw->head].sent_ms >= fw->ack_timeout_ms)
		rewind_all(fw, "no ack from JetStream in time");
	cursors_save(fw);
	/* Checkpoints are written at most once a second per host: looked
	 * for here only, not at every pump (an open and a read per host). */
	if (atomic_load(&fw->connected) && now >= fw->hold_until_ms)
		for (size_t i = 0; i < fw->nhosts && host_checkpoints(fw, &fw->hosts[i]) == 0; i++)
			;
	/* New segments, records missed, hosts whose journal appeared. */
	for (size_t i = 0; i < fw->nhosts; i++) {
		struct fwd_host *h = &fw->hosts[i];
		h->want = true;
		/* Nothing in flight: the cursor is the reader's position. */
		if (h->rd && h->inflight == 0 && ++h->ticks_open >= FWD_REOPEN_TICKS) {
			journal_reader_free(h->rd);
			h->rd = NULL;
			h->ticks_open = 0;
		}
	}
	pump(fw);
	if (loop_timer_add(l, FWD_TICK_MS, on_tick, fw, &fw->tick) < 0)
		fw->tick = NULL;
}

void forward_committed(struct forward *fw, const char *host)
{
	struct fwd_host *h = host_find(fw, host);
	if (!h)
		return;
	h->want = true;
	want_pump(fw);
}

void forward_set_conf(struct forward *fw, const struct collector_conf *conf)
{
	if (hosts_add(fw, conf) < 0)
		log_warn("forward: out of memory adding hosts; new hosts are forwarded after a restart");
	want_pump(fw);
}

void forward_get_stats(const struct forward *fw, struct forward_stats *st)
{
	*st = fw->st;
	st->inflight = fw->n;
	st->connected = atomic_load(&((struct forward *)fw)->connected);
	st->oldest_ms = fw->n ? loop_now_ms(fw->loop) - fw->ring[fw->head].sent_ms : 0;
	st->hosts_behind = 0;
	for (size_t i = 0; i < fw->nhosts; i++)
		st->hosts_behind += fw->hosts[i].inflight > 0 || fw->hosts[i].want;
}

/* ---- setup ---- */

static natsStatus set_options(struct forward *fw, const struct collector_forward *f)
{
	char name[STORE_NAME_MAX + 32];
	snprintf(name, sizeof(name), "kmsg-collector %s", fw->origin);
	natsOptions *o = fw->opts;
	natsStatus s = natsOptions_SetServers(o, (const char **)f->servers, (int)f->nservers);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, name);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 500);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(o, true, on_conn_change, fw);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_conn_change, fw);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_conn_change, fw);
	if (s == NATS_OK && f->creds_file)
		s = natsOptions_SetUserCredentialsFromFiles(o, f->creds_file, NULL);
	if (s == NATS_OK && f->nkey_seed_file)
		s = natsOptions_SetNKeyFromSeed(o, NULL, f->nkey_seed_file);
	if (s == NATS_OK && f->user)
		s = natsOptions_SetUserInfo(o, f->user, f->password);
	if (s == NATS_OK && f->tls)
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK && f->tls_ca_file)
		s = natsOptions_LoadCATrustedCertificates(o, f->tls_ca_file);
	if (s == NATS_OK && f->tls_cert_file)
		s = natsOptions_LoadCertificatesChain(o, f->tls_cert_file, f->tls_key_file);
	return s;
}

int forward_new(struct forward **ret, struct loop *l, const struct collector_conf *conf)
{
	const struct collector_forward *f = &conf->forward;
	struct forward *fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	fw->loop = l;
	fw->state_dir = strdup(conf->state_dir);
	fw->prefix = strdup(f->subject_prefix);
	fw->ack_timeout_ms = f->ack_timeout_ms;
	fw->efd = -1;
	pthread_mutex_init(&fw->lock, NULL);
	if (f->origin)
		snprintf(fw->origin, sizeof(fw->origin), "%s", f->origin);
	else if (gethostname(fw->origin, sizeof(fw->origin) - 1) < 0 || !fw->origin[0])
		snprintf(fw->origin, sizeof(fw->origin), "unknown");
	fw->cap = (size_t)f->window;
	fw->ring = calloc(fw->cap, sizeof(*fw->ring));
	fw->enc = malloc(RECORD_MAX);
	fw->b64 = malloc(sodium_base64_ENCODED_LEN(RECORD_MAX, sodium_base64_VARIANT_ORIGINAL));
	fw->subject = malloc(STORE_NAME_MAX * 2 + 256);
	fw->jf = open_memstream(&fw->jbuf, &fw->jlen);
	int r = fw->ring && fw->enc && fw->b64 && fw->subject && fw->jf && fw->state_dir && fw->prefix
			? view_new(&fw->view)
			: -ENOMEM;
	if (r == 0)
		r = hosts_add(fw, conf);
	if (r == 0 && (fw->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		r = -errno;
	if (r == 0)
		r = loop_add_fd(l, fw->efd, EPOLLIN, on_event, fw);
	if (r < 0) {
		log_err("forward: %s", strerror(-r));
		forward_free(fw);
		return r;
	}
	natsStatus s = nats_Open(-1);
	if (s == NATS_OK)
		s = natsOptions_Create(&fw->opts);
	if (s == NATS_OK)
		s = set_options(fw, f);
	if (s == NATS_OK) {
		s = natsConnection_Connect(&fw->nc, fw->opts);
		if (s == NATS_NOT_YET_CONNECTED)
			s = NATS_OK; /* libnats goes on trying; on_conn_change says when */
		else if (s == NATS_OK)
			atomic_store(&fw->connected, 1);
	}
	jsOptions jo;
	if (s == NATS_OK)
		s = jsOptions_Init(&jo);
	if (s == NATS_OK) {
		jo.PublishAsync.AckHandler = on_ack;
		jo.PublishAsync.AckHandlerClosure = fw;
		/* Our window bounds what is in flight; libnats never stalls us. */
		jo.PublishAsync.MaxPending = f->window + 1;
		s = natsConnection_JetStream(&fw->js, fw->nc, &jo);
	}
	if (s != NATS_OK) {
		log_err("forward: NATS: %s", natsStatus_GetText(s));
		forward_free(fw);
		return -EIO;
	}
	if ((r = loop_timer_add(l, FWD_TICK_MS, on_tick, fw, &fw->tick)) < 0) {
		forward_free(fw);
		return r;
	}
	log_info("forward: to stream %s as %s, subjects %s.HOST, %zu host(s), window %lld", f->stream,
		 fw->origin, f->subject_prefix, fw->nhosts, f->window);
	want_pump(fw);
	*ret = fw;
	return 0;
}

void forward_free(struct forward *fw)
{
	if (!fw)
		return;
	if (fw->js) {
		/* Wait a little for what is in flight, so the cursors go as far
		 * as they can. */
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = 2000;
		js_PublishAsyncComplete(fw->js, &po);
	}
	if (fw->efd >= 0)
		on_event(fw->loop, fw->efd, EPOLLIN, fw);
	cursors_save(fw);
	if (fw->nc)
		natsConnection_Close(fw->nc);
	if (fw->js) {
		natsMsgList pending = { 0 };
		if (js_PublishAsyncGetPendingList(&pending, fw->js) == NATS_OK)
			natsMsgList_Destroy(&pending);
		jsCtx_Destroy(fw->js);
	}
	natsConnection_Destroy(fw->nc);
	natsOptions_Destroy(fw->opts);
	/* Acks queued by the connection's last moments. */
	for (size_t i = 0; i < fw->qn; i++)
		natsMsg_Destroy(fw->q[i].msg);
	free(fw->q);
	if (fw->opts || fw->nc)
		nats_CloseAndWait(2000);
	if (fw->pump_timer)
		loop_timer_cancel(fw->loop, fw->pump_timer);
	if (fw->tick)
		loop_timer_cancel(fw->loop, fw->tick);
	if (fw->efd >= 0) {
		loop_del_fd(fw->loop, fw->efd);
		close(fw->efd);
	}
	for (size_t i = 0; i < fw->nhosts; i++) {
		journal_reader_free(fw->hosts[i].rd);
		free(fw->hosts[i].dir);
	}
	free(fw->hosts);
	free(fw->byname);
	free(fw->ring);
	view_free(fw->view);
	if (fw->jf)
		fclose(fw->jf);
	free(fw->jbuf);
	free(fw->enc);
	free(fw->b64);
	free(fw->subject);
	free(fw->state_dir);
	free(fw->prefix);
	pthread_mutex_destroy(&fw->lock);
	free(fw);
}
