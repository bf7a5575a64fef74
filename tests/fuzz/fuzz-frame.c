/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the frame reader. The input is the byte stream; the
 * sizes of the pushes come from a generator seeded by the input, so every
 * split is reachable. A reference parse of the input runs alongside: every
 * frame returned must be exactly the next frame of the input, and lie inside
 * the reader's buffer.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)            \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_reader r;
	uint32_t seed = 2166136261u;
	size_t pushed = 0, parsed = 0; /* reference parse position in data */
	int bad = 0;

	/* FNV-1a of the first bytes: the chunking varies with the input. */
	for (size_t i = 0; i < size && i < 8; i++)
		seed = (seed ^ data[i]) * 16777619u;
	if (!seed)
		seed = 1;

	frame_reader_init(&r);
	while (pushed < size && !bad) {
		size_t chunk, limit;
		const uint8_t *msg;
		size_t len;
		int ret;

		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		/* Mostly small pieces, sometimes up to one whole maximal frame. */
		limit = seed & 1 ? 8 : seed & 2 ? 300 : FRAME_HDR + FRAME_MAX;
		chunk = 1 + (seed >> 2) % limit;
		if (chunk > size - pushed)
			chunk = size - pushed;
		/* All whole frames were taken, so one maximal frame always fits. */
		REQUIRE(frame_reader_push(&r, data + pushed, chunk) == 0);
		pushed += chunk;

		while ((ret = frame_reader_next(&r, &msg, &len)) == 1) {
			size_t flen;

			REQUIRE(pushed - parsed >= FRAME_HDR);
			flen = (size_t)data[parsed] << 8 | data[parsed + 1];
			REQUIRE(flen > 0 && len == flen);
			REQUIRE(pushed - parsed - FRAME_HDR >= flen);
			REQUIRE(msg >= r.buf + FRAME_HDR && msg + len <= r.buf + r.start);
			REQUIRE(r.end <= FRAME_READER_CAP);
			REQUIRE(((size_t)msg[-2] << 8 | msg[-1]) == len);
			REQUIRE(memcmp(msg, data + parsed + FRAME_HDR, len) == 0);
			parsed += FRAME_HDR + len;
		}
		if (ret == -EPROTO) {
			REQUIRE(pushed - parsed >= FRAME_HDR);
			REQUIRE(data[parsed] == 0 && data[parsed + 1] == 0);
			bad = 1;
		} else {
			REQUIRE(ret == 0);
			/* Not a whole frame left. */
			if (pushed - parsed >= FRAME_HDR) {
				size_t flen = (size_t)data[parsed] << 8 | data[parsed + 1];
				REQUIRE(flen > 0 && pushed - parsed - FRAME_HDR < flen);
			}
		}
		REQUIRE(frame_reader_pending(&r) == pushed - parsed);
	}
	frame_reader_free(&r);
	return 0;
}
