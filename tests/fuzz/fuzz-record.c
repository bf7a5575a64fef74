/* SPDX-License-Identifier: ISC */

/*
 * libFuzzer target for record_decode (bytes from the network, the spool and
 * the store). The input is copied to a buffer of exactly its size, so ASan
 * sees any read past it. A decoded record must re-encode to exactly the
 * input bytes (the encoding has no slack: every byte is accounted for), its
 * field area must iterate to exactly nfields entries, and a failed decode
 * must leave rec untouched.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t enc[RECORD_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	struct record r, before;
	const uint8_t *f;
	size_t off = 0, flen;
	unsigned count = 0;
	int ret, n;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	memset(&r, 0x5a, sizeof(r));
	before = r;
	ret = record_decode(copy, size, &r);
	if (ret != 0) {
		if (ret != -EBADMSG || memcmp(&r, &before, sizeof(r)) != 0)
			abort();
		free(copy);
		return 0;
	}

	if (r.level > 7 || r.source < RECORD_SRC_KMSG || r.source > RECORD_SRC_COLLECTOR)
		abort();
	while (record_field_next(&r, &off, &f, &flen))
		count++;
	if (count != r.nfields || off != r.fields_len)
		abort();

	if (record_encoded_len(&r) != size)
		abort();
	n = record_encode(&r, enc, sizeof(enc));
	if (n < 0 || (size_t)n != size || memcmp(enc, data, size) != 0)
		abort();
	free(copy);
	return 0;
}
