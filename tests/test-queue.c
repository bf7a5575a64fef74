/* SPDX-License-Identifier: ISC */

/*
 * queue.c: sequence numbers, get and ack, the ring across growth and
 * wrap-around, and overflow: the oldest records go and a gap record
 * (GAP_CAUSE=queue-overflow) right after says which.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "queue.h"
#include "record.h"

static const uint8_t qboot[16] = { 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
				   0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf };
static uint8_t msgbuf[RECORD_MAX + 1];

/* A kmsg record with a message of msg_len bytes (encoded: 64 + msg_len). */
static struct record make_rec(uint32_t msg_len, uint64_t tag)
{
	struct record r = {
		.source = RECORD_SRC_KMSG,
		.level = 6,
		.kmsg_seq = tag,
		.mono_usec = tag * 10,
		.real_usec = UINT64_C(1700000000000000) + tag,
		.stream_seq = UINT64_MAX, /* the queue assigns it */
		.msg = msgbuf,
		.msg_len = msg_len,
	};

	memset(r.boot_id, 0x42, sizeof(r.boot_id));
	for (uint32_t i = 0; i < msg_len; i++)
		msgbuf[i] = (uint8_t)(tag + i);
	return r;
}

/* Decode seq from the queue: 1 and *out, or 0 if it is not there. */
static int get_rec(const struct queue *q, uint64_t seq, struct record *out)
{
	const uint8_t *buf;
	size_t len;
	int r = queue_get(q, seq, &buf, &len);

	if (r == -ENOENT)
		return 0;
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(record_decode(buf, len, out), 0);
	CHECK(out->stream_seq == seq);
	return 1;
}

/* seq is the kmsg record tagged tag, with msg_len bytes of message. */
static void check_rec(const struct queue *q, uint64_t seq, uint64_t tag, uint32_t msg_len)
{
	struct record r;

	if (!get_rec(q, seq, &r)) {
		fprintf(stderr, "seq %llu missing\n", (unsigned long long)seq);
		check_failures++;
		return;
	}
	CHECK_EQ_INT(r.source, RECORD_SRC_KMSG);
	CHECK(r.kmsg_seq == tag);
	CHECK_EQ_INT(r.msg_len, msg_len);
	if (r.msg_len == msg_len && msg_len > 0)
		CHECK_EQ_INT(r.msg[msg_len - 1], (uint8_t)(tag + msg_len - 1));
}

static void check_field(const struct record *r, const char *key, unsigned long long want)
{
	char buf[32];
	const uint8_t *v;
	size_t vlen;

	snprintf(buf, sizeof(buf), "%llu", want);
	if (record_field_get(r, key, &v, &vlen) != 1 || vlen != strlen(buf) || memcmp(v, buf, vlen) != 0) {
		fprintf(stderr, "field %s: want %s\n", key, buf);
		check_failures++;
	}
}

/* seq is a gap record reporting count drops from first, before a record tagged tag. */
static void check_gap(const struct queue *q, uint64_t seq, uint64_t first, uint64_t count, uint64_t tag)
{
	const uint8_t *v;
	struct record g;
	size_t vlen;

	if (!get_rec(q, seq, &g)) {
		fprintf(stderr, "gap record %llu missing\n", (unsigned long long)seq);
		check_failures++;
		return;
	}
	CHECK_EQ_INT(g.source, RECORD_SRC_AGENT);
	CHECK_EQ_INT(g.event, RECORD_EV_GAP);
	CHECK_EQ_INT(g.level, 4);
	CHECK_EQ_INT(g.facility, RECORD_FACILITY_EVENT);
	CHECK_EQ_MEM(g.boot_id, qboot, 16);
	CHECK(g.mono_usec == tag * 10);
	CHECK_EQ_INT(g.nfields, 4);
	CHECK(record_field_get(&g, "GAP_CAUSE", &v, &vlen) == 1 && vlen == 14 &&
	      memcmp(v, "queue-overflow", 14) == 0);
	check_field(&g, "GAP_COUNT", count);
	check_field(&g, "GAP_FIRST_STREAM_SEQ", first);
	check_field(&g, "GAP_LAST_STREAM_SEQ", first + count - 1);
}

static void test_append_get_ack(void)
{
	struct queue_stats st;
	struct queue *q;
	struct record r;
	const uint8_t *buf;
	size_t len, bytes = 0;

	CHECK_EQ_INT(queue_new(&q, 1 << 20, qboot), 0);
	CHECK_EQ_INT(queue_first_seq(q), 0);
	CHECK_EQ_INT(queue_next_seq(q), 0);
	CHECK_EQ_INT(queue_get(q, 0, &buf, &len), -ENOENT);

	for (uint64_t i = 0; i < 5; i++) {
		r = make_rec((uint32_t)(10 * i), i);
		CHECK_EQ_INT(queue_append(q, &r), 0);
		CHECK(r.stream_seq == i);
		CHECK_EQ_INT(queue_next_seq(q), i + 1);
		bytes += RECORD_HDR_LEN + 10 * i;
	}
	CHECK_EQ_INT(queue_first_seq(q), 0);
	for (uint64_t i = 0; i < 5; i++)
		check_rec(q, i, i, (uint32_t)(10 * i));
	/* The stored copy keeps the record's own boot id. */
	CHECK(get_rec(q, 4, &r) && r.boot_id[0] == 0x42);
	CHECK_EQ_INT(queue_get(q, 5, &buf, &len), -ENOENT);
	CHECK_EQ_INT(queue_get(q, UINT64_MAX, &buf, &len), -ENOENT);
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.appended, 5);
	CHECK_EQ_INT(st.acked, 0);
	CHECK_EQ_INT(st.dropped, 0);
	CHECK_EQ_INT(st.bytes, bytes);

	/* Ack below 3: 0..2 go. */
	queue_ack(q, 3);
	CHECK_EQ_INT(queue_first_seq(q), 3);
	CHECK_EQ_INT(queue_next_seq(q), 5);
	CHECK_EQ_INT(queue_get(q, 2, &buf, &len), -ENOENT);
	check_rec(q, 3, 3, 30);
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.acked, 3);
	CHECK_EQ_INT(st.bytes, 2 * RECORD_HDR_LEN + 30 + 40);

	/* An old or repeated ack changes nothing. */
	queue_ack(q, 2);
	queue_ack(q, 3);
	queue_ack(q, 0);
	CHECK_EQ_INT(queue_first_seq(q), 3);
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.acked, 3);

	/* Everything acked: empty, numbering goes on. */
	queue_ack(q, 5);
	CHECK_EQ_INT(queue_first_seq(q), 5);
	CHECK_EQ_INT(queue_next_seq(q), 5);
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.bytes, 0);
	CHECK_EQ_INT(st.acked, 5);
	r = make_rec(1, 5);
	CHECK_EQ_INT(queue_append(q, &r), 0);
	CHECK_EQ_INT(r.stream_seq, 5);

	/*
	 * An ack beyond the last record: the collector holds everything
	 * below 100, so all of it is freed and the next record is numbered
	 * 100 (a lower seq would be a duplicate to the collector).
	 */
	queue_ack(q, 100);
	CHECK_EQ_INT(queue_first_seq(q), 100);
	CHECK_EQ_INT(queue_next_seq(q), 100);
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.acked, 6);
	CHECK_EQ_INT(st.bytes, 0);
	CHECK_EQ_INT(queue_get(q, 5, &buf, &len), -ENOENT);
	r = make_rec(2, 100);
	CHECK_EQ_INT(queue_append(q, &r), 0);
	CHECK_EQ_INT(r.stream_seq, 100);
	check_rec(q, 100, 100, 2);

	/* RECORD_MAX fits; one byte more is refused and takes no seq. */
	r = make_rec(RECORD_MAX - RECORD_HDR_LEN, 7);
	CHECK_EQ_INT(queue_append(q, &r), 0);
	CHECK_EQ_INT(r.stream_seq, 101);
	r = make_rec(RECORD_MAX - RECORD_HDR_LEN + 1, 8);
	CHECK_EQ_INT(queue_append(q, &r), -EMSGSIZE);
	CHECK_EQ_INT(queue_next_seq(q), 102);
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.appended, 8);
	CHECK_EQ_INT(st.bytes, RECORD_HDR_LEN + 2 + RECORD_MAX);
	queue_free(q);
}

/* Acks and appends around the ring's 1024 initial slots and its growth. */
static void test_ring(void)
{
	struct queue *q;
	struct record r;

	CHECK_EQ_INT(queue_new(&q, 64 << 20, qboot), 0);
	for (uint64_t i = 0; i < 1000; i++) {
		r = make_rec((uint32_t)(i % 50), i);
		CHECK_EQ_INT(queue_append(q, &r), 0);
	}
	queue_ack(q, 900);
	/* 100 held from slot 900: these wrap, then the ring doubles twice. */
	for (uint64_t i = 1000; i < 4000; i++) {
		r = make_rec((uint32_t)(i % 50), i);
		CHECK_EQ_INT(queue_append(q, &r), 0);
		CHECK(r.stream_seq == i);
	}
	CHECK_EQ_INT(queue_first_seq(q), 900);
	CHECK_EQ_INT(queue_next_seq(q), 4000);
	for (uint64_t i = 900; i < 4000; i++)
		check_rec(q, i, i, (uint32_t)(i % 50));
	queue_ack(q, 3999);
	check_rec(q, 3999, 3999, 3999 % 50);
	queue_ack(q, 4000);
	CHECK_EQ_INT(queue_first_seq(q), 4000);
	queue_free(q);
}

/*
 * Append one record and check what the queue did: either nothing was
 * dropped and the record is the last, or the dropped range is reported by a
 * gap record just before it.
 */
static void append_checked(struct queue *q, size_t max_bytes, uint32_t msg_len, uint64_t tag)
{
	struct queue_stats before, after;
	uint64_t first = queue_first_seq(q), next = queue_next_seq(q);
	struct record r = make_rec(msg_len, tag);

	queue_get_stats(q, &before);
	CHECK_EQ_INT(queue_append(q, &r), 0);
	queue_get_stats(q, &after);
	CHECK(after.bytes <= max_bytes);
	if (queue_first_seq(q) == first) {
		CHECK_EQ_INT(after.dropped, before.dropped);
		CHECK(r.stream_seq == next);
	} else {
		uint64_t dropped = queue_first_seq(q) - first;

		CHECK_EQ_INT(after.dropped - before.dropped, dropped);
		check_gap(q, next, first, dropped, tag);
		CHECK(r.stream_seq == next + 1);
	}
	CHECK_EQ_INT(queue_next_seq(q), r.stream_seq + 1);
	check_rec(q, r.stream_seq, tag, msg_len);
}

static void test_overflow(void)
{
	/* Ten records of 200 bytes, plus the room kept for a gap record. */
	const size_t max = 10 * 200 + 512;
	struct queue_stats st;
	struct queue *q;
	struct record r;
	uint64_t tag = 0;

	CHECK_EQ_INT(queue_new(&q, max, qboot), 0);
	for (; tag < 10; tag++) {
		r = make_rec(200 - RECORD_HDR_LEN, tag);
		CHECK_EQ_INT(queue_append(q, &r), 0);
	}
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.bytes, 2000);
	CHECK_EQ_INT(st.dropped, 0);

	/* The 11th drops seq 0; the gap record is seq 10, the record 11. */
	r = make_rec(200 - RECORD_HDR_LEN, tag);
	CHECK_EQ_INT(queue_append(q, &r), 0);
	CHECK_EQ_INT(r.stream_seq, 11);
	CHECK_EQ_INT(queue_first_seq(q), 1);
	CHECK_EQ_INT(queue_next_seq(q), 12);
	check_gap(q, 10, 0, 1, tag);
	check_rec(q, 11, tag, 200 - RECORD_HDR_LEN);
	check_rec(q, 1, 1, 200 - RECORD_HDR_LEN);
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.dropped, 1);
	CHECK(st.bytes <= max);
	tag++;

	/* More of the same, then one large record that drops many (gap records too). */
	for (; tag < 60; tag++)
		append_checked(q, max, 200 - RECORD_HDR_LEN, tag);
	append_checked(q, max, 1500, tag++);
	append_checked(q, max, 10, tag++);

	/* An ack below what is held changes nothing. */
	uint64_t first = queue_first_seq(q);
	queue_get_stats(q, &st);
	queue_ack(q, first - 1);
	CHECK_EQ_INT(queue_first_seq(q), first);
	uint64_t acked = st.acked;
	queue_get_stats(q, &st);
	CHECK_EQ_INT(st.acked, acked);
	queue_free(q);
}

int main(void)
{
	test_append_get_ack();
	test_ring();
	test_overflow();
	return CHECK_DONE();
}
