/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "journal.h"
#include "segindex.h"
#include "segment.h"

struct jseg {
	uint64_t base;
	int fd; /* -1 until first used */
	uint64_t data_off;
	uint64_t first_recno;
	unsigned version; /* of the segment's format */
	struct segindex_block *blocks;
	size_t nblocks;
	bool idx_loaded;
	bool gone; /* removed (retention) before it could be opened */
};

struct journal_reader {
	char dir[PATH_MAX];
	struct jseg *segs; /* by base */
	size_t nsegs;
	size_t cur;
	struct segment_reader *sr; /* over segs[cur] */
	size_t blk;		   /* next index block of cur not yet passed */
	bool has_sel;
	struct journal_select sel;
	uint8_t *abuf; /* journal_reader_read_at */
};

static int cmp_base(const void *a, const void *b)
{
	uint64_t x = ((const struct jseg *)a)->base, y = ((const struct jseg *)b)->base;
	return x < y ? -1 : x > y;
}

/* Add the segments of the directory not known yet (bases above the last). */
static int list_segments(struct journal_reader *r)
{
	DIR *d = opendir(r->dir);
	if (!d)
		return -errno;
	uint64_t last = r->nsegs ? r->segs[r->nsegs - 1].base : 0;
	size_t old = r->nsegs, cap = r->nsegs;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint64_t base;
		if (segment_name_parse(de->d_name, SEGMENT_SUFFIX, &base) < 0 || (old && base <= last))
			continue;
		if (r->nsegs == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct jseg *ns = realloc(r->segs, nc * sizeof(*ns));
			if (!ns) {
				ret = -ENOMEM;
				break;
			}
			r->segs = ns;
			cap = nc;
		}
		r->segs[r->nsegs++] = (struct jseg){ .base = base, .fd = -1 };
	}
	closedir(d);
	if (r->nsegs > old)
		qsort(r->segs + old, r->nsegs - old, sizeof(*r->segs), cmp_base);
	return ret;
}

int journal_reader_open(struct journal_reader **ret, const char *dir)
{
	struct journal_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int e = -ENAMETOOLONG;
	if ((size_t)snprintf(r->dir, sizeof(r->dir), "%s", dir) < sizeof(r->dir))
		e = list_segments(r);
	if (e == 0 && r->nsegs == 0)
		e = -ENOENT;
	if (e < 0) {
		journal_reader_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

void journal_reader_free(struct journal_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nsegs; i++) {
		if (r->segs[i].fd >= 0)
			close(r->segs[i].fd);
		free(r->segs[i].blocks);
	}
	free(r->segs);
	segment_reader_free(r->sr);
	free(r->abuf);
	free(r);
}

void journal_reader_select(struct journal_reader *r, const struct journal_select *sel)
{
	r->has_sel = sel != NULL;
	if (sel)
		r->sel = *sel;
}

/* Open segment i and read its header: 0, -ENOENT (removed), -EBADMSG, -errno. */
static int seg_open(struct journal_reader *r, size_t i)
{
	struct jseg *s = &r->segs[i];
	if (s->fd >= 0)
		return 0;
	if (s->gone)
		return -ENOENT;
	char path[PATH_MAX + SEGMENT_NAME_LEN + 2], name[SEGMENT_NAME_LEN + 1];
	segment_name(name, sizeof(name), s->base, SEGMENT_SUFFIX);
	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			s->gone = true;
		return -errno;
	}
	struct segment_header h;
	int e = segment_header_read(fd, &h);
	if (e == 0 && h.base != s->base)
		e = -EBADMSG;
	if (e == -ENODATA)
		e = -EBADMSG; /* segments appear whole (renamed into place) */
	if (e < 0) {
		close(fd);
		return e;
	}
	s->data_off = h.len;
	s->first_recno = h.first_recno;
	s->version = h.version;
	segment_header_free(&h);
	s->fd = fd;
	return 0;
}

/* The index of segment i, loaded once; a segment without a usable one has no blocks. */
static void seg_index(struct journal_reader *r, size_t i)
{
	struct jseg *s = &r->segs[i];
	if (s->idx_loaded || s->fd < 0)
		return;
	s->idx_loaded = true;
	struct stat st;
	if (fstat(s->fd, &st) < 0)
		return;
	char path[PATH_MAX + SEGMENT_NAME_LEN + 2], name[SEGMENT_NAME_LEN + 1];
	segment_name(name, sizeof(name), s->base, SEGMENT_INDEX_SUFFIX);
	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	uint64_t good;
	if (segindex_load(path, s->base, s->data_off, s->first_recno, (uint64_t)st.st_size, &s->blocks,
			  &s->nblocks, &good) < 0) {
		s->blocks = NULL;
		s->nblocks = 0;
	}
}

/* Start reading segment i at file offset off. */
static int enter(struct journal_reader *r, size_t i, uint64_t off)
{
	int e = seg_open(r, i);
	if (e < 0)
		return e;
	struct jseg *s = &r->segs[i];
	if (off < s->data_off)
		off = s->data_off;
	if (!r->sr) {
		if ((e = segment_reader_new(&r->sr, s->fd, s->version, (off_t)off)) < 0)
			return e;
	} else {
		segment_reader_free(r->sr);
		r->sr = NULL;
		if ((e = segment_reader_new(&r->sr, s->fd, s->version, (off_t)off)) < 0)
			return e;
	}
	r->cur = i;
	seg_index(r, i);
	/* The first block not entirely before off. */
	size_t a = 0, b = s->nblocks;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (s->blocks[m].offset + s->blocks[m].bytes <= off)
			a = m + 1;
		else
			b = m;
	}
	r->blk = a;
	return 0;
}

static bool block_may_match(const struct journal_select *sel, const struct segindex_block *b)
{
	if (!(b->levels & sel->levels))
		return false;
	if (sel->has_since && b->max_real < sel->since)
		return false;
	if (sel->has_until && b->min_real > sel->until)
		return false;
	return !sel->has_boot || memcmp(b->boot_id, sel->boot, 16) == 0;
}

static bool record_may_match(const struct journal_select *sel, const struct record *rec)
{
	if (!(segindex_level_bit(rec->level) & sel->levels))
		return false;
	if (sel->has_since && rec->real_usec < sel->since)
		return false;
	if (sel->has_until && rec->real_usec > sel->until)
		return false;
	return !sel->has_boot || memcmp(rec->boot_id, sel->boot, 16) == 0;
}

/* The current segment is read to its end: go on with the next one, if any. 1 if so, 0 if not. */
static int next_segment(struct journal_reader *r)
{
	if (r->cur + 1 >= r->nsegs) {
		int e = list_segments(r);
		if (e < 0)
			return e;
	}
	while (r->cur + 1 < r->nsegs) {
		/* A next segment exists, so this one is complete: bytes after
		 * its last whole entry are damage, not a write in progress. */
		struct stat st;
		if (fstat(r->segs[r->cur].fd, &st) < 0)
			return -errno;
		if (st.st_size > segment_reader_offset(r->sr))
			return -EBADMSG;
		int e = enter(r, r->cur + 1, 0);
		if (e == -ENOENT) {
			r->cur++; /* removed meanwhile: the one after it */
			continue;
		}
		return e < 0 ? e : 1;
	}
	return 0;
}

static int ensure_started(struct journal_reader *r)
{
	if (r->sr)
		return 0;
	int e;
	size_t i = 0;
	while ((e = enter(r, i, 0)) == -ENOENT && i + 1 < r->nsegs)
		i++;
	return e;
}

int journal_reader_next(struct journal_reader *r, struct journal_entry *e)
{
	int ret = ensure_started(r);
	if (ret < 0) {
		e->offset = (off_t)r->segs[r->cur].base;
		return ret;
	}
	for (;;) {
		struct jseg *s = &r->segs[r->cur];
		off_t off = segment_reader_offset(r->sr);
		if (r->has_sel) {
			while (r->blk < s->nblocks &&
			       s->blocks[r->blk].offset + s->blocks[r->blk].bytes <= (uint64_t)off)
				r->blk++;
			if (r->blk < s->nblocks && s->blocks[r->blk].offset == (uint64_t)off &&
			    !block_may_match(&r->sel, &s->blocks[r->blk])) {
				segment_reader_seek(r->sr, off + s->blocks[r->blk].bytes);
				r->blk++;
				continue;
			}
		}
		const uint8_t *p;
		size_t size;
		ret = segment_reader_next(r->sr, false, &p, &size);
		e->offset = (off_t)s->base + off;
		if (ret == 0) {
			/* Not s after this: the segment list may move. */
			ret = next_segment(r);
			if (ret == 1)
				continue;
			return ret;
		}
		if (ret < 0)
			return ret;
		size_t len;
		const uint8_t *rec = segment_entry_record(p, &len);
		if (record_decode(rec, len, &e->rec) < 0) {
			segment_reader_seek(r->sr, off);
			return -EBADMSG;
		}
		if (r->has_sel && !record_may_match(&r->sel, &e->rec))
			continue;
		if (!segment_entry_sum_ok(p, size, s->version)) {
			segment_reader_seek(r->sr, off);
			return -EBADMSG;
		}
		e->recno = segment_entry_recno(p);
		e->recv_usec = segment_entry_recv(p);
		e->stream_id = segment_entry_sid(p);
		e->early = segment_entry_flags(p) & SEGMENT_ENTRY_EARLY;
		return 1;
	}
}

off_t journal_reader_offset(const struct journal_reader *r)
{
	if (!r->sr)
		return journal_reader_start(r);
	return (off_t)r->segs[r->cur].base + segment_reader_offset(r->sr);
}

off_t journal_reader_start(const struct journal_reader *r)
{
	/* Before the first header is read: the base itself. */
	const struct jseg *s = &r->segs[0];
	return (off_t)(s->base + (s->fd >= 0 ? s->data_off : 0));
}

/* The segment holding pos: its index, or -ESTALE. */
static int find_segment(struct journal_reader *r, uint64_t pos, size_t *ret)
{
	if (r->nsegs == 0 || pos < r->segs[0].base)
		return -ESTALE;
	if (pos >= r->segs[r->nsegs - 1].base) {
		int e = list_segments(r);
		if (e < 0)
			return e;
	}
	size_t a = 0, b = r->nsegs;
	while (b - a > 1) {
		size_t m = (a + b) / 2;
		if (r->segs[m].base <= pos)
			a = m;
		else
			b = m;
	}
	int e = seg_open(r, a);
	if (e < 0)
		return e == -ENOENT ? -ESTALE : e;
	if (pos - r->segs[a].base < r->segs[a].data_off)
		return -ESTALE;
	*ret = a;
	return 0;
}

int journal_reader_seek(struct journal_reader *r, off_t pos)
{
	size_t i;
	int e = find_segment(r, (uint64_t)pos, &i);
	if (e < 0)
		return e;
	return enter(r, i, (uint64_t)pos - r->segs[i].base);
}

int journal_reader_read_at(struct journal_reader *r, off_t pos, struct journal_entry *ret)
{
	size_t i;
	int e = find_segment(r, (uint64_t)pos, &i);
	if (e < 0)
		return e;
	if (!r->abuf && !(r->abuf = malloc(SEGMENT_ENTRY_MAX)))
		return -ENOMEM;
	const struct jseg *s = &r->segs[i];
	off_t off = (off_t)((uint64_t)pos - s->base);
	if ((e = pread_all(s->fd, r->abuf, 4, off)) < 0)
		return e == -ENODATA ? -ESTALE : e;
	size_t size = segment_entry_size(r->abuf, s->version);
	if (size == 0)
		return -EBADMSG;
	if ((e = pread_all(s->fd, r->abuf, size, off)) < 0)
		return e == -ENODATA ? -EBADMSG : e;
	size_t len;
	const uint8_t *rec = segment_entry_record(r->abuf, &len);
	struct journal_entry x;
	if (!segment_entry_sum_ok(r->abuf, size, s->version) || record_decode(rec, len, &x.rec) < 0)
		return -EBADMSG;
	x.recno = segment_entry_recno(r->abuf);
	x.recv_usec = segment_entry_recv(r->abuf);
	x.stream_id = segment_entry_sid(r->abuf);
	x.early = segment_entry_flags(r->abuf) & SEGMENT_ENTRY_EARLY;
	x.offset = pos;
	*ret = x;
	return 0;
}

static int add_boot(uint8_t (**b)[16], size_t *n, size_t *cap, const uint8_t id[16])
{
	static const uint8_t zero[16];
	if (memcmp(id, zero, 16) == 0 || (*n && memcmp((*b)[*n - 1], id, 16) == 0))
		return 0;
	for (size_t i = 0; i < *n; i++)
		if (memcmp((*b)[i], id, 16) == 0)
			return 0;
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 8;
		uint8_t(*nb)[16] = realloc(*b, nc * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		*b = nb;
		*cap = nc;
	}
	memcpy((*b)[(*n)++], id, 16);
	return 0;
}

int journal_reader_boots(struct journal_reader *r, uint8_t (**ret)[16], size_t *ret_n, off_t *ret_at)
{
	uint8_t(*b)[16] = NULL;
	size_t n = 0, cap = 0;
	int e = list_segments(r);
	for (size_t i = 0; e == 0 && i < r->nsegs; i++) {
		if ((e = seg_open(r, i)) < 0) {
			if (e == -ENOENT) {
				e = 0;
				continue;
			}
			break;
		}
		seg_index(r, i);
		const struct jseg *s = &r->segs[i];
		uint64_t off = s->data_off;
		/* A block has one non-zero boot id at most: its order is the records'. */
		for (size_t k = 0; k < s->nblocks && e == 0; k++) {
			e = add_boot(&b, &n, &cap, s->blocks[k].boot_id);
			off = s->blocks[k].offset + s->blocks[k].bytes;
		}
		struct segment_reader *sr;
		if (e < 0 || (e = segment_reader_new(&sr, s->fd, s->version, (off_t)off)) < 0)
			break;
		const uint8_t *p;
		size_t size;
		while (e == 0 && (e = segment_reader_next(sr, true, &p, &size)) == 1) {
			struct record rec;
			size_t len;
			const uint8_t *enc = segment_entry_record(p, &len);
			e = record_decode(enc, len, &rec) < 0 ? -EBADMSG
							      : add_boot(&b, &n, &cap, rec.boot_id);
		}
		if (e == -EBADMSG)
			*ret_at = (off_t)s->base + segment_reader_offset(sr);
		segment_reader_free(sr);
	}
	if (e < 0 && e != -EBADMSG) {
		free(b);
		return e;
	}
	*ret = b;
	*ret_n = n;
	return e;
}

int journal_reader_back(struct journal_reader *r, uint64_t records, off_t *ret)
{
	int e = list_segments(r);
	if (e < 0)
		return e;
	uint64_t have = 0;
	size_t first = 0;
	/* The oldest segment still there: where "everything" starts. */
	while (first + 1 < r->nsegs && seg_open(r, first) == -ENOENT)
		first++;
	for (size_t i = r->nsegs; i-- > first;) {
		if ((e = seg_open(r, i)) < 0) {
			if (e == -ENOENT)
				continue;
			return e;
		}
		seg_index(r, i);
		const struct jseg *s = &r->segs[i];
		/* Entries after the last block are not counted: that only
		 * moves the answer further back. */
		for (size_t k = s->nblocks; k-- > 0;) {
			/* Blocks the selection skips hold none of the N. */
			if (r->has_sel && !block_may_match(&r->sel, &s->blocks[k]))
				continue;
			have += s->blocks[k].count;
			if (have >= records) {
				*ret = (off_t)(s->base + s->blocks[k].offset);
				return i == first && k == 0 ? 1 : 0;
			}
		}
	}
	if ((e = seg_open(r, first)) < 0)
		return e == -ENOENT ? -ESTALE : e;
	*ret = (off_t)(r->segs[first].base + r->segs[first].data_off);
	return 1;
}

/* ---- early-stored entries before a position ---- */

/* Per stream: the highest seq + 1 of an entry stored in order. */
struct early_mark {
	uint8_t id[16];
	uint64_t mark;
};

struct early_list {
	struct journal_early *v;
	size_t n, cap;
	struct early_mark *m;
	size_t nm, capm;
};

static int early_push(struct early_list *l, const uint8_t *sid, uint64_t seq, off_t offset)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 16;
		struct journal_early *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = nc;
	}
	struct journal_early *x = &l->v[l->n++];
	memcpy(x->stream_id, sid, 16);
	x->seq = seq;
	x->offset = offset;
	return 0;
}

static struct early_mark *early_mark_of(struct early_list *l, const uint8_t *sid, bool add)
{
	for (size_t i = 0; i < l->nm; i++)
		if (memcmp(l->m[i].id, sid, 16) == 0)
			return &l->m[i];
	if (!add)
		return NULL;
	if (l->nm == l->capm) {
		size_t nc = l->capm ? 2 * l->capm : 4;
		struct early_mark *nm = realloc(l->m, nc * sizeof(*nm));
		if (!nm)
			return NULL;
		l->m = nm;
		l->capm = nc;
	}
	struct early_mark *x = &l->m[l->nm++];
	memcpy(x->id, sid, 16);
	x->mark = 0;
	return x;
}

static int early_raise(struct early_list *l, const uint8_t *sid, uint64_t mark)
{
	struct early_mark *x = early_mark_of(l, sid, true);
	if (!x)
		return -ENOMEM;
	if (mark > x->mark)
		x->mark = mark;
	return 0;
}

/* Entries of segment s from file offset from to offset to (or its current end), with sr. */
static int early_scan(struct early_list *l, struct segment_reader *sr, const struct jseg *s, uint64_t from,
		      uint64_t to)
{
	segment_reader_seek(sr, (off_t)from);
	while ((uint64_t)segment_reader_offset(sr) < to) {
		const uint8_t *p;
		size_t size, len;
		off_t at = segment_reader_offset(sr);
		int e = segment_reader_next(sr, true, &p, &size);
		if (e <= 0)
			return e;
		struct record rec;
		const uint8_t *enc = segment_entry_record(p, &len);
		if (record_decode(enc, len, &rec) < 0)
			return -EBADMSG;
		if (segment_entry_flags(p) & SEGMENT_ENTRY_EARLY)
			e = early_push(l, segment_entry_sid(p), rec.stream_seq, (off_t)s->base + at);
		else if (rec.source != RECORD_SRC_COLLECTOR)
			e = early_raise(l, segment_entry_sid(p), rec.stream_seq + 1);
		if (e < 0)
			return e;
	}
	return 0;
}

static int cmp_early(const void *a, const void *b)
{
	const struct journal_early *x = a, *y = b;
	int c = memcmp(x->stream_id, y->stream_id, 16);
	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

int journal_reader_early(struct journal_reader *r, off_t pos, struct journal_early **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	size_t i;
	int e = find_segment(r, (uint64_t)pos, &i);
	if (e < 0)
		return e;
	const struct jseg *s = &r->segs[i];
	struct segment_header h;
	if ((e = segment_header_read(s->fd, &h)) < 0)
		return e == -ENODATA ? -EBADMSG : e;
	struct early_list l = { 0 };
	/* Listed in the header: not passed when the segment began. */
	for (size_t k = 0; k < h.nearly && e == 0; k++)
		e = early_push(&l, h.early[k].id, h.early[k].seq, (off_t)h.early[k].pos);
	segment_header_free(&h);
	seg_index(r, i);
	uint64_t rel = (uint64_t)pos - s->base, off = s->data_off;
	struct segment_reader *sr = NULL;
	if (e == 0)
		e = segment_reader_new(&sr, s->fd, s->version, (off_t)off);
	/* Whole index blocks before pos: the in-order mark from the index,
	 * the early entries from the flagged blocks; then the entries. */
	for (size_t k = 0; e == 0 && k < s->nblocks && s->blocks[k].offset + s->blocks[k].bytes <= rel; k++) {
		const struct segindex_block *b = &s->blocks[k];
		if (b->hwm)
			e = early_raise(&l, b->stream_id, b->hwm);
		if (e == 0 && (b->flags & SEGINDEX_F_EARLY))
			e = early_scan(&l, sr, s, b->offset, b->offset + b->bytes);
		off = b->offset + b->bytes;
	}
	if (e == 0)
		e = early_scan(&l, sr, s, off, rel);
	segment_reader_free(sr);
	/* Passed by an entry stored in order before pos: not pending. */
	size_t n = 0;
	for (size_t k = 0; e == 0 && k < l.n; k++) {
		const struct early_mark *m = early_mark_of(&l, l.v[k].stream_id, false);
		if (!m || l.v[k].seq >= m->mark)
			l.v[n++] = l.v[k];
	}
	free(l.m);
	if (e < 0) {
		free(l.v);
		return e;
	}
	if (n)
		qsort(l.v, n, sizeof(*l.v), cmp_early);
	else {
		free(l.v);
		l.v = NULL;
	}
	*ret = l.v;
	*ret_n = n;
	return 0;
}
