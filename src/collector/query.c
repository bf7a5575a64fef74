/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "durable.h"
#include "query.h"
#include "text.h"

#define QUERY_POLL_MS 50
#define QUERY_RESCAN_MS 1000
/* Early-stored records one host holds back at most; past it they are
 * shown where they were stored (the collector holds at most
 * STORE_AHEAD_MAX ahead of a host's marks, so this is not reached). */
#define QUERY_HELD_MAX 65536

/* An early-stored record held back until its place comes. */
struct qheld {
	uint8_t sid[16];
	uint64_t seq;
	off_t offset;
};

struct qhost {
	char name[STORE_NAME_MAX + 1];
	char path[PATH_MAX + 8];
	struct journal_reader *jr;
	struct journal_entry e;
	bool has;	/* e is a selected record not yet returned */
	bool dead;	/* unreadable from here on */
	bool boot_set;	/* only records of boot */
	bool boot_none; /* the -b boot is not in this host: nothing */
	uint8_t boot[16];
	bool skipping;	 /* another host's cursor: records before limit are not shown */
	bool skip_equal; /* ... nor those at limit */
	uint64_t limit;
	int wd;
	/* Records stored early (docs/STORE.md), selected, not shown yet:
	 * by stream and seq. One is shown right before the first record of
	 * its stream stored in order with a higher seq, or at the end. */
	struct qheld *held;
	size_t nheld, capheld;
	/* A record read in stored order that waits for held ones to go
	 * first (it points into the reader's buffer: nothing is read in
	 * sequence until it is shown or passed over). */
	bool pend, pend_sel;
	struct journal_entry pe;
};

struct query {
	char dir[PATH_MAX];
	struct qhost *h;
	size_t n, cap;
	const struct filter *f;
	struct view *v;
	bool all;
	bool empty; /* the store has no hosts directory (yet) */
	bool has_boot;
	struct boot_spec boot;
	bool failed;
	int ino;
	bool ino_tried;
	uint64_t last_rescan_ms;
	/* The merge: a min-heap of the hosts that have a head, by (realtime,
	 * host index); the host returned last is read on at the next call.
	 * Hosts without a head are looked at again only by query_wait. */
	size_t *heap;
	size_t nheap;
	bool primed;
	bool have_taken;
	size_t taken;
};

static int path_of(char *buf, size_t cap, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, cap, "%s/hosts/%s", dir, name) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

/* A directory watch sees its files grow and new segments appear. */
#define QUERY_WATCH (IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF)

/* What the reader may skip by the indexes: the filter's levels and times, and the -b boot. */
static void select_blocks(struct query *q, struct qhost *h)
{
	struct journal_select sel = {
		.levels = q->f ? q->f->levels : 0xff,
		.has_since = q->f && q->f->has_since,
		.has_until = q->f && q->f->has_until,
		.since = q->f ? q->f->since : 0,
		.until = q->f ? q->f->until : 0,
		.has_boot = h->boot_set,
	};
	memcpy(sel.boot, h->boot, sizeof(sel.boot));
	journal_reader_select(h->jr, &sel);
}

/* A path of the store that could not be opened (of host, when not
 * NULL); for a permission problem, what gives read access (issue 16): the
 * store is the collector's, readable by its group. */
static void report_open(const char *host, const char *path, int r)
{
	bool perm = r == -EACCES || r == -EPERM;
	fprintf(stderr, "kmsgctl: %s%s%s%s: %s%s\n", host ? "host " : "", host ? host : "", host ? ": " : "",
		path, strerror(-r),
		perm ? " (reading the store needs membership of group " QUERY_STORE_GROUP ", or root)" : "");
}

static int add_host(struct query *q, const char *name, bool quiet_missing, bool quiet)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->h[i].name, name) == 0)
			return 0;
	if (q->n == q->cap) {
		size_t nc = q->cap ? 2 * q->cap : 8;
		struct qhost *nh = realloc(q->h, nc * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		q->h = nh;
		q->cap = nc;
	}
	struct qhost *h = &q->h[q->n];
	memset(h, 0, sizeof(*h));
	h->wd = -1;
	snprintf(h->name, sizeof(h->name), "%s", name);
	int r = path_of(h->path, sizeof(h->path), q->dir, name);
	if (r == 0)
		r = journal_reader_open(&h->jr, h->path);
	if (r < 0) {
		if (r == -ENOENT && quiet_missing)
			return 0; /* a host directory without its journal yet */
		if (quiet)
			return r;
		if (r == -ENOENT)
			fprintf(stderr, "kmsgctl: unknown host '%s' (no journal in %s)\n", name, h->path);
		else if (r == -EBADMSG)
			fprintf(stderr, "kmsgctl: host %s: %s is not a journal of a known format\n", name,
				h->path);
		else
			report_open(name, h->path, r);
		return r;
	}
	q->n++;
	select_blocks(q, h);
	if (q->ino >= 0)
		h->wd = inotify_add_watch(q->ino, h->path, QUERY_WATCH);
	return 1;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add every host of DIR/hosts not yet open, in name order. */
static int scan_hosts(struct query *q, bool report)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/hosts", q->dir);
	DIR *d = opendir(path);
	if (!d) {
		int r = -errno;
		if (report)
			report_open(NULL, path, r);
		return r;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!store_name_valid(de->d_name))
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			char **nn = realloc(names, nc * sizeof(*nn));
			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
			cap = nc;
		}
		if (!(names[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r == 0) {
		if (n)
			qsort(names, n, sizeof(*names), cmp_name);
		for (size_t i = 0; i < n && r >= 0; i++) {
			int a = add_host(q, names[i], true, !report);
			if (a < 0 && a != -ENOMEM && report)
				q->failed = true; /* reported; the others are still shown */
			else if (a < 0)
				r = a;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r == -ENOMEM)
		fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
	return r;
}

int query_open(struct query **ret, const char *dir, char *const *names, size_t n, const struct filter *f)
{
	struct query *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->ino = -1;
	q->f = f;
	int r = -ENAMETOOLONG;
	if ((size_t)snprintf(q->dir, sizeof(q->dir), "%s", dir) >= sizeof(q->dir) ||
	    (r = view_new(&q->v)) < 0) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(r == 0 ? ENOMEM : -r));
		query_free(q);
		return r == 0 ? -ENOMEM : r;
	}
	/* The directory is checked first: an unreadable store is one error, not one per host. */
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/hosts", dir);
	DIR *d = opendir(path);
	if (!d && errno == ENOENT && !names) {
		/* As journalctl on a directory without journals: no records,
		 * not an error. The collector makes hosts/ when the first
		 * host connects; -f waits for it (query_wait scans). */
		q->all = true;
		q->empty = true;
		*ret = q;
		return 0;
	}
	if (!d && errno != ENOENT) {
		r = -errno;
		report_open(NULL, path, r);
		query_free(q);
		return r;
	}
	/* Without hosts/, a named host is unknown (add_host says so). */
	if (d)
		closedir(d);
	if (names) {
		for (size_t i = 0; i < n; i++) {
			if (!store_name_valid(names[i])) {
				fprintf(stderr, "kmsgctl: '%s' is not a valid host name\n", names[i]);
				query_free(q);
				return -EINVAL;
			}
			if ((r = add_host(q, names[i], false, false)) < 0) {
				query_free(q);
				return r;
			}
		}
	} else {
		q->all = true;
		if ((r = scan_hosts(q, true)) < 0) {
			query_free(q);
			return r;
		}
	}
	*ret = q;
	return 0;
}

void query_free(struct query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++) {
		journal_reader_free(q->h[i].jr);
		free(q->h[i].held);
	}
	if (q->ino >= 0)
		close(q->ino);
	free(q->h);
	free(q->heap);
	view_free(q->v);
	free(q);
}

size_t query_nhosts(const struct query *q)
{
	return q->n;
}

const char *query_host_name(const struct query *q, size_t i)
{
	return q->h[i].name;
}

const char *query_host_path(const struct query *q, size_t i)
{
	return q->h[i].path;
}

bool query_empty(const struct query *q)
{
	return q->empty;
}

bool query_failed(const struct query *q)
{
	return q->failed;
}

/* Resolve the -b boot for host i from a pass over its journal. 1 found, 0 not, -errno reported. */
static int resolve_boot(struct query *q, size_t i)
{
	struct qhost *h = &q->h[i];
	/* The boots in order, by the indexes: no pass over the records. */
	uint8_t(*ids)[16] = NULL;
	size_t n = 0;
	off_t at = 0;
	int r = journal_reader_boots(h->jr, &ids, &n, &at);
	if (r == -EBADMSG) {
		fprintf(stderr,
			"kmsgctl: host %s: damaged entry at offset %lld; its boots are those before it\n",
			h->name, (long long)at);
		q->failed = true;
	} else if (r < 0) {
		fprintf(stderr, "kmsgctl: host %s: %s: %s\n", h->name, h->path, strerror(-r));
		return r;
	}
	struct host_summary s = { .nboots = n, .boots = n ? calloc(n, sizeof(*s.boots)) : NULL };
	if (n && !s.boots) {
		free(ids);
		fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t k = 0; k < n; k++)
		memcpy(s.boots[k].id, ids[k], 16);
	free(ids);
	h->boot_set = true;
	h->boot_none = summary_find_boot(&s, &q->boot, h->boot) < 0;
	free(s.boots);
	select_blocks(q, h);
	return h->boot_none ? 0 : 1;
}

int query_set_boot(struct query *q, const struct boot_spec *spec)
{
	if (spec->all)
		return 0;
	q->has_boot = true;
	q->boot = *spec;
	bool any = false;
	for (size_t i = 0; i < q->n; i++) {
		int r = resolve_boot(q, i);
		if (r < 0)
			return r;
		any |= r == 1;
	}
	if (!any) {
		char hex[33];
		if (spec->has_id) {
			text_hex(hex, spec->id, 16);
			fprintf(stderr, "kmsgctl: no boot %s%+ld in the selected hosts\n", hex, spec->offset);
		} else {
			fprintf(stderr, "kmsgctl: no boot with offset %ld in the selected hosts\n",
				spec->offset);
		}
		return -ENOENT;
	}
	return 0;
}

static bool selected(struct query *q, struct qhost *h, const struct journal_entry *e)
{
	if (h->boot_set && memcmp(e->rec.boot_id, h->boot, 16) != 0)
		return false;
	if (h->skipping) {
		uint64_t t = e->rec.real_usec;
		if (t < h->limit || (h->skip_equal && t == h->limit))
			return false;
	}
	if (filter_needs_view(q->f) && view_build(q->v, h->name, e, false) < 0)
		return true; /* out of memory: show rather than hide */
	return filter_test(q->f, e, q->v);
}

static void report_read(struct query *q, struct qhost *h, int r)
{
	if (r == -EBADMSG)
		fprintf(stderr, "kmsgctl: host %s: damaged entry at offset %lld; stopping this host there\n",
			h->name, (long long)h->e.offset);
	else
		fprintf(stderr, "kmsgctl: host %s: read %s: %s\n", h->name, h->path, strerror(-r));
	h->dead = true;
	q->failed = true;
}

/* ---- records stored early: shown where their stream seqs put them ---- */

static int held_cmp(const uint8_t *sid, uint64_t seq, const struct qheld *x)
{
	int c = memcmp(sid, x->sid, 16);
	return c ? c : seq < x->seq ? -1 : seq > x->seq;
}

/* Index of the first held record not before (sid, seq). */
static size_t held_lower(const struct qhost *h, const uint8_t *sid, uint64_t seq)
{
	size_t a = 0, b = h->nheld;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (held_cmp(sid, seq, &h->held[m]) > 0)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* A held record of stream sid below seq: 1 and its index (the lowest). */
static int held_below(const struct qhost *h, const uint8_t *sid, uint64_t seq, size_t *ret)
{
	size_t k = held_lower(h, sid, 0);
	if (k < h->nheld && memcmp(h->held[k].sid, sid, 16) == 0 && h->held[k].seq < seq) {
		*ret = k;
		return 1;
	}
	return 0;
}

/* Hold back the record at offset: 1, or 0 when the bound is reached (show it now), -ENOMEM. */
static int hold(struct qhost *h, const uint8_t *sid, uint64_t seq, off_t offset)
{
	if (h->nheld >= QUERY_HELD_MAX)
		return 0;
	if (h->nheld == h->capheld) {
		size_t nc = h->capheld ? 2 * h->capheld : 16;
		struct qheld *n = realloc(h->held, nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		h->held = n;
		h->capheld = nc;
	}
	/* After those of the same seq: a record stored twice is shown twice. */
	size_t k = held_lower(h, sid, seq);
	while (k < h->nheld && held_cmp(sid, seq, &h->held[k]) == 0)
		if (h->held[k++].offset == offset)
			return 1; /* the same entry */
	memmove(&h->held[k + 1], &h->held[k], (h->nheld - k) * sizeof(*h->held));
	memcpy(h->held[k].sid, sid, 16);
	h->held[k].seq = seq;
	h->held[k].offset = offset;
	h->nheld++;
	return 1;
}

static void held_remove(struct qhost *h, size_t k)
{
	memmove(&h->held[k], &h->held[k + 1], (h->nheld - k - 1) * sizeof(*h->held));
	h->nheld--;
}

/* Held record k into h->e: 1, or 0 when it cannot be read (reported,
 * unless retention removed it meanwhile). */
static int release(struct query *q, struct qhost *h, size_t k)
{
	off_t off = h->held[k].offset;
	held_remove(h, k);
	int r = journal_reader_read_at(h->jr, off, &h->e);
	if (r == 0)
		return 1;
	if (r != -ESTALE) {
		fprintf(stderr, "kmsgctl: host %s: early-stored record at offset %lld: %s\n", h->name,
			(long long)off, r == -EBADMSG ? "damaged" : strerror(-r));
		q->failed = true;
	}
	return 0;
}

static void held_clear(struct qhost *h)
{
	h->nheld = 0;
	h->pend = false;
}

/*
 * Start at position pos: hold back the early-stored records before pos
 * whose place is at or after it (journal_reader_early), those the query
 * shows, except those of stream sid with a seq up to upto (shown before
 * the cursor's record; sid NULL: none). 0, or -errno (reported).
 */
static int hold_early_before(struct query *q, struct qhost *h, off_t pos, const uint8_t *sid, uint64_t upto)
{
	struct journal_early *v;
	size_t n;
	held_clear(h);
	int r = journal_reader_early(h->jr, pos, &v, &n);
	if (r < 0) {
		fprintf(stderr, "kmsgctl: host %s: early-stored records before offset %lld: %s\n", h->name,
			(long long)pos, r == -EBADMSG ? "damaged entry" : strerror(-r));
		q->failed = true;
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct journal_entry x;
		if (sid && memcmp(v[i].stream_id, sid, 16) == 0 && v[i].seq <= upto)
			continue;
		if (journal_reader_read_at(h->jr, v[i].offset, &x) < 0 || !selected(q, h, &x))
			continue; /* removed by retention, or damaged: as in stored order, not shown */
		if ((r = hold(h, v[i].stream_id, v[i].seq, v[i].offset)) < 0)
			break;
	}
	free(v);
	if (r < 0)
		fprintf(stderr, "kmsgctl: %s\n", strerror(-r));
	return r < 0 ? r : 0;
}

static void fill(struct query *q, struct qhost *h)
{
	if (h->boot_none)
		return;
	for (;;) {
		size_t k;
		if (h->pend) {
			if (held_below(h, h->pe.stream_id, h->pe.rec.stream_seq, &k)) {
				if (release(q, h, k)) {
					h->has = true;
					return;
				}
				continue;
			}
			h->pend = false;
			if (h->pend_sel) {
				h->e = h->pe;
				h->has = true;
				return;
			}
			continue;
		}
		struct journal_entry x;
		int r = journal_reader_next(h->jr, &x);
		if (r == 0) {
			/* At the end: what is held has no later record of its
			 * stream yet, so the end is its place (for now). */
			while (h->nheld)
				if (release(q, h, 0)) {
					h->has = true;
					return;
				}
			return;
		}
		if (r < 0) {
			h->e.offset = x.offset;
			report_read(q, h, r);
			return;
		}
		bool agent = x.rec.source != RECORD_SRC_COLLECTOR;
		if (x.early && agent) {
			if (!selected(q, h, &x))
				continue;
			r = hold(h, x.stream_id, x.rec.stream_seq, x.offset);
			if (r == 1)
				continue;
			if (r < 0)
				fprintf(stderr, "kmsgctl: %s\n", strerror(-r)); /* shown here, then */
			h->e = x;
			h->has = true;
			return;
		}
		/* A record stored in order passes the held ones of its stream
		 * below it: they go first. */
		if (agent && held_below(h, x.stream_id, x.rec.stream_seq, &k)) {
			h->pe = x;
			h->pend = true;
			h->pend_sel = selected(q, h, &x);
			continue;
		}
		if (selected(q, h, &x)) {
			h->e = x;
			h->has = true;
			return;
		}
	}
}

static bool before(const struct query *q, size_t a, size_t b)
{
	uint64_t ta = q->h[a].e.rec.real_usec, tb = q->h[b].e.rec.real_usec;
	return ta < tb || (ta == tb && a < b);
}

static void heap_push(struct query *q, size_t host)
{
	size_t i = q->nheap++;
	q->heap[i] = host;
	while (i > 0 && before(q, q->heap[i], q->heap[(i - 1) / 2])) {
		size_t p = (i - 1) / 2, t = q->heap[p];
		q->heap[p] = q->heap[i];
		q->heap[i] = t;
		i = p;
	}
}

static size_t heap_pop(struct query *q)
{
	size_t top = q->heap[0], i = 0;
	q->heap[0] = q->heap[--q->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->nheap && before(q, q->heap[l], q->heap[m]))
			m = l;
		if (r < q->nheap && before(q, q->heap[r], q->heap[m]))
			m = r;
		if (m == i)
			break;
		size_t t = q->heap[m];
		q->heap[m] = q->heap[i];
		q->heap[i] = t;
		i = m;
	}
	return top;
}

/* Give every host without a head another look (start, and after waiting). */
static int refill_idle(struct query *q)
{
	size_t *heap = realloc(q->heap, (q->n ? q->n : 1) * sizeof(*heap));
	if (!heap)
		return -ENOMEM;
	q->heap = heap;
	for (size_t i = 0; i < q->n; i++) {
		struct qhost *h = &q->h[i];
		if (h->has || h->dead || (q->have_taken && q->taken == i))
			continue;
		fill(q, h);
		if (h->has)
			heap_push(q, i);
	}
	q->primed = true;
	return 0;
}

int query_next(struct query *q, struct query_item *it)
{
	if (!q->primed) {
		/* Hosts with a head already (a cursor's) go in first. */
		size_t *heap = realloc(q->heap, (q->n ? q->n : 1) * sizeof(*heap));
		if (!heap)
			return -ENOMEM;
		q->heap = heap;
		for (size_t i = 0; i < q->n; i++)
			if (q->h[i].has)
				heap_push(q, i);
		if (refill_idle(q) < 0)
			return -ENOMEM;
	}
	if (q->have_taken) {
		struct qhost *h = &q->h[q->taken];
		q->have_taken = false;
		h->has = false;
		if (!h->dead)
			fill(q, h);
		if (h->has)
			heap_push(q, q->taken);
	}
	if (q->nheap == 0)
		return 0;
	size_t i = heap_pop(q);
	q->have_taken = true;
	q->taken = i;
	it->host = i;
	it->e = &q->h[i].e;
	return 1;
}

/*
 * Where reading goes on after the early-stored record e of host h: at the
 * first record of its stream stored in order with a higher seq (it was
 * shown right before that one), or at the end. *ret: that position.
 */
static int after_early(struct query *q, struct qhost *h, const struct journal_entry *e, off_t *ret)
{
	uint8_t sid[16];
	uint64_t seq = e->rec.stream_seq;
	memcpy(sid, e->stream_id, 16);
	struct journal_entry x;
	int r;
	journal_reader_select(h->jr, NULL);
	while ((r = journal_reader_next(h->jr, &x)) == 1)
		if (!x.early && x.rec.source != RECORD_SRC_COLLECTOR && memcmp(x.stream_id, sid, 16) == 0 &&
		    x.rec.stream_seq > seq)
			break;
	select_blocks(q, h);
	if (r < 0) {
		h->e.offset = x.offset;
		report_read(q, h, r);
		return r;
	}
	*ret = r == 1 ? x.offset : journal_reader_offset(h->jr);
	if ((r = journal_reader_seek(h->jr, *ret)) < 0)
		report_read(q, h, r);
	return r;
}

int query_seek_cursor(struct query *q, const struct cursor *c, bool after)
{
	size_t i;
	for (i = 0; i < q->n; i++)
		if (strcmp(q->h[i].name, c->host) == 0)
			break;
	if (i == q->n) {
		fprintf(stderr, "kmsgctl: the cursor is of host '%s', which is not selected\n", c->host);
		return -ENOENT;
	}
	struct qhost *h = &q->h[i];
	/* The cursor's entry itself, whatever the filter says of it. */
	journal_reader_select(h->jr, NULL);
	int r = journal_reader_seek(h->jr, c->offset);
	if (r == 0)
		r = journal_reader_next(h->jr, &h->e);
	select_blocks(q, h);
	if (r < 0 && r != -EBADMSG && r != -ESTALE) {
		report_read(q, h, r);
		return r;
	}
	if (r != 1 || h->e.offset != c->offset || !cursor_matches(c, &h->e)) {
		fprintf(stderr,
			"kmsgctl: no record of host %s at the cursor's place (offset %lld, stream seq "
			"%llu)\n",
			c->host, (long long)c->offset, (unsigned long long)c->stream_seq);
		return -ESTALE;
	}
	uint64_t t = h->e.rec.real_usec;
	for (size_t k = 0; k < q->n; k++) {
		if (k == i)
			continue;
		q->h[k].skipping = true;
		q->h[k].limit = t;
		q->h[k].skip_equal = k < i; /* they would have come first at the same time */
	}
	/* Records are shown in their streams' order (fill): what comes after
	 * the cursor's record is what comes after its place. The early-stored
	 * records of its stream below it were shown before it. */
	bool show = !after && selected(q, h, &h->e);
	bool agent = h->e.rec.source != RECORD_SRC_COLLECTOR;
	uint8_t sid[16];
	uint64_t seq = h->e.rec.stream_seq;
	memcpy(sid, h->e.stream_id, 16);
	if (!h->e.early) {
		/* Reading goes on after it; held: what was stored early before it. */
		if ((r = hold_early_before(q, h, c->offset, agent ? sid : NULL, seq)) < 0)
			return r;
		h->has = show;
		return 0;
	}
	off_t pos;
	if ((r = after_early(q, h, &h->e, &pos)) < 0 ||
	    (r = hold_early_before(q, h, pos, agent ? sid : NULL, seq)) < 0)
		return r;
	h->has = show && journal_reader_read_at(h->jr, c->offset, &h->e) == 0;
	return 0;
}

int query_read_at(struct query *q, size_t host, off_t off, struct journal_entry *ret)
{
	struct qhost *h = &q->h[host];
	int r = journal_reader_read_at(h->jr, off, ret);
	if (r < 0) {
		fprintf(stderr, "kmsgctl: host %s: read entry at offset %lld: %s\n", h->name, (long long)off,
			r == -EBADMSG  ? "damaged"
			: r == -ESTALE ? "no longer stored (removed by retention)"
				       : strerror(-r));
		q->failed = true;
	}
	return r;
}

int query_tail(struct query *q, uint64_t records)
{
	if (q->n != 1)
		return 1;
	struct qhost *h = &q->h[0];
	if (h->dead || h->skipping)
		return 1;
	off_t pos;
	int r = journal_reader_back(h->jr, records, &pos);
	if (r >= 0) {
		int s = journal_reader_seek(h->jr, pos);
		if (s < 0)
			r = s;
	}
	if (r < 0) {
		report_read(q, h, r);
		return r;
	}
	h->has = false;
	q->nheap = 0;
	q->primed = false;
	q->have_taken = false;
	/* Stored before the start, placed after it: shown too. */
	int e = hold_early_before(q, h, pos, NULL, 0);
	return e < 0 ? e : r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void watch_all(struct query *q)
{
	q->ino_tried = true;
	q->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (q->ino < 0)
		return;
	for (size_t i = 0; i < q->n; i++) {
		struct qhost *h = &q->h[i];
		h->wd = inotify_add_watch(q->ino, h->path, QUERY_WATCH);
		if (h->wd < 0)
			goto fallback;
	}
	if (q->all) {
		char path[PATH_MAX + 8];
		snprintf(path, sizeof(path), "%s/hosts", q->dir);
		if (inotify_add_watch(q->ino, path, IN_CREATE | IN_MOVED_TO) < 0)
			goto fallback;
	}
	return;
fallback:
	close(q->ino);
	q->ino = -1;
}

void query_wait(struct query *q, int timeout_ms)
{
	if (!q->ino_tried)
		watch_all(q);
	int wait = timeout_ms;
	if (q->ino < 0 && (wait < 0 || wait > QUERY_POLL_MS))
		wait = QUERY_POLL_MS;
	/* New hosts make a directory, then their first segment in it: that
	 * second step is not watched, so look again now and then. */
	if (q->all && (wait < 0 || wait > QUERY_RESCAN_MS))
		wait = QUERY_RESCAN_MS;
	if (q->ino >= 0) {
		struct pollfd p = { .fd = q->ino, .events = POLLIN };
		if (poll(&p, 1, wait) > 0) {
			char buf[4096];
			while (read(q->ino, buf, sizeof(buf)) > 0)
				;
		}
	} else {
		poll(NULL, 0, wait);
	}
	if (q->all && now_ms() - q->last_rescan_ms >= QUERY_POLL_MS) {
		size_t before = q->n;
		q->last_rescan_ms = now_ms();
		if (scan_hosts(q, false) == 0)
			for (size_t i = before; i < q->n && q->has_boot; i++)
				(void)resolve_boot(q, i);
	}
	if (q->primed && refill_idle(q) < 0)
		fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
}
