/* SPDX-License-Identifier: ISC */
#include <inttypes.h>
#include <string.h>

#include "json.h"
#include "text.h"

void json_init(struct json *j, FILE *f, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->pretty = pretty;
}

void json_set_tight(struct json *j)
{
	j->tight = !j->pretty;
}

static void indent(struct json *j, int depth)
{
	for (int i = 0; i < depth; i++)
		fputc('\t', j->f);
}

/* Separator before a member or element of the innermost container. */
static void prefix(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth == 0 || j->depth > JSON_DEPTH_MAX)
		return;
	bool *ne = &j->nonempty[j->depth - 1];
	if (j->pretty) {
		fputs(*ne ? ",\n" : "\n", j->f);
		indent(j, j->depth);
	} else if (j->tight) {
		if (*ne)
			fputc(',', j->f);
	} else {
		fputs(*ne ? ", " : " ", j->f);
	}
	*ne = true;
}

static void begin(struct json *j, char c)
{
	prefix(j);
	fputc(c, j->f);
	if (j->depth < JSON_DEPTH_MAX)
		j->nonempty[j->depth] = false;
	j->depth++;
}

static void end(struct json *j, char c)
{
	if (j->depth == 0)
		return;
	j->depth--;
	bool ne = j->depth < JSON_DEPTH_MAX && j->nonempty[j->depth];
	if (j->pretty) {
		if (ne) {
			fputc('\n', j->f);
			indent(j, j->depth);
		}
	} else if (!j->tight) {
		fputc(' ', j->f);
	}
	fputc(c, j->f);
}

void json_object_begin(struct json *j)
{
	begin(j, '{');
}

void json_object_end(struct json *j)
{
	end(j, '}');
}

void json_array_begin(struct json *j)
{
	begin(j, '[');
}

void json_array_end(struct json *j)
{
	end(j, ']');
}

static void put_string(FILE *f, const uint8_t *s, size_t len)
{
	fputc('"', f);
	size_t run = 0; /* start of the bytes not written yet */
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		fwrite(s + run, 1, i - run, f);
		run = i + 1;
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		default:
			fprintf(f, "\\u%04x", c);
		}
	}
	fwrite(s + run, 1, len - run, f);
	fputc('"', f);
}

void json_keyn(struct json *j, const char *name, size_t len)
{
	prefix(j);
	put_string(j->f, (const uint8_t *)name, len);
	fputs(j->tight ? ":" : " : ", j->f);
	j->after_key = true;
}

void json_key(struct json *j, const char *name)
{
	json_keyn(j, name, strlen(name));
}

void json_string(struct json *j, const void *s, size_t len)
{
	prefix(j);
	put_string(j->f, s, len);
}

void json_cstring(struct json *j, const char *s)
{
	json_string(j, s, strlen(s));
}

void json_value(struct json *j, const void *v, size_t len)
{
	const uint8_t *p = v;
	if (text_printable(p, len, true)) {
		json_string(j, p, len);
		return;
	}
	json_array_begin(j);
	for (size_t i = 0; i < len; i++)
		json_u64(j, p[i]);
	json_array_end(j);
}

void json_u64(struct json *j, uint64_t v)
{
	prefix(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, int64_t v)
{
	prefix(j);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, bool v)
{
	prefix(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
	prefix(j);
	fputs("null", j->f);
}

void json_newline(struct json *j)
{
	fputc('\n', j->f);
}
