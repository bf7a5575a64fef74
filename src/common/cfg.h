/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Typed, checked access to a libconfig file. Every getter validates type
 * and range and records the first error as "FILE:LINE: SETTING: expected
 * ..." (cfg_error). After all lookups, cfg_finish reports any setting that
 * was never looked up as unknown. Paths are libconfig paths ("a.b.c").
 */

#include <stdbool.h>
#include <stddef.h>

struct cfg;

/* Parse file. On a syntax error returns -EINVAL and sets *ret anyway so
 * cfg_error() can be read; -ENOENT etc. from open likewise. ret must be
 * freed with cfg_free in every case where it was set. */
__attribute__((warn_unused_result)) int cfg_load(struct cfg **ret, const char *path);
/* Same, from a string (tests, fuzzers); name is used in messages. */
__attribute__((warn_unused_result)) int cfg_load_string(struct cfg **ret, const char *name, const char *text);
void cfg_free(struct cfg *c);

/* Getters: a missing setting leaves *out at its default and returns 0 (or
 * -ENOENT and an error when required). A wrong type or out-of-range value
 * returns -EINVAL and records the error. */
int cfg_int(struct cfg *c, const char *path, bool required, long long min, long long max, long long *out);
int cfg_bool(struct cfg *c, const char *path, bool required, bool *out);
/* *out points into the config (valid until cfg_free). */
int cfg_string(struct cfg *c, const char *path, bool required, const char **out);
/* One of choices (NULL-terminated); *out = index. */
int cfg_enum(struct cfg *c, const char *path, bool required, const char *const *choices, int *out);
/* Size like "64M", "1G", "4096", or integer; K/M/G/T binary. */
int cfg_size(struct cfg *c, const char *path, bool required, unsigned long long min, unsigned long long max,
	     unsigned long long *out);
/* Duration like "30s", "5min", "1h", "2d", "500ms", or integer seconds; result in ms. */
int cfg_duration_ms(struct cfg *c, const char *path, bool required, unsigned long long min,
		    unsigned long long max, unsigned long long *out);

/* Lists/groups: number of elements of a list/array/group at path (0 when
 * missing). Elements are addressed as "path.[i]" in the getters above, and
 * members of a list element as "path.[i].name". */
int cfg_count(struct cfg *c, const char *path);
/* True when path exists. Marks nothing as used. */
bool cfg_exists(struct cfg *c, const char *path);

/* Report settings never looked up ("unknown setting"). 0 or -EINVAL. */
int cfg_finish(struct cfg *c);

/* First error recorded, or NULL. Format: "FILE:LINE: message". */
const char *cfg_error(const struct cfg *c);
/* Record a custom error about path (e.g. a cross-field check). Returns -EINVAL. */
int cfg_fail(struct cfg *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
