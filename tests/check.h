/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Tiny test harness: CHECK() records a failure with file and line and goes
 * on; a test binary returns the failure count (meson reads non-zero as a
 * failed test). Use CHECK_EQ_MEM for byte comparisons; it prints both sides.
 */

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                                        \
		}                                                                                \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                             \
	do {                                                                                           \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                        \
		if (check_a_ != check_b_) {                                                            \
			fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
				check_a_, check_b_);                                                   \
			check_failures++;                                                              \
		}                                                                                      \
	} while (0)

static inline void check_hex(const char *tag, const void *p, size_t n)
{
	const unsigned char *b = p;
	fprintf(stderr, "  %s: ", tag);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", b[i]);
	fputc('\n', stderr);
}

#define CHECK_EQ_MEM(a, b, n)                                                             \
	do {                                                                              \
		if (memcmp((a), (b), (n)) != 0) {                                         \
			fprintf(stderr, "%s:%d: %s != %s\n", __FILE__, __LINE__, #a, #b); \
			check_hex(#a, (a), (n));                                          \
			check_hex(#b, (b), (n));                                          \
			check_failures++;                                                 \
		}                                                                         \
	} while (0)

#define CHECK_DONE() (check_failures == 0 ? 0 : 1)
