/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/*
 * A ring of pointers to malloc'd encoded records. Slot i holds stream seq
 * first + i; the ring grows by doubling. Records are variable-sized, so a
 * pointer per record keeps drop-oldest and ack O(1) each.
 */
struct qent {
	size_t len;
	uint8_t data[];
};

struct queue {
	struct qent **ring;
	size_t cap;   /* slots, power of two */
	size_t head;  /* slot of seq first */
	size_t count; /* records held */
	uint64_t first;
	size_t bytes;
	size_t max_bytes;
	uint8_t boot_id[16];
	struct queue_stats st;
	/* Drop episode not yet reported by a gap record. */
	uint64_t drop_first, drop_last, drop_count;
};

int queue_new(struct queue **ret, size_t max_bytes, const uint8_t boot_id[16])
{
	struct queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->cap = 1024;
	q->ring = calloc(q->cap, sizeof(*q->ring));
	if (!q->ring) {
		free(q);
		return -ENOMEM;
	}
	q->max_bytes = max_bytes;
	memcpy(q->boot_id, boot_id, 16);
	*ret = q;
	return 0;
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->count; i++)
		free(q->ring[(q->head + i) & (q->cap - 1)]);
	free(q->ring);
	free(q);
}

static int grow(struct queue *q)
{
	size_t ncap = q->cap * 2;
	struct qent **n = calloc(ncap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < q->count; i++)
		n[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = n;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

static void pop_front(struct queue *q)
{
	struct qent *e = q->ring[q->head];
	q->bytes -= e->len;
	free(e);
	q->ring[q->head] = NULL;
	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
	q->first++;
}

static int push(struct queue *q, const struct record *rec)
{
	size_t len = record_encoded_len(rec);
	if (q->count == q->cap) {
		int r = grow(q);
		if (r < 0)
			return r;
	}
	struct qent *e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	int n = record_encode(rec, e->data, len);
	if (n < 0) {
		free(e);
		return n;
	}
	e->len = (size_t)n;
	q->ring[(q->head + q->count) & (q->cap - 1)] = e;
	q->count++;
	q->bytes += e->len;
	q->st.appended++;
	return 0;
}

/* Drop oldest records until len more bytes fit; remember the range. */
static void make_room(struct queue *q, size_t len)
{
	while (q->count > 0 && q->bytes + len > q->max_bytes) {
		if (q->drop_count == 0)
			q->drop_first = q->first;
		q->drop_last = q->first;
		q->drop_count++;
		q->st.dropped++;
		pop_front(q);
	}
}

static int report_drops(struct queue *q, const struct record *next)
{
	uint8_t fbuf[256];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	static const char msg[] = "records dropped: agent queue full";
	if (record_fields_add(&fb, "GAP_CAUSE", "queue-overflow", 14) < 0 ||
	    record_fields_addf(&fb, "GAP_COUNT", "%llu", (unsigned long long)q->drop_count) < 0 ||
	    record_fields_addf(&fb, "GAP_FIRST_STREAM_SEQ", "%llu", (unsigned long long)q->drop_first) < 0 ||
	    record_fields_addf(&fb, "GAP_LAST_STREAM_SEQ", "%llu", (unsigned long long)q->drop_last) < 0)
		return -ENOSPC;
	struct record gap = {
		.source = RECORD_SRC_AGENT,
		.level = 4,
		.facility = RECORD_FACILITY_EVENT,
		.event = RECORD_EV_GAP,
		.stream_seq = q->first + q->count,
		.mono_usec = next->mono_usec,
		.real_usec = next->real_usec,
		.msg = (const uint8_t *)msg,
		.msg_len = sizeof(msg) - 1,
		.nfields = fb.count,
		.fields = fbuf,
		.fields_len = fb.len,
	};
	memcpy(gap.boot_id, q->boot_id, 16);
	int r = push(q, &gap);
	if (r == 0)
		q->drop_count = 0;
	return r;
}

int queue_append(struct queue *q, struct record *rec)
{
	size_t len = record_encoded_len(rec);
	if (len > RECORD_MAX)
		return -EMSGSIZE;
	/* Room for the record and for a gap record reporting the drop. */
	make_room(q, len + 512);
	if (q->drop_count > 0) {
		int r = report_drops(q, rec);
		if (r < 0)
			return r;
	}
	rec->stream_seq = q->first + q->count;
	return push(q, rec);
}

uint64_t queue_first_seq(const struct queue *q)
{
	return q->first;
}

uint64_t queue_next_seq(const struct queue *q)
{
	return q->first + q->count;
}

int queue_get(const struct queue *q, uint64_t seq, const uint8_t **buf, size_t *len)
{
	if (seq < q->first || seq >= q->first + q->count)
		return -ENOENT;
	const struct qent *e = q->ring[(q->head + (size_t)(seq - q->first)) & (q->cap - 1)];
	*buf = e->data;
	*len = e->len;
	return 0;
}

void queue_ack(struct queue *q, uint64_t hwm)
{
	while (q->count > 0 && q->first < hwm) {
		pop_front(q);
		q->st.acked++;
	}
	/* Records dropped before they were sent still count as gone. */
	if (q->count == 0 && q->first < hwm)
		q->first = hwm;
}

void queue_get_stats(const struct queue *q, struct queue_stats *st)
{
	*st = q->st;
	st->bytes = q->bytes;
}
