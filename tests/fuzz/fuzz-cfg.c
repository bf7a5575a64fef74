/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the config reader: parse the input as a config, run
 * the getters a daemon would, then cfg_finish. The settings it asks for
 * use short names so that mutations find them: a, b, s, d, n, m, g.{x,y},
 * l.[i].{x,n}.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5 leaks a string token that its parser rejects ('y "z";'):
 * bison drops the lookahead without freeing it. One string per failed
 * parse, inside the library. libconfig has no frame pointers, so its
 * stacks end in strbuf_append (its string builder) or, for "", in
 * libconfig_yylex; no setting is allocated from either, so a missing
 * config_destroy or any leak in cfg.c is still caught, through the
 * settings and cfg.c's own allocations. */
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const modes[] = { "none", "fast", "safe", NULL };
	static const char *const paths[] = { "a", "b", "s", "d", "g.x", "g.y", "l.[0]", "l.[0].x", "g.[1]" };
	unsigned long long u = 0;
	struct cfg *c = NULL;
	const char *str = NULL;
	long long v = 0;
	bool b = false;
	char *text;
	int m = 0, n;

	/* @include would read files (a directory makes libconfig's scanner
	 * exit(), /dev/stdin blocks): not what this target is about. */
	if (memmem(data, size, "@include", 8))
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (cfg_load_string(&c, "fuzz.conf", text) == 0) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			(void)cfg_int(c, paths[i], false, -100, 100000, &v);
			(void)cfg_size(c, paths[i], false, 0, 1ULL << 40, &u);
			(void)cfg_duration_ms(c, paths[i], false, 0, 86400000, &u);
			(void)cfg_exists(c, paths[i]);
		}
		(void)cfg_int(c, "a", true, 0, 10, &v);
		(void)cfg_bool(c, "b", false, &b);
		(void)cfg_size(c, "s", true, 4096, ~0ULL, &u);
		(void)cfg_duration_ms(c, "d", false, 1, ~0ULL, &u);
		(void)cfg_string(c, "n", false, &str);
		(void)cfg_enum(c, "m", false, modes, &m);
		(void)cfg_count(c, "g");
		n = cfg_count(c, "l");
		for (int i = 0; i < n && i < 64; i++) {
			char p[64];

			snprintf(p, sizeof(p), "l.[%d].x", i);
			(void)cfg_int(c, p, true, 0, 65535, &v);
			snprintf(p, sizeof(p), "l.[%d].n", i);
			(void)cfg_string(c, p, false, &str);
			snprintf(p, sizeof(p), "l.[%d]", i);
			(void)cfg_duration_ms(c, p, false, 0, ~0ULL, &u);
		}
		if (cfg_exists(c, "g.x") && !cfg_exists(c, "g.y"))
			(void)cfg_fail(c, "g.x", "needs g.y (%d)", n);
		(void)cfg_finish(c);
	}
	if (c && cfg_error(c) && strlen(cfg_error(c)) == 0)
		abort(); /* an error is never empty */
	cfg_free(c);
	free(text);
	return 0;
}
