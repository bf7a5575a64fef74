/* SPDX-License-Identifier: ISC */

/*
 * record.c: encoding against a layout written out by hand from record.h,
 * round trips, every decode rejection, the field accessors and builder.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "record.h"

static uint8_t big[RECORD_MAX + 64];
static uint8_t enc[RECORD_MAX + 64];
static uint8_t fbuf[RECORD_MAX + 64];

static void fill_header(struct record *r)
{
	memset(r, 0, sizeof(*r));
	r->source = RECORD_SRC_KMSG;
	r->level = 6;
	r->flags = RECORD_F_FRAGMENT;
	r->facility = 0x1234;
	r->event = 0;
	r->stream_seq = UINT64_C(0x0102030405060708);
	r->kmsg_seq = UINT64_MAX;
	r->mono_usec = UINT64_C(5678901);
	r->real_usec = UINT64_C(1700000000123456);
	for (int i = 0; i < RECORD_BOOT_ID_LEN; i++)
		r->boot_id[i] = (uint8_t)(0xa0 + i);
}

static void check_same(const struct record *a, const struct record *b)
{
	CHECK_EQ_INT(a->source, b->source);
	CHECK_EQ_INT(a->level, b->level);
	CHECK_EQ_INT(a->flags, b->flags);
	CHECK_EQ_INT(a->facility, b->facility);
	CHECK_EQ_INT(a->event, b->event);
	CHECK(a->stream_seq == b->stream_seq);
	CHECK(a->kmsg_seq == b->kmsg_seq);
	CHECK(a->mono_usec == b->mono_usec);
	CHECK(a->real_usec == b->real_usec);
	CHECK_EQ_MEM(a->boot_id, b->boot_id, RECORD_BOOT_ID_LEN);
	CHECK_EQ_INT(a->msg_len, b->msg_len);
	if (a->msg_len == b->msg_len && a->msg_len > 0)
		CHECK_EQ_MEM(a->msg, b->msg, a->msg_len);
	CHECK_EQ_INT(a->nfields, b->nfields);
	CHECK_EQ_INT(a->fields_len, b->fields_len);
	if (a->fields_len == b->fields_len && a->fields_len > 0)
		CHECK_EQ_MEM(a->fields, b->fields, a->fields_len);
}

/* Encode, decode, compare; returns the encoded length (or the error). */
static int round_trip(const struct record *r)
{
	struct record d;
	int n = record_encode(r, enc, sizeof(enc));

	CHECK_EQ_INT(n, RECORD_HDR_LEN + r->msg_len + r->fields_len);
	CHECK_EQ_INT(record_encoded_len(r), RECORD_HDR_LEN + r->msg_len + r->fields_len);
	if (n < 0)
		return n;
	CHECK_EQ_INT(record_decode(enc, (size_t)n, &d), 0);
	check_same(r, &d);
	/* The decoded views point into the input, not elsewhere. */
	CHECK(d.msg == enc + RECORD_HDR_LEN);
	CHECK(d.fields == enc + RECORD_HDR_LEN + r->msg_len);
	return n;
}

/* The layout of record.h, byte by byte, for a record with one field. */
static void test_layout(void)
{
	/* One row per line of the layout in record.h. */
	// clang-format off
	static const uint8_t expect[] = {
		/* version, source, level, flags */
		0x01, 0x04, 0x03, 0x05,
		/* facility 0x0102, event 0x0001 (gap) */
		0x01, 0x02, 0x00, 0x01,
		/* stream seq */
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
		/* kmsg seq */
		0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
		/* monotonic */
		0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
		/* realtime */
		0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
		/* boot id */
		0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
		/* message length 3, field count 1, reserved */
		0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00,
		/* message */
		'h', 0x00, 'i',
		/* field: length 5, "A=b\0c" */
		0x00, 0x05, 'A', '=', 'b', 0x00, 'c',
	};
	// clang-format on
	static const uint8_t field[] = { 0x00, 0x05, 'A', '=', 'b', 0x00, 'c' };
	static const uint8_t msg[] = { 'h', 0x00, 'i' };
	struct record r, d;
	uint8_t out[sizeof(expect)];

	memset(&r, 0, sizeof(r));
	r.source = RECORD_SRC_AGENT;
	r.level = 3;
	r.flags = RECORD_F_CONT | RECORD_F_MALFORMED;
	r.facility = 0x0102;
	r.event = RECORD_EV_GAP;
	r.stream_seq = UINT64_C(0x1011121314151617);
	r.kmsg_seq = UINT64_C(0x2021222324252627);
	r.mono_usec = UINT64_C(0x3031323334353637);
	r.real_usec = UINT64_C(0x4041424344454647);
	for (int i = 0; i < RECORD_BOOT_ID_LEN; i++)
		r.boot_id[i] = (uint8_t)(0xb0 + i);
	r.msg = msg;
	r.msg_len = sizeof(msg);
	r.nfields = 1;
	r.fields = field;
	r.fields_len = sizeof(field);

	CHECK_EQ_INT(record_encoded_len(&r), sizeof(expect));
	CHECK_EQ_INT(record_encode(&r, out, sizeof(out)), sizeof(expect));
	CHECK_EQ_MEM(out, expect, sizeof(expect));
	CHECK_EQ_INT(record_encode(&r, out, sizeof(out) - 1), -ENOSPC);

	CHECK_EQ_INT(record_decode(expect, sizeof(expect), &d), 0);
	check_same(&r, &d);
}

static void test_round_trips(void)
{
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	uint8_t msg[256];
	struct record r;
	char key[16];

	/* No message, no fields. */
	fill_header(&r);
	CHECK_EQ_INT(round_trip(&r), RECORD_HDR_LEN);

	/* Every byte value in the message, no fields. */
	for (int i = 0; i < 256; i++)
		msg[i] = (uint8_t)(255 - i);
	r.msg = msg;
	r.msg_len = sizeof(msg);
	CHECK_EQ_INT(round_trip(&r), RECORD_HDR_LEN + 256);

	/* One field, with a binary value. */
	CHECK_EQ_INT(record_fields_add(&fb, "BIN", msg, 10), 0);
	r.nfields = fb.count;
	r.fields = fb.buf;
	r.fields_len = fb.len;
	CHECK_EQ_INT(round_trip(&r), RECORD_HDR_LEN + 256 + 2 + 4 + 10);

	/* Many fields, one of them empty-valued. */
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "K%d", i);
		CHECK_EQ_INT(record_fields_addf(&fb, key, "%s", i == 100 ? "" : "value"), 0);
	}
	r.nfields = fb.count;
	r.fields_len = fb.len;
	CHECK_EQ_INT(r.nfields, 201);
	CHECK(round_trip(&r) > 0);

	/* Every source and level that is valid. */
	for (int s = RECORD_SRC_KMSG; s <= RECORD_SRC_COLLECTOR; s++) {
		for (int l = 0; l <= 7; l++) {
			r.source = (uint8_t)s;
			r.level = (uint8_t)l;
			CHECK(round_trip(&r) > 0);
		}
	}
}

static void test_max_sizes(void)
{
	struct record r, d;
	uint8_t field[2 + 9];

	/* A message that fills RECORD_MAX exactly. */
	fill_header(&r);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	r.msg = big;
	r.msg_len = RECORD_MAX - RECORD_HDR_LEN;
	CHECK_EQ_INT(round_trip(&r), RECORD_MAX);
	CHECK_EQ_INT(record_encode(&r, enc, RECORD_MAX - 1), -ENOSPC);

	/* The same with one field at the end. */
	put_be16(field, 9);
	memcpy(field + 2, "KEY=value", 9);
	r.msg_len = RECORD_MAX - RECORD_HDR_LEN - sizeof(field);
	r.nfields = 1;
	r.fields = field;
	r.fields_len = sizeof(field);
	CHECK_EQ_INT(round_trip(&r), RECORD_MAX);

	/* One byte more is -EMSGSIZE, whatever the room. */
	r.msg_len++;
	CHECK_EQ_INT(record_encoded_len(&r), RECORD_MAX + 1);
	CHECK_EQ_INT(record_encode(&r, enc, sizeof(enc)), -EMSGSIZE);
	CHECK_EQ_INT(record_encode(&r, enc, 10), -EMSGSIZE);
	r.msg_len = UINT32_MAX;
	CHECK_EQ_INT(record_encode(&r, enc, sizeof(enc)), -EMSGSIZE);

	/* A consistent encoding of RECORD_MAX + 1 bytes is still refused. */
	r.msg_len = RECORD_MAX - RECORD_HDR_LEN;
	r.nfields = 0;
	r.fields_len = 0;
	CHECK_EQ_INT(record_encode(&r, enc, sizeof(enc)), RECORD_MAX);
	put_be32(enc + 56, RECORD_MAX + 1 - RECORD_HDR_LEN);
	enc[RECORD_MAX] = 0;
	memset(&d, 0x5a, sizeof(d));
	CHECK_EQ_INT(record_decode(enc, RECORD_MAX + 1, &d), -EBADMSG);
}

/*
 * decode must fail and leave *rec as it was. The input is copied to a buffer
 * of exactly len bytes, so that ASan sees any read past it.
 */
static void check_reject(const uint8_t *buf, size_t len, int line)
{
	struct record d, before;
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	if (!copy)
		abort();
	memcpy(copy, buf, len);
	memset(&d, 0x5a, sizeof(d));
	before = d;
	r = record_decode(copy, len, &d);
	free(copy);
	if (r != -EBADMSG || memcmp(&d, &before, sizeof(d)) != 0) {
		fprintf(stderr, "check_reject from line %d: len %zu: %d\n", line, len, r);
		check_failures++;
	}
}
#define REJECT(buf, len) check_reject((buf), (len), __LINE__)

static void test_rejects(void)
{
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	static const uint8_t msg[] = "usb 1-1: new high-speed USB device";
	uint8_t v[1024];
	struct record r, d;
	size_t last_field;
	int n;

	fill_header(&r);
	r.msg = msg;
	r.msg_len = sizeof(msg) - 1;
	CHECK_EQ_INT(record_fields_add(&fb, "SUBSYSTEM", "usb", 3), 0);
	CHECK_EQ_INT(record_fields_add(&fb, "DEVICE", "c189:1", 6), 0);
	last_field = fb.len;
	CHECK_EQ_INT(record_fields_add(&fb, "X", "", 0), 0);
	r.nfields = fb.count;
	r.fields = fb.buf;
	r.fields_len = fb.len;
	n = record_encode(&r, v, sizeof(v));
	CHECK(n > RECORD_HDR_LEN);
	if (n <= RECORD_HDR_LEN)
		return;
	CHECK_EQ_INT(record_decode(v, (size_t)n, &d), 0);

	/* Every truncation. */
	for (int len = 0; len < n; len++)
		REJECT(v, (size_t)len);

	/* Trailing garbage. */
	v[n] = 0;
	REJECT(v, (size_t)n + 1);

	/* Version. */
	v[0] = 0;
	REJECT(v, (size_t)n);
	v[0] = 2;
	REJECT(v, (size_t)n);
	v[0] = RECORD_VERSION;

	/* Source 0 and 6. */
	v[1] = 0;
	REJECT(v, (size_t)n);
	v[1] = 6;
	REJECT(v, (size_t)n);
	v[1] = 0xff;
	REJECT(v, (size_t)n);
	v[1] = RECORD_SRC_KMSG;

	/* Level 8. */
	v[2] = 8;
	REJECT(v, (size_t)n);
	v[2] = 0xff;
	REJECT(v, (size_t)n);
	v[2] = 6;

	/* Reserved, either byte. */
	v[62] = 1;
	REJECT(v, (size_t)n);
	v[62] = 0;
	v[63] = 0x80;
	REJECT(v, (size_t)n);
	v[63] = 0;

	/* Field count: too many, too few, none. */
	put_be16(v + 60, 4);
	REJECT(v, (size_t)n);
	put_be16(v + 60, 2);
	REJECT(v, (size_t)n);
	put_be16(v + 60, 0);
	REJECT(v, (size_t)n);
	put_be16(v + 60, UINT16_MAX);
	REJECT(v, (size_t)n);
	put_be16(v + 60, 3);

	/* Message length past the end, and one short (fields then misparse). */
	put_be32(v + 56, (uint32_t)(n - RECORD_HDR_LEN + 1));
	REJECT(v, (size_t)n);
	put_be32(v + 56, UINT32_MAX);
	REJECT(v, (size_t)n);
	put_be32(v + 56, r.msg_len + 1);
	REJECT(v, (size_t)n);
	put_be32(v + 56, r.msg_len);

	/* The first field's length runs past the end (the others would follow it). */
	{
		uint8_t *ff = v + RECORD_HDR_LEN + r.msg_len;
		uint16_t l = get_be16(ff);

		put_be16(ff, (uint16_t)(r.fields_len - 2 + 1));
		REJECT(v, (size_t)n);
		put_be16(ff, (uint16_t)(r.fields_len - 2));
		REJECT(v, (size_t)n);
		put_be16(ff, l);
	}

	/* The last field's length runs past the end. */
	{
		uint8_t *lf = v + RECORD_HDR_LEN + r.msg_len + last_field;
		uint16_t l = get_be16(lf);

		put_be16(lf, (uint16_t)(l + 1));
		REJECT(v, (size_t)n);
		put_be16(lf, UINT16_MAX);
		REJECT(v, (size_t)n);
		put_be16(lf, l);
	}

	/* Everything restored: valid again (so the rejections above were for their reason). */
	CHECK_EQ_INT(record_decode(v, (size_t)n, &d), 0);
	check_same(&r, &d);

	/* Unknown flag bits and a non-zero event are the consumer's business. */
	v[3] = 0xff;
	put_be16(v + 6, 0xbeef);
	CHECK_EQ_INT(record_decode(v, (size_t)n, &d), 0);
	CHECK_EQ_INT(d.flags, 0xff);
	CHECK_EQ_INT(d.event, 0xbeef);
}

static void test_field_get(void)
{
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	const uint8_t *val, *f;
	struct record r;
	size_t vlen, off, flen;
	int count;

	CHECK_EQ_INT(record_fields_add(&fb, "KEYX", "x", 1), 0);
	CHECK_EQ_INT(record_fields_add(&fb, "KEY", "a=b", 3), 0);
	CHECK_EQ_INT(record_fields_add(&fb, "KEY", "second", 6), 0);
	CHECK_EQ_INT(record_fields_add(&fb, "EMPTY", "", 0), 0);
	/* A raw field without '=' (kmsg keeps such dictionary lines). */
	put_be16(fb.buf + fb.len, 5);
	memcpy(fb.buf + fb.len + 2, "NOKEY", 5);
	fb.len += 7;
	fb.count++;

	fill_header(&r);
	r.nfields = fb.count;
	r.fields = fb.buf;
	r.fields_len = fb.len;

	CHECK_EQ_INT(record_field_get(&r, "KEY", &val, &vlen), 1);
	CHECK_EQ_INT(vlen, 3);
	CHECK_EQ_MEM(val, "a=b", 3);
	CHECK_EQ_INT(record_field_get(&r, "KEYX", &val, &vlen), 1);
	CHECK_EQ_INT(vlen, 1);
	CHECK_EQ_MEM(val, "x", 1);
	CHECK_EQ_INT(record_field_get(&r, "EMPTY", &val, &vlen), 1);
	CHECK_EQ_INT(vlen, 0);
	/* Prefixes and longer names do not match. */
	CHECK_EQ_INT(record_field_get(&r, "KE", &val, &vlen), 0);
	CHECK_EQ_INT(record_field_get(&r, "KEYXY", &val, &vlen), 0);
	CHECK_EQ_INT(record_field_get(&r, "EMPT", &val, &vlen), 0);
	/* A field without '=' has no name. */
	CHECK_EQ_INT(record_field_get(&r, "NOKEY", &val, &vlen), 0);
	CHECK_EQ_INT(record_field_get(&r, "", &val, &vlen), 0);

	count = 0;
	off = 0;
	while (record_field_next(&r, &off, &f, &flen))
		count++;
	CHECK_EQ_INT(count, 5);
	CHECK_EQ_INT(off, fb.len);
	CHECK_EQ_INT(flen, 5);
	CHECK_EQ_MEM(f, "NOKEY", 5);

	/* A hand-built record whose last field runs past the area stops before it. */
	r.fields_len--;
	count = 0;
	off = 0;
	while (record_field_next(&r, &off, &f, &flen))
		count++;
	CHECK_EQ_INT(count, 4);
}

static void test_builder(void)
{
	uint8_t a[64], b[64];
	struct record_fields fa = { .buf = a, .cap = 12 };
	struct record_fields fbb = { .buf = b, .cap = 12 };
	static uint8_t huge[UINT16_MAX + 1];
	static uint8_t hbuf[2 * (UINT16_MAX + 2)];
	struct record_fields fh = { .buf = hbuf, .cap = sizeof(hbuf) };

	/* 2 + "KEY=" + 6 = 12: exact fit works for both adders, identically. */
	CHECK_EQ_INT(record_fields_add(&fa, "KEY", "abcdef", 6), 0);
	CHECK_EQ_INT(record_fields_addf(&fbb, "KEY", "%s%d", "abcde", 7), 0);
	CHECK_EQ_INT(fa.len, 12);
	CHECK_EQ_INT(fbb.len, 12);
	CHECK_EQ_INT(fa.count, 1);
	CHECK_EQ_MEM(a,
		     "\x00\x0a"
		     "KEY=abcdef",
		     12);
	CHECK_EQ_MEM(b,
		     "\x00\x0a"
		     "KEY=abcde7",
		     12);

	/* One byte short: -ENOSPC, nothing appended. */
	fa = (struct record_fields){ .buf = a, .cap = 11 };
	fbb = (struct record_fields){ .buf = b, .cap = 11 };
	CHECK_EQ_INT(record_fields_add(&fa, "KEY", "abcdef", 6), -ENOSPC);
	CHECK_EQ_INT(record_fields_addf(&fbb, "KEY", "%s", "abcdef"), -ENOSPC);
	CHECK_EQ_INT(fa.len, 0);
	CHECK_EQ_INT(fa.count, 0);
	CHECK_EQ_INT(fbb.len, 0);
	CHECK_EQ_INT(fbb.count, 0);
	/* Too small even for the key. */
	fbb.cap = 3;
	CHECK_EQ_INT(record_fields_addf(&fbb, "KEY", "%d", 1), -ENOSPC);
	CHECK_EQ_INT(fbb.len, 0);

	/* After a failure the builder still works and earlier entries stay. */
	fa = (struct record_fields){ .buf = a, .cap = sizeof(a) };
	CHECK_EQ_INT(record_fields_addf(&fa, "N", "%llu", (unsigned long long)UINT64_MAX), 0);
	CHECK_EQ_INT(fa.len, 2 + 2 + 20);
	fa.cap = fa.len + 6;
	CHECK_EQ_INT(record_fields_addf(&fa, "M", "%s", "12345"), -ENOSPC);
	CHECK_EQ_INT(fa.len, 24);
	CHECK_EQ_INT(record_fields_addf(&fa, "M", "%s", "12"), 0);
	CHECK_EQ_INT(fa.count, 2);
	CHECK_EQ_MEM(a,
		     "\x00\x16"
		     "N=18446744073709551615"
		     "\x00\x04"
		     "M=12",
		     29);

	/* A field is at most 65535 bytes: "K=" + 65533 fits, one more does not. */
	memset(huge, 'v', sizeof(huge));
	CHECK_EQ_INT(record_fields_add(&fh, "K", huge, UINT16_MAX - 2), 0);
	CHECK_EQ_INT(fh.len, 2 + UINT16_MAX);
	CHECK_EQ_INT(get_be16(hbuf), UINT16_MAX);
	CHECK_EQ_INT(record_fields_add(&fh, "K", huge, UINT16_MAX - 1), -ENOSPC);
	CHECK_EQ_INT(record_fields_addf(&fh, "K", "%.*s", UINT16_MAX - 1, (const char *)huge), -ENOSPC);
	CHECK_EQ_INT(fh.count, 1);
	fh = (struct record_fields){ .buf = hbuf, .cap = sizeof(hbuf) };
	CHECK_EQ_INT(record_fields_addf(&fh, "K", "%.*s", UINT16_MAX - 2, (const char *)huge), 0);
	CHECK_EQ_INT(fh.len, 2 + UINT16_MAX);
	CHECK_EQ_INT(hbuf[2 + UINT16_MAX - 1], 'v');
	CHECK_EQ_MEM(hbuf,
		     "\xff\xff"
		     "K=vvv",
		     7);

	/* At most 65535 fields. */
	fh = (struct record_fields){ .buf = hbuf, .cap = sizeof(hbuf), .count = UINT16_MAX - 1 };
	CHECK_EQ_INT(record_fields_add(&fh, "A", "", 0), 0);
	CHECK_EQ_INT(fh.count, UINT16_MAX);
	CHECK_EQ_INT(record_fields_add(&fh, "A", "", 0), -ENOSPC);
	CHECK_EQ_INT(record_fields_addf(&fh, "A", "%s", ""), -ENOSPC);
	CHECK_EQ_INT(fh.len, 4);
}

int main(void)
{
	test_layout();
	test_round_trips();
	test_max_sizes();
	test_rejects();
	test_field_get();
	test_builder();
	return CHECK_DONE();
}
