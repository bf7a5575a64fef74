/* SPDX-License-Identifier: ISC */

/*
 * libFuzzer target for the /dev/kmsg parser. Checks, besides memory safety:
 * - kmsg_parse fits in scratch of len + 64 bytes (the promise of kmsg.h;
 *   scratch is heap-allocated at exactly that size, so ASan sees overruns),
 *   leaves rec untouched on failure, and yields a record whose field area
 *   holds exactly nfields entries;
 * - a parsed record survives record_encode + record_decode unchanged
 *   (unless it is too large for one record: -EMSGSIZE);
 * - kmsg_record_span, walked over the input as a file, never returns more
 *   than it was given, always advances at EOF, and without EOF returns
 *   either 0 or the same span as at EOF.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmsg.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t enc[RECORD_MAX];

static void check_fields(const struct record *r)
{
	size_t off = 0, flen;
	const uint8_t *f;
	unsigned n = 0;

	while (record_field_next(r, &off, &f, &flen))
		n++;
	if (n != r->nfields || off != r->fields_len)
		abort();
}

static void check_round_trip(struct record *r)
{
	struct record d;
	int n;

	r->stream_seq = 1;
	r->real_usec = 2;
	memset(r->boot_id, 0xb0, sizeof(r->boot_id));
	n = record_encode(r, enc, sizeof(enc));
	if (n == -EMSGSIZE && record_encoded_len(r) > RECORD_MAX)
		return;
	if (n < 0 || (size_t)n != record_encoded_len(r))
		abort();
	if (record_decode(enc, (size_t)n, &d) != 0)
		abort();
	if (d.source != r->source || d.level != r->level || d.flags != r->flags ||
	    d.facility != r->facility || d.event != r->event || d.stream_seq != r->stream_seq ||
	    d.kmsg_seq != r->kmsg_seq || d.mono_usec != r->mono_usec || d.real_usec != r->real_usec ||
	    memcmp(d.boot_id, r->boot_id, sizeof(d.boot_id)) != 0 || d.msg_len != r->msg_len ||
	    d.nfields != r->nfields || d.fields_len != r->fields_len)
		abort();
	if ((d.msg_len && memcmp(d.msg, r->msg, d.msg_len) != 0) ||
	    (d.fields_len && memcmp(d.fields, r->fields, d.fields_len) != 0))
		abort();
}

static void parse_one(const uint8_t *data, size_t size)
{
	size_t cap = size + 64;
	uint8_t *scratch = malloc(cap);
	struct record r, before;
	int ret;

	if (!scratch)
		abort();
	memset(&r, 0x5a, sizeof(r));
	before = r;
	ret = kmsg_parse(data, size, &r, scratch, cap);
	if (ret == 0) {
		if (r.source != RECORD_SRC_KMSG || r.level > 7 || r.msg != scratch ||
		    (uint64_t)r.msg_len + r.fields_len > cap)
			abort();
		check_fields(&r);
		check_round_trip(&r);
	} else if (ret != -EBADMSG || memcmp(&r, &before, sizeof(r)) != 0) {
		abort();
	}
	free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos;

	parse_one(data, size);

	/* The input as a kmsg-format file: record by record. */
	pos = 0;
	while (pos < size) {
		size_t avail = size - pos;
		size_t n = kmsg_record_span(data + pos, avail, 1);
		size_t n0 = kmsg_record_span(data + pos, avail, 0);

		if (n == 0 || n > avail || (n0 != 0 && n0 != n))
			abort();
		/* Without EOF only a record followed by more input is decided. */
		if (n0 == 0 && n < avail)
			abort();
		parse_one(data + pos, n);
		pos += n;
	}
	return 0;
}
