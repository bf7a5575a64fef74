/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for kmsgctl's argument parsing: --since/--until times
 * (timestamp_parse, then formatting what it returned), -p, --facility,
 * FIELD=VALUE matches and -g patterns (compiled, then run on the rest of
 * the input). The first byte picks the parser; the rest, cut at NUL, is
 * the argument (matches: one per line).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "timestamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
bool store_name_valid(const char *name);

/* view.c links cursor.c, whose parser asks the store whether a host name
 * is valid; no parser here reaches it (the store is not linked in). */
bool store_name_valid(const char *name)
{
	abort();
}

/* A fixed "now", so that runs reproduce: 2026-11-28 12:00:00 UTC. */
#define NOW_USEC UINT64_C(1795867200000000)
/* glibc's regex engine is exponential in stacked repetitions ("x+++++"):
 * the user's own pattern, the user's own wait (journalctl's PCRE2 has the
 * same). Patterns are kept short, with few repetition operators. */
#define GREP_MAX 48
#define GREP_REPEATS_MAX 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0] % 5;
	char *arg = malloc(size);
	if (!arg)
		return 0;
	memcpy(arg, data + 1, size - 1);
	arg[size - 1] = '\0';
	struct filter f;
	filter_init(&f);
	switch (which) {
	case 0: {
		uint64_t t = 0;
		if (timestamp_parse(arg, NOW_USEC, &t) == 0) {
			char buf[64];
			timestamp_format(buf, sizeof(buf), t, TS_FULL, true);
			timestamp_format(buf, sizeof(buf), t, TS_ISO, true);
			timespan_format(buf, sizeof(buf), (int64_t)(t - NOW_USEC));
		}
		break;
	}
	case 1:
		(void)filter_priority(&f, arg);
		break;
	case 2:
		(void)filter_facility(&f, arg);
		break;
	case 3:
		for (char *line = arg, *next; line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (filter_match(&f, line) == -ENOMEM)
				break;
		}
		break;
	case 4: {
		size_t plen = strlen(arg);
		if (plen > GREP_MAX)
			plen = GREP_MAX;
		char pat[GREP_MAX + 1], err[128];
		memcpy(pat, arg, plen);
		pat[plen] = '\0';
		size_t repeats = 0;
		for (size_t i = 0; i < plen; i++)
			repeats += strchr("*+?{", pat[i]) != NULL;
		if (repeats > GREP_REPEATS_MAX)
			break;
		if (filter_grep(&f, pat, -1, err, sizeof(err)) == 0) {
			/* The message is NUL-terminated although the search is
			 * bounded (REG_STARTEND): ASan's regexec interceptor
			 * reads up to the NUL whatever the flags, which glibc
			 * does not. */
			size_t so, eo, mlen = size - 1 - plen;
			uint8_t *msg = malloc(mlen + 1);
			if (msg) {
				memcpy(msg, data + 1 + plen, mlen);
				msg[mlen] = '\0';
				if (filter_grep_find(&f, msg, mlen, &so, &eo) && (so > eo || eo > mlen))
					abort();
				free(msg);
			}
		}
		break;
	}
	}
	filter_free(&f);
	free(arg);
	return 0;
}
