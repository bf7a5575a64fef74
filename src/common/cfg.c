/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A config file larger than this is refused (-EFBIG): a collector with
 * 10,000 hosts needs about 1 MiB. */
#define CFG_MAX_FILE (64u << 20)

struct cfg {
	config_t lc;
	char *name;  /* file name used in messages */
	char *error; /* first error recorded, "FILE:LINE: message" */
	bool oom;    /* an error could not be formatted for lack of memory */
};

/*
 * "Looked up" is recorded in each setting's libconfig hook: it points at
 * this byte once a getter or cfg_count reached the setting (or a setting
 * below it). No destructor is registered, so libconfig never frees it.
 */
static char cfg_visited;

static void mark(config_setting_t *s)
{
	config_setting_set_hook(s, &cfg_visited);
}

static bool visited(const config_setting_t *s)
{
	return config_setting_get_hook(s) == &cfg_visited;
}

static void set_error(struct cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct cfg *c, const char *fmt, ...)
{
	va_list ap;

	/* Only the first error is kept: later ones are usually consequences. */
	if (c->error || c->oom)
		return;
	va_start(ap, fmt);
	if (vasprintf(&c->error, fmt, ap) < 0) {
		c->error = NULL;
		c->oom = true;
	}
	va_end(ap);
}

/* Records "FILE:LINE: PATH: msg" for setting s (which may be NULL or the
 * root, which have no line); PATH is left out when path is NULL. Settings
 * from an @include'd file carry that file's name. */
static void fail_at(struct cfg *c, const config_setting_t *s, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail_at(struct cfg *c, const config_setting_t *s, const char *path, const char *fmt, ...)
{
	const char *file = c->name;
	unsigned line = 0;
	char *msg = NULL;
	va_list ap;

	if (c->error || c->oom)
		return;
	if (s && !config_setting_is_root(s)) {
		line = config_setting_source_line(s);
		if (config_setting_source_file(s))
			file = config_setting_source_file(s);
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0) {
		va_end(ap);
		c->oom = true;
		return;
	}
	va_end(ap);
	if (line > 0)
		set_error(c, "%s:%u: %s%s%s", file, line, path ? path : "", path ? ": " : "", msg);
	else
		set_error(c, "%s: %s%s%s", file, path ? path : "", path ? ": " : "", msg);
	free(msg);
}

/*
 * libconfig 1.5 parses an integer literal without the L suffix with
 * strtol and stores it in an int, so 5000000000 silently becomes 705032704,
 * and an L literal beyond 64 bits saturates. It also cuts a string at a
 * "\x00" escape. The parsed tree cannot show either, so the text is scanned
 * after a successful parse (it is valid libconfig then, which keeps this
 * lexer small). Files pulled in by @include are not scanned.
 */
static bool number_overflows(const char *p, const char **end)
{
	bool neg = false, hex = false, wide = false, over = false;
	unsigned long long v = 0;
	unsigned base = 10;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
		hex = true;
		base = 16;
		p += 2;
	}
	for (;; p++) {
		unsigned d;

		if (isdigit((unsigned char)*p))
			d = (unsigned)(*p - '0');
		else if (hex && isxdigit((unsigned char)*p))
			d = (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
		else
			break;
		if (v > (ULLONG_MAX - d) / base)
			over = true;
		else
			v = v * base + d;
	}
	if (!hex && (*p == '.' || *p == 'e' || *p == 'E')) {
		/* A float: libconfig stores it as a double, nothing to check. */
		while (isdigit((unsigned char)*p) || *p == '.' || *p == 'e' || *p == 'E' ||
		       ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
			p++;
		*end = p;
		return false;
	}
	if (*p == 'L') {
		wide = true;
		p++;
		if (*p == 'L')
			p++;
	}
	*end = p;
	if (over)
		return true;
	/* Hex literals are bit patterns (0xFFFFFFFF is -1), as in libconfig. */
	if (hex)
		return wide ? false : v > 0xFFFFFFFFull;
	if (wide)
		return v > (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX);
	return v > (neg ? (unsigned long long)INT32_MAX + 1 : (unsigned long long)INT32_MAX);
}

/*
 * With strings_only, runs before the parse and only looks for a string
 * left open at the end of the text: libconfig reports that as a syntax
 * error at the end of the text (and 1.5 leaks the string), this names the
 * line where the string starts.
 * Comments and strings are delimited exactly as libconfig's scanner does,
 * whatever the text.
 */
static int scan_text(struct cfg *c, const char *p, bool strings_only)
{
	unsigned line = 1;

	while (*p) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			if (*p)
				p += 2;
		} else if (*p == '"') {
			unsigned start_line = line;

			for (p++; *p && *p != '"'; p++) {
				if (*p == '\n')
					line++;
				if (*p != '\\' || !p[1])
					continue;
				if (p[1] == '\n')
					line++;
				if (!strings_only && (p[1] == 'x' || p[1] == 'X') && p[2] == '0' &&
				    p[3] == '0') {
					set_error(c, "%s:%u: NUL character (\\x00) in string", c->name, line);
					return -EINVAL;
				}
				p++;
			}
			if (!*p) {
				set_error(c, "%s:%u: syntax error: unterminated string", c->name, start_line);
				return -EINVAL;
			}
			p++;
		} else if (strings_only) {
			p++;
		} else if (isalpha((unsigned char)*p) || *p == '*') {
			/* A name or true/false: may contain digits and '-'. */
			while (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '*')
				p++;
		} else if (isdigit((unsigned char)*p) ||
			   ((*p == '-' || *p == '+' || *p == '.') && isdigit((unsigned char)p[1]))) {
			const char *start = p;

			if (number_overflows(start, &p)) {
				int n = (int)(p - start);

				set_error(c, "%s:%u: integer %.*s%s out of range (%s)", c->name, line,
					  n > 40 ? 40 : n, start, n > 40 ? "..." : "",
					  p[-1] == 'L' ? "64 bits at most" : "append L for a 64-bit integer");
				return -EINVAL;
			}
		} else {
			p++;
		}
	}
	return 0;
}

static int parse(struct cfg *c, const char *text)
{
	int r = scan_text(c, text, true);

	if (r < 0)
		return r;
	if (!config_read_string(&c->lc, text)) {
		const char *file = config_error_file(&c->lc) ? config_error_file(&c->lc) : c->name;
		const char *what = config_error_text(&c->lc) ? config_error_text(&c->lc) : "";
		int line = config_error_line(&c->lc);

		/* libconfig's text is mostly just "syntax error": don't say it twice. */
		if (strcmp(what, "syntax error") == 0)
			what = "";
		if (line > 0)
			set_error(c, "%s:%d: syntax error%s%s", file, line, *what ? ": " : "", what);
		else
			set_error(c, "%s: syntax error%s%s", file, *what ? ": " : "", what);
		return -EINVAL;
	}
	return scan_text(c, text, false);
}

static struct cfg *cfg_new(const char *name)
{
	struct cfg *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->name = strdup(name);
	if (!c->name) {
		free(c);
		return NULL;
	}
	config_init(&c->lc);
	return c;
}

/* Reads the whole file: libconfig's own reader (flex) calls exit() when
 * read() fails, e.g. on a directory, and stops silently at a NUL byte. */
static int read_text(struct cfg *c, const char *path, char **ret)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nul;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		set_error(c, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			char *nbuf;

			if (cap >= CFG_MAX_FILE) {
				r = -EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 16384;
			nbuf = realloc(buf, cap + 1);
			if (!nbuf) {
				r = -ENOMEM;
				break;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		set_error(c, "%s: cannot read: %s", path, strerror(-r));
		free(buf);
		return r;
	}
	if (!buf) {
		buf = strdup("");
		if (!buf)
			return -ENOMEM;
	}
	buf[len] = '\0';
	nul = memchr(buf, '\0', len);
	if (nul) {
		unsigned line = 1;

		for (const char *q = buf; q < nul; q++)
			line += *q == '\n';
		set_error(c, "%s:%u: syntax error: NUL byte", path, line);
		free(buf);
		return -EINVAL;
	}
	*ret = buf;
	return 0;
}

int cfg_load(struct cfg **ret, const char *path)
{
	struct cfg *c = cfg_new(path);
	char *text = NULL;
	int r;

	if (!c)
		return -ENOMEM;
	r = read_text(c, path, &text);
	if (r == 0)
		r = parse(c, text);
	free(text);
	*ret = c;
	return r;
}

int cfg_load_string(struct cfg **ret, const char *name, const char *text)
{
	struct cfg *c = cfg_new(name);

	if (!c)
		return -ENOMEM;
	*ret = c;
	return parse(c, text);
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	config_destroy(&c->lc);
	free(c->name);
	free(c->error);
	free(c);
}

const char *cfg_error(const struct cfg *c)
{
	if (c->error)
		return c->error;
	return c->oom ? "out of memory" : NULL;
}

/*
 * Resolves path ("a.b", "list.[2].name") from the root. libconfig's own
 * config_lookup is not used: it reads "[x]" as [0], ignores junk after
 * "[N]" and accepts empty segments. Returns 0 with *ret set, -ENOENT with
 * *ret_last = the deepest existing setting on the path (the root at
 * least), or -EINVAL for a malformed path or a step through a scalar (the
 * latter is an error in the file, recorded when report is set). With
 * record_use, every setting on the way is marked as looked up.
 */
static int walk(struct cfg *c, const char *path, bool record_use, bool report, config_setting_t **ret,
		config_setting_t **ret_last)
{
	config_setting_t *s = config_root_setting(&c->lc);
	const char *p = path;

	*ret_last = s;
	for (;;) {
		const char *seg = p, *end = strchr(p, '.');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		config_setting_t *next;
		char name[256];

		if (n == 0 || n >= sizeof(name))
			goto bad_path;
		if (seg[0] == '[') {
			unsigned long idx = 0;

			if (n < 3 || seg[n - 1] != ']')
				goto bad_path;
			for (size_t i = 1; i < n - 1; i++) {
				if (!isdigit((unsigned char)seg[i]) || idx > UINT_MAX / 10)
					goto bad_path;
				idx = idx * 10 + (unsigned long)(seg[i] - '0');
			}
			if (!config_setting_is_aggregate(s)) {
				if (report)
					fail_at(c, s, NULL, "%.*s: expected a list", (int)(seg - path - 1),
						path);
				return -EINVAL;
			}
			next = idx <= UINT_MAX ? config_setting_get_elem(s, (unsigned)idx) : NULL;
		} else {
			if (!config_setting_is_group(s)) {
				if (report)
					fail_at(c, s, NULL, "%.*s: expected a group", (int)(seg - path - 1),
						path);
				return -EINVAL;
			}
			memcpy(name, seg, n);
			name[n] = '\0';
			next = config_setting_get_member(s, name);
		}
		if (!next)
			return -ENOENT;
		s = next;
		*ret_last = s;
		if (record_use)
			mark(s);
		if (!end) {
			*ret = s;
			return 0;
		}
		p = end + 1;
	}

bad_path:
	/* A bug in the caller, not in the file; still reported, as it names the path. */
	if (report)
		set_error(c, "%s: %s: invalid setting path", c->name, path);
	return -EINVAL;
}

/* Common start of the getters: 1 with *ret set, 0 when missing and
 * optional, or a negative errno (error recorded). */
static int get(struct cfg *c, const char *path, bool required, config_setting_t **ret)
{
	config_setting_t *last;
	int r = walk(c, path, true, true, ret, &last);

	if (r == 0)
		return 1;
	if (r != -ENOENT)
		return r;
	if (!required)
		return 0;
	/* No line for what is not there: use the enclosing group's, if any. */
	fail_at(c, last, path, "missing required setting");
	return -ENOENT;
}

/* Reads an int or int64 setting. */
static bool get_integer(const config_setting_t *s, long long *v)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*v = config_setting_get_int(s);
		return true;
	case CONFIG_TYPE_INT64:
		*v = config_setting_get_int64(s);
		return true;
	default:
		return false;
	}
}

int cfg_int(struct cfg *c, const char *path, bool required, long long min, long long max, long long *out)
{
	config_setting_t *s;
	long long v;
	int r = get(c, path, required, &s);

	if (r <= 0)
		return r;
	if (!get_integer(s, &v) || v < min || v > max) {
		fail_at(c, s, path, "expected an integer between %lld and %lld", min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cfg_bool(struct cfg *c, const char *path, bool required, bool *out)
{
	config_setting_t *s;
	int r = get(c, path, required, &s);

	if (r <= 0)
		return r;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		fail_at(c, s, path, "expected true or false");
		return -EINVAL;
	}
	*out = config_setting_get_bool(s);
	return 0;
}

int cfg_string(struct cfg *c, const char *path, bool required, const char **out)
{
	config_setting_t *s;
	int r = get(c, path, required, &s);

	if (r <= 0)
		return r;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		fail_at(c, s, path, "expected a string");
		return -EINVAL;
	}
	*out = config_setting_get_string(s);
	return 0;
}

int cfg_enum(struct cfg *c, const char *path, bool required, const char *const *choices, int *out)
{
	config_setting_t *s;
	const char *v;
	char *list = NULL;
	size_t len = 0;
	FILE *f;
	int r = get(c, path, required, &s);

	if (r <= 0)
		return r;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		v = config_setting_get_string(s);
		for (int i = 0; choices[i]; i++) {
			if (strcmp(v, choices[i]) == 0) {
				*out = i;
				return 0;
			}
		}
	}
	/* "expected one of "a", "b"" */
	f = open_memstream(&list, &len);
	if (!f) {
		c->oom = !c->error;
		return -EINVAL;
	}
	for (int i = 0; choices[i]; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "", choices[i]);
	if (fclose(f) != 0) {
		free(list);
		c->oom = !c->error;
		return -EINVAL;
	}
	fail_at(c, s, path, "expected one of %s", list);
	free(list);
	return -EINVAL;
}

/* "<digits>[K|M|G|T][iB|B]" or "<digits>B"; binary multiples. */
static bool parse_size(const char *p, unsigned long long *ret)
{
	unsigned long long v = 0, mul = 1;

	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (ULLONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	switch (*p) {
	case 'K':
		mul = 1ull << 10;
		break;
	case 'M':
		mul = 1ull << 20;
		break;
	case 'G':
		mul = 1ull << 30;
		break;
	case 'T':
		mul = 1ull << 40;
		break;
	}
	if (mul > 1) {
		p++;
		if (p[0] == 'i' && p[1] == 'B')
			p += 2;
	}
	if (*p == 'B')
		p++;
	if (*p || v > ULLONG_MAX / mul)
		return false;
	*ret = v * mul;
	return true;
}

int cfg_size(struct cfg *c, const char *path, bool required, unsigned long long min, unsigned long long max,
	     unsigned long long *out)
{
	config_setting_t *s;
	unsigned long long v = 0;
	long long i;
	bool ok;
	int r = get(c, path, required, &s);

	if (r <= 0)
		return r;
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		ok = parse_size(config_setting_get_string(s), &v);
	else if ((ok = get_integer(s, &i) && i >= 0))
		v = (unsigned long long)i;
	if (!ok || v < min || v > max) {
		fail_at(c, s, path, "expected a size such as 64M (between %llu and %llu bytes)", min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Units of a duration, longest name first where one is a prefix of another. */
static const struct {
	const char *name;
	unsigned long long ms;
} duration_units[] = {
	{ "ms", 1 }, { "min", 60000 }, { "m", 60000 }, { "s", 1000 }, { "h", 3600000 }, { "d", 86400000 },
};

/* "30" (seconds), or one or more "<digits><unit>": "500ms", "1h30min". */
static bool parse_duration(const char *p, unsigned long long *ret)
{
	size_t digits = strspn(p, "0123456789");
	bool bare = digits > 0 && !p[digits];
	unsigned long long total = 0;

	if (!*p)
		return false;
	while (*p) {
		unsigned long long v = 0, mul = bare ? 1000 : 0;
		const char *start = p;

		for (; isdigit((unsigned char)*p); p++) {
			unsigned d = (unsigned)(*p - '0');

			if (v > (ULLONG_MAX - d) / 10)
				return false;
			v = v * 10 + d;
		}
		if (p == start)
			return false;
		for (size_t i = 0; !mul && i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
			size_t n = strlen(duration_units[i].name);

			if (strncmp(p, duration_units[i].name, n) == 0) {
				mul = duration_units[i].ms;
				p += n;
			}
		}
		if (!mul || v > ULLONG_MAX / mul || total > ULLONG_MAX - v * mul)
			return false;
		total += v * mul;
	}
	*ret = total;
	return true;
}

/* ms as the largest unit that divides it: "1h", "90s", "500ms". */
static void format_duration(char *buf, size_t len, unsigned long long ms)
{
	static const struct {
		const char *name;
		unsigned long long ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "min", 60000 }, { "s", 1000 } };

	for (size_t i = 0; ms > 0 && i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms % units[i].ms == 0) {
			snprintf(buf, len, "%llu%s", ms / units[i].ms, units[i].name);
			return;
		}
	}
	if (ms)
		snprintf(buf, len, "%llums", ms);
	else
		snprintf(buf, len, "0s");
}

int cfg_duration_ms(struct cfg *c, const char *path, bool required, unsigned long long min,
		    unsigned long long max, unsigned long long *out)
{
	config_setting_t *s;
	unsigned long long v = 0;
	long long i;
	bool ok;
	char lo[32], hi[32];
	int r = get(c, path, required, &s);

	if (r <= 0)
		return r;
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		ok = parse_duration(config_setting_get_string(s), &v);
	else if ((ok = get_integer(s, &i) && i >= 0 && (unsigned long long)i <= ULLONG_MAX / 1000))
		v = (unsigned long long)i * 1000;
	if (!ok || v < min || v > max) {
		format_duration(lo, sizeof(lo), min);
		format_duration(hi, sizeof(hi), max);
		fail_at(c, s, path, "expected a duration such as 30s or 5min (between %s and %s)", lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cfg_count(struct cfg *c, const char *path)
{
	config_setting_t *s;
	int r = get(c, path, false, &s);

	if (r <= 0)
		return r;
	if (!config_setting_is_aggregate(s)) {
		fail_at(c, s, path, "expected a list");
		return -EINVAL;
	}
	return config_setting_length(s);
}

bool cfg_exists(struct cfg *c, const char *path)
{
	config_setting_t *s, *last;

	return walk(c, path, false, false, &s, &last) == 0;
}

/* First setting below s, in file order, that was never looked up. */
static config_setting_t *find_unused(config_setting_t *s)
{
	int n = config_setting_is_aggregate(s) ? config_setting_length(s) : 0;

	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i), *u;

		if (!visited(e))
			return e;
		u = find_unused(e);
		if (u)
			return u;
	}
	return NULL;
}

/* "a.b.[2].c" for s; malloc'd, NULL on ENOMEM. */
static char *setting_path(const config_setting_t *s)
{
	size_t len = 0;
	char *buf, *end;

	for (const config_setting_t *p = s; !config_setting_is_root(p); p = config_setting_parent(p)) {
		const char *name = config_setting_name(p);

		len += (name ? strlen(name) : 12 /* "[" UINT_MAX "]" */) + 1;
	}
	buf = malloc(len + 1);
	if (!buf)
		return NULL;
	/* Filled from the end, leaf first. */
	end = buf + len;
	*end = '\0';
	for (const config_setting_t *p = s; !config_setting_is_root(p); p = config_setting_parent(p)) {
		const char *name = config_setting_name(p);
		char idx[16];
		size_t n;

		if (!name) {
			snprintf(idx, sizeof(idx), "[%d]", config_setting_index(p));
			name = idx;
		}
		n = strlen(name);
		if (*end)
			*--end = '.';
		end -= n;
		memcpy(end, name, n);
	}
	memmove(buf, end, strlen(end) + 1);
	return buf;
}

int cfg_finish(struct cfg *c)
{
	config_setting_t *u = find_unused(config_root_setting(&c->lc));

	if (u) {
		char *path = setting_path(u);

		if (path)
			fail_at(c, u, NULL, "unknown setting '%s'", path);
		else
			c->oom = !c->error;
		free(path);
	}
	return u || cfg_error(c) ? -EINVAL : 0;
}

int cfg_fail(struct cfg *c, const char *path, const char *fmt, ...)
{
	config_setting_t *s = NULL, *last = NULL;
	char *msg;
	va_list ap;
	int r;

	if (c->error || c->oom)
		return -EINVAL;
	if (path) {
		if (walk(c, path, false, false, &s, &last) < 0)
			s = last;
	}
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		c->oom = true;
		return -EINVAL;
	}
	fail_at(c, s, path, "%s", msg);
	free(msg);
	return -EINVAL;
}

bool cfg_str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}
