/* SPDX-License-Identifier: ISC */
/* Continuation merging (src/agent/cont.c): kmsg lines parsed by kmsg_parse,
 * pushed through the merger, and the emitted records checked. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cont.h"
#include "kmsg.h"

#define MAXOUT 16

struct out {
	int n;
	uint8_t enc[MAXOUT][RECORD_MAX];
	struct record rec[MAXOUT];
};

/* Keep a decodable copy of each emitted record. */
static int collect(struct record *rec, void *data)
{
	struct out *o = data;
	if (o->n == MAXOUT)
		return -1;
	int n = record_encode(rec, o->enc[o->n], RECORD_MAX);
	CHECK(n > 0);
	if (n <= 0)
		return -1;
	CHECK_EQ_INT(record_decode(o->enc[o->n], (size_t)n, &o->rec[o->n]), 0);
	o->n++;
	return 0;
}

static void push_line(struct cont *c, struct out *o, const char *line)
{
	struct record rec;
	uint8_t scratch[4096];
	int r = kmsg_parse((const uint8_t *)line, strlen(line), &rec, scratch, sizeof(scratch));
	CHECK_EQ_INT(r, 0);
	if (r == 0)
		CHECK_EQ_INT(cont_push(c, &rec, collect, o), 0);
}

static int field_is(const struct record *r, const char *key, const char *want)
{
	const uint8_t *v;
	size_t vlen;
	if (record_field_get(r, key, &v, &vlen) != 1)
		return 0;
	return vlen == strlen(want) && memcmp(v, want, vlen) == 0;
}

static int msg_is(const struct record *r, const char *want)
{
	return r->msg_len == strlen(want) && memcmp(r->msg, want, r->msg_len) == 0;
}

static void test_merge(void)
{
	struct cont *c;
	struct out *o = calloc(1, sizeof(*o));
	CHECK_EQ_INT(cont_new(&c), 0);
	push_line(c, o, "6,10,1000,-;before\n");
	push_line(c, o, "4,11,2000,c;usb 1-1: \n SUBSYSTEM=usb\n");
	CHECK_EQ_INT(o->n, 1); /* the 'c' fragment is held */
	CHECK(cont_pending(c));
	push_line(c, o, "4,12,2001,+;part two, \n");
	push_line(c, o, "4,13,2002,+;end\n DEVICE=c189:1\n");
	CHECK_EQ_INT(o->n, 1);
	push_line(c, o, "6,14,3000,-;after\n");
	CHECK_EQ_INT(o->n, 3);
	CHECK(!cont_pending(c));
	CHECK(msg_is(&o->rec[0], "before"));
	const struct record *m = &o->rec[1];
	CHECK(msg_is(m, "usb 1-1: part two, end"));
	CHECK_EQ_INT(m->kmsg_seq, 13); /* the last fragment's: a cursor never re-reads */
	CHECK_EQ_INT(m->mono_usec, 2000);
	CHECK_EQ_INT(m->level, 4);
	CHECK(m->flags & RECORD_F_CONT);
	CHECK(!(m->flags & RECORD_F_FRAGMENT));
	CHECK(field_is(m, "KMSG_SEQ_FIRST", "11"));
	CHECK(field_is(m, "KMSG_FRAGMENTS", "3"));
	CHECK(field_is(m, "SUBSYSTEM", "usb"));
	CHECK(field_is(m, "DEVICE", "c189:1"));
	const uint8_t *v;
	size_t vlen;
	CHECK_EQ_INT(record_field_get(m, "KMSG_FLAGS", &v, &vlen), 0);
	CHECK(msg_is(&o->rec[2], "after"));
	cont_free(c);
	free(o);
}

/* A lone 'c' (flushed by the timeout) and a '+' without a 'c' pass unchanged. */
static void test_lone(void)
{
	struct cont *c;
	struct out *o = calloc(1, sizeof(*o));
	CHECK_EQ_INT(cont_new(&c), 0);
	push_line(c, o, "6,20,1,+;orphan continuation\n");
	CHECK_EQ_INT(o->n, 1);
	CHECK(o->rec[0].flags & RECORD_F_FRAGMENT);
	CHECK(field_is(&o->rec[0], "KMSG_FLAGS", "+"));
	push_line(c, o, "6,21,2,c;alone\n");
	CHECK_EQ_INT(o->n, 1);
	CHECK_EQ_INT(cont_flush(c, collect, o), 0);
	CHECK_EQ_INT(o->n, 2);
	CHECK(msg_is(&o->rec[1], "alone"));
	CHECK(o->rec[1].flags & RECORD_F_FRAGMENT);
	CHECK_EQ_INT(o->rec[1].kmsg_seq, 21);
	CHECK_EQ_INT(cont_flush(c, collect, o), 0); /* nothing held: nothing emitted */
	CHECK_EQ_INT(o->n, 2);
	/* Two 'c' in a row: the first is complete when the second arrives. */
	push_line(c, o, "6,22,3,c;one\n");
	push_line(c, o, "6,23,4,c;two\n");
	CHECK_EQ_INT(o->n, 3);
	CHECK(msg_is(&o->rec[2], "one"));
	cont_free(c);
	free(o);
}

/* Fragments that together exceed RECORD_MAX: cut, flagged, still valid. */
static void test_oversize(void)
{
	struct cont *c;
	struct out *o = calloc(1, sizeof(*o));
	CHECK_EQ_INT(cont_new(&c), 0);
	size_t big = 3000;
	char *line = malloc(big + 64);
	uint8_t *scratch = malloc(big + 128);
	for (int i = 0; i < 30; i++) {
		int h = snprintf(line, 64, "6,%d,5,%c;", 100 + i, i == 0 ? 'c' : '+');
		memset(line + h, 'a' + i % 26, big);
		line[h + big] = '\n';
		struct record rec;
		CHECK_EQ_INT(kmsg_parse((uint8_t *)line, (size_t)h + big + 1, &rec, scratch, big + 128), 0);
		CHECK_EQ_INT(cont_push(c, &rec, collect, o), 0);
	}
	CHECK_EQ_INT(cont_flush(c, collect, o), 0);
	CHECK_EQ_INT(o->n, 1);
	CHECK(o->rec[0].flags & RECORD_F_TRUNCATED);
	CHECK(record_encoded_len(&o->rec[0]) <= RECORD_MAX);
	CHECK_EQ_INT(o->rec[0].kmsg_seq, 129);
	free(line);
	free(scratch);
	cont_free(c);
	free(o);
}

int main(void)
{
	test_merge();
	test_lone();
	test_oversize();
	return CHECK_DONE();
}
