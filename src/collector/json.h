/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * A small streaming JSON writer in journalctl's two layouts:
 *
 *   compact: one line, { "KEY" : "value", "A" : [ 1, 2 ] } (the
 *                      spacing of journalctl up to systemd 245; --gaps
 *                      and --list-hosts), or tight (json_set_tight; -o
 *                      json): {"KEY":"value","A":[1,2]}, as journalctl 252
 *   pretty (-o json-pretty): one member or element per line, indented
 *                      with tabs, "KEY" : value, as journalctl 252
 *
 * Nesting is bounded by JSON_DEPTH_MAX; deeper calls are ignored.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

struct json {
	FILE *f;
	bool pretty;
	bool tight;
	int depth;
	bool after_key;
	bool nonempty[JSON_DEPTH_MAX];
};

void json_init(struct json *j, FILE *f, bool pretty);
/* The compact layout without blanks (no effect on pretty). */
void json_set_tight(struct json *j);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* A member's name; the next value call writes its value. */
void json_key(struct json *j, const char *name);
void json_keyn(struct json *j, const char *name, size_t len);
/* A string value, escaped as JSON requires (bytes >= 0x80 written as they are). */
void json_string(struct json *j, const void *s, size_t len);
void json_cstring(struct json *j, const char *s);
/*
 * A field value as journalctl writes it: a string when it is printable
 * UTF-8 (text_printable, newlines allowed), else an array of byte values.
 */
void json_value(struct json *j, const void *v, size_t len);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* End of a top-level value: a newline. */
void json_newline(struct json *j);
