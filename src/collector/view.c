/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "json.h"
#include "text.h"
#include "store.h"
#include "view.h"

#define VIEW_NAME_MAX 64
#define VIEW_SYNTH_CAP 1024

struct view {
	struct view_field *f;
	size_t n, cap;
	char *names; /* mapped names of the record's fields */
	size_t names_len, names_cap;
	size_t *name_off; /* per field: offset into names, or SIZE_MAX for a static name */
	char synth[VIEW_SYNTH_CAP];
	size_t synth_len;
	bool dups; /* some name is given more than once */
	/* Per field: the next field of the same name (VIEW_NONE: none) and
	 * whether an earlier one has its name; found by sorting. */
	size_t *next;
	bool *repeat;
	struct name_ref *sorted;
	size_t same_cap;
};

struct name_ref {
	const char *name;
	size_t i;
};

int view_new(struct view **ret)
{
	struct view *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	*ret = v;
	return 0;
}

void view_free(struct view *v)
{
	if (!v)
		return;
	free(v->f);
	free(v->names);
	free(v->name_off);
	free(v->next);
	free(v->repeat);
	free(v->sorted);
	free(v);
}

const char *view_source_name(uint8_t source)
{
	switch (source) {
	case RECORD_SRC_KMSG:
		return "kmsg";
	case RECORD_SRC_JOURNAL:
		return "journal";
	case RECORD_SRC_PSTORE:
		return "pstore";
	case RECORD_SRC_AGENT:
		return "agent";
	case RECORD_SRC_COLLECTOR:
		return "collector";
	}
	return "unknown";
}

const char *view_event_name(uint16_t event)
{
	switch (event) {
	case RECORD_EV_GAP:
		return "gap";
	case RECORD_EV_START:
		return "start";
	case RECORD_EV_STOP:
		return "stop";
	case RECORD_EV_BOOT:
		return "boot";
	case RECORD_EV_HEARTBEAT:
		return "heartbeat";
	case RECORD_EV_MALFORMED:
		return "malformed";
	case RECORD_EV_SESSION_START:
		return "session-start";
	case RECORD_EV_SESSION_END:
		return "session-end";
	case RECORD_EV_HANDSHAKE_REJECTED:
		return "handshake-rejected";
	case STORE_EV_TORN_TAIL:
		return "torn-tail";
	case STORE_EV_SHORT:
		return "journal-short";
	case STORE_EV_ACKED_LOST:
		return "acked-lost";
	case STORE_EV_TAMPER:
		return "tamper";
	case STORE_EV_STREAM_RETIRED:
		return "stream-retired";
	}
	return NULL;
}

bool view_printable(const uint8_t *p, size_t len)
{
	return len < VIEW_PRINT_MAX && text_printable(p, len, false);
}

/* Field key of r when it is there and printable. */
static bool get_printable(const struct record *r, const char *key, const uint8_t **val, size_t *len)
{
	return record_field_get(r, key, val, len) == 1 && view_printable(*val, *len);
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool view_kmsg_ident(const struct record *r, const uint8_t **id, size_t *idlen, const uint8_t **pid,
		     size_t *pidlen, const uint8_t **msg, size_t *msglen)
{
	*pid = NULL;
	*pidlen = 0;
	if (r->source != RECORD_SRC_KMSG || r->facility == 0)
		return false;
	/* systemd's syslog_parse_identifier: the first word, after
	 * blanks, must end with ':'; "[PID]" before the colon is the pid;
	 * one blank after the word separates the message. */
	const uint8_t *p = r->msg, *end = r->msg + r->msg_len;
	while (p < end && is_space(*p))
		p++;
	const uint8_t *w = p;
	while (w < end && !is_space(*w) && *w)
		w++;
	size_t l = (size_t)(w - p);
	if (l == 0 || p[l - 1] != ':')
		return false;
	size_t e = l--;
	if (l > 0 && p[l - 1] == ']') {
		for (size_t k = l - 1;; k--) {
			if (p[k] == '[') {
				*pid = p + k + 1;
				*pidlen = l - k - 2;
				l = k;
				break;
			}
			if (k == 0)
				break;
		}
	}
	*id = p;
	*idlen = l;
	if (p + e < end && is_space(p[e]))
		e++;
	*msg = p + e;
	*msglen = (size_t)(end - (p + e));
	return true;
}

void view_message(const struct record *r, const uint8_t **msg, size_t *len)
{
	const uint8_t *id, *pid;
	size_t idlen, pidlen;
	if (!view_kmsg_ident(r, &id, &idlen, &pid, &pidlen, msg, len)) {
		*msg = r->msg;
		*len = r->msg_len;
	}
}

static const char unknown[] = "unknown";

bool view_identifier_unknown(const uint8_t *id)
{
	return id == (const uint8_t *)unknown;
}

void view_identifier(const struct record *r, const uint8_t **id, size_t *idlen, const uint8_t **pid,
		     size_t *pidlen)
{
	const char *s;
	*pid = NULL;
	*pidlen = 0;
	const uint8_t *m;
	size_t mlen;
	switch (r->source) {
	case RECORD_SRC_KMSG:
		/* As journald (journald-kmsg.c): a line of another facility
		 * than kern has its identifier in its "ident[pid]:" prefix;
		 * without one it has none ("unknown", as journalctl shows). */
		if (r->facility != 0) {
			if (!view_kmsg_ident(r, id, idlen, pid, pidlen, &m, &mlen) ||
			    !view_printable(*id, *idlen)) {
				*id = (const uint8_t *)unknown;
				*idlen = sizeof(unknown) - 1;
			}
			if (*pid && !view_printable(*pid, *pidlen)) {
				*pid = NULL;
				*pidlen = 0;
			}
			return;
		}
		s = "kernel";
		break;
	case RECORD_SRC_PSTORE:
		s = "kernel";
		break;
	case RECORD_SRC_COLLECTOR:
		s = "kmsg-collector";
		break;
	case RECORD_SRC_JOURNAL:
		/* As journalctl 252: SYSLOG_IDENTIFIER, else _COMM, else
		 * "unknown"; _PID, else SYSLOG_PID, else none; each only when
		 * printable (view_printable). */
		if (!get_printable(r, "SYSLOG_IDENTIFIER", id, idlen) &&
		    !get_printable(r, "_COMM", id, idlen)) {
			*id = (const uint8_t *)unknown;
			*idlen = sizeof(unknown) - 1;
		}
		if (!get_printable(r, "_PID", pid, pidlen) && !get_printable(r, "SYSLOG_PID", pid, pidlen)) {
			*pid = NULL;
			*pidlen = 0;
		}
		return;
	default:
		s = "kmsg-shipper";
		break;
	}
	*id = (const uint8_t *)s;
	*idlen = strlen(s);
}

static int grow(struct view *v)
{
	if (v->n < v->cap)
		return 0;
	size_t cap = v->cap ? 2 * v->cap : 64;
	struct view_field *f = realloc(v->f, cap * sizeof(*f));
	if (!f)
		return -ENOMEM;
	v->f = f;
	size_t *o = realloc(v->name_off, cap * sizeof(*o));
	if (!o)
		return -ENOMEM;
	v->name_off = o;
	v->cap = cap;
	return 0;
}

static int add(struct view *v, const char *name, const void *val, size_t len)
{
	if (grow(v) < 0)
		return -ENOMEM;
	v->f[v->n] = (struct view_field){ .name = name, .val = val, .len = len };
	v->name_off[v->n] = SIZE_MAX;
	v->n++;
	return 0;
}

/* A synthesized value, formatted into v->synth (always fits: VIEW_SYNTH_CAP is ample). */
static int addf(struct view *v, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int addf(struct view *v, const char *name, const char *fmt, ...)
{
	char *p = v->synth + v->synth_len;
	size_t room = VIEW_SYNTH_CAP - v->synth_len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -ENOBUFS;
	v->synth_len += (size_t)n + 1;
	return add(v, name, p, (size_t)n);
}

static int name_reserve(struct view *v, size_t more)
{
	if (v->names_len + more <= v->names_cap)
		return 0;
	size_t cap = v->names_cap ? v->names_cap : 1024;
	while (cap < v->names_len + more)
		cap *= 2;
	char *p = realloc(v->names, cap);
	if (!p)
		return -ENOMEM;
	v->names = p;
	v->names_cap = cap;
	return 0;
}

/* Append a mapped name for the record field key[0..klen); returns its offset or -errno. */
static long map_name(struct view *v, uint8_t source, const uint8_t *key, size_t klen)
{
	char out[VIEW_NAME_MAX + 16];
	size_t n = 0;
	if (source == RECORD_SRC_KMSG && klen == 9 && memcmp(key, "SUBSYSTEM", 9) == 0) {
		n = (size_t)snprintf(out, sizeof(out), "_KERNEL_SUBSYSTEM");
	} else if (source == RECORD_SRC_KMSG && klen == 6 && memcmp(key, "DEVICE", 6) == 0) {
		n = (size_t)snprintf(out, sizeof(out), "_KERNEL_DEVICE");
	} else {
		const char *pre = "";
		if (key[0] >= '0' && key[0] <= '9')
			pre = "KMSG_";
		else if (key[0] == '_' && source != RECORD_SRC_JOURNAL)
			pre = "KMSG_FIELD";
		n = (size_t)snprintf(out, sizeof(out), "%s", pre);
		for (size_t i = 0; i < klen && n < VIEW_NAME_MAX; i++) {
			uint8_t c = key[i];
			if (c >= 'a' && c <= 'z')
				c = (uint8_t)(c - 'a' + 'A');
			else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
				c = '_';
			out[n++] = (char)c;
		}
		out[n] = '\0';
	}
	if (name_reserve(v, n + 1) < 0)
		return -ENOMEM;
	long off = (long)v->names_len;
	memcpy(v->names + v->names_len, out, n + 1);
	v->names_len += n + 1;
	return off;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* next, repeat and dups for the fields, where only those in [lo, hi) can
 * share a name: sorted by name, so n log n for a record of thousands of
 * fields (a pairwise check took 0.45 s for 9,000). */
static int find_same(struct view *v, size_t lo, size_t hi)
{
	if (v->same_cap < v->n) {
		size_t cap = v->cap;
		size_t *nx = realloc(v->next, cap * sizeof(*nx));
		if (nx)
			v->next = nx;
		bool *rp = realloc(v->repeat, cap * sizeof(*rp));
		if (rp)
			v->repeat = rp;
		struct name_ref *so = realloc(v->sorted, cap * sizeof(*so));
		if (so)
			v->sorted = so;
		if (!nx || !rp || !so)
			return -ENOMEM;
		v->same_cap = cap;
	}
	for (size_t i = 0; i < v->n; i++) {
		v->next[i] = VIEW_NONE;
		v->repeat[i] = false;
	}
	v->dups = false;
	if (hi - lo < 2)
		return 0;
	for (size_t i = lo; i < hi; i++)
		v->sorted[i - lo] = (struct name_ref){ v->f[i].name, i };
	qsort(v->sorted, hi - lo, sizeof(*v->sorted), cmp_ref);
	for (size_t k = 1; k < hi - lo; k++) {
		if (strcmp(v->sorted[k - 1].name, v->sorted[k].name) != 0)
			continue;
		v->next[v->sorted[k - 1].i] = v->sorted[k].i;
		v->repeat[v->sorted[k].i] = true;
		v->dups = true;
	}
	return 0;
}

static const char *const synth_names[] = {
	"__CURSOR",
	"__REALTIME_TIMESTAMP",
	"__MONOTONIC_TIMESTAMP",
	"_BOOT_ID",
	"_HOSTNAME",
	"PRIORITY",
	"SYSLOG_FACILITY",
	"SYSLOG_IDENTIFIER",
	"_TRANSPORT",
	"_SOURCE_MONOTONIC_TIMESTAMP",
	"SYSLOG_PID",
	"KMSG_SOURCE",
	"KMSG_EVENT",
	"KMSG_RECORD_FLAGS",
	"KMSG_SEQ",
	"KMSG_STREAM_SEQ",
	"KMSG_STREAM_ID",
	"KMSG_RECEIVED_TIMESTAMP",
	"KMSG_STORED_EARLY",
	"KMSG_MACHINE_ID_CLAIMED",
	"MESSAGE",
};

/* Whether an agent's key is one of the names kmsgctl gives its own
 * values (the "__" names, those of synth_names): a match on such a name
 * must see only kmsgctl's value, never the agent's field (issue 17). */
static bool trusted_key(const uint8_t *key, size_t klen)
{
	if (klen >= 2 && key[0] == '_' && key[1] == '_')
		return true;
	for (size_t i = 0; i < sizeof(synth_names) / sizeof(synth_names[0]); i++)
		if (strlen(synth_names[i]) == klen && memcmp(synth_names[i], key, klen) == 0)
			return true;
	return false;
}

/* Whether a record field named name would clash with a field given above
 * (the first nsynth of v), with MESSAGE, with the "__" names of the export
 * format, or with our own KMSG_ names (reserved even where absent, so that
 * no record can pass for an event or another seq). A journal entry's own
 * SYSLOG_IDENTIFIER or _TRANSPORT keeps its name: none is made up for
 * journal records. */
static bool name_taken(const struct view *v, size_t nsynth, const char *name)
{
	if (strncmp(name, "__", 2) == 0)
		return true;
	for (size_t i = 0; i < sizeof(synth_names) / sizeof(synth_names[0]); i++)
		if (strcmp(name, synth_names[i]) == 0 &&
		    (strncmp(name, "KMSG_", 5) == 0 || strcmp(name, "MESSAGE") == 0))
			return true;
	for (size_t k = 0; k < nsynth; k++)
		if (strcmp(v->f[k].name, name) == 0)
			return true;
	return false;
}

int view_build(struct view *v, const char *host, const struct journal_entry *e, bool with_cursor)
{
	const struct record *r = &e->rec;
	char hex[33];
	int rc = 0;
	v->n = 0;
	v->synth_len = 0;
	v->names_len = 0;

	if (with_cursor) {
		char cur[CURSOR_MAX];
		cursor_format(cur, sizeof(cur), host, e);
		rc |= addf(v, "__CURSOR", "%s", cur);
	}
	rc |= addf(v, "__REALTIME_TIMESTAMP", "%" PRIu64, r->real_usec);
	rc |= addf(v, "__MONOTONIC_TIMESTAMP", "%" PRIu64, r->mono_usec);
	text_hex(hex, r->boot_id, 16);
	rc |= addf(v, "_BOOT_ID", "%s", hex);
	rc |= add(v, "_HOSTNAME", host, strlen(host));
	rc |= addf(v, "PRIORITY", "%u", r->level);
	rc |= addf(v, "SYSLOG_FACILITY", "%u", r->facility);
	const uint8_t *msg, *kid, *kpid;
	size_t msg_len, kidlen, kpidlen;
	view_message(r, &msg, &msg_len);
	if (r->source == RECORD_SRC_KMSG && r->facility != 0) {
		/* journald's fields for a kmsg line of another facility. */
		if (view_kmsg_ident(r, &kid, &kidlen, &kpid, &kpidlen, &msg, &msg_len)) {
			rc |= add(v, "SYSLOG_IDENTIFIER", kid, kidlen);
			if (kpid)
				rc |= add(v, "SYSLOG_PID", kpid, kpidlen);
		}
	} else if (r->source != RECORD_SRC_JOURNAL) {
		const uint8_t *id, *pid;
		size_t idlen, pidlen;
		view_identifier(r, &id, &idlen, &pid, &pidlen);
		rc |= add(v, "SYSLOG_IDENTIFIER", id, idlen);
	}
	if (r->source == RECORD_SRC_KMSG) {
		rc |= add(v, "_TRANSPORT", "kernel", 6);
		/* The kernel's time of the line, as journald names it. */
		rc |= addf(v, "_SOURCE_MONOTONIC_TIMESTAMP", "%" PRIu64, r->mono_usec);
	}
	rc |= addf(v, "KMSG_SOURCE", "%s", view_source_name(r->source));
	if (r->event) {
		const char *ev = view_event_name(r->event);
		rc |= ev ? addf(v, "KMSG_EVENT", "%s", ev) : addf(v, "KMSG_EVENT", "%u", r->event);
	}
	if (r->flags & (RECORD_F_CONT | RECORD_F_TRUNCATED | RECORD_F_MALFORMED | RECORD_F_FRAGMENT))
		rc |= addf(v, "KMSG_RECORD_FLAGS", "%s%s%s%s", r->flags & RECORD_F_CONT ? "cont," : "",
			   r->flags & RECORD_F_TRUNCATED ? "truncated," : "",
			   r->flags & RECORD_F_MALFORMED ? "malformed," : "",
			   r->flags & RECORD_F_FRAGMENT ? "fragment," : "");
	if (v->n && strcmp(v->f[v->n - 1].name, "KMSG_RECORD_FLAGS") == 0)
		v->f[v->n - 1].len--; /* the last comma */
	if (r->source == RECORD_SRC_KMSG)
		rc |= addf(v, "KMSG_SEQ", "%" PRIu64, r->kmsg_seq);
	rc |= addf(v, "KMSG_STREAM_SEQ", "%" PRIu64, r->stream_seq);
	text_hex(hex, e->stream_id, 16);
	rc |= addf(v, "KMSG_STREAM_ID", "%s", hex);
	rc |= addf(v, "KMSG_RECEIVED_TIMESTAMP", "%" PRIu64, e->recv_usec);
	if (e->early)
		rc |= add(v, "KMSG_STORED_EARLY", "1", 1);
	if (rc)
		return -ENOMEM;
	size_t nsynth = v->n;

	size_t off = 0;
	const uint8_t *f;
	size_t flen;
	while (record_field_next(r, &off, &f, &flen) == 1) {
		const uint8_t *eq = memchr(f, '=', flen);
		long noff;
		const uint8_t *val = f;
		size_t vlen = flen;
		size_t klen = 0;
		if (!eq || eq == f) {
			noff = -1;
		} else {
			klen = (size_t)(eq - f);
			val = eq + 1;
			vlen = flen - klen - 1;
			if ((noff = map_name(v, r->source, f, klen)) < 0)
				return -ENOMEM;
		}
		if (grow(v) < 0)
			return -ENOMEM;
		v->f[v->n] = (struct view_field){ .name = "KMSG_RAW_FIELD",
						  .val = val,
						  .len = vlen,
						  .raw_key = klen && !trusted_key(f, klen) ? f : NULL,
						  .raw_key_len = klen };
		v->name_off[v->n] = noff < 0 ? SIZE_MAX : (size_t)noff;
		v->n++;
	}
	/* A record field that reuses a name given above: the same value is
	 * left out, another one renamed. Names are offsets into v->names
	 * until the end, as renaming may move that buffer. */
	size_t w = nsynth;
	for (size_t i = nsynth; i < v->n; i++) {
		struct view_field x = v->f[i];
		size_t noff = v->name_off[i];
		const char *name = noff == SIZE_MAX ? x.name : v->names + noff;
		if (name_taken(v, nsynth, name)) {
			bool same = false;
			if (strcmp(name, "MESSAGE") == 0)
				same = x.len == msg_len && memcmp(x.val, msg, x.len) == 0;
			for (size_t k = 0; k < nsynth && !same; k++)
				same = strcmp(v->f[k].name, name) == 0 && v->f[k].len == x.len &&
				       memcmp(v->f[k].val, x.val, x.len) == 0;
			if (same)
				continue;
			char renamed[VIEW_NAME_MAX + 16];
			const char *base = name;
			while (*base == '_')
				base++;
			int n = snprintf(renamed, sizeof(renamed), "KMSG_RECORD_%.*s", VIEW_NAME_MAX - 12,
					 base);
			if (name_reserve(v, (size_t)n + 1) < 0)
				return -ENOMEM;
			noff = v->names_len;
			memcpy(v->names + noff, renamed, (size_t)n + 1);
			v->names_len += (size_t)n + 1;
		}
		v->f[w] = x;
		v->name_off[w] = noff;
		w++;
	}
	v->n = w;
	for (size_t i = nsynth; i < v->n; i++)
		if (v->name_off[i] != SIZE_MAX)
			v->f[i].name = v->names + v->name_off[i];
	if (add(v, "MESSAGE", msg, msg_len) < 0)
		return -ENOMEM;
	/* Only the record's own fields can share a name now. */
	return find_same(v, nsynth, v->n - 1);
}

bool view_has_duplicates(const struct view *v)
{
	return v->dups;
}

size_t view_next_same(const struct view *v, size_t i)
{
	return v->next[i];
}

bool view_repeat(const struct view *v, size_t i)
{
	return v->repeat[i];
}

const struct view_field *view_fields(const struct view *v, size_t *ret_n)
{
	*ret_n = v->n;
	return v->f;
}

void view_json_members(const struct view *v, struct json *j, bool (*wanted)(const char *name, void *arg),
		       void *arg)
{
	size_t n;
	const struct view_field *f = view_fields(v, &n);
	bool dups = view_has_duplicates(v);
	for (size_t i = 0; i < n; i++) {
		if ((dups && view_repeat(v, i)) || (wanted && !wanted(f[i].name, arg)))
			continue;
		json_key(j, f[i].name);
		size_t k = dups ? view_next_same(v, i) : VIEW_NONE;
		if (k == VIEW_NONE) {
			json_value(j, f[i].val, f[i].len);
			continue;
		}
		json_array_begin(j);
		for (k = i; k != VIEW_NONE; k = view_next_same(v, k))
			json_value(j, f[k].val, f[k].len);
		json_array_end(j);
	}
}
