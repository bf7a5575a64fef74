/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "bytes.h"
#include "durable.h"
#include "journal.h"
#include "store.h"

#define STREAMS_MAGIC "KSSTRS00"
#define STREAMS_ENTRY (STORE_STREAM_ID_LEN + 8)

struct stream_state {
	uint8_t id[STORE_STREAM_ID_LEN];
	uint64_t counter; /* highest handshake counter, persisted */
	uint64_t durable; /* every seq below is fsynced */
	uint64_t pending; /* every seq below is in the journal or the buffer */
};

struct store_host {
	struct store *store;
	char name[STORE_NAME_MAX + 1];
	char dir[PATH_MAX];
	int fd;	    /* journal, O_APPEND */
	off_t size; /* durable journal size */
	struct stream_state *streams;
	size_t nstreams;
	uint8_t *buf; /* encoded entries awaiting store_commit */
	size_t len, cap;
	bool failed;
};

struct store {
	char hosts_dir[PATH_MAX];
	struct store_host **hosts;
	size_t nhosts;
	bool dirty;
};

bool store_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int store_open(struct store **ret, const char *state_dir)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if ((size_t)snprintf(s->hosts_dir, sizeof(s->hosts_dir), "%s/hosts", state_dir) >=
	    sizeof(s->hosts_dir)) {
		free(s);
		return -ENAMETOOLONG;
	}
	int r = mkdir_p(s->hosts_dir, 0750);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static void host_free(struct store_host *h)
{
	if (h->fd >= 0)
		close(h->fd);
	free(h->streams);
	free(h->buf);
	free(h);
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nhosts; i++)
		host_free(s->hosts[i]);
	free(s->hosts);
	free(s);
}

const char *store_host_name(const struct store_host *h)
{
	return h->name;
}

bool store_host_failed(const struct store_host *h)
{
	return h->failed;
}

bool store_dirty(const struct store *s)
{
	return s->dirty;
}

static struct stream_state *stream_find(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN])
{
	for (size_t i = 0; i < h->nstreams; i++)
		if (memcmp(h->streams[i].id, sid, STORE_STREAM_ID_LEN) == 0)
			return &h->streams[i];
	return NULL;
}

static struct stream_state *stream_add(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN])
{
	struct stream_state *n = realloc(h->streams, (h->nstreams + 1) * sizeof(*n));
	if (!n)
		return NULL;
	h->streams = n;
	struct stream_state *st = &n[h->nstreams++];
	memset(st, 0, sizeof(*st));
	memcpy(st->id, sid, STORE_STREAM_ID_LEN);
	return st;
}

static int streams_path(const struct store_host *h, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/streams", h->dir) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static int streams_load(struct store_host *h)
{
	char path[PATH_MAX];
	int r = streams_path(h, path, sizeof(path));
	if (r < 0)
		return r;
	struct stat sb;
	if (stat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (sb.st_size < 8 || (sb.st_size - 8) % STREAMS_ENTRY != 0 || sb.st_size > (1 << 26))
		return -EBADMSG;
	uint8_t *buf = malloc((size_t)sb.st_size);
	if (!buf)
		return -ENOMEM;
	ssize_t n = read_file(path, buf, (size_t)sb.st_size);
	if (n != sb.st_size || memcmp(buf, STREAMS_MAGIC, 8) != 0) {
		free(buf);
		return n < 0 ? (int)n : -EBADMSG;
	}
	for (const uint8_t *p = buf + 8; p < buf + n; p += STREAMS_ENTRY) {
		struct stream_state *st = stream_find(h, p);
		if (!st && !(st = stream_add(h, p))) {
			free(buf);
			return -ENOMEM;
		}
		st->counter = get_be64(p + STORE_STREAM_ID_LEN);
	}
	free(buf);
	return 0;
}

static int streams_save(struct store_host *h)
{
	char path[PATH_MAX];
	int r = streams_path(h, path, sizeof(path));
	if (r < 0)
		return r;
	size_t len = 8 + h->nstreams * STREAMS_ENTRY;
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, STREAMS_MAGIC, 8);
	for (size_t i = 0; i < h->nstreams; i++) {
		uint8_t *p = buf + 8 + i * STREAMS_ENTRY;
		memcpy(p, h->streams[i].id, STORE_STREAM_ID_LEN);
		put_be64(p + STORE_STREAM_ID_LEN, h->streams[i].counter);
	}
	r = durable_replace(path, buf, len, 0640);
	free(buf);
	return r;
}

struct scan_ctx {
	struct store_host *h;
	int err;
};

/* Rebuild the high-water marks from the journal: the highest stored seq
 * of each stream, plus one. Collector events do not count. */
static void scan_entry(const struct journal_entry *e, void *data)
{
	struct scan_ctx *c = data;
	if (c->err || e->rec.source == RECORD_SRC_COLLECTOR)
		return;
	struct stream_state *st = stream_find(c->h, e->stream_id);
	if (!st && !(st = stream_add(c->h, e->stream_id))) {
		c->err = -ENOMEM;
		return;
	}
	if (e->rec.stream_seq + 1 > st->durable)
		st->durable = st->pending = e->rec.stream_seq + 1;
}

int store_host(struct store *s, const char *name, struct store_host **ret, long long *ret_cut)
{
	*ret_cut = 0;
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i]->name, name) == 0) {
			*ret = s->hosts[i];
			return 0;
		}
	if (!store_name_valid(name))
		return -EINVAL;
	struct store_host *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->store = s;
	strcpy(h->name, name);
	int r;
	char path[PATH_MAX];
	if ((size_t)snprintf(h->dir, sizeof(h->dir), "%s/%s", s->hosts_dir, name) >= sizeof(h->dir) ||
	    (size_t)snprintf(path, sizeof(path), "%s/journal", h->dir) >= sizeof(path)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(h->dir, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	if ((r = streams_load(h)) < 0)
		goto fail;
	struct scan_ctx ctx = { .h = h };
	off_t cut = 0;
	r = journal_recover(path, scan_entry, &ctx, &cut);
	if (r < 0)
		goto fail;
	h->fd = r;
	if (ctx.err) {
		r = ctx.err;
		goto fail;
	}
	struct stat sb;
	if (fstat(h->fd, &sb) < 0) {
		r = -errno;
		goto fail;
	}
	h->size = sb.st_size;
	struct store_host **nh = realloc(s->hosts, (s->nhosts + 1) * sizeof(*nh));
	if (!nh) {
		r = -ENOMEM;
		goto fail;
	}
	s->hosts = nh;
	s->hosts[s->nhosts++] = h;
	*ret_cut = cut;
	*ret = h;
	return 0;
fail:
	host_free(h);
	return r;
}

int store_stream_counter(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], uint64_t counter)
{
	struct stream_state *st = stream_find(h, sid);
	if (st && counter <= st->counter)
		return -ESTALE;
	bool added = false;
	if (!st) {
		if (!(st = stream_add(h, sid)))
			return -ENOMEM;
		added = true;
	}
	uint64_t old = st->counter;
	st->counter = counter;
	int r = streams_save(h);
	if (r < 0) {
		/* Not persisted: forget it, so the same counter stays usable. */
		if (added)
			h->nstreams--;
		else
			st->counter = old;
	}
	return r;
}

uint64_t store_stream_hwm(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN])
{
	struct stream_state *st = stream_find(h, sid);
	return st ? st->durable : 0;
}

static int buf_reserve(struct store_host *h, size_t more)
{
	if (h->len + more <= h->cap)
		return 0;
	size_t cap = h->cap ? h->cap : 65536;
	while (cap < h->len + more)
		cap *= 2;
	uint8_t *n = realloc(h->buf, cap);
	if (!n)
		return -ENOMEM;
	h->buf = n;
	h->cap = cap;
	return 0;
}

static int put_entry(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], const uint8_t *enc,
		     size_t len, uint64_t recv_usec)
{
	int r = buf_reserve(h, len + JOURNAL_ENTRY_OVERHEAD);
	if (r < 0)
		return r;
	h->len += journal_encode(h->buf + h->len, recv_usec, sid, enc, len);
	h->store->dirty = true;
	return 0;
}

int store_event(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], uint16_t event, uint8_t level,
		uint64_t stream_seq, const uint8_t boot_id[RECORD_BOOT_ID_LEN], const char *msg,
		const struct record_fields *fb, uint64_t recv_usec)
{
	uint8_t enc[RECORD_HDR_LEN + STORE_EVENT_MAX];
	struct record ev = {
		.source = RECORD_SRC_COLLECTOR,
		.level = level,
		.facility = RECORD_FACILITY_EVENT,
		.event = event,
		.stream_seq = stream_seq,
		.real_usec = recv_usec,
		.msg = (const uint8_t *)msg,
		.msg_len = (uint32_t)strlen(msg),
		.nfields = fb ? fb->count : 0,
		.fields = fb ? fb->buf : NULL,
		.fields_len = fb ? fb->len : 0,
	};
	if (boot_id)
		memcpy(ev.boot_id, boot_id, RECORD_BOOT_ID_LEN);
	int n = record_encode(&ev, enc, sizeof(enc));
	if (n < 0)
		return n;
	return put_entry(h, sid, enc, (size_t)n, recv_usec);
}

static int put_gap(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], const struct record *next,
		   uint64_t first, uint64_t recv_usec)
{
	uint8_t fbuf[256];
	char msg[128];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	uint64_t last = next->stream_seq - 1, count = next->stream_seq - first;
	if (record_fields_add(&fb, "GAP_CAUSE", "stream-jump", 11) < 0 ||
	    record_fields_addf(&fb, "GAP_COUNT", "%llu", (unsigned long long)count) < 0 ||
	    record_fields_addf(&fb, "GAP_FIRST_STREAM_SEQ", "%llu", (unsigned long long)first) < 0 ||
	    record_fields_addf(&fb, "GAP_LAST_STREAM_SEQ", "%llu", (unsigned long long)last) < 0)
		return -ENOSPC;
	snprintf(msg, sizeof(msg), "stream gap: %llu records missing (stream seq %llu-%llu)",
		 (unsigned long long)count, (unsigned long long)first, (unsigned long long)last);
	return store_event(h, sid, RECORD_EV_GAP, LOG_WARNING, first, next->boot_id, msg, &fb, recv_usec);
}

int store_append(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN], const struct record *rec,
		 const uint8_t *enc, size_t len, uint64_t recv_usec)
{
	struct stream_state *st = stream_find(h, sid);
	if (!st)
		return -ENOENT; /* every stream arrives through a handshake */
	if (rec->stream_seq < st->pending)
		return 0;
	if (rec->stream_seq == UINT64_MAX)
		return -ERANGE;
	int r;
	if (rec->stream_seq > st->pending && (r = put_gap(h, sid, rec, st->pending, recv_usec)) < 0)
		return r;
	if ((r = put_entry(h, sid, enc, len, recv_usec)) < 0)
		return r;
	st->pending = rec->stream_seq + 1;
	return 1;
}

static void host_rollback(struct store_host *h)
{
	/* Whatever part of the buffer reached the file goes again; best
	 * effort, a failed truncate leaves entries recovery will accept. */
	if (ftruncate(h->fd, h->size) == 0)
		(void)fdatasync(h->fd);
	for (size_t i = 0; i < h->nstreams; i++)
		h->streams[i].pending = h->streams[i].durable;
	h->len = 0;
	h->failed = true;
}

int store_commit(struct store *s)
{
	int first = 0;
	for (size_t i = 0; i < s->nhosts; i++) {
		struct store_host *h = s->hosts[i];
		h->failed = false;
		if (h->len == 0)
			continue;
		int r = write_all(h->fd, h->buf, h->len);
		if (r == 0 && fdatasync(h->fd) < 0)
			r = -errno;
		if (r < 0) {
			host_rollback(h);
			if (!first)
				first = r;
			continue;
		}
		h->size += (off_t)h->len;
		h->len = 0;
		for (size_t j = 0; j < h->nstreams; j++)
			h->streams[j].durable = h->streams[j].pending;
	}
	s->dirty = false;
	return first;
}
