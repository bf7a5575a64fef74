/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cont.h"

/* Room for the two fields added at the end ("KMSG_SEQ_FIRST=" + 20
 * digits, "KMSG_FRAGMENTS=" + 10 digits, their u16 lengths). */
#define CONT_TAIL_ROOM 80

struct cont {
	bool held;
	struct record first; /* msg and fields point into the buffers below */
	uint64_t first_seq;
	uint32_t fragments;
	uint8_t *msg;
	size_t msg_len;
	struct record_fields fb;
	uint8_t *fields;
};

int cont_new(struct cont **ret)
{
	struct cont *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->msg = malloc(RECORD_MAX);
	c->fields = malloc(RECORD_MAX);
	if (!c->msg || !c->fields) {
		cont_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void cont_free(struct cont *c)
{
	if (!c)
		return;
	free(c->msg);
	free(c->fields);
	free(c);
}

bool cont_pending(const struct cont *c)
{
	return c->held;
}

static bool is_fragment(const struct record *r)
{
	return r->source == RECORD_SRC_KMSG && (r->flags & RECORD_F_FRAGMENT);
}

/* '+' fragments carry KMSG_FLAGS=+; 'c' fragments carry no KMSG_FLAGS. */
static bool is_plus(const struct record *r)
{
	const uint8_t *v;
	size_t vlen;
	return is_fragment(r) && record_field_get(r, "KMSG_FLAGS", &v, &vlen) == 1 && vlen == 1 &&
	       v[0] == '+';
}

/* Bytes the merged record would take with what is held now. */
static size_t held_size(const struct cont *c)
{
	return RECORD_HDR_LEN + c->msg_len + c->fb.len + CONT_TAIL_ROOM;
}

/* Fields are copied as encoded (u16 length, bytes): no need to split them. */
static void append_fields(struct cont *c, const struct record *r, bool skip_flags)
{
	size_t off = 0;
	const uint8_t *f;
	size_t flen;
	while (record_field_next(r, &off, &f, &flen) == 1) {
		if (skip_flags && flen >= 11 && memcmp(f, "KMSG_FLAGS=", 11) == 0)
			continue;
		if (held_size(c) + 2 + flen > RECORD_MAX || c->fb.count == UINT16_MAX) {
			c->first.flags |= RECORD_F_TRUNCATED;
			continue;
		}
		put_be16(c->fb.buf + c->fb.len, (uint16_t)flen);
		memcpy(c->fb.buf + c->fb.len + 2, f, flen);
		c->fb.len += 2 + flen;
		c->fb.count++;
	}
}

static void hold(struct cont *c, const struct record *r)
{
	c->held = true;
	c->first = *r;
	c->first_seq = r->kmsg_seq;
	c->fragments = 1;
	c->fb = (struct record_fields){ .buf = c->fields, .cap = RECORD_MAX };
	c->msg_len = r->msg_len;
	memcpy(c->msg, r->msg, r->msg_len);
	append_fields(c, r, false);
}

static void add(struct cont *c, const struct record *r)
{
	size_t held = held_size(c);
	size_t room = held < RECORD_MAX ? RECORD_MAX - held : 0;
	size_t n = r->msg_len <= room ? r->msg_len : room;
	if (n < r->msg_len)
		c->first.flags |= RECORD_F_TRUNCATED;
	memcpy(c->msg + c->msg_len, r->msg, n);
	c->msg_len += n;
	c->first.kmsg_seq = r->kmsg_seq;
	c->fragments++;
	append_fields(c, r, true);
}

int cont_flush(struct cont *c, cont_emit_fn emit, void *data)
{
	if (!c->held)
		return 0;
	c->held = false;
	struct record out = c->first;
	out.msg = c->msg;
	out.msg_len = (uint32_t)c->msg_len;
	if (c->fragments > 1) {
		out.flags = (uint8_t)((out.flags & ~RECORD_F_FRAGMENT) | RECORD_F_CONT);
		/* CONT_TAIL_ROOM was kept free for these two. */
		if (record_fields_addf(&c->fb, "KMSG_SEQ_FIRST", "%llu", (unsigned long long)c->first_seq) <
			    0 ||
		    record_fields_addf(&c->fb, "KMSG_FRAGMENTS", "%u", c->fragments) < 0)
			out.flags |= RECORD_F_TRUNCATED;
	}
	out.fields = c->fields;
	out.fields_len = c->fb.len;
	out.nfields = c->fb.count;
	/* A first fragment near the limit leaves no room for the tail. */
	record_fit(&out);
	return emit(&out, data);
}

int cont_push(struct cont *c, const struct record *rec, cont_emit_fn emit, void *data)
{
	int r;
	if (is_plus(rec) && c->held) {
		add(c, rec);
		return 0;
	}
	if ((r = cont_flush(c, emit, data)) < 0)
		return r;
	if (is_fragment(rec) && !is_plus(rec)) {
		hold(c, rec);
		return 0;
	}
	struct record copy = *rec;
	return emit(&copy, data);
}
