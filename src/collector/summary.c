/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "journal.h"
#include "json.h"
#include "store.h"
#include "forward.h"
#include "summary.h"
#include "text.h"
#include "timestamp.h"

static int add_boot(struct host_summary *s, size_t *cap, const struct record *r, size_t *cache)
{
	if (*cache < s->nboots && memcmp(s->boots[*cache].id, r->boot_id, 16) == 0) {
		struct boot_info *b = &s->boots[*cache];
		b->records++;
		/* As journalctl 252's --list-boots: the times of the boot's
		 * first and last record in stored order (an agent's start
		 * event can be newer than the kernel records read after it). */
		b->last = r->real_usec;
		return 0;
	}
	for (size_t i = 0; i < s->nboots; i++)
		if (memcmp(s->boots[i].id, r->boot_id, 16) == 0) {
			*cache = i;
			return add_boot(s, cap, r, cache);
		}
	if (s->nboots == *cap) {
		size_t nc = *cap ? 2 * *cap : 8;
		struct boot_info *nb = realloc(s->boots, nc * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		s->boots = nb;
		*cap = nc;
	}
	struct boot_info *b = &s->boots[s->nboots];
	memcpy(b->id, r->boot_id, 16);
	b->first = b->last = r->real_usec;
	b->records = 1;
	*cache = s->nboots++;
	return 0;
}

/* The collector's last authenticated contact with the host (store.h:
 * STORE_CONTACT_FILE), heartbeats included; false when there is none. */
static bool read_contact(const char *path, uint64_t *ret)
{
	char p[PATH_MAX];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, STORE_CONTACT_FILE) >= sizeof(p))
		return false;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	uint8_t b[STORE_CONTACT_LEN];
	bool ok = pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b) && memcmp(b, STORE_CONTACT_MAGIC, 8) == 0;
	close(fd);
	if (ok)
		*ret = get_be64(b + 8);
	return ok;
}

/* The forwarding cursor (forward.h): the record number after the last
 * record JetStream acked; false when the host is not forwarded. */
static bool read_forward(const char *path, uint64_t *ret)
{
	char p[PATH_MAX];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, FORWARD_CURSOR_FILE) >= sizeof(p))
		return false;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	uint8_t b[FORWARD_CURSOR_LEN];
	bool ok = pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b) && memcmp(b, FORWARD_CURSOR_MAGIC, 8) == 0;
	close(fd);
	if (ok)
		*ret = get_be64(b + 16);
	return ok;
}

int summary_scan(const char *name, const char *path, bool with_gaps, struct host_summary *ret)
{
	struct host_summary *s = ret;
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	struct journal_reader *jr;
	int r = journal_reader_open(&jr, path);
	if (r < 0)
		return r;
	if (with_gaps && (r = gaps_new(&s->gaps)) < 0) {
		journal_reader_free(jr);
		return r;
	}
	size_t cap = 0, cache = 0;
	uint64_t newest_recv = 0, held_first = 0, next_recno = 0;
	bool held = false;
	struct journal_entry e;
	while ((r = journal_reader_next(jr, &e)) == 1) {
		const struct record *rec = &e.rec;
		s->records++;
		next_recno = e.recno + 1;
		/* A record without a boot (collector events) counts where -o
		 * export puts it (output.c), as journalctl sees the boots: in
		 * its host's boot before it, or, before any, in the next. */
		if (text_id_null(rec->boot_id)) {
			if (s->nboots)
				s->boots[cache].last = rec->real_usec;
			else if (!held) {
				held = true;
				held_first = rec->real_usec;
			}
		} else {
			size_t n = s->nboots;
			if ((r = add_boot(s, &cap, rec, &cache)) < 0)
				break;
			if (s->nboots > n && held && n == 0)
				s->boots[cache].first = held_first;
		}
		if (rec->source != RECORD_SRC_COLLECTOR) {
			if (!s->has_times || rec->real_usec < s->first)
				s->first = rec->real_usec;
			if (!s->has_times || rec->real_usec > s->last)
				s->last = rec->real_usec;
			if (!s->has_times || e.recv_usec >= newest_recv) {
				newest_recv = e.recv_usec;
				s->newest = rec->real_usec;
			}
			s->has_times = true;
		}
		if (rec->source == RECORD_SRC_COLLECTOR && rec->event == RECORD_EV_SESSION_START)
			s->session = SESSION_OPEN;
		else if (rec->source == RECORD_SRC_COLLECTOR && rec->event == RECORD_EV_SESSION_END)
			s->session = SESSION_CLOSED;
		if (s->gaps && (r = gaps_add(s->gaps, &e)) < 0)
			break;
	}
	if (r == -EBADMSG)
		s->damaged_at = e.offset;
	journal_reader_free(jr);
	uint64_t contact;
	/* Heard from: the newest agent record's arrival, or a later contact. */
	s->last_recv = s->last_seen = newest_recv;
	s->has_seen = s->has_times;
	if (read_contact(path, &contact) && (!s->has_seen || contact > s->last_seen)) {
		s->last_seen = contact;
		s->has_seen = true;
	}
	uint64_t fwd;
	if (read_forward(path, &fwd)) {
		s->has_forward = true;
		s->forward_lag = next_recno > fwd ? next_recno - fwd : 0;
	}
	if (r < 0 && r != -EBADMSG)
		return r;
	if (s->gaps) {
		int f = gaps_finish(s->gaps);
		if (f < 0)
			return f;
	}
	return r < 0 ? r : 0;
}

void summary_free(struct host_summary *s)
{
	free(s->boots);
	gaps_free(s->gaps);
	s->boots = NULL;
	s->gaps = NULL;
	s->nboots = 0;
}

/* ---- tables ---- */

#define TABLE_COLS 8
#define TABLE_CELL 80

struct table {
	size_t ncols, nrows, cap;
	bool right[TABLE_COLS];
	char (*cells)[TABLE_COLS][TABLE_CELL]; /* row 0: the header */
};

static int table_row(struct table *t)
{
	if (t->nrows == t->cap) {
		size_t nc = t->cap ? 2 * t->cap : 16;
		void *p = realloc(t->cells, nc * sizeof(*t->cells));
		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->cap = nc;
	}
	memset(t->cells[t->nrows], 0, sizeof(*t->cells));
	return (int)t->nrows++;
}

/* Columns separated by one blank, padded to the widest cell; the last one unpadded, as systemd's tables. */
static void table_print(const struct table *t, FILE *f)
{
	size_t w[TABLE_COLS] = { 0 };
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r][c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r][c];
			bool last = c + 1 == t->ncols;
			if (t->right[c])
				fprintf(f, "%*s", (int)w[c], s);
			else if (last)
				fputs(s, f);
			else
				fprintf(f, "%-*s", (int)w[c], s);
			fputs(last ? "\n" : " ", f);
		}
	}
}

static void time_cell(char *cell, bool has, uint64_t usec, bool utc)
{
	if (has)
		timestamp_format(cell, TABLE_CELL, usec, TS_FULL, utc);
	else
		snprintf(cell, TABLE_CELL, "-");
}

void summary_print_boots(const struct host_summary *hs, size_t n, enum summary_format fmt, bool utc, FILE *f)
{
	char hex[33];
	if (fmt != SUMMARY_TEXT) {
		struct json j;
		json_init(&j, f, fmt == SUMMARY_JSON_PRETTY);
		for (size_t h = 0; h < n; h++)
			for (size_t i = 0; i < hs[h].nboots; i++) {
				const struct boot_info *b = &hs[h].boots[i];
				text_hex(hex, b->id, 16);
				json_object_begin(&j);
				json_key(&j, "host");
				json_cstring(&j, hs[h].name);
				json_key(&j, "index");
				json_i64(&j, (int64_t)i - (int64_t)(hs[h].nboots - 1));
				json_key(&j, "boot_id");
				json_cstring(&j, hex);
				json_key(&j, "first_entry");
				json_u64(&j, b->first);
				json_key(&j, "last_entry");
				json_u64(&j, b->last);
				json_key(&j, "records");
				json_u64(&j, b->records);
				json_object_end(&j);
				json_newline(&j);
			}
		return;
	}
	struct table t = { .ncols = n > 1 ? 5 : 4 };
	size_t c0 = n > 1 ? 1 : 0;
	t.right[c0] = true;
	if (table_row(&t) < 0)
		return;
	if (n > 1)
		snprintf(t.cells[0][0], TABLE_CELL, "HOST");
	snprintf(t.cells[0][c0], TABLE_CELL, "IDX");
	snprintf(t.cells[0][c0 + 1], TABLE_CELL, "BOOT ID");
	snprintf(t.cells[0][c0 + 2], TABLE_CELL, "FIRST ENTRY");
	snprintf(t.cells[0][c0 + 3], TABLE_CELL, "LAST ENTRY");
	for (size_t h = 0; h < n; h++)
		for (size_t i = 0; i < hs[h].nboots; i++) {
			const struct boot_info *b = &hs[h].boots[i];
			int r = table_row(&t);
			if (r < 0)
				goto out;
			if (n > 1)
				snprintf(t.cells[r][0], TABLE_CELL, "%s", hs[h].name);
			snprintf(t.cells[r][c0], TABLE_CELL, "%ld", (long)i - (long)(hs[h].nboots - 1));
			text_hex(t.cells[r][c0 + 1], b->id, 16);
			time_cell(t.cells[r][c0 + 2], true, b->first, utc);
			time_cell(t.cells[r][c0 + 3], true, b->last, utc);
		}
	table_print(&t, f);
out:
	free(t.cells);
}

static const char *session_name(enum session_state s)
{
	return s == SESSION_OPEN ? "open" : s == SESSION_CLOSED ? "closed" : "none";
}

void summary_print_hosts(const struct host_summary *hs, size_t n, enum summary_format fmt, bool utc, FILE *f)
{
	if (fmt != SUMMARY_TEXT) {
		struct json j;
		json_init(&j, f, fmt == SUMMARY_JSON_PRETTY);
		for (size_t h = 0; h < n; h++) {
			const struct host_summary *s = &hs[h];
			json_object_begin(&j);
			json_key(&j, "host");
			json_cstring(&j, s->name);
			json_key(&j, "records");
			json_u64(&j, s->records);
			json_key(&j, "boots");
			json_u64(&j, s->nboots);
			json_key(&j, "first_entry");
			s->has_times ? json_u64(&j, s->first) : json_null(&j);
			json_key(&j, "last_entry");
			s->has_times ? json_u64(&j, s->last) : json_null(&j);
			json_key(&j, "last_seen");
			s->has_seen ? json_u64(&j, s->last_seen) : json_null(&j);
			json_key(&j, "lag_usec");
			if (s->has_seen && s->has_times)
				json_i64(&j, (int64_t)(s->last_recv - s->newest));
			else
				json_null(&j);
			json_key(&j, "last_session");
			json_cstring(&j, session_name(s->session));
			json_key(&j, "gaps");
			json_u64(&j, s->gaps ? gaps_count(s->gaps) : 0);
			json_key(&j, "forward_lag");
			s->has_forward ? json_u64(&j, s->forward_lag) : json_null(&j);
			json_object_end(&j);
			json_newline(&j);
		}
		return;
	}
	struct table t = { .ncols = 8 };
	t.right[4] = t.right[6] = t.right[7] = true;
	if (table_row(&t) < 0)
		return;
	static const char *const head[] = { "HOST", "FIRST ENTRY",  "LAST ENTRY", "LAST SEEN",
					    "LAG",  "LAST SESSION", "GAPS",	  "FWD LAG" };
	for (size_t c = 0; c < 8; c++)
		snprintf(t.cells[0][c], TABLE_CELL, "%s", head[c]);
	for (size_t h = 0; h < n; h++) {
		const struct host_summary *s = &hs[h];
		int r = table_row(&t);
		if (r < 0)
			goto out;
		snprintf(t.cells[r][0], TABLE_CELL, "%s", s->name);
		time_cell(t.cells[r][1], s->has_times, s->first, utc);
		time_cell(t.cells[r][2], s->has_times, s->last, utc);
		time_cell(t.cells[r][3], s->has_seen, s->last_seen, utc);
		if (s->has_seen && s->has_times)
			timespan_format(t.cells[r][4], TABLE_CELL, (int64_t)(s->last_recv - s->newest));
		else
			snprintf(t.cells[r][4], TABLE_CELL, "-");
		snprintf(t.cells[r][5], TABLE_CELL, "%s", session_name(s->session));
		snprintf(t.cells[r][6], TABLE_CELL, "%zu", s->gaps ? gaps_count(s->gaps) : (size_t)0);
		if (s->has_forward)
			snprintf(t.cells[r][7], TABLE_CELL, "%" PRIu64, s->forward_lag);
		else
			snprintf(t.cells[r][7], TABLE_CELL, "-");
	}
	table_print(&t, f);
out:
	free(t.cells);
}

/* ---- silent hosts ---- */

/* How long s has been silent at now; false when it was never seen. */
static bool silent_for(const struct host_summary *s, uint64_t now, uint64_t *ret)
{
	if (!s->has_seen)
		return false;
	*ret = now > s->last_seen ? now - s->last_seen : 0;
	return true;
}

bool summary_silent(const struct host_summary *s, uint64_t now, uint64_t limit)
{
	uint64_t d;
	return !silent_for(s, now, &d) || d > limit;
}

int summary_print_silent(const struct host_summary *hs, size_t n, uint64_t now, uint64_t limit,
			 enum summary_format fmt, bool utc, FILE *f)
{
	size_t listed = 0;
	if (fmt != SUMMARY_TEXT) {
		struct json j;
		json_init(&j, f, fmt == SUMMARY_JSON_PRETTY);
		for (size_t h = 0; h < n; h++) {
			const struct host_summary *s = &hs[h];
			uint64_t d;
			if (!summary_silent(s, now, limit))
				continue;
			bool seen = silent_for(s, now, &d);
			json_object_begin(&j);
			json_key(&j, "host");
			json_cstring(&j, s->name);
			json_key(&j, "last_seen");
			seen ? json_u64(&j, s->last_seen) : json_null(&j);
			json_key(&j, "silent_sec");
			seen ? json_u64(&j, d / 1000000) : json_null(&j);
			json_object_end(&j);
			json_newline(&j);
		}
		return 0;
	}
	struct table t = { .ncols = 3 };
	t.right[2] = true;
	if (table_row(&t) < 0)
		return -ENOMEM;
	snprintf(t.cells[0][0], TABLE_CELL, "HOST");
	snprintf(t.cells[0][1], TABLE_CELL, "LAST SEEN");
	snprintf(t.cells[0][2], TABLE_CELL, "SECONDS SILENT");
	for (size_t h = 0; h < n; h++) {
		const struct host_summary *s = &hs[h];
		uint64_t d;
		if (!summary_silent(s, now, limit))
			continue;
		bool seen = silent_for(s, now, &d);
		int r = table_row(&t);
		if (r < 0) {
			free(t.cells);
			return -ENOMEM;
		}
		snprintf(t.cells[r][0], TABLE_CELL, "%s", s->name);
		time_cell(t.cells[r][1], seen, s->last_seen, utc);
		if (seen)
			snprintf(t.cells[r][2], TABLE_CELL, "%" PRIu64, d / 1000000);
		else
			snprintf(t.cells[r][2], TABLE_CELL, "-");
		listed++;
	}
	if (listed)
		table_print(&t, f);
	free(t.cells);
	return 0;
}

/* ---- boot selection ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_offset(const char *s, long *ret)
{
	char *end;
	if (!*s)
		return -EINVAL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || errno || v < -1000000000L || v > 1000000000L)
		return -EINVAL;
	*ret = v;
	return 0;
}

int boot_spec_parse(const char *s, struct boot_spec *ret)
{
	struct boot_spec b = { 0 };
	if (strcmp(s, "all") == 0) {
		b.all = true;
		*ret = b;
		return 0;
	}
	/* An id: 32 hex digits, dashes of the UUID form skipped. */
	size_t nd = 0;
	const char *p = s;
	uint8_t id[16];
	while (*p && nd < 32) {
		if (*p == '-' && nd > 0 && (nd == 8 || nd == 12 || nd == 16 || nd == 20)) {
			p++;
			continue;
		}
		int v = hexval(*p);
		if (v < 0)
			break;
		if (nd % 2 == 0)
			id[nd / 2] = (uint8_t)(v << 4);
		else
			id[nd / 2] |= (uint8_t)v;
		nd++;
		p++;
	}
	if (nd == 32) {
		b.has_id = true;
		memcpy(b.id, id, 16);
		if (*p && (*p != '+' && *p != '-'))
			return -EINVAL;
		if (*p && parse_offset(p, &b.offset) < 0)
			return -EINVAL;
	} else if (*s && parse_offset(s, &b.offset) < 0) {
		return -EINVAL;
	}
	*ret = b;
	return 0;
}

int summary_find_boot(const struct host_summary *s, const struct boot_spec *spec, uint8_t ret[16])
{
	long idx;
	if (spec->has_id) {
		size_t i;
		for (i = 0; i < s->nboots; i++)
			if (memcmp(s->boots[i].id, spec->id, 16) == 0)
				break;
		if (i == s->nboots)
			return -ENOENT;
		idx = (long)i + spec->offset;
	} else if (spec->offset > 0) {
		idx = spec->offset - 1;
	} else {
		idx = (long)s->nboots - 1 + spec->offset;
	}
	if (idx < 0 || (size_t)idx >= s->nboots)
		return -ENOENT;
	memcpy(ret, s->boots[idx].id, 16);
	return 0;
}
