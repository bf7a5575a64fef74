/* SPDX-License-Identifier: ISC */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define FACILITY_MAX 65535

static const char *const level_names[8] = { "emerg",   "alert",	 "crit", "err",
					    "warning", "notice", "info", "debug" };

/* systemd's facility names; 12..15 have none there. */
static const char *const facility_names[24] = {
	"kern",	  "user",   "mail",	"daemon", "auth",   "syslog", "lpr",	"news",
	"uucp",	  "cron",   "authpriv", "ftp",	  NULL,	    NULL,     NULL,	NULL,
	"local0", "local1", "local2",	"local3", "local4", "local5", "local6", "local7",
};

void filter_init(struct filter *f)
{
	memset(f, 0, sizeof(*f));
	f->levels = 0xff;
}

void filter_free(struct filter *f)
{
	free(f->facility);
	if (f->has_grep)
		regfree(&f->grep);
	for (size_t i = 0; i < f->ngroups; i++) {
		for (size_t k = 0; k < f->groups[i].n; k++) {
			free(f->groups[i].m[k].field);
			free(f->groups[i].m[k].value);
		}
		free(f->groups[i].m);
	}
	free(f->groups);
	for (size_t i = 0; i < f->nidents; i++)
		free(f->idents[i].name);
	free(f->idents);
	for (size_t i = 0; i < f->nunits; i++)
		free(f->units[i]);
	free(f->units);
	filter_init(f);
}

int filter_identifier(struct filter *f, const char *id, bool exclude)
{
	struct filter_ident *n = realloc(f->idents, (f->nidents + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	f->idents = n;
	char *copy = strdup(id);
	if (!copy)
		return -ENOMEM;
	f->idents[f->nidents++] = (struct filter_ident){ copy, exclude };
	return 0;
}

int filter_unit(struct filter *f, const char *unit)
{
	if (!*unit)
		return -EINVAL;
	char **n = realloc(f->units, (f->nunits + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	f->units = n;
	/* As systemd mangles a unit name: without a suffix, a service. */
	size_t len = strlen(unit);
	bool glob = strpbrk(unit, "*?[") != NULL;
	bool suffix = strrchr(unit, '.') != NULL;
	char *copy = malloc(len + sizeof(".service"));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, unit, len + 1);
	if (!suffix && !glob)
		memcpy(copy + len, ".service", sizeof(".service"));
	f->units[f->nunits++] = copy;
	return 0;
}

/* -t/-T: the identifier as the SYSLOG_IDENTIFIER field has it (view.h):
 * a journal record's own field, else kernel, kmsg-shipper, ... */
static bool ident_test(const struct filter *f, const struct record *r)
{
	const uint8_t *id, *pid;
	size_t idlen, pidlen;
	bool have = true;
	const uint8_t *m;
	size_t mlen;
	if (r->source == RECORD_SRC_JOURNAL)
		have = record_field_get(r, "SYSLOG_IDENTIFIER", &id, &idlen) == 1;
	else if (r->source == RECORD_SRC_KMSG && r->facility != 0)
		have = view_kmsg_ident(r, &id, &idlen, &pid, &pidlen, &m, &mlen);
	else
		view_identifier(r, &id, &idlen, &pid, &pidlen);
	bool any_include = false, included = false;
	for (size_t i = 0; i < f->nidents; i++) {
		const struct filter_ident *x = &f->idents[i];
		bool eq = have && strlen(x->name) == idlen && memcmp(x->name, id, idlen) == 0;
		if (x->exclude && eq)
			return false;
		if (!x->exclude) {
			any_include = true;
			included |= eq;
		}
	}
	return !any_include || included;
}

/* Field key of journal record r equals s (glob: matches the pattern). */
static bool field_is(const struct record *r, const char *key, const char *s, bool glob)
{
	const uint8_t *v;
	size_t len;
	if (record_field_get(r, key, &v, &len) != 1 || len > 255 || memchr(v, '\0', len))
		return false;
	char buf[256];
	memcpy(buf, v, len);
	buf[len] = '\0';
	return glob ? fnmatch(s, buf, 0) == 0 : strcmp(s, buf) == 0;
}

/* -u: journalctl's matches for a unit, on the journal records that carry
 * them: _SYSTEMD_UNIT, COREDUMP_UNIT, UNIT from systemd (_PID=1) and
 * OBJECT_SYSTEMD_UNIT from root (_UID=0). */
static bool unit_test(const struct filter *f, const struct record *r)
{
	if (r->source != RECORD_SRC_JOURNAL)
		return false;
	for (size_t i = 0; i < f->nunits; i++) {
		const char *u = f->units[i];
		bool glob = strpbrk(u, "*?[") != NULL;
		if (field_is(r, "_SYSTEMD_UNIT", u, glob) || field_is(r, "COREDUMP_UNIT", u, glob) ||
		    (field_is(r, "_PID", "1", false) && field_is(r, "UNIT", u, glob)) ||
		    (field_is(r, "_UID", "0", false) && field_is(r, "OBJECT_SYSTEMD_UNIT", u, glob)))
			return true;
	}
	return false;
}

static int parse_number(const char *s, size_t len, unsigned max, unsigned *ret)
{
	unsigned v = 0;
	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_level(const char *s, size_t len, unsigned *ret)
{
	for (unsigned i = 0; i < 8; i++)
		if (strlen(level_names[i]) == len && strncmp(s, level_names[i], len) == 0) {
			*ret = i;
			return 0;
		}
	return parse_number(s, len, 7, ret);
}

int filter_priority(struct filter *f, const char *arg)
{
	const char *dots = strstr(arg, "..");
	unsigned from = 0, to;
	if (dots) {
		if (dots != arg && parse_level(arg, (size_t)(dots - arg), &from) < 0)
			return -EINVAL;
		to = 7;
		if (dots[2] && parse_level(dots + 2, strlen(dots + 2), &to) < 0)
			return -EINVAL;
		if (from > to) {
			unsigned t = from;
			from = to;
			to = t;
		}
	} else if (parse_level(arg, strlen(arg), &to) < 0) {
		return -EINVAL;
	}
	f->levels = 0;
	for (unsigned i = from; i <= to; i++)
		f->levels |= (uint8_t)(1u << i);
	return 0;
}

int filter_facility(struct filter *f, const char *arg)
{
	if (!f->facility && !(f->facility = calloc(1, (FACILITY_MAX + 1) / 8)))
		return -ENOMEM;
	const char *p = arg;
	do {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		unsigned v;
		size_t i;
		for (i = 0; i < 24; i++)
			if (facility_names[i] && strlen(facility_names[i]) == len &&
			    strncmp(p, facility_names[i], len) == 0)
				break;
		if (i < 24)
			v = (unsigned)i;
		else if (parse_number(p, len, FACILITY_MAX, &v) < 0)
			return -EINVAL;
		f->facility[v / 8] |= (uint8_t)(1u << (v % 8));
		p = end ? end + 1 : NULL;
	} while (p);
	return 0;
}

void filter_facility_help(void)
{
	/* As journalctl 252: 12 to 15, which have no name, as numbers. */
	puts("Available facilities:");
	for (size_t i = 0; i < 24; i++)
		if (facility_names[i])
			puts(facility_names[i]);
		else
			printf("%zu\n", i);
}

int filter_grep(struct filter *f, const char *pattern, int case_sensitive, char *err, size_t errlen)
{
	bool icase;
	if (case_sensitive < 0) {
		icase = true;
		for (const char *p = pattern; *p; p++)
			if (isupper((unsigned char)*p))
				icase = false;
	} else {
		icase = !case_sensitive;
	}
	if (f->has_grep) {
		regfree(&f->grep);
		f->has_grep = false;
	}
	int r = regcomp(&f->grep, pattern, REG_EXTENDED | (icase ? REG_ICASE : 0));
	if (r != 0) {
		regerror(r, &f->grep, err, errlen);
		regfree(&f->grep);
		return -EINVAL;
	}
	f->has_grep = true;
	return 0;
}

int filter_match(struct filter *f, const char *arg)
{
	if (strcmp(arg, "+") == 0) {
		/* An empty group before or after "+" matches nothing extra: skip it. */
		if (f->ngroups && f->groups[f->ngroups - 1].n == 0)
			return 0;
		struct filter_group *g = realloc(f->groups, (f->ngroups + 1) * sizeof(*g));
		if (!g)
			return -ENOMEM;
		f->groups = g;
		f->groups[f->ngroups++] = (struct filter_group){ 0 };
		return 0;
	}
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return -EINVAL;
	if (f->ngroups == 0) {
		if (!(f->groups = calloc(1, sizeof(*f->groups))))
			return -ENOMEM;
		f->ngroups = 1;
	}
	struct filter_group *g = &f->groups[f->ngroups - 1];
	struct filter_match *m = realloc(g->m, (g->n + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	g->m = m;
	m = &g->m[g->n];
	m->field = strndup(arg, (size_t)(eq - arg));
	m->value = strdup(eq + 1);
	if (!m->field || !m->value) {
		free(m->field);
		free(m->value);
		return -ENOMEM;
	}
	m->len = strlen(m->value);
	g->n++;
	return 0;
}

bool filter_needs_view(const struct filter *f)
{
	for (size_t i = 0; i < f->ngroups; i++)
		if (f->groups[i].n)
			return true;
	return false;
}

static bool match_one(const struct filter_match *m, const struct view *v)
{
	size_t n;
	const struct view_field *vf = view_fields(v, &n);
	size_t flen = strlen(m->field);
	for (size_t i = 0; i < n; i++) {
		if (vf[i].len != m->len || memcmp(vf[i].val, m->value, m->len) != 0)
			continue;
		if (strcmp(vf[i].name, m->field) == 0 || (vf[i].raw_key && vf[i].raw_key_len == flen &&
							  memcmp(vf[i].raw_key, m->field, flen) == 0))
			return true;
	}
	return false;
}

static bool group_test(const struct filter_group *g, const struct view *v)
{
	for (size_t i = 0; i < g->n; i++) {
		/* Each field once: OR over its matches. */
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(g->m[k].field, g->m[i].field) == 0;
		if (seen)
			continue;
		bool any = false;
		for (size_t k = i; k < g->n && !any; k++)
			any = strcmp(g->m[k].field, g->m[i].field) == 0 && match_one(&g->m[k], v);
		if (!any)
			return false;
	}
	return true;
}

bool filter_grep_find(const struct filter *f, const uint8_t *msg, size_t len, size_t *so, size_t *eo)
{
	if (!f->has_grep)
		return false;
	regmatch_t m[1];
	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)len;
	if (regexec(&f->grep, (const char *)msg, 1, m, REG_STARTEND) != 0)
		return false;
	*so = (size_t)m[0].rm_so;
	*eo = (size_t)m[0].rm_eo;
	return true;
}

bool filter_test(const struct filter *f, const struct journal_entry *e, const struct view *v)
{
	const struct record *r = &e->rec;
	if (!(f->levels & (1u << r->level)))
		return false;
	if (f->facility && !(f->facility[r->facility / 8] & (1u << (r->facility % 8))))
		return false;
	if (f->kernel_only && r->source != RECORD_SRC_KMSG)
		return false;
	if (f->nidents && !ident_test(f, r))
		return false;
	if (f->nunits && !unit_test(f, r))
		return false;
	if (f->has_since && r->real_usec < f->since)
		return false;
	if (f->has_until && r->real_usec > f->until)
		return false;
	if (f->has_grep) {
		size_t so, eo;
		const uint8_t *m;
		size_t len;
		view_message(r, &m, &len);
		if (!filter_grep_find(f, m, len, &so, &eo))
			return false;
	}
	if (filter_needs_view(f)) {
		bool any = false;
		for (size_t i = 0; i < f->ngroups && !any; i++)
			any = f->groups[i].n && group_test(&f->groups[i], v);
		if (!any)
			return false;
	}
	return true;
}
