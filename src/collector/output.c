/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cursor.h"
#include "json.h"
#include "output.h"
#include "text.h"
#include "timestamp.h"
#include "view.h"

#define ANSI_RED "\x1b[0;1;31m"
#define ANSI_YELLOW "\x1b[0;1;38;5;185m"
#define ANSI_BOLD "\x1b[0;1;39m"
#define ANSI_GREY "\x1b[0;38;5;245m"
#define ANSI_NORMAL "\x1b[0m"

struct output {
	struct output_conf c;
	FILE *f;
	struct view *v;
	size_t count;
	bool have_boot;
	uint8_t last_boot[16];
	uint8_t *scratch;
	size_t scratch_cap;
	/* The record's text is built here and written with one fwrite: a
	 * printf per field cost more than reading and checking the record. */
	char *line;
	size_t line_len, line_cap;
	char cursor[CURSOR_MAX];
	/* The last second formatted: records come many to a second. */
	bool have_sec;
	uint64_t sec;
	char sec_text[48];
	size_t sec_len;
	/* short-delta: the record before. */
	bool have_prev;
	uint64_t prev_mono, prev_real;
	uint8_t prev_boot[16];
	/* export: the last monotonic time written per boot (the most
	 * recent boots; a journal checks that it never goes back). */
	struct {
		uint8_t boot[16];
		uint64_t mono;
	} mono_seen[16];
	size_t n_mono_seen, mono_next;
	/* export: each host's last boot (for its records without one). */
	struct host_boot *hb;
	size_t nhb, cap_hb, last_hb;
};

/* An exported entry held back until its host's boot is known: its text
 * without the __MONOTONIC_TIMESTAMP and _BOOT_ID lines, which go at split. */
struct held {
	char *text;
	size_t len, split;
	uint64_t real;
};

struct host_boot {
	char *host;
	uint8_t boot[16];
	char machine[33]; /* the agent's claimed machine id, "" when none seen */
	struct held *held;
	size_t nheld;
};

static void bootless_id(const char *host, uint8_t boot[16]);
static struct host_boot *host_boot(struct output *o, const char *host);
static const char *host_machine(struct host_boot *hb, const struct record *r);
static void flush_held(struct output *o, struct host_boot *hb, const uint8_t boot[16], uint64_t mono,
		       bool mono_real);

/* In the order of enum output_mode. */
static const char *const mode_names[] = {
	"short",      "short-iso",   "short-precise", "short-monotonic", "short-iso-precise",
	"short-full", "short-unix",  "short-delta",   "with-unit",	 "cat",
	"json",	      "json-pretty", "json-seq",      "json-sse",	 "export",
	"verbose",
};

int output_mode_parse(const char *s, enum output_mode *ret)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*ret = (enum output_mode)i;
			return 0;
		}
	return -EINVAL;
}

bool output_mode_short(enum output_mode m)
{
	return m <= OUTPUT_WITH_UNIT;
}

bool output_mode_says_empty(enum output_mode m)
{
	return output_mode_short(m) || m == OUTPUT_VERBOSE;
}

bool output_mode_json(enum output_mode m)
{
	return m >= OUTPUT_JSON && m <= OUTPUT_JSON_SSE;
}

int output_new(struct output **ret, const struct output_conf *c)
{
	struct output *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->c = *c;
	o->f = c->out ? c->out : stdout;
	int r = view_new(&o->v);
	if (r < 0) {
		free(o);
		return r;
	}
	*ret = o;
	return 0;
}

void output_free(struct output *o)
{
	if (!o)
		return;
	view_free(o->v);
	for (size_t i = 0; i < o->nhb; i++) {
		/* Hosts whose records had no boot at all. */
		if (o->hb[i].nheld) {
			uint8_t boot[16];
			bootless_id(o->hb[i].host, boot);
			flush_held(o, &o->hb[i], boot, 0, true);
		}
		free(o->hb[i].host);
	}
	free(o->hb);
	free(o->scratch);
	free(o->line);
	free(o);
}

size_t output_count(const struct output *o)
{
	return o->count;
}

const char *output_last_cursor(const struct output *o)
{
	return o->cursor;
}

static const char *level_color(uint8_t level)
{
	if (level <= 3)
		return ANSI_RED;
	if (level == 4)
		return ANSI_YELLOW;
	if (level == 5)
		return ANSI_BOLD;
	if (level == 7)
		return ANSI_GREY;
	return "";
}

/* Room for n more bytes in the line (allocated even for n == 0: memcpy
 * may not be given NULL). 0 or -ENOMEM. */
static int line_reserve(struct output *o, size_t n)
{
	if (o->line && n <= o->line_cap - o->line_len)
		return 0;
	size_t cap = o->line_cap ? o->line_cap : 256;
	while (cap - o->line_len < n) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	char *p = realloc(o->line, cap);
	if (!p)
		return -ENOMEM;
	o->line = p;
	o->line_cap = cap;
	return 0;
}

/* Append without a check: line_reserve made the room. */
static void line_add(struct output *o, const void *p, size_t n)
{
	memcpy(o->line + o->line_len, p, n);
	o->line_len += n;
}

static int line_put(struct output *o, const void *p, size_t n)
{
	if (line_reserve(o, n) < 0)
		return -ENOMEM;
	line_add(o, p, n);
	return 0;
}

static int line_puts(struct output *o, const char *s)
{
	return line_put(o, s, strlen(s));
}

/* The line out, and start the next. */
static void line_flush(struct output *o)
{
	fwrite(o->line, 1, o->line_len, o->f);
	o->line_len = 0;
}

/* v in decimal at out, at least width digits (zero-padded); the number of
 * characters (at most 20). */
static size_t put_dec(char *out, uint64_t v, size_t width)
{
	char d[20];
	size_t n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width && n < sizeof(d))
		d[n++] = '0';
	for (size_t i = 0; i < n; i++)
		out[i] = d[n - 1 - i];
	return n;
}

/* A line (or the whole message for cat), coloured, with the part
 * [hs, he) of it highlighted (hs == he: none). */
static int put_colored(struct output *o, const uint8_t *p, size_t len, uint8_t level, size_t hs, size_t he)
{
	if (!o->c.color)
		return line_put(o, p, len);
	const char *on = level_color(level);
	int r = 0;
	if (hs >= he) {
		if (*on) {
			r |= line_puts(o, on);
			r |= line_put(o, p, len);
			r |= line_puts(o, ANSI_NORMAL);
		} else {
			r |= line_put(o, p, len);
		}
		return r ? -ENOMEM : 0;
	}
	r |= line_puts(o, on);
	r |= line_put(o, p, hs);
	r |= line_puts(o, level <= 3 ? ANSI_BOLD : ANSI_RED);
	r |= line_put(o, p + hs, he - hs);
	r |= line_puts(o, *on ? on : ANSI_NORMAL);
	r |= line_put(o, p + he, len - he);
	if (*on)
		r |= line_puts(o, ANSI_NORMAL);
	return r ? -ENOMEM : 0;
}

static int scratch_reserve(struct output *o, size_t n)
{
	if (n <= o->scratch_cap)
		return 0;
	uint8_t *p = realloc(o->scratch, n);
	if (!p)
		return -ENOMEM;
	o->scratch = p;
	o->scratch_cap = n;
	return 0;
}

/*
 * The message as journalctl 252 shows it (strip_tab_ansi): a tab as 8
 * blanks (when expand_tabs), colour sequences ESC [ [0-9;]* m and
 * operating system commands ESC ] [0x20-0x7e]* BEL removed, carriage
 * returns before a newline or at the end removed; anything else, an
 * unfinished sequence included, left as it is.
 */
static int prepare(struct output *o, const uint8_t *m, size_t len, bool expand_tabs, size_t *ret_len)
{
	if (scratch_reserve(o, 8 * len + 1) < 0)
		return -ENOMEM;
	size_t n = 0, crs = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = m[i];
		if (c == '\r') {
			crs++;
			continue;
		}
		if (c != '\n') {
			memset(o->scratch + n, '\r', crs);
			n += crs;
		}
		crs = 0;
		if (c == '\t' && expand_tabs) {
			memset(o->scratch + n, ' ', 8);
			n += 8;
			continue;
		}
		if (c == 0x1b && i + 1 < len && m[i + 1] == '[') {
			size_t k = i + 2;
			while (k < len && ((m[k] >= '0' && m[k] <= '9') || m[k] == ';'))
				k++;
			if (k < len && m[k] == 'm') {
				i = k;
				continue;
			}
		} else if (c == 0x1b && i + 1 < len && m[i + 1] == ']') {
			size_t k = i + 2;
			while (k < len && m[k] >= 0x20 && m[k] <= 0x7e)
				k++;
			if (k < len && m[k] == '\a') {
				i = k;
				continue;
			}
		}
		o->scratch[n++] = c;
	}
	*ret_len = n;
	return 0;
}

/* "[%5llu.%06llu" of usec at t; the number of characters. */
static size_t put_mono(char *t, uint64_t usec)
{
	char sec[20];
	size_t n = 0, sl = put_dec(sec, usec / 1000000, 0);
	for (size_t k = sl; k < 5; k++)
		t[n++] = ' ';
	memcpy(t + n, sec, sl);
	n += sl;
	t[n++] = '.';
	n += put_dec(t + n, usec % 1000000, 6);
	return n;
}

/* The time column of the short formats into the line (at most 64 bytes),
 * as journalctl 252 writes each. */
static void put_time(struct output *o, const struct record *r)
{
	char *t = o->line + o->line_len;
	size_t n = 0;
	enum output_mode m = o->c.mode;
	if (m == OUTPUT_SHORT_MONOTONIC || m == OUTPUT_SHORT_DELTA) {
		t[n++] = '[';
		n += put_mono(t + n, r->mono_usec);
		if (m == OUTPUT_SHORT_DELTA) {
			/* " <delta >" to the record before in the same boot, " <delta*>"
			 * in wall-clock time to one of another boot, blanks for the first
			 * (journalctl 252). */
			bool same = o->have_prev && memcmp(o->prev_boot, r->boot_id, 16) == 0;
			if (o->have_prev) {
				uint64_t a = same ? r->mono_usec : r->real_usec,
					 b = same ? o->prev_mono : o->prev_real;
				t[n++] = ' ';
				t[n++] = '<';
				n += put_mono(t + n, a >= b ? a - b : 0);
				t[n++] = same ? ' ' : '*';
				t[n++] = '>';
			} else {
				memset(t + n, ' ', 16);
				n += 16;
			}
			o->have_prev = true;
			o->prev_mono = r->mono_usec;
			o->prev_real = r->real_usec;
			memcpy(o->prev_boot, r->boot_id, 16);
		}
		t[n++] = ']';
	} else if (m == OUTPUT_SHORT_UNIX) {
		n += put_dec(t, r->real_usec / 1000000, 0);
		t[n++] = '.';
		n += put_dec(t + n, r->real_usec % 1000000, 6);
	} else {
		uint64_t sec = r->real_usec / 1000000;
		if (!o->have_sec || sec != o->sec) {
			enum timestamp_style st =
				m == OUTPUT_SHORT_ISO || m == OUTPUT_SHORT_ISO_PRECISE ? TS_ISO
				: m == OUTPUT_SHORT_FULL || m == OUTPUT_WITH_UNIT      ? TS_FULL
										       : TS_SHORT;
			timestamp_format(o->sec_text, sizeof(o->sec_text), sec * 1000000, st, o->c.utc);
			o->sec_len = strlen(o->sec_text);
			o->sec = sec;
			o->have_sec = true;
		}
		if (m == OUTPUT_SHORT_PRECISE || m == OUTPUT_SHORT_ISO_PRECISE) {
			/* The microseconds after the seconds: before the zone
			 * ("+0100", the last 5 characters) of the ISO form. */
			size_t head =
				m == OUTPUT_SHORT_ISO_PRECISE && o->sec_len > 5 ? o->sec_len - 5 : o->sec_len;
			memcpy(t, o->sec_text, head);
			n = head;
			t[n++] = '.';
			n += put_dec(t + n, r->real_usec % 1000000, 6);
			memcpy(t + n, o->sec_text + head, o->sec_len - head);
			n += o->sec_len - head;
		} else {
			memcpy(t, o->sec_text, o->sec_len);
			n = o->sec_len;
		}
	}
	o->line_len += n;
}

/* The message as journalctl's short formats show it, after the prefix of
 * indent bytes: lines indented under the first, or a blob's size. */
static int put_message(struct output *o, const struct record *r, size_t indent)
{
	const uint8_t *m;
	size_t len;
	view_message(r, &m, &len);
	/* Most messages are plain ASCII: nothing to strip, printable, one line. */
	bool plain = text_plain_ascii(m, len);
	if (!plain && o->c.all) {
		/* -a: nothing stripped, no blob; what a terminal must not see escaped. */
		if (scratch_reserve(o, 4 * len + 1) < 0)
			return -ENOMEM;
		len = text_escape((char *)o->scratch, m, len, true);
		m = o->scratch;
		if (len > 0 && m[len - 1] == '\n')
			len--;
	} else if (!plain) {
		if (prepare(o, m, len, true, &len) < 0)
			return -ENOMEM;
		m = o->scratch;
		if (!text_printable(m, len, true)) {
			char size[32];
			text_bytes(size, sizeof(size), len);
			int w = line_puts(o, "[");
			w |= line_puts(o, size);
			w |= line_puts(o, " blob data]\n");
			return w ? -ENOMEM : 0;
		}
		/* A final newline ends the last line; it does not start another. */
		if (len > 0 && m[len - 1] == '\n')
			len--;
	}
	size_t hs = 0, he = 0;
	if (o->c.color && o->c.grep && !filter_grep_find(o->c.grep, m, len, &hs, &he))
		hs = he = 0;
	size_t pos = 0;
	for (bool first = true;; first = false) {
		const uint8_t *nl = !plain && len > pos ? memchr(m + pos, '\n', len - pos) : NULL;
		size_t end = nl ? (size_t)(nl - m) : len;
		if (!first) {
			if (line_reserve(o, indent) < 0)
				return -ENOMEM;
			memset(o->line + o->line_len, ' ', indent);
			o->line_len += indent;
		}
		/* --no-full: the line cut to the terminal's width, an ellipsis
		 * where it was cut (characters counted as one column each). */
		size_t shown = end;
		bool cut = false;
		if (o->c.columns) {
			size_t avail = o->c.columns > indent + 1 ? o->c.columns - indent - 1 : 1, chars = 0,
			       k = pos;
			while (k < end && chars < avail) {
				k++;
				while (k < end && (m[k] & 0xc0) == 0x80)
					k++;
				chars++;
			}
			if (k < end) {
				shown = k;
				cut = true;
			}
		}
		/* The highlight, clipped to this line. */
		size_t ls = hs > pos ? hs : pos, le = he < shown ? he : shown;
		int w = ls < le ? put_colored(o, m + pos, shown - pos, r->level, ls - pos, le - pos)
				: put_colored(o, m + pos, shown - pos, r->level, 0, 0);
		if (w < 0 || (cut && line_puts(o, "\xe2\x80\xa6") < 0) || line_put(o, "\n", 1) < 0)
			return -ENOMEM;
		if (!nl)
			break;
		pos = end + 1;
	}
	return 0;
}

static int print_short(struct output *o, const char *host, const struct journal_entry *e)
{
	const struct record *r = &e->rec;
	if (o->c.boot_separators && !text_id_null(r->boot_id)) {
		if (o->have_boot && memcmp(o->last_boot, r->boot_id, 16) != 0) {
			char hex[33];
			text_hex(hex, r->boot_id, 16);
			fprintf(o->f, "%s-- Boot %s --%s\n", o->c.color ? ANSI_BOLD : "", hex,
				o->c.color ? ANSI_NORMAL : "");
		}
		memcpy(o->last_boot, r->boot_id, 16);
		o->have_boot = true;
	}
	const uint8_t *id, *pid;
	size_t idlen, pidlen, hostlen = strlen(host);
	view_identifier(r, &id, &idlen, &pid, &pidlen);
	/* with-unit: a journal record's unit in the identifier's place. */
	const uint8_t *unit;
	size_t unitlen;
	if (o->c.mode == OUTPUT_WITH_UNIT && r->source == RECORD_SRC_JOURNAL &&
	    record_field_get(r, "_SYSTEMD_UNIT", &unit, &unitlen) == 1 && view_printable(unit, unitlen)) {
		id = unit;
		idlen = unitlen;
	}
	/* As journalctl: a host name that is not printable is left out. */
	if (o->c.no_hostname || !view_printable((const uint8_t *)host, hostlen))
		hostlen = 0;
	/* "TIME HOST ID[PID]: " and, when it fits, the message and its newline. */
	size_t prefix = 64 + 1 + hostlen + 1 + idlen + 2 + pidlen + 3;
	int ret = 0;
	o->line_len = 0;
	if (line_reserve(o, prefix + r->msg_len + 1) < 0)
		return -ENOMEM;
	put_time(o, r);
	line_add(o, " ", 1);
	if (hostlen) {
		line_add(o, host, hostlen);
		line_add(o, " ", 1);
	}
	line_add(o, id, idlen);
	if (pid) {
		line_add(o, "[", 1);
		line_add(o, pid, pidlen);
		line_add(o, "]", 1);
	}
	line_add(o, ": ", 2);
	/* journalctl 252 does not count an "unknown" it puts in for a
	 * missing identifier when it indents further lines. */
	size_t indent = o->line_len;
	if (view_identifier_unknown(id) && indent >= 8)
		indent -= 8;
	ret = put_message(o, r, indent);
	if (ret == 0)
		line_flush(o);
	o->line_len = 0;
	return ret;
}

/*
 * The message as it is (journalctl's cat) to a pipe or file; to a
 * terminal (tty) with the short formats' stripping, tabs kept, and every
 * other byte that is not printable UTF-8, tab or newline as \xNN.
 */
static int print_cat(struct output *o, const struct record *r)
{
	const uint8_t *m;
	size_t len;
	view_message(r, &m, &len);
	if (o->c.tty && !text_plain_ascii(m, len)) {
		size_t n;
		o->line_len = 0;
		if (prepare(o, m, len, false, &n) < 0 || line_reserve(o, 4 * n) < 0)
			return -ENOMEM;
		/* The escaped text goes to the end of the line buffer, then is
		 * copied to scratch's start: prepare's output may need 4 times
		 * its room. */
		size_t w = text_escape(o->line, o->scratch, n, true);
		if (scratch_reserve(o, w) < 0)
			return -ENOMEM;
		memcpy(o->scratch, o->line, w);
		m = o->scratch;
		len = w;
	}
	size_t hs = 0, he = 0;
	if (o->c.color && o->c.grep && !filter_grep_find(o->c.grep, m, len, &hs, &he))
		hs = he = 0;
	o->line_len = 0;
	int ret = put_colored(o, m, len, r->level, hs, he);
	if (ret == 0 && (ret = line_put(o, "\n", 1)) == 0)
		line_flush(o);
	o->line_len = 0;
	return ret;
}

/* --output-fields: whether field name is shown (the "__" names and
 * _BOOT_ID always are, as journalctl writes them apart from the rest). */
static bool field_wanted(const struct output *o, const char *name)
{
	if (o->c.nfields == 0 || strncmp(name, "__", 2) == 0 || strcmp(name, "_BOOT_ID") == 0)
		return true;
	for (size_t i = 0; i < o->c.nfields; i++)
		if (strcmp(o->c.fields[i], name) == 0)
			return true;
	return false;
}

/* field_wanted for view_json_members. */
static bool json_field_wanted(const char *name, void *arg)
{
	return field_wanted(arg, name);
}

static int print_json(struct output *o, const char *host, const struct journal_entry *e)
{
	if (view_build(o->v, host, e, true) < 0)
		return -ENOMEM;
	struct json j;
	json_init(&j, o->f, o->c.mode == OUTPUT_JSON_PRETTY);
	json_set_tight(&j);
	/* RFC 7464's record separator; server-sent events' data line. */
	if (o->c.mode == OUTPUT_JSON_SEQ)
		putc(0x1e, o->f);
	else if (o->c.mode == OUTPUT_JSON_SSE)
		fputs("data: ", o->f);
	json_object_begin(&j);
	view_json_members(o->v, &j, json_field_wanted, o);
	json_object_end(&j);
	json_newline(&j);
	if (o->c.mode == OUTPUT_JSON_SSE)
		json_newline(&j);
	return 0;
}

/* The host's entry in o->hb (added when new), or NULL without memory. */
static struct host_boot *host_boot(struct output *o, const char *host)
{
	if (o->last_hb < o->nhb && strcmp(o->hb[o->last_hb].host, host) == 0)
		return &o->hb[o->last_hb];
	for (size_t i = 0; i < o->nhb; i++)
		if (strcmp(o->hb[i].host, host) == 0)
			return &o->hb[o->last_hb = i];
	if (o->nhb == o->cap_hb) {
		size_t cap = o->cap_hb ? 2 * o->cap_hb : 16;
		struct host_boot *n = realloc(o->hb, cap * sizeof(*n));
		if (!n)
			return NULL;
		o->hb = n;
		o->cap_hb = cap;
	}
	char *copy = strdup(host);
	if (!copy)
		return NULL;
	o->hb[o->nhb] = (struct host_boot){ .host = copy };
	o->last_hb = o->nhb;
	return &o->hb[o->nhb++];
}

/* Boot id for a host's records without a boot, when none of its records
 * with one came before: BLAKE2b-128 of "kmsgctl boot-less records of
 * HOST", in the random (v4) UUID form. */
static void bootless_id(const char *host, uint8_t boot[16])
{
	static const char pre[] = "kmsgctl boot-less records of ";
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, (const unsigned char *)pre, sizeof(pre) - 1);
	crypto_generichash_update(&st, (const unsigned char *)host, strlen(host));
	crypto_generichash_final(&st, boot, 16);
	boot[6] = (uint8_t)((boot[6] & 0x0f) | 0x40);
	boot[8] = (uint8_t)((boot[8] & 0x3f) | 0x80);
}

/* mono, raised to the last monotonic time written in boot (a journal
 * checks that it never goes back within a boot); then remembered. */
static uint64_t mono_after(struct output *o, const uint8_t boot[16], uint64_t mono)
{
	size_t i = 0;
	while (i < o->n_mono_seen && memcmp(o->mono_seen[i].boot, boot, 16) != 0)
		i++;
	if (i == o->n_mono_seen) {
		if (o->n_mono_seen < sizeof(o->mono_seen) / sizeof(o->mono_seen[0]))
			i = o->n_mono_seen++;
		else
			i = o->mono_next++ % o->n_mono_seen;
		memcpy(o->mono_seen[i].boot, boot, 16);
	} else if (mono < o->mono_seen[i].mono) {
		mono = o->mono_seen[i].mono;
	}
	o->mono_seen[i].mono = mono;
	return mono;
}

/*
 * The machine id the host's agent claims, from its records: the agent's
 * boot event (MACHINE_ID) or the collector's session start
 * (CLAIMED_MACHINE_ID). Kept per host; "" until one was seen.
 */
static const char *host_machine(struct host_boot *hb, const struct record *r)
{
	const uint8_t *v;
	size_t len;
	int got = 0;
	if (r->source == RECORD_SRC_AGENT && r->event == RECORD_EV_BOOT)
		got = record_field_get(r, "MACHINE_ID", &v, &len);
	else if (r->source == RECORD_SRC_COLLECTOR && r->event == RECORD_EV_SESSION_START)
		got = record_field_get(r, "CLAIMED_MACHINE_ID", &v, &len);
	if (got == 1 && len == 32) {
		bool hex = true;
		for (size_t i = 0; i < 32; i++)
			hex &= (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
		if (hex) {
			memcpy(hb->machine, v, 32);
			hb->machine[32] = '\0';
		}
	}
	/* A journal record brings its own _MACHINE_ID, from the agent's journald. */
	return r->source == RECORD_SRC_JOURNAL ? "" : hb->machine;
}

/*
 * The fields of an entry in the export format to out. A binary value is
 * length-prefixed, as the format says, for a pipe or file; to a terminal
 * (tty) it is written as NAME=value with every byte that is not printable
 * UTF-8 as \xNN (a newline too), which no parser sees and no terminal
 * acts on. With boot NULL, the __MONOTONIC_TIMESTAMP and _BOOT_ID lines
 * are left out and *split says where they go.
 */
static int export_fields(struct output *o, FILE *out, const uint8_t *boot, uint64_t mono, long *split,
			 const char *machine)
{
	size_t n;
	const struct view_field *f = view_fields(o->v, &n);
	/* The agent's machine id, as journald names it, and that it is the
	 * agent's claim (the collector cannot check it). */
	if (*machine && field_wanted(o, "_MACHINE_ID"))
		fprintf(out, "_MACHINE_ID=%s\nKMSG_MACHINE_ID_CLAIMED=1\n", machine);
	for (size_t i = 0; i < n; i++) {
		if (!field_wanted(o, f[i].name))
			continue;
		bool is_boot = strcmp(f[i].name, "_BOOT_ID") == 0;
		if (is_boot || strcmp(f[i].name, "__MONOTONIC_TIMESTAMP") == 0) {
			if (!boot) {
				if (!is_boot)
					*split = ftell(out);
			} else if (is_boot) {
				char hex[33];
				text_hex(hex, boot, 16);
				fprintf(out, "_BOOT_ID=%s\n", hex);
			} else {
				fprintf(out, "__MONOTONIC_TIMESTAMP=%" PRIu64 "\n", mono);
			}
			continue;
		}
		if (text_printable(f[i].val, f[i].len, false)) {
			fprintf(out, "%s=", f[i].name);
			fwrite(f[i].val, 1, f[i].len, out);
			putc('\n', out);
			continue;
		}
		if (o->c.tty) {
			o->line_len = 0;
			if (line_reserve(o, 4 * f[i].len + 1) < 0)
				return -ENOMEM;
			o->line_len = text_escape(o->line, f[i].val, f[i].len, false);
			o->line[o->line_len++] = '\n';
			fprintf(out, "%s=", f[i].name);
			fwrite(o->line, 1, o->line_len, out);
			o->line_len = 0;
			continue;
		}
		uint8_t le[8];
		uint64_t len = f[i].len;
		for (int k = 0; k < 8; k++)
			le[k] = (uint8_t)(len >> (8 * k));
		fprintf(out, "%s\n", f[i].name);
		fwrite(le, 1, sizeof(le), out);
		fwrite(f[i].val, 1, f[i].len, out);
		putc('\n', out);
	}
	putc('\n', out);
	return 0;
}

/* The held entries of hb, in boot at its monotonic time mono (or, with
 * mono_real, each at its own wall-clock time). */
static void flush_held(struct output *o, struct host_boot *hb, const uint8_t boot[16], uint64_t mono,
		       bool mono_real)
{
	char hex[33];
	text_hex(hex, boot, 16);
	for (size_t i = 0; i < hb->nheld; i++) {
		struct held *h = &hb->held[i];
		uint64_t m = mono_after(o, boot, mono_real ? h->real : mono);
		fwrite(h->text, 1, h->split, o->f);
		fprintf(o->f, "__MONOTONIC_TIMESTAMP=%" PRIu64 "\n_BOOT_ID=%s\n", m, hex);
		fwrite(h->text + h->split, 1, h->len - h->split, o->f);
		free(h->text);
	}
	free(hb->held);
	hb->held = NULL;
	hb->nheld = 0;
}

/*
 * systemd's Journal Export Format. A record without a boot (collector
 * events, pstore records) takes the boot of the next record of its host
 * that has one, at that record's monotonic time, and is held back until
 * it comes (or after the last record of its host that has one, at that
 * time), so that it cannot pass for a boot of its own; a host without
 * any gets the id bootless_id makes, with wall-clock times as monotonic
 * times. The agent's and the collector's events are given the monotonic
 * time of the record before them in their boot (0 for the first). Within
 * a boot the monotonic time never goes back: a record older than the one
 * before gets the time before.
 */
static int print_export(struct output *o, const char *host, const struct journal_entry *e)
{
	if (view_build(o->v, host, e, true) < 0)
		return -ENOMEM;
	const struct record *r = &e->rec;
	struct host_boot *hb = host_boot(o, host);
	if (!hb)
		return -ENOMEM;
	const char *machine = host_machine(hb, r);
	if (text_id_null(r->boot_id)) {
		if (!text_id_null(hb->boot))
			return export_fields(o, o->f, hb->boot, mono_after(o, hb->boot, 0), NULL, machine);
		struct held h = { .real = r->real_usec };
		long split = 0;
		FILE *m = open_memstream(&h.text, &h.len);
		if (!m)
			return -ENOMEM;
		int ret = export_fields(o, m, NULL, 0, &split, machine);
		if (fclose(m) != 0 || ret < 0) {
			free(h.text);
			return -ENOMEM;
		}
		h.split = (size_t)split;
		struct held *nh = realloc(hb->held, (hb->nheld + 1) * sizeof(*nh));
		if (!nh) {
			free(h.text);
			return -ENOMEM;
		}
		hb->held = nh;
		hb->held[hb->nheld++] = h;
		return 0;
	}
	memcpy(hb->boot, r->boot_id, 16);
	/* The agent's and the collector's events are put at the point of
	 * the boot they are stored at, so that the kernel's times stay as
	 * they are. */
	uint64_t mono = r->source == RECORD_SRC_AGENT || r->source == RECORD_SRC_COLLECTOR ? 0 : r->mono_usec;
	if (hb->nheld)
		flush_held(o, hb, r->boot_id, mono, false);
	return export_fields(o, o->f, r->boot_id, mono_after(o, r->boot_id, mono), NULL, machine);
}

/*
 * journalctl 252's verbose: the time with microseconds and the zone, the
 * cursor in brackets, then each field but the "__" ones as
 * "    NAME=value", further lines of a value indented under its first; a
 * value that is not printable UTF-8 (newlines allowed) as
 * "[17B blob data]", or with -a escaped as \xNN.
 */
static int print_verbose(struct output *o, const char *host, const struct journal_entry *e)
{
	if (view_build(o->v, host, e, true) < 0)
		return -ENOMEM;
	size_t n;
	const struct view_field *f = view_fields(o->v, &n);
	char t[64];
	const struct record *r = &e->rec;
	timestamp_format(t, sizeof(t), r->real_usec / 1000000 * 1000000, TS_FULL, o->c.utc);
	/* ".uuuuuu" before the zone, the last word. */
	char *zone = strrchr(t, ' ');
	size_t head = zone ? (size_t)(zone - t) : strlen(t);
	fprintf(o->f, "%.*s.%06u%s [%.*s]\n", (int)head, t, (unsigned)(r->real_usec % 1000000), t + head,
		(int)f[0].len, (const char *)f[0].val);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(f[i].name, "__", 2) == 0 || !field_wanted(o, f[i].name))
			continue;
		const uint8_t *v = f[i].val;
		size_t len = f[i].len;
		size_t nl = strlen(f[i].name);
		o->line_len = 0;
		if (line_reserve(o, 4 + nl + 1 + 4 * len + 64) < 0)
			return -ENOMEM;
		line_add(o, "    ", 4);
		line_add(o, f[i].name, nl);
		line_add(o, "=", 1);
		if (o->c.all && !text_printable(v, len, true)) {
			len = text_escape(o->line + o->line_len, v, len, false);
			o->line_len += len;
			line_add(o, "\n", 1);
		} else if (!text_printable(v, len, true)) {
			char size[32];
			text_bytes(size, sizeof(size), len);
			o->line_len += (size_t)snprintf(o->line + o->line_len, 48, "[%s blob data]\n", size);
		} else {
			if (len > 0 && v[len - 1] == '\n')
				len--;
			for (size_t k = 0; k < len; k++) {
				if (line_reserve(o, 4 + nl + 2) < 0)
					return -ENOMEM;
				o->line[o->line_len++] = (char)v[k];
				if (v[k] == '\n') {
					memset(o->line + o->line_len, ' ', 4 + nl + 1);
					o->line_len += 4 + nl + 1;
				}
			}
			line_add(o, "\n", 1);
		}
		line_flush(o);
	}
	return 0;
}

int output_entry(struct output *o, const char *host, const struct journal_entry *e)
{
	int r = 0;
	switch (o->c.mode) {
	case OUTPUT_CAT:
		r = print_cat(o, &e->rec);
		break;
	case OUTPUT_JSON:
	case OUTPUT_JSON_PRETTY:
	case OUTPUT_JSON_SEQ:
	case OUTPUT_JSON_SSE:
		r = print_json(o, host, e);
		break;
	case OUTPUT_VERBOSE:
		r = print_verbose(o, host, e);
		break;
	case OUTPUT_EXPORT:
		r = print_export(o, host, e);
		break;
	default:
		r = print_short(o, host, e);
		break;
	}
	if (r < 0)
		return r;
	o->count++;
	if (o->c.keep_cursor)
		cursor_format(o->cursor, sizeof(o->cursor), host, e);
	return 0;
}
