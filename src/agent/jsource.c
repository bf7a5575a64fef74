/* SPDX-License-Identifier: ISC */
/*
 * The journal source (jsource.h, docs/JOURNAL-INPUT.md).
 *
 * Decisions:
 * - Kernel-transport entries are skipped in code, not with matches: the
 *   journal has no negative match, and a positive list of the other
 *   transports would silently lose entries of a transport added later.
 * - Matches are OR-ed (add_disjunction between them). To position, the
 *   journal is briefly used without them (or with a _BOOT_ID match) and
 *   they are applied again before reading.
 * - "From boot" finds the boot's first entry with a _BOOT_ID match and
 *   seeks to its cursor. sd_journal_seek_monotonic_usec(boot, 0) alone is
 *   not enough: in a file without that boot it falls back to the file's
 *   first entry, so older boots would be read.
 * - The resume cursor is checked against the whole journal (no matches): if
 *   its entry is still there, it is skipped (already spooled) and reading
 *   goes on after it. If not, the first entry after it tells what is
 *   missing: with the same seqnum id the journal sequence numbers in
 *   between, else only the times. An entry copied from /run to /var by the
 *   journal's flush has another seqnum but the same boot id, monotonic and
 *   realtime timestamps and xor hash: that is the same entry, not a gap.
 * - A record holds the entry's first MESSAGE as its message and every
 *   other field, in the journal's order, as "KEY=value" (bytes as stored).
 *   MESSAGE may use what RECORD_MAX leaves after JSOURCE_FIELD_ROOM for the
 *   other fields and the markers; other values are cut at max_field_bytes.
 *   Fields that do not fit are left out, the following smaller ones still
 *   go in. Every cut, left-out or unreadable field is named in a marker
 *   field (_KS_TRUNCATED, _KS_DROPPED, _KS_UNREADABLE), and the record is
 *   flagged TRUNCATED. Markers use the trusted-field namespace (leading
 *   '_'), which journald never accepts from clients, so an application
 *   cannot forge them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "bytes.h"
#include "durable.h"
#include "jsource.h"

/* Entries handed over per loop callback before yielding to other fds. */
#define JSOURCE_BURST 1024
/* Room kept for fields other than MESSAGE, and for the marker fields. */
#define JSOURCE_FIELD_ROOM 8192
#define JSOURCE_MARK_LIST_MAX 180
#define JSOURCE_MARK_RESERVE 600
/* Longest MESSAGE kept. */
#define JSOURCE_MSG_MAX (RECORD_MAX - RECORD_HDR_LEN - JSOURCE_FIELD_ROOM - JSOURCE_MARK_RESERVE)
/* Longest field name the journal allows; the data threshold leaves room
 * for it, '=' and one more byte, so a value the library cut is seen as
 * longer than the limit. */
#define JSOURCE_KEY_MAX 64
/* A cursor is about 130 bytes; anything much longer is not one. */
#define JSOURCE_CURSOR_MAX 512

/* A parsed cursor (sd_journal_get_cursor(3): s=, i=, b=, m=, t=, x=). */
struct jcursor {
	sd_id128_t s, b;
	uint64_t i, m, t, x;
};

/* A gap record waiting for the first pump. */
struct jgap {
	const char *cause;
	bool have_seq;
	sd_id128_t seqnum_id;
	uint64_t first, last; /* journal sequence numbers, inclusive */
	bool have_after, have_before;
	uint64_t after_real, before_real; /* exclusive bounds, realtime usec */
	uint64_t mono, real;		  /* header times */
	uint8_t boot_id[RECORD_BOOT_ID_LEN];
};

/* Names of fields cut, left out or unreadable in one record. */
struct marklist {
	char buf[JSOURCE_MARK_LIST_MAX + 1];
	size_t len;
	bool full;
};

struct jsource {
	sd_journal *j;
	int fd;
	struct loop *loop;
	bool fd_added;
	struct loop_timer *timer;
	source_sink_fn sink;
	source_flush_fn flush;
	void *data;
	bool stopped;

	char **matches;
	size_t nmatches;
	bool exclude_kernel;
	bool from_now;
	size_t max_field;
	size_t threshold;
	uint8_t boot_id[RECORD_BOOT_ID_LEN];
	char *cursor_file;

	char *saved;	    /* content of the cursor file */
	bool saved_invalid; /* the cursor file held something unusable */
	char *cursor;	    /* last entry consumed */
	char *resume;	    /* the first entry read is skipped if it is this one */
	bool gap_pending;
	struct jgap gap;

	uint8_t *msg;
	uint8_t *fbuf;
	struct jsource_stats st;
};

void jsource_conf_defaults(struct jsource_conf *c)
{
	*c = (struct jsource_conf){
		.exclude_kernel = true,
		.max_field_bytes = JSOURCE_MAX_FIELD_DEFAULT,
	};
}

static bool field_name_valid(const char *p, size_t n)
{
	if (n == 0 || n > JSOURCE_KEY_MAX || (p[0] >= '0' && p[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

bool jsource_match_valid(const char *m)
{
	const char *eq = m ? strchr(m, '=') : NULL;
	return eq && field_name_valid(m, (size_t)(eq - m));
}

static int cursor_parse(const char *str, struct jcursor *ret)
{
	char buf[JSOURCE_CURSOR_MAX + 1], *save = NULL;
	unsigned seen = 0;
	struct jcursor c = { 0 };
	size_t n = strlen(str);
	if (n == 0 || n > JSOURCE_CURSOR_MAX)
		return -EINVAL;
	memcpy(buf, str, n + 1);
	for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		if (strlen(tok) < 3 || tok[1] != '=')
			return -EINVAL;
		const char *v = tok + 2;
		uint64_t *num = NULL;
		sd_id128_t *id = NULL;
		unsigned bit = 0;
		switch (tok[0]) {
		case 's':
			id = &c.s, bit = 1;
			break;
		case 'i':
			num = &c.i, bit = 2;
			break;
		case 'b':
			id = &c.b, bit = 4;
			break;
		case 'm':
			num = &c.m, bit = 8;
			break;
		case 't':
			num = &c.t, bit = 16;
			break;
		case 'x':
			num = &c.x, bit = 32;
			break;
		default:
			continue; /* a later systemd may add fields */
		}
		if (id && sd_id128_from_string(v, id) < 0)
			return -EINVAL;
		if (num) {
			char *end;
			errno = 0;
			unsigned long long x = strtoull(v, &end, 16);
			if (errno || *end || v[0] == '-' || v[0] == '+')
				return -EINVAL;
			*num = x;
		}
		seen |= bit;
	}
	if (seen != 63)
		return -EINVAL; /* sd_journal_seek_cursor needs all six */
	*ret = c;
	return 0;
}

/* Cursor of the current entry, parsed; *ret_str (optional) gets the string. */
static int current_cursor(sd_journal *j, struct jcursor *ret, char **ret_str)
{
	char *s;
	int r = sd_journal_get_cursor(j, &s);
	if (r < 0)
		return r;
	r = cursor_parse(s, ret);
	if (r < 0 || !ret_str)
		free(s);
	else
		*ret_str = s;
	return r;
}

/* Whether the current entry is the one cursor names (or a copy of it). */
static int is_entry(sd_journal *j, const char *cursor)
{
	struct jcursor want, have;
	int r = sd_journal_test_cursor(j, cursor);
	if (r != 0)
		return r;
	if (cursor_parse(cursor, &want) < 0 || current_cursor(j, &have, NULL) < 0)
		return 0;
	return sd_id128_equal(want.b, have.b) && want.m == have.m && want.t == have.t && want.x == have.x;
}

static int apply_matches(struct jsource *js)
{
	sd_journal_flush_matches(js->j);
	for (size_t i = 0; i < js->nmatches; i++) {
		int r = i > 0 ? sd_journal_add_disjunction(js->j) : 0;
		if (r < 0 || (r = sd_journal_add_match(js->j, js->matches[i], 0)) < 0)
			return r;
	}
	return 0;
}

static int read_cursor_file(struct jsource *js)
{
	char buf[JSOURCE_CURSOR_MAX + 2];
	ssize_t n = read_file(js->cursor_file, buf, sizeof(buf) - 1);
	if (n == -ENOENT)
		return 0;
	if (n == -EFBIG) {
		js->saved_invalid = true;
		return 0;
	}
	if (n < 0)
		return (int)n;
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	struct jcursor c;
	if (strlen(buf) != (size_t)n || cursor_parse(buf, &c) < 0) {
		js->saved_invalid = true;
		return 0;
	}
	js->saved = strdup(buf);
	return js->saved ? 0 : -ENOMEM;
}

int jsource_open(struct jsource **ret, const struct jsource_conf *c)
{
	size_t maxf = c->max_field_bytes ? c->max_field_bytes : JSOURCE_MAX_FIELD_DEFAULT;
	if (maxf < JSOURCE_MAX_FIELD_MIN || maxf > JSOURCE_MAX_FIELD_MAX || (c->nmatches && !c->matches))
		return -EINVAL;
	for (size_t i = 0; i < c->nmatches; i++)
		if (!jsource_match_valid(c->matches[i]))
			return -EINVAL;

	struct jsource *js = calloc(1, sizeof(*js));
	if (!js)
		return -ENOMEM;
	js->fd = -1;
	js->exclude_kernel = c->exclude_kernel;
	js->from_now = c->from_now;
	js->max_field = maxf;
	js->threshold = (maxf > JSOURCE_MSG_MAX ? maxf : JSOURCE_MSG_MAX) + JSOURCE_KEY_MAX + 2;
	memcpy(js->boot_id, c->boot_id, RECORD_BOOT_ID_LEN);
	int r = -ENOMEM;
	js->msg = malloc(JSOURCE_MSG_MAX);
	js->fbuf = malloc(RECORD_MAX);
	if (!js->msg || !js->fbuf)
		goto fail;
	if (c->cursor_file && !(js->cursor_file = strdup(c->cursor_file)))
		goto fail;
	if (c->nmatches) {
		js->matches = calloc(c->nmatches, sizeof(*js->matches));
		if (!js->matches)
			goto fail;
		for (; js->nmatches < c->nmatches; js->nmatches++)
			if (!(js->matches[js->nmatches] = strdup(c->matches[js->nmatches])))
				goto fail;
	}

	if (c->directory)
		r = sd_journal_open_directory(&js->j, c->directory, 0);
	else
		r = sd_journal_open(&js->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0)
		goto fail;
	if ((r = sd_journal_set_data_threshold(js->j, js->threshold)) < 0)
		goto fail;
	/* The inotify watches are set up here, while directories of other
	 * owners can still be read. */
	if ((r = sd_journal_get_fd(js->j)) < 0)
		goto fail;
	js->fd = r;
	if ((r = apply_matches(js)) < 0)
		goto fail;
	if (js->cursor_file && (r = read_cursor_file(js)) < 0)
		goto fail;
	*ret = js;
	return 0;
fail:
	jsource_free(js);
	return r;
}

void jsource_free(struct jsource *js)
{
	if (!js)
		return;
	if (js->fd_added)
		loop_del_fd(js->loop, js->fd);
	if (js->timer)
		loop_timer_cancel(js->loop, js->timer);
	if (js->j)
		sd_journal_close(js->j);
	for (size_t i = 0; i < js->nmatches; i++)
		free(js->matches[i]);
	free(js->matches);
	free(js->cursor_file);
	free(js->saved);
	free(js->cursor);
	free(js->resume);
	free(js->msg);
	free(js->fbuf);
	free(js);
}

void jsource_get_stats(const struct jsource *js, struct jsource_stats *st)
{
	*st = js->st;
}

const char *jsource_cursor(const struct jsource *js)
{
	return js->cursor;
}

int jsource_save_cursor(struct jsource *js, const char *cursor)
{
	if (!cursor)
		cursor = js->cursor;
	if (!js->cursor_file || !cursor || (js->saved && strcmp(js->saved, cursor) == 0))
		return 0;
	size_t n = strlen(cursor);
	if (n == 0 || n > JSOURCE_CURSOR_MAX || strchr(cursor, '\n'))
		return -EINVAL;
	char *copy = malloc(n + 2);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, cursor, n);
	copy[n] = '\n';
	int r = durable_replace(js->cursor_file, copy, n + 1, 0600);
	if (r < 0) {
		free(copy);
		return r;
	}
	copy[n] = 0;
	free(js->saved);
	js->saved = copy;
	return 0;
}

/* ---- positioning ---- */

static void set_cursor(struct jsource *js, char *c)
{
	free(js->cursor);
	js->cursor = c;
}

/* Header times of a gap record placed right before the current entry. */
static void gap_at_current(struct jsource *js)
{
	sd_id128_t boot;
	if (sd_journal_get_realtime_usec(js->j, &js->gap.real) < 0)
		js->gap.real = clock_usec(CLOCK_REALTIME);
	if (sd_journal_get_monotonic_usec(js->j, &js->gap.mono, &boot) < 0) {
		js->gap.mono = clock_usec(CLOCK_MONOTONIC);
		memcpy(js->gap.boot_id, js->boot_id, RECORD_BOOT_ID_LEN);
	} else {
		memcpy(js->gap.boot_id, boot.bytes, RECORD_BOOT_ID_LEN);
	}
}

static void gap_now(struct jsource *js)
{
	js->gap.real = clock_usec(CLOCK_REALTIME);
	js->gap.mono = clock_usec(CLOCK_MONOTONIC);
	memcpy(js->gap.boot_id, js->boot_id, RECORD_BOOT_ID_LEN);
}

/*
 * Resume after the saved cursor. Whether its entry is gone is judged on
 * the whole journal; then the matches come back and reading starts at the
 * cursor, its own entry skipped if it is read first.
 */
static int seek_resume(struct jsource *js)
{
	struct jcursor c, f;
	sd_journal *j = js->j;
	int r;
	if (cursor_parse(js->saved, &c) < 0)
		return -EINVAL;
	sd_journal_flush_matches(j);
	if ((r = sd_journal_seek_cursor(j, js->saved)) < 0)
		return r;
	if ((r = sd_journal_next(j)) < 0)
		return r;
	/* r: 1 = the entry is there, 0 = it is not (or nothing follows). */
	if (r > 0 && (r = is_entry(j, js->saved)) < 0)
		return r;
	if (r == 0 && current_cursor(j, &f, NULL) == 0) {
		/* Gone; the current entry is the first the journal has after it. */
		bool same_id = sd_id128_equal(c.s, f.s);
		if (!same_id || f.i > c.i + 1) {
			js->gap = (struct jgap){
				.cause = "journal-vacuumed",
				.have_seq = same_id,
				.seqnum_id = c.s,
				.first = c.i + 1,
				.last = f.i - 1,
				.have_after = true,
				.after_real = c.t,
				.have_before = true,
				.before_real = f.t,
			};
			gap_at_current(js);
			js->gap_pending = true;
		}
	}
	if ((r = apply_matches(js)) < 0 || (r = sd_journal_seek_cursor(j, js->saved)) < 0)
		return r;
	js->resume = strdup(js->saved);
	js->cursor = strdup(js->saved);
	return js->resume && js->cursor ? 0 : -ENOMEM;
}

/* After the last entry (matches applied). */
static int seek_end(struct jsource *js, bool say_gap)
{
	sd_journal *j = js->j;
	int r;
	if ((r = sd_journal_seek_tail(j)) < 0 || (r = sd_journal_previous(j)) < 0)
		return r;
	if (r == 0) /* empty: everything that comes is new */
		return sd_journal_seek_head(j);
	/* On the last entry: it and those before are deliberately not read. */
	struct jcursor l;
	char *s;
	if ((r = current_cursor(j, &l, &s)) < 0)
		return r;
	set_cursor(js, s);
	if (say_gap && !js->gap_pending && memcmp(l.b.bytes, js->boot_id, RECORD_BOOT_ID_LEN) == 0) {
		js->gap = (struct jgap){
			.cause = "journal-started-from-now",
			.have_before = true,
			.before_real = l.t + 1,
		};
		gap_at_current(js);
		js->gap_pending = true;
	}
	return 0;
}

/* At the current boot's first entry, found with a _BOOT_ID match. */
static int seek_boot(struct jsource *js)
{
	char m[sizeof("_BOOT_ID=") + 2 * RECORD_BOOT_ID_LEN];
	char *first = NULL;
	sd_journal *j = js->j;
	int r, n = snprintf(m, sizeof(m), "_BOOT_ID=");
	for (int i = 0; i < RECORD_BOOT_ID_LEN; i++)
		n += snprintf(m + n, sizeof(m) - (size_t)n, "%02x", js->boot_id[i]);
	sd_journal_flush_matches(j);
	if ((r = sd_journal_add_match(j, m, 0)) < 0 || (r = sd_journal_seek_head(j)) < 0 ||
	    (r = sd_journal_next(j)) < 0)
		return r;
	if (r > 0 && (r = sd_journal_get_cursor(j, &first)) < 0)
		return r;
	if ((r = apply_matches(js)) < 0) {
		free(first);
		return r;
	}
	if (!first) /* nothing of this boot yet: what comes next is */
		return seek_end(js, false);
	r = sd_journal_seek_cursor(j, first);
	free(first);
	return r;
}

static int position(struct jsource *js)
{
	if (js->saved) {
		int r = seek_resume(js);
		if (r != -EINVAL)
			return r;
		js->saved_invalid = true;
	}
	if (js->saved_invalid) {
		js->gap = (struct jgap){ .cause = "journal-cursor-invalid" };
		gap_now(js);
		js->gap_pending = true;
	}
	int r = apply_matches(js);
	if (r < 0)
		return r;
	return js->from_now ? seek_end(js, true) : seek_boot(js);
}

/* ---- records ---- */

static int emit_gap(struct jsource *js)
{
	const struct jgap *g = &js->gap;
	uint8_t fbuf[512];
	char msg[256], sid[SD_ID128_STRING_MAX];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	int n, r = record_fields_add(&fb, "GAP_CAUSE", g->cause, strlen(g->cause));
	if (g->have_seq && r == 0) {
		sd_id128_to_string(g->seqnum_id, sid);
		if ((r = record_fields_add(&fb, "JOURNAL_SEQNUM_ID", sid, strlen(sid))) == 0 &&
		    (r = record_fields_addf(&fb, "GAP_FIRST_JOURNAL_SEQNUM", "%llu",
					    (unsigned long long)g->first)) == 0)
			r = record_fields_addf(&fb, "GAP_LAST_JOURNAL_SEQNUM", "%llu",
					       (unsigned long long)g->last);
	}
	if (g->have_after && r == 0)
		r = record_fields_addf(&fb, "GAP_AFTER_REALTIME_USEC", "%llu",
				       (unsigned long long)g->after_real);
	if (g->have_before && r == 0)
		r = record_fields_addf(&fb, "GAP_BEFORE_REALTIME_USEC", "%llu",
				       (unsigned long long)g->before_real);
	if (r < 0)
		return r;
	if (g->have_seq)
		n = snprintf(msg, sizeof(msg), "journal entries %llu..%llu missing (at most %llu): %s",
			     (unsigned long long)g->first, (unsigned long long)g->last,
			     (unsigned long long)(g->last - g->first + 1), g->cause);
	else if (g->have_after)
		n = snprintf(msg, sizeof(msg), "journal entries missing after realtime %llu, before %llu: %s",
			     (unsigned long long)g->after_real, (unsigned long long)g->before_real, g->cause);
	else if (g->have_before)
		n = snprintf(msg, sizeof(msg),
			     "journal entries of this boot before realtime %llu not read: %s",
			     (unsigned long long)g->before_real, g->cause);
	else
		n = snprintf(msg, sizeof(msg), "journal cursor unusable, reading from %s: %s",
			     js->from_now ? "now" : "boot", g->cause);
	struct record rec = {
		.source = RECORD_SRC_AGENT,
		.level = 4,
		.facility = RECORD_FACILITY_EVENT,
		.event = RECORD_EV_GAP,
		.mono_usec = g->mono,
		.real_usec = g->real,
		.msg = (const uint8_t *)msg,
		.msg_len = (uint32_t)n,
		.nfields = fb.count,
		.fields = fbuf,
		.fields_len = fb.len,
	};
	memcpy(rec.boot_id, g->boot_id, RECORD_BOOT_ID_LEN);
	js->gap_pending = false;
	js->st.gaps++;
	return js->sink(&rec, js->data);
}

static void mark(struct marklist *ml, const uint8_t *name, size_t n)
{
	if (ml->full)
		return;
	if (n > JSOURCE_KEY_MAX)
		n = JSOURCE_KEY_MAX;
	/* Room for ",NAME" and still for a final ",..." */
	if (ml->len + 1 + n + 4 > JSOURCE_MARK_LIST_MAX) {
		memcpy(ml->buf + ml->len, ml->len ? ",..." : "...", ml->len ? 4 : 3);
		ml->len += ml->len ? 4 : 3;
		ml->full = true;
		return;
	}
	if (ml->len)
		ml->buf[ml->len++] = ',';
	for (size_t i = 0; i < n; i++) {
		uint8_t c = name[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '_';
		ml->buf[ml->len++] = ok ? (char)c : '?';
	}
}

static void mark_str(struct marklist *ml, const char *s)
{
	mark(ml, (const uint8_t *)s, strlen(s));
}

/* Append one field entry of n bytes if it fits below limit. */
static bool put_field(struct record_fields *fb, const uint8_t *p, size_t n, size_t limit)
{
	if (fb->count == UINT16_MAX || n > UINT16_MAX || fb->len + 2 + n > limit)
		return false;
	put_be16(fb->buf + fb->len, (uint16_t)n);
	memcpy(fb->buf + fb->len + 2, p, n);
	fb->len += 2 + n;
	fb->count++;
	return true;
}

static bool key_is(const uint8_t *d, size_t klen, const char *key)
{
	return klen == strlen(key) && memcmp(d, key, klen) == 0;
}

/* "0".."7" as journald writes PRIORITY; anything else is not a level. */
static int parse_level(const uint8_t *v, size_t n)
{
	return n == 1 && v[0] >= '0' && v[0] <= '7' ? v[0] - '0' : -1;
}

static int parse_facility(const uint8_t *v, size_t n)
{
	unsigned x = 0;
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	return x <= UINT16_MAX ? (int)x : -1;
}

static bool is_kernel(sd_journal *j)
{
	static const char want[] = "_TRANSPORT=kernel";
	const void *d;
	size_t l;
	return sd_journal_get_data(j, "_TRANSPORT", &d, &l) >= 0 && l == sizeof(want) - 1 &&
	       memcmp(d, want, l) == 0;
}

/* Build the current entry's record and hand it to the sink. */
static int emit_entry(struct jsource *js)
{
	sd_journal *j = js->j;
	struct marklist cut = { .len = 0 }, dropped = { .len = 0 }, unreadable = { .len = 0 };
	struct record rec = { .source = RECORD_SRC_JOURNAL, .level = 6, .facility = 1 };
	sd_id128_t boot;
	const void *vd;
	const uint8_t *d;
	size_t l;
	int r, level = -1, facility = -1;
	bool kernel = false, have_msg = false, msg_skipped = false, seen_level = false, seen_facility = false;

	if (sd_journal_get_realtime_usec(j, &rec.real_usec) < 0) {
		mark_str(&unreadable, "__REALTIME_TIMESTAMP");
		js->st.fields_unreadable++;
	}
	if (sd_journal_get_monotonic_usec(j, &rec.mono_usec, &boot) < 0) {
		mark_str(&unreadable, "__MONOTONIC_TIMESTAMP");
		js->st.fields_unreadable++;
	} else {
		memcpy(rec.boot_id, boot.bytes, RECORD_BOOT_ID_LEN);
	}

	/* MESSAGE first: the pointer does not survive the enumeration. */
	r = sd_journal_get_data(j, "MESSAGE", &vd, &l);
	if (r >= 0) {
		d = vd;
		size_t vlen = l - 8;
		have_msg = true;
		if (vlen > JSOURCE_MSG_MAX || l >= js->threshold) {
			vlen = vlen > JSOURCE_MSG_MAX ? JSOURCE_MSG_MAX : vlen;
			mark_str(&cut, "MESSAGE");
			js->st.fields_cut++;
		}
		memcpy(js->msg, d + 8, vlen);
		rec.msg = js->msg;
		rec.msg_len = (uint32_t)vlen;
	} else if (r != -ENOENT) {
		if (r == -ENOMEM)
			return r;
		mark_str(&unreadable, "MESSAGE");
		js->st.fields_unreadable++;
	}

	struct record_fields fb = { .buf = js->fbuf, .cap = RECORD_MAX - RECORD_HDR_LEN - rec.msg_len };
	size_t limit = fb.cap - JSOURCE_MARK_RESERVE;
	sd_journal_restart_data(j);
	for (;;) {
		r = sd_journal_enumerate_data(j, &vd, &l);
		if (r < 0) {
			if (r == -ENOMEM)
				return r;
			/* Unreadable (corrupt, unknown compression): the
			 * enumeration does not move past it by itself. */
			js->st.fields_unreadable++;
			mark_str(&unreadable, "?");
			r = sd_journal_enumerate_available_data(j, &vd, &l);
			if (r < 0) {
				mark_str(&unreadable, "...");
				break;
			}
		}
		if (r == 0)
			break;
		d = vd;
		/* Data without '=' is not a field the journal writes; it is
		 * kept as it is, all of it the "value". */
		const uint8_t *eq = memchr(d, '=', l);
		size_t klen = eq ? (size_t)(eq - d) : l;
		size_t keep = eq ? klen + 1 : 0;
		const uint8_t *v = d + keep;
		size_t vlen = l - keep;
		if (have_msg && !msg_skipped && key_is(d, klen, "MESSAGE")) {
			msg_skipped = true;
			continue;
		}
		if (!seen_level && key_is(d, klen, "PRIORITY")) {
			seen_level = true;
			level = parse_level(v, vlen);
		} else if (!seen_facility && key_is(d, klen, "SYSLOG_FACILITY")) {
			seen_facility = true;
			facility = parse_facility(v, vlen);
		} else if (key_is(d, klen, "_TRANSPORT") && vlen == 6 && memcmp(v, "kernel", 6) == 0) {
			kernel = true;
		}
		bool cut_value = vlen > js->max_field || l >= js->threshold;
		size_t n = keep + (vlen > js->max_field ? js->max_field : vlen);
		if (!put_field(&fb, d, n, limit)) {
			mark(&dropped, d, klen);
			js->st.fields_dropped++;
		} else if (cut_value) {
			mark(&cut, d, klen);
			js->st.fields_cut++;
		}
	}

	if (level >= 0)
		rec.level = (uint8_t)level;
	if (facility >= 0)
		rec.facility = (uint16_t)facility;
	else if (kernel)
		rec.facility = 0;
	if (cut.len || dropped.len || unreadable.len) {
		rec.flags |= RECORD_F_TRUNCATED;
		/* Within JSOURCE_MARK_RESERVE, so these cannot fail. */
		if (cut.len)
			(void)record_fields_add(&fb, "_KS_TRUNCATED", cut.buf, cut.len);
		if (dropped.len)
			(void)record_fields_add(&fb, "_KS_DROPPED", dropped.buf, dropped.len);
		if (unreadable.len)
			(void)record_fields_add(&fb, "_KS_UNREADABLE", unreadable.buf, unreadable.len);
	}
	rec.nfields = fb.count;
	rec.fields = fb.buf;
	rec.fields_len = fb.len;
	if (record_fit(&rec)) /* cannot happen: the budget above is RECORD_MAX */
		rec.flags |= RECORD_F_TRUNCATED;
	if (rec.flags & RECORD_F_TRUNCATED)
		js->st.truncated++;
	js->st.entries++;
	return js->sink(&rec, js->data);
}

/* The current entry: skip, exclude or hand on; then it is consumed. */
static int handle_entry(struct jsource *js)
{
	char *c;
	int r = sd_journal_get_cursor(js->j, &c);
	if (r < 0)
		return r;
	if (js->resume) {
		r = is_entry(js->j, js->resume);
		free(js->resume);
		js->resume = NULL;
		if (r > 0) {
			js->st.skipped++;
			set_cursor(js, c);
			return 0;
		}
	}
	if (js->exclude_kernel && is_kernel(js->j)) {
		js->st.excluded++;
		set_cursor(js, c);
		return 0;
	}
	r = emit_entry(js);
	if (r < 0) {
		free(c);
		return r;
	}
	set_cursor(js, c);
	return 0;
}

/* Returns entries read (>= 0), or -errno. */
static int pump(struct jsource *js)
{
	int n = 0, r;
	if (js->gap_pending && (r = emit_gap(js)) < 0)
		return r;
	while (n < JSOURCE_BURST) {
		r = sd_journal_next(js->j);
		if (r <= 0)
			return r < 0 ? r : n;
		if ((r = handle_entry(js)) < 0)
			return r;
		n++;
	}
	return n;
}

/* ---- loop ---- */

static void on_timer(struct loop *l, struct loop_timer *t, void *data);

static void stop(struct jsource *js, int err)
{
	js->st.error = err;
	js->stopped = true;
	if (js->fd_added) {
		loop_del_fd(js->loop, js->fd);
		js->fd_added = false;
	}
	if (js->timer) {
		loop_timer_cancel(js->loop, js->timer);
		js->timer = NULL;
	}
}

/* Read a burst, flush, and come back at once if there may be more, or
 * when the journal asks (files it cannot watch with inotify). */
static void run(struct jsource *js)
{
	int n = pump(js);
	if (js->flush)
		js->flush(js->data);
	if (n < 0) {
		stop(js, n);
		return;
	}
	if (js->timer) {
		loop_timer_cancel(js->loop, js->timer);
		js->timer = NULL;
	}
	uint64_t delay_ms, until = UINT64_MAX;
	if (n == JSOURCE_BURST) {
		delay_ms = 0;
	} else if (sd_journal_get_timeout(js->j, &until) >= 0 && until != UINT64_MAX) {
		uint64_t now = clock_usec(CLOCK_MONOTONIC);
		delay_ms = until > now ? (until - now + 999) / 1000 : 0;
	} else {
		return;
	}
	int r = loop_timer_add(js->loop, delay_ms, on_timer, js, &js->timer);
	if (r < 0)
		stop(js, r);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct jsource *js = data;
	js->timer = NULL;
	int r = sd_journal_process(js->j);
	if (r < 0) {
		stop(js, r);
		return;
	}
	run(js);
}

static void on_io(struct loop *l, int fd, uint32_t events, void *data)
{
	struct jsource *js = data;
	int r = sd_journal_process(js->j);
	if (r < 0) {
		stop(js, r);
		return;
	}
	run(js);
}

int jsource_start(struct jsource *js, struct loop *l, source_sink_fn sink, source_flush_fn flush, void *data)
{
	js->loop = l;
	js->sink = sink;
	js->flush = flush;
	js->data = data;
	int r = position(js);
	if (r < 0)
		return r;
	if ((r = loop_add_fd(l, js->fd, EPOLLIN, on_io, js)) < 0)
		return r;
	js->fd_added = true;
	/* What the journal already holds is read from the loop, not here. */
	return loop_timer_add(l, 0, on_timer, js, &js->timer);
}
