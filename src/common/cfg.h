/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Typed, checked access to a libconfig file. Every getter validates type
 * and range and records the first error as "FILE:LINE: SETTING: expected
 * ..." (cfg_error). After all lookups, cfg_finish reports any setting that
 * was never looked up as unknown. Paths are libconfig paths ("a.b.c");
 * an element is "[i]" ("list.[0].name"). A path that is malformed is
 * -EINVAL ("invalid setting path"); one that steps through a scalar is
 * -EINVAL with "FILE:LINE: a: expected a group" (or "a list").
 */

#include <stdbool.h>
#include <stddef.h>

struct cfg;

/* Parse file. On a syntax error returns -EINVAL and sets *ret anyway so
 * cfg_error() can be read; -ENOENT etc. from open likewise ("FILE: cannot
 * open: ..."; a directory is -EISDIR, over 64 MiB -EFBIG). ret must be
 * freed with cfg_free in every case where it was set (all but -ENOMEM).
 * Also -EINVAL: an integer literal that libconfig 1.5 would wrap (beyond
 * 32 bits without L, beyond 64 with L), "\x00" in a string, a NUL byte.
 * @include is libconfig's: relative to the working directory. */
__attribute__((warn_unused_result)) int cfg_load(struct cfg **ret, const char *path);
/* Same, from a string (tests, fuzzers); name is used in messages. */
__attribute__((warn_unused_result)) int cfg_load_string(struct cfg **ret, const char *name, const char *text);
void cfg_free(struct cfg *c);

/* Getters: a missing setting leaves *out at its default and returns 0 (or
 * -ENOENT and an error when required). A wrong type or out-of-range value
 * returns -EINVAL and records the error; *out is untouched on any error.
 * Each getter marks the setting and its parents as used. Integers may be
 * int or int64 (L) settings. */
int cfg_int(struct cfg *c, const char *path, bool required, long long min, long long max, long long *out);
int cfg_bool(struct cfg *c, const char *path, bool required, bool *out);
/* *out points into the config (valid until cfg_free). */
int cfg_string(struct cfg *c, const char *path, bool required, const char **out);
/* One of choices (NULL-terminated); *out = index. */
int cfg_enum(struct cfg *c, const char *path, bool required, const char *const *choices, int *out);
/* Size like "64M", "1G", "4096", or integer; K/M/G/T binary (upper case),
 * optionally followed by "iB" or "B" ("1KiB", "2MB"); "10B" is bytes. */
int cfg_size(struct cfg *c, const char *path, bool required, unsigned long long min, unsigned long long max,
	     unsigned long long *out);
/* Duration like "30s", "5min", "1h", "2d", "500ms", or integer seconds; result in ms.
 * Units: ms, s, m or min (minutes), h, d; several may follow each other
 * ("1h30min"); a string of digits alone is seconds. The error names the
 * range: "expected a duration such as 30s or 5min (between 1s and 1h)". */
int cfg_duration_ms(struct cfg *c, const char *path, bool required, unsigned long long min,
		    unsigned long long max, unsigned long long *out);

/* Lists/groups: number of elements of a list/array/group at path (0 when
 * missing, -EINVAL "expected a list" for a scalar). Marks it as used.
 * Elements are addressed as "path.[i]" in the getters above, and
 * members of a list element as "path.[i].name". */
int cfg_count(struct cfg *c, const char *path);
/* True when path exists. Marks nothing as used. */
bool cfg_exists(struct cfg *c, const char *path);

/* Report the first setting, in file order, never looked up:
 * "FILE:LINE: unknown setting 'a.[1].b'". 0, or -EINVAL when that or any
 * earlier error was recorded, so it can be the one check after the getters. */
int cfg_finish(struct cfg *c);

/* First error recorded, or NULL. Format: "FILE:LINE: message" ("FILE:
 * message" where there is no line, e.g. a missing setting outside any
 * group). */
const char *cfg_error(const struct cfg *c);
/* Record a custom error about path (e.g. a cross-field check) as
 * "FILE:LINE: PATH: message", with the line of the setting at path (or of
 * its nearest existing parent); path may be NULL. Returns -EINVAL. */
int cfg_fail(struct cfg *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether two optional string settings differ: one set and not the other,
 * or both set to different text (what a reload compares). */
bool cfg_str_differs(const char *a, const char *b);
