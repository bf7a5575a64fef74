/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The agent's outbound queue: encoded records in stream-sequence order,
 * kept until the collector acks them. This is the in-memory version; the
 * on-disk spool (docs/SPOOL.md) implements the same interface.
 *
 * Every record appended gets the next stream sequence number. When the byte
 * bound is reached the oldest records are dropped; the drop is counted and
 * reported by a gap record (GAP_CAUSE=queue-overflow) appended right after.
 */

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct queue;

struct queue_stats {
	uint64_t appended;
	uint64_t acked;
	uint64_t dropped;
	size_t bytes;
};

__attribute__((warn_unused_result)) int queue_new(struct queue **ret, size_t max_bytes,
						  const uint8_t boot_id[16]);
void queue_free(struct queue *q);

/* Assigns rec->stream_seq and stores an encoded copy. 0 or -errno. */
__attribute__((warn_unused_result)) int queue_append(struct queue *q, struct record *rec);

/* Lowest stream seq still held, and the seq the next append gets. */
uint64_t queue_first_seq(const struct queue *q);
uint64_t queue_next_seq(const struct queue *q);

/* Encoded record with stream seq, or -ENOENT (acked or dropped). */
int queue_get(const struct queue *q, uint64_t seq, const uint8_t **buf, size_t *len);

/* The collector holds every record below hwm: free them. */
void queue_ack(struct queue *q, uint64_t hwm);

void queue_get_stats(const struct queue *q, struct queue_stats *st);
