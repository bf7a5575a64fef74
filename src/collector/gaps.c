/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gaps.h"
#include "json.h"
#include "text.h"
#include "timestamp.h"

struct range {
	uint64_t lo, hi; /* inclusive */
};

/* Sorted, disjoint, non-adjacent ranges. */
struct rset {
	struct range *r;
	size_t n, cap;
};

/* A gap record's claim (or one derived from it): these seqs are missing because of name. */
struct cause {
	uint64_t lo, hi;
	char name[40];
	uint64_t levels[8];
	bool has_levels;
	uint64_t time; /* the gap record's time (real, usec) */
};

struct causes {
	struct cause *c;
	size_t n, cap;
};

struct gboot {
	uint8_t id[16];
	struct rset held; /* kernel seqs */
	struct causes why;
	uint64_t max_known;
	bool known;
};

struct gstream {
	uint8_t id[16];
	struct rset held; /* stream seqs of agent records */
	struct causes why;
	uint64_t max_known;
	bool known;
	uint64_t *malformed; /* stream seqs of malformed-input records */
	size_t nmal, capmal;
	size_t *boots; /* indexes into gaps.boots */
	size_t nboots, capboots;
	/* The last kernel record of this stream. */
	bool have_last;
	size_t last_boot;
	uint64_t last_kseq, last_sseq;
};

/* Kernel seqs klo..khi of a boot are missing between two kernel records of a stream. */
struct obs {
	size_t boot, stream;
	uint64_t klo, khi;
	bool has_after;
	uint64_t after, before; /* the stream seqs strictly between after (or from 0) and before */
};

struct gaps {
	struct gboot *boots;
	size_t nboots, capboots;
	struct gstream *streams;
	size_t nstreams, capstreams;
	struct obs *obs;
	size_t nobs, capobs;
	size_t last_boot, last_stream; /* lookup caches */
	int err;
};

#define GROW(arr, n, cap)                                                 \
	do {                                                              \
		if ((n) == (cap)) {                                       \
			size_t nc_ = (cap) ? 2 * (cap) : 8;               \
			void *np_ = realloc((arr), nc_ * sizeof(*(arr))); \
			if (!np_)                                         \
				return -ENOMEM;                           \
			(arr) = np_;                                      \
			(cap) = nc_;                                      \
		}                                                         \
	} while (0)

static int rset_add(struct rset *s, uint64_t lo, uint64_t hi)
{
	/* Fast path: in order, extending or after the last range. */
	if (s->n && lo >= s->r[s->n - 1].lo) {
		struct range *last = &s->r[s->n - 1];
		if (lo <= last->hi || lo - last->hi == 1) {
			if (hi > last->hi)
				last->hi = hi;
			return 0;
		}
	}
	/* First range whose hi + 1 >= lo. */
	size_t a = 0, b = s->n;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (s->r[m].hi < lo && lo - s->r[m].hi > 1)
			a = m + 1;
		else
			b = m;
	}
	size_t end = a;
	while (end < s->n && (s->r[end].lo <= hi || s->r[end].lo - hi == 1))
		end++;
	if (end > a) {
		/* Merge a .. end-1 into one. */
		if (s->r[a].lo < lo)
			lo = s->r[a].lo;
		if (s->r[end - 1].hi > hi)
			hi = s->r[end - 1].hi;
		s->r[a] = (struct range){ lo, hi };
		memmove(&s->r[a + 1], &s->r[end], (s->n - end) * sizeof(*s->r));
		s->n -= end - a - 1;
		return 0;
	}
	GROW(s->r, s->n, s->cap);
	memmove(&s->r[a + 1], &s->r[a], (s->n - a) * sizeof(*s->r));
	s->r[a] = (struct range){ lo, hi };
	s->n++;
	return 0;
}

static int causes_add(struct causes *cs, const struct cause *c)
{
	GROW(cs->c, cs->n, cs->cap);
	cs->c[cs->n++] = *c;
	return 0;
}

int gaps_new(struct gaps **ret)
{
	struct gaps *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	*ret = g;
	return 0;
}

void gaps_free(struct gaps *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nboots; i++) {
		free(g->boots[i].held.r);
		free(g->boots[i].why.c);
	}
	for (size_t i = 0; i < g->nstreams; i++) {
		free(g->streams[i].held.r);
		free(g->streams[i].why.c);
		free(g->streams[i].malformed);
		free(g->streams[i].boots);
	}
	free(g->boots);
	free(g->streams);
	free(g->obs);
	free(g);
}

static int boot_index(struct gaps *g, const uint8_t id[16], size_t *ret)
{
	if (g->last_boot < g->nboots && memcmp(g->boots[g->last_boot].id, id, 16) == 0) {
		*ret = g->last_boot;
		return 0;
	}
	for (size_t i = 0; i < g->nboots; i++)
		if (memcmp(g->boots[i].id, id, 16) == 0) {
			*ret = g->last_boot = i;
			return 0;
		}
	GROW(g->boots, g->nboots, g->capboots);
	memset(&g->boots[g->nboots], 0, sizeof(*g->boots));
	memcpy(g->boots[g->nboots].id, id, 16);
	*ret = g->last_boot = g->nboots++;
	return 0;
}

static int stream_index(struct gaps *g, const uint8_t id[16], size_t *ret)
{
	if (g->last_stream < g->nstreams && memcmp(g->streams[g->last_stream].id, id, 16) == 0) {
		*ret = g->last_stream;
		return 0;
	}
	for (size_t i = 0; i < g->nstreams; i++)
		if (memcmp(g->streams[i].id, id, 16) == 0) {
			*ret = g->last_stream = i;
			return 0;
		}
	GROW(g->streams, g->nstreams, g->capstreams);
	memset(&g->streams[g->nstreams], 0, sizeof(*g->streams));
	memcpy(g->streams[g->nstreams].id, id, 16);
	*ret = g->last_stream = g->nstreams++;
	return 0;
}

static int stream_add_boot(struct gstream *s, size_t boot)
{
	for (size_t i = s->nboots; i > 0; i--)
		if (s->boots[i - 1] == boot)
			return 0;
	GROW(s->boots, s->nboots, s->capboots);
	s->boots[s->nboots++] = boot;
	return 0;
}

/* A decimal field; false when absent or not a number. */
static bool field_u64(const struct record *r, const char *key, uint64_t *ret)
{
	const uint8_t *v;
	size_t len;
	if (record_field_get(r, key, &v, &len) != 1 || len == 0 || len > 20)
		return false;
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		uint64_t d = (uint64_t)(v[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*ret = n;
	return true;
}

static const char *const level_keys[8] = {
	"GAP_COUNT_EMERG",   "GAP_COUNT_ALERT",	 "GAP_COUNT_CRIT", "GAP_COUNT_ERR",
	"GAP_COUNT_WARNING", "GAP_COUNT_NOTICE", "GAP_COUNT_INFO", "GAP_COUNT_DEBUG",
};
static const char *const level_names[8] = { "emerg",   "alert",	 "crit", "err",
					    "warning", "notice", "info", "debug" };

static int add_gap_record(struct gaps *g, const struct journal_entry *e, bool has_boot, size_t boot,
			  size_t stream)
{
	const struct record *r = &e->rec;
	struct cause c;
	memset(&c, 0, sizeof(c));
	c.time = r->real_usec;
	const uint8_t *v;
	size_t len;
	if (record_field_get(r, "GAP_CAUSE", &v, &len) == 1 && len > 0) {
		size_t n = len < sizeof(c.name) - 1 ? len : sizeof(c.name) - 1;
		for (size_t i = 0; i < n; i++)
			c.name[i] = v[i] >= 0x21 && v[i] < 0x7f ? (char)v[i] : '?';
	} else {
		snprintf(c.name, sizeof(c.name), "unknown");
	}
	for (int i = 0; i < 8; i++)
		if (field_u64(r, level_keys[i], &c.levels[i]) && c.levels[i])
			c.has_levels = true;
	uint64_t lo, hi;
	if (has_boot && field_u64(r, "GAP_FIRST", &lo) && field_u64(r, "GAP_LAST", &hi) && lo <= hi) {
		struct gboot *b = &g->boots[boot];
		c.lo = lo;
		c.hi = hi;
		if (causes_add(&b->why, &c) < 0)
			return -ENOMEM;
		if (!b->known || hi > b->max_known)
			b->max_known = hi;
		b->known = true;
	}
	if (field_u64(r, "GAP_FIRST_STREAM_SEQ", &lo) && field_u64(r, "GAP_LAST_STREAM_SEQ", &hi) &&
	    lo <= hi) {
		struct gstream *s = &g->streams[stream];
		c.lo = lo;
		c.hi = hi;
		if (causes_add(&s->why, &c) < 0)
			return -ENOMEM;
		if (!s->known || hi > s->max_known)
			s->max_known = hi;
		s->known = true;
	}
	return 0;
}

static int add_kernel_record(struct gaps *g, const struct journal_entry *e, size_t boot, size_t stream)
{
	const struct record *r = &e->rec;
	struct gboot *b = &g->boots[boot];
	struct gstream *s = &g->streams[stream];
	uint64_t first = r->kmsg_seq, f;
	if ((r->flags & RECORD_F_CONT) && field_u64(r, "KMSG_SEQ_FIRST", &f) && f <= first)
		first = f;
	if (rset_add(&b->held, first, r->kmsg_seq) < 0)
		return -ENOMEM;
	if (!b->known || r->kmsg_seq > b->max_known)
		b->max_known = r->kmsg_seq;
	b->known = true;
	/* Stored ahead of its place (docs/STORE.md): the records around it
	 * in the stream come later, so it is no neighbour of the last one. */
	if (e->early)
		return 0;

	struct obs o = { .boot = boot, .stream = stream, .before = r->stream_seq };
	bool hole = false;
	if (s->have_last && s->last_boot == boot) {
		if (first > s->last_kseq + 1 && s->last_kseq != UINT64_MAX) {
			o.klo = s->last_kseq + 1;
			o.khi = first - 1;
			o.has_after = true;
			o.after = s->last_sseq;
			hole = o.after < o.before;
		}
	} else if (first > 0) {
		/* This boot's first kernel record in the stream. */
		o.klo = 0;
		o.khi = first - 1;
		o.has_after = s->have_last;
		o.after = s->last_sseq;
		hole = !o.has_after || o.after < o.before;
	}
	if (hole) {
		GROW(g->obs, g->nobs, g->capobs);
		g->obs[g->nobs++] = o;
	}
	s->have_last = true;
	s->last_boot = boot;
	s->last_kseq = r->kmsg_seq;
	s->last_sseq = r->stream_seq;
	return 0;
}

int gaps_add(struct gaps *g, const struct journal_entry *e)
{
	const struct record *r = &e->rec;
	size_t boot = 0, stream;
	bool has_boot = !text_id_null(r->boot_id);
	if ((has_boot && boot_index(g, r->boot_id, &boot) < 0) || stream_index(g, e->stream_id, &stream) < 0)
		return -ENOMEM;
	struct gstream *s = &g->streams[stream];
	/* Collector records carry the session's seqs, not their own. */
	if (r->source != RECORD_SRC_COLLECTOR) {
		if (rset_add(&s->held, r->stream_seq, r->stream_seq) < 0)
			return -ENOMEM;
		if (!s->known || r->stream_seq > s->max_known)
			s->max_known = r->stream_seq;
		s->known = true;
		if (has_boot && stream_add_boot(s, boot) < 0)
			return -ENOMEM;
	}
	if (r->source == RECORD_SRC_KMSG && has_boot && add_kernel_record(g, e, boot, stream) < 0)
		return -ENOMEM;
	if (r->event == RECORD_EV_GAP &&
	    (r->source == RECORD_SRC_AGENT || r->source == RECORD_SRC_COLLECTOR) &&
	    add_gap_record(g, e, has_boot, boot, stream) < 0)
		return -ENOMEM;
	if (r->event == RECORD_EV_MALFORMED && r->source == RECORD_SRC_AGENT) {
		GROW(s->malformed, s->nmal, s->capmal);
		s->malformed[s->nmal++] = r->stream_seq;
	}
	return 0;
}

int gaps_acked(struct gaps *g, const uint8_t id[16], uint64_t hwm)
{
	size_t i;
	if (hwm == 0 || stream_index(g, id, &i) < 0)
		return hwm == 0 ? 0 : -ENOMEM;
	struct gstream *s = &g->streams[i];
	uint64_t lo = s->known ? s->max_known + 1 : 0;
	if (lo >= hwm)
		return 0;
	struct cause c = { .lo = lo, .hi = hwm - 1, .name = "acked-lost" };
	if (causes_add(&s->why, &c) < 0)
		return -ENOMEM;
	s->max_known = hwm - 1;
	s->known = true;
	return 0;
}

int gaps_finish(struct gaps *g)
{
	for (size_t i = 0; i < g->nobs; i++) {
		const struct obs *o = &g->obs[i];
		struct gstream *s = &g->streams[o->stream];
		struct gboot *b = &g->boots[o->boot];
		uint64_t slo = o->has_after ? o->after + 1 : 0;
		if (o->before == 0 || slo > o->before - 1)
			continue;
		uint64_t shi = o->before - 1;
		for (size_t k = 0; k < s->why.n; k++) {
			struct cause c = s->why.c[k];
			if (c.hi < slo || c.lo > shi)
				continue;
			c.lo = o->klo;
			c.hi = o->khi;
			if (causes_add(&b->why, &c) < 0)
				return -ENOMEM;
		}
		for (size_t k = 0; k < s->nmal; k++) {
			if (s->malformed[k] < slo || s->malformed[k] > shi)
				continue;
			struct cause c = { .lo = o->klo, .hi = o->khi };
			snprintf(c.name, sizeof(c.name), "malformed-input");
			if (causes_add(&b->why, &c) < 0)
				return -ENOMEM;
			break;
		}
	}
	return 0;
}

/* The ranges of 0..max missing from held, one at a time: *pos starts at 0. */
static bool next_missing(const struct rset *held, uint64_t max, size_t *pos, uint64_t *cursor, bool *done,
			 struct range *ret)
{
	while (!*done) {
		if (*pos < held->n && held->r[*pos].lo <= *cursor) {
			if (held->r[*pos].hi >= max) {
				*done = true;
				return false;
			}
			if (held->r[*pos].hi + 1 > *cursor)
				*cursor = held->r[*pos].hi + 1;
			(*pos)++;
			continue;
		}
		uint64_t end = *pos < held->n ? held->r[*pos].lo - 1 : max;
		if (end > max)
			end = max;
		ret->lo = *cursor;
		ret->hi = end;
		if (end >= max)
			*done = true;
		else
			*cursor = end + 1;
		return true;
	}
	return false;
}

static size_t count_missing(const struct rset *held, bool known, uint64_t max)
{
	if (!known)
		return 0;
	size_t n = 0, pos = 0;
	uint64_t cur = 0;
	bool done = false;
	struct range m;
	while (next_missing(held, max, &pos, &cur, &done, &m))
		n++;
	return n;
}

size_t gaps_count(const struct gaps *g)
{
	size_t n = 0;
	for (size_t i = 0; i < g->nboots; i++)
		n += count_missing(&g->boots[i].held, g->boots[i].known, g->boots[i].max_known);
	for (size_t i = 0; i < g->nstreams; i++)
		n += count_missing(&g->streams[i].held, g->streams[i].known, g->streams[i].max_known);
	return n;
}

/* ---- report ---- */

#define CAUSES_MAX 8
/* The text summary lists at most this many held ranges, else their span. */
#define GAPS_HELD_LISTED 8

/*
 * The text summary (not opts.full) prints a run of missing ranges with the
 * same causes, with nothing else missing between them (only held records),
 * as one line; the run is built here until a range with other causes, or
 * the end of the boot or stream, closes it.
 */
struct run {
	bool open;
	uint64_t lo, hi, count, ngaps;
	uint64_t t_lo, t_hi; /* the gap records' times; t_hi 0: none known */
	const struct cause *c[CAUSES_MAX];
	size_t n;
	bool declared;
};

struct printer {
	FILE *f;
	const struct gaps_report_opts *o;
	bool json;
	struct json j;
	bool missing;
	/* The boot or stream being printed: its first held seq (none: held_lo
	 * UINT64_MAX), for what counts as declared. */
	uint64_t held_lo;
	bool kernel;
	struct run run;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void print_range_text(FILE *f, uint64_t lo, uint64_t hi)
{
	if (lo == hi)
		fprintf(f, "%" PRIu64, lo);
	else
		fprintf(f, "%" PRIu64 "-%" PRIu64, lo, hi);
}

/* The causes covering seq x, deduplicated by name (the first one's levels). */
static size_t causes_at(const struct causes *cs, uint64_t x, const struct cause **out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < cs->n; i++) {
		const struct cause *c = &cs->c[i];
		if (c->lo > x || c->hi < x)
			continue;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(out[k]->name, c->name) == 0;
		if (!dup && n < cap)
			out[n++] = c;
	}
	return n;
}

static bool same_causes(const struct cause **a, size_t na, const struct cause **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i]->name, b[i]->name) != 0)
			return false;
	return true;
}

/*
 * Missing by the agent's own choice, not lost: kernel records before the
 * first one held in the boot whose only cause is "started-from-now" (the
 * agent was configured with kmsg.from = "now" and had no cursor for the
 * boot). The same cause after a held record (a second start without a
 * cursor) is a loss after the declared starting point.
 */
static bool declared(const struct printer *p, uint64_t hi, const struct cause **c, size_t n)
{
	if (!p->kernel || n == 0 || hi >= p->held_lo)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i]->name, "started-from-now") != 0)
			return false;
	return true;
}

static void print_causes_text(FILE *f, const struct cause **c, size_t n)
{
	if (n == 0)
		fputs("unknown", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s%s", i ? ", " : "", c[i]->name);
		if (!c[i]->has_levels)
			continue;
		fputs(" (dropped:", f);
		bool first = true;
		for (int l = 0; l < 8; l++)
			if (c[i]->levels[l]) {
				fprintf(f, "%s %" PRIu64 " %s", first ? "" : ",", c[i]->levels[l],
					level_names[l]);
				first = false;
			}
		fputc(')', f);
	}
}

/* The open run as one line; a run of one range as --gaps=full prints it. */
static void run_flush(struct printer *p, const char *what)
{
	struct run *u = &p->run;
	if (!u->open)
		return;
	u->open = false;
	fprintf(p->f, "    missing %s ", what);
	print_range_text(p->f, u->lo, u->hi);
	if (u->ngaps == 1) {
		fprintf(p->f, " (%" PRIu64 "): ", u->count);
	} else {
		fprintf(p->f, " (%" PRIu64 " in %" PRIu64 " gaps", u->count, u->ngaps);
		if (u->t_hi) {
			char a[64], b[64];
			timestamp_format(a, sizeof(a), u->t_lo, TS_PRECISE, p->o->utc);
			timestamp_format(b, sizeof(b), u->t_hi, TS_PRECISE, p->o->utc);
			fprintf(p->f, ", %s to %s", a, b);
		}
		fputs("): ", p->f);
	}
	print_causes_text(p->f, u->c, u->n);
	fputs(u->declared ? " (declared, not lost)\n" : "\n", p->f);
}

static void run_add(struct printer *p, const char *what, uint64_t lo, uint64_t hi, const struct cause **c,
		    size_t n, bool decl)
{
	struct run *u = &p->run;
	if (u->open && (u->declared != decl || !same_causes(u->c, u->n, c, n)))
		run_flush(p, what);
	if (!u->open) {
		*u = (struct run){ .open = true, .lo = lo, .n = n, .declared = decl };
		memcpy(u->c, c, n * sizeof(*c));
	}
	u->hi = hi;
	u->count += hi - lo + 1;
	u->ngaps++;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = c[i]->time;
		if (!t)
			continue;
		if (!u->t_hi || t < u->t_lo)
			u->t_lo = t;
		if (t > u->t_hi)
			u->t_hi = t;
	}
}

static void print_piece(struct printer *p, const char *what, uint64_t lo, uint64_t hi, const struct cause **c,
			size_t n)
{
	bool decl = declared(p, hi, c, n);
	if (!decl)
		p->missing = true;
	if (p->json) {
		json_object_begin(&p->j);
		json_key(&p->j, "first");
		json_u64(&p->j, lo);
		json_key(&p->j, "last");
		json_u64(&p->j, hi);
		json_key(&p->j, "count");
		json_u64(&p->j, hi - lo + 1);
		if (decl) {
			json_key(&p->j, "declared");
			json_bool(&p->j, true);
		}
		json_key(&p->j, "causes");
		json_array_begin(&p->j);
		for (size_t i = 0; i < (n ? n : 1); i++) {
			json_object_begin(&p->j);
			json_key(&p->j, "cause");
			json_cstring(&p->j, n ? c[i]->name : "unknown");
			if (n && c[i]->has_levels) {
				json_key(&p->j, "levels");
				json_object_begin(&p->j);
				for (int l = 0; l < 8; l++)
					if (c[i]->levels[l]) {
						json_key(&p->j, level_names[l]);
						json_u64(&p->j, c[i]->levels[l]);
					}
				json_object_end(&p->j);
			}
			json_object_end(&p->j);
		}
		json_array_end(&p->j);
		json_object_end(&p->j);
		return;
	}
	/* Text: each range is a run of one with --gaps=full. */
	run_add(p, what, lo, hi, c, n, decl);
	if (p->o->full)
		run_flush(p, what);
}

/* One missing range, split where its causes change. */
static void print_missing(struct printer *p, const char *what, const struct causes *cs, struct range m)
{
	/* Boundaries: m.lo, and every cause start / end + 1 inside m. */
	size_t nb = 0, capb = 1 + 2 * cs->n;
	uint64_t *b = malloc(capb * sizeof(*b));
	if (!b) {
		print_piece(p, what, m.lo, m.hi, NULL, 0);
		return;
	}
	b[nb++] = m.lo;
	for (size_t i = 0; i < cs->n; i++) {
		const struct cause *c = &cs->c[i];
		if (c->hi < m.lo || c->lo > m.hi)
			continue;
		if (c->lo > m.lo)
			b[nb++] = c->lo;
		if (c->hi < m.hi)
			b[nb++] = c->hi + 1;
	}
	qsort(b, nb, sizeof(*b), cmp_u64);
	const struct cause *cur[CAUSES_MAX], *nxt[CAUSES_MAX];
	size_t ncur = 0;
	uint64_t start = m.lo;
	bool open = false;
	for (size_t i = 0; i < nb; i++) {
		if (i > 0 && b[i] == b[i - 1])
			continue;
		size_t nn = causes_at(cs, b[i], nxt, CAUSES_MAX);
		if (open && same_causes(cur, ncur, nxt, nn))
			continue;
		if (open)
			print_piece(p, what, start, b[i] - 1, cur, ncur);
		memcpy(cur, nxt, nn * sizeof(*cur));
		ncur = nn;
		start = b[i];
		open = true;
	}
	if (open)
		print_piece(p, what, start, m.hi, cur, ncur);
	free(b);
}

static void print_held(struct printer *p, const char *what, const struct rset *held)
{
	if (p->json) {
		json_key(&p->j, "held");
		json_array_begin(&p->j);
		for (size_t i = 0; i < held->n; i++) {
			json_array_begin(&p->j);
			json_u64(&p->j, held->r[i].lo);
			json_u64(&p->j, held->r[i].hi);
			json_array_end(&p->j);
		}
		json_array_end(&p->j);
		return;
	}
	fprintf(p->f, "    held %s ", what);
	if (held->n == 0)
		fputs("none", p->f);
	if (held->n > GAPS_HELD_LISTED && !p->o->full) {
		uint64_t count = 0;
		for (size_t i = 0; i < held->n; i++)
			count += held->r[i].hi - held->r[i].lo + 1;
		fprintf(p->f, "%" PRIu64 "-%" PRIu64 " (%" PRIu64 " in %zu ranges)\n", held->r[0].lo,
			held->r[held->n - 1].hi, count, held->n);
		return;
	}
	for (size_t i = 0; i < held->n; i++) {
		if (i)
			fputs(", ", p->f);
		print_range_text(p->f, held->r[i].lo, held->r[i].hi);
	}
	fputc('\n', p->f);
}

static void print_ranges(struct printer *p, const char *what, const struct rset *held,
			 const struct causes *why, bool known, uint64_t max)
{
	p->held_lo = held->n ? held->r[0].lo : UINT64_MAX;
	print_held(p, what, held);
	if (p->json) {
		json_key(&p->j, "missing");
		json_array_begin(&p->j);
	}
	size_t pos = 0;
	uint64_t cur = 0;
	bool done = !known;
	struct range m;
	while (next_missing(held, max, &pos, &cur, &done, &m))
		print_missing(p, what, why, m);
	if (p->json)
		json_array_end(&p->j);
	else
		run_flush(p, what);
}

static bool boot_selected(const uint8_t id[16], const uint8_t (*boots)[16], size_t nboots)
{
	if (!boots)
		return true;
	for (size_t i = 0; i < nboots; i++)
		if (memcmp(boots[i], id, 16) == 0)
			return true;
	return false;
}

int gaps_report(const struct gaps *g, const char *host, const struct gaps_report_opts *o, FILE *f)
{
	struct printer p = { .f = f, .o = o, .json = o->json };
	const uint8_t(*boots)[16] = o->boots;
	size_t nboots = o->nboots;
	bool json = o->json;
	char hex[33];
	if (json) {
		json_init(&p.j, f, o->pretty);
		json_object_begin(&p.j);
		json_key(&p.j, "host");
		json_cstring(&p.j, host);
		json_key(&p.j, "boots");
		json_array_begin(&p.j);
	} else {
		fprintf(f, "host %s\n", host);
	}
	for (size_t i = 0; i < g->nboots; i++) {
		const struct gboot *b = &g->boots[i];
		if (!boot_selected(b->id, boots, nboots) || !b->known)
			continue;
		text_hex(hex, b->id, 16);
		long idx = (long)i - (long)(g->nboots - 1);
		if (json) {
			json_object_begin(&p.j);
			json_key(&p.j, "boot_id");
			json_cstring(&p.j, hex);
			json_key(&p.j, "index");
			json_i64(&p.j, idx);
		} else {
			fprintf(f, "  boot %s (-b %ld)\n", hex, idx);
		}
		p.kernel = true;
		print_ranges(&p, "kmsg seq", &b->held, &b->why, b->known, b->max_known);
		p.kernel = false;
		if (json)
			json_object_end(&p.j);
	}
	if (json) {
		json_array_end(&p.j);
		json_key(&p.j, "streams");
		json_array_begin(&p.j);
	}
	for (size_t i = 0; i < g->nstreams; i++) {
		const struct gstream *s = &g->streams[i];
		bool sel = !boots;
		for (size_t k = 0; k < s->nboots && !sel; k++)
			sel = boot_selected(g->boots[s->boots[k]].id, boots, nboots);
		if (!sel || !s->known)
			continue;
		text_hex(hex, s->id, 16);
		if (json) {
			json_object_begin(&p.j);
			json_key(&p.j, "stream_id");
			json_cstring(&p.j, hex);
			json_key(&p.j, "boots");
			json_array_begin(&p.j);
			for (size_t k = 0; k < s->nboots; k++) {
				char bh[33];
				text_hex(bh, g->boots[s->boots[k]].id, 16);
				json_cstring(&p.j, bh);
			}
			json_array_end(&p.j);
		} else {
			fprintf(f, "  stream %s (boot", hex);
			for (size_t k = 0; k < s->nboots; k++)
				fprintf(f, "%s -b %ld", k ? "," : "",
					(long)s->boots[k] - (long)(g->nboots - 1));
			fputs(s->nboots ? ")\n" : " none)\n", f);
		}
		print_ranges(&p, "stream seq", &s->held, &s->why, s->known, s->max_known);
		if (json)
			json_object_end(&p.j);
	}
	if (json) {
		json_array_end(&p.j);
		json_key(&p.j, "complete");
		json_bool(&p.j, !p.missing);
		json_object_end(&p.j);
		json_newline(&p.j);
	} else {
		fprintf(f, "  %s\n", p.missing ? "incomplete" : "complete");
	}
	return p.missing ? 1 : 0;
}
