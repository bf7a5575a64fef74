/* SPDX-License-Identifier: ISC */

/*
 * Record encoding (layout in record.h).
 *
 * Decisions:
 * - record_decode is the only gate for bytes from the network, the spool and
 *   the store, so it is strict: every length is checked against the input,
 *   the field area must hold exactly nfields entries and nothing after them,
 *   and version, source, level and reserved must be valid. It does not look
 *   inside fields (a field need not contain '='; kmsg keeps dictionary lines
 *   without one as they were), nor at flag bits it does not know, nor at the
 *   event number: those are for the consumer to judge, and a newer agent may
 *   set them.
 * - record_encode copies what rec says without judging it: a record built
 *   with an invalid level or source or an inconsistent field area encodes,
 *   and record_decode rejects it later. Producers build records from
 *   kmsg_parse and the field builder, which only produce valid ones.
 * - Sizes are summed in uint64_t, so no sum of a u32 message length and a
 *   size_t field length can wrap.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "record.h"

/* Offsets of the header (record.h). */
#define OFF_VERSION 0
#define OFF_SOURCE 1
#define OFF_LEVEL 2
#define OFF_FLAGS 3
#define OFF_FACILITY 4
#define OFF_EVENT 6
#define OFF_STREAM_SEQ 8
#define OFF_KMSG_SEQ 16
#define OFF_MONO 24
#define OFF_REAL 32
#define OFF_BOOT_ID 40
#define OFF_MSG_LEN 56
#define OFF_NFIELDS 60
#define OFF_RESERVED 62

#define FIELD_HDR 2
#define FIELD_MAX UINT16_MAX

static uint64_t encoded_len64(const struct record *rec)
{
	return (uint64_t)RECORD_HDR_LEN + rec->msg_len + (uint64_t)rec->fields_len;
}

size_t record_encoded_len(const struct record *rec)
{
	uint64_t n = encoded_len64(rec);

	/* Only reachable on 32-bit hosts with absurd lengths; record_encode says -EMSGSIZE. */
	return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

int record_encode(const struct record *rec, uint8_t *out, size_t cap)
{
	uint64_t total = encoded_len64(rec);

	if (total > RECORD_MAX)
		return -EMSGSIZE;
	if (total > cap)
		return -ENOSPC;

	out[OFF_VERSION] = RECORD_VERSION;
	out[OFF_SOURCE] = rec->source;
	out[OFF_LEVEL] = rec->level;
	out[OFF_FLAGS] = rec->flags;
	put_be16(out + OFF_FACILITY, rec->facility);
	put_be16(out + OFF_EVENT, rec->event);
	put_be64(out + OFF_STREAM_SEQ, rec->stream_seq);
	put_be64(out + OFF_KMSG_SEQ, rec->kmsg_seq);
	put_be64(out + OFF_MONO, rec->mono_usec);
	put_be64(out + OFF_REAL, rec->real_usec);
	memcpy(out + OFF_BOOT_ID, rec->boot_id, RECORD_BOOT_ID_LEN);
	put_be32(out + OFF_MSG_LEN, rec->msg_len);
	put_be16(out + OFF_NFIELDS, rec->nfields);
	put_be16(out + OFF_RESERVED, 0);
	/* memcpy with a NULL source is undefined even for length 0. */
	if (rec->msg_len > 0)
		memcpy(out + RECORD_HDR_LEN, rec->msg, rec->msg_len);
	if (rec->fields_len > 0)
		memcpy(out + RECORD_HDR_LEN + rec->msg_len, rec->fields, rec->fields_len);
	return (int)total;
}

int record_decode(const uint8_t *buf, size_t len, struct record *ret_rec)
{
	struct record r;
	size_t off, n;
	uint16_t i;

	if (len < RECORD_HDR_LEN || len > RECORD_MAX)
		return -EBADMSG;
	if (buf[OFF_VERSION] != RECORD_VERSION)
		return -EBADMSG;
	if (buf[OFF_SOURCE] < RECORD_SRC_KMSG || buf[OFF_SOURCE] > RECORD_SRC_COLLECTOR)
		return -EBADMSG;
	if (buf[OFF_LEVEL] > 7)
		return -EBADMSG;
	if (get_be16(buf + OFF_RESERVED) != 0)
		return -EBADMSG;

	memset(&r, 0, sizeof(r));
	r.source = buf[OFF_SOURCE];
	r.level = buf[OFF_LEVEL];
	r.flags = buf[OFF_FLAGS];
	r.facility = get_be16(buf + OFF_FACILITY);
	r.event = get_be16(buf + OFF_EVENT);
	r.stream_seq = get_be64(buf + OFF_STREAM_SEQ);
	r.kmsg_seq = get_be64(buf + OFF_KMSG_SEQ);
	r.mono_usec = get_be64(buf + OFF_MONO);
	r.real_usec = get_be64(buf + OFF_REAL);
	memcpy(r.boot_id, buf + OFF_BOOT_ID, RECORD_BOOT_ID_LEN);
	r.msg_len = get_be32(buf + OFF_MSG_LEN);
	r.nfields = get_be16(buf + OFF_NFIELDS);

	/* len <= RECORD_MAX, so none of the sums below can wrap. */
	if (r.msg_len > len - RECORD_HDR_LEN)
		return -EBADMSG;
	r.msg = buf + RECORD_HDR_LEN;
	r.fields = r.msg + r.msg_len;
	r.fields_len = len - RECORD_HDR_LEN - r.msg_len;

	/* The field area is exactly nfields entries, each complete. */
	off = 0;
	for (i = 0; i < r.nfields; i++) {
		if (r.fields_len - off < FIELD_HDR)
			return -EBADMSG;
		n = get_be16(r.fields + off);
		off += FIELD_HDR;
		if (r.fields_len - off < n)
			return -EBADMSG;
		off += n;
	}
	if (off != r.fields_len)
		return -EBADMSG;

	*ret_rec = r;
	return 0;
}

int record_field_next(const struct record *rec, size_t *off, const uint8_t **f, size_t *flen)
{
	size_t n;

	/* Checked again here: rec may have been built by hand, not decoded. */
	if (*off > rec->fields_len || rec->fields_len - *off < FIELD_HDR)
		return 0;
	n = get_be16(rec->fields + *off);
	if (rec->fields_len - *off - FIELD_HDR < n)
		return 0;
	*f = rec->fields + *off + FIELD_HDR;
	*flen = n;
	*off += FIELD_HDR + n;
	return 1;
}

int record_field_get(const struct record *rec, const char *key, const uint8_t **val, size_t *vlen)
{
	size_t klen = strlen(key), off = 0, flen;
	const uint8_t *f;

	/* The first field whose name is exactly key: "KEY" must be followed by '='. */
	while (record_field_next(rec, &off, &f, &flen)) {
		if (flen > klen && f[klen] == '=' && memcmp(f, key, klen) == 0) {
			*val = f + klen + 1;
			*vlen = flen - klen - 1;
			return 1;
		}
	}
	return 0;
}

/* Room check shared by both adders: one more entry of n bytes. */
static int fields_room(const struct record_fields *fb, size_t n)
{
	if (fb->count == UINT16_MAX || n > FIELD_MAX)
		return -ENOSPC;
	if (fb->len > fb->cap || fb->cap - fb->len < FIELD_HDR + n)
		return -ENOSPC;
	return 0;
}

int record_fields_add(struct record_fields *fb, const char *key, const void *val, size_t vlen)
{
	size_t klen = strlen(key), n;
	uint8_t *p;

	if (klen >= FIELD_MAX || vlen > FIELD_MAX - klen - 1)
		return -ENOSPC;
	n = klen + 1 + vlen;
	if (fields_room(fb, n) < 0)
		return -ENOSPC;

	p = fb->buf + fb->len;
	put_be16(p, (uint16_t)n);
	memcpy(p + FIELD_HDR, key, klen);
	p[FIELD_HDR + klen] = '=';
	if (vlen > 0)
		memcpy(p + FIELD_HDR + klen + 1, val, vlen);
	fb->len += FIELD_HDR + n;
	fb->count++;
	return 0;
}

/*
 * vsnprintf needs a byte for its NUL after the value, but the entry may end
 * exactly at cap. So the value is formatted one byte early, over the place
 * of the '=' (which is always inside the buffer), and moved up by one: the
 * NUL then lands inside the value's own room and is overwritten. The room
 * rules are thus the same as record_fields_add's. On failure len and count
 * are unchanged; bytes after len may have been overwritten.
 */
int record_fields_addf(struct record_fields *fb, const char *key, const char *fmt, ...)
{
	size_t klen = strlen(key), room, vroom;
	uint8_t *p;
	va_list ap;
	int r;

	if (klen >= FIELD_MAX || fields_room(fb, klen + 1) < 0)
		return -ENOSPC;
	room = fb->cap - fb->len - FIELD_HDR;
	vroom = room - klen - 1;
	if (vroom > FIELD_MAX - klen - 1)
		vroom = FIELD_MAX - klen - 1;

	p = fb->buf + fb->len;
	va_start(ap, fmt);
	r = vsnprintf((char *)p + FIELD_HDR + klen, vroom + 1, fmt, ap);
	va_end(ap);
	/* r < 0 is an encoding error; r > vroom means the output was cut. */
	if (r < 0 || (size_t)r > vroom)
		return -ENOSPC;

	memmove(p + FIELD_HDR + klen + 1, p + FIELD_HDR + klen, (size_t)r);
	put_be16(p, (uint16_t)(klen + 1 + (size_t)r));
	memcpy(p + FIELD_HDR, key, klen);
	p[FIELD_HDR + klen] = '=';
	fb->len += FIELD_HDR + klen + 1 + (size_t)r;
	fb->count++;
	return 0;
}

int record_fit(struct record *rec)
{
	size_t len = record_encoded_len(rec);
	if (len <= RECORD_MAX)
		return 0;
	size_t over = len - RECORD_MAX;
	if (over <= rec->msg_len) {
		rec->msg_len -= (uint32_t)over;
	} else {
		/* Keep the fields that fit in what is left after the header. */
		rec->msg_len = 0;
		size_t off = 0, keep = 0, budget = RECORD_MAX - RECORD_HDR_LEN;
		uint16_t n = 0;
		const uint8_t *f;
		size_t flen;
		while (record_field_next(rec, &off, &f, &flen) == 1 && keep + 2 + flen <= budget) {
			keep += 2 + flen;
			n++;
		}
		rec->fields_len = keep;
		rec->nfields = n;
	}
	rec->flags |= RECORD_F_TRUNCATED;
	return 1;
}
