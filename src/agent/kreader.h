/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The kernel log reader thread: the only thread besides the event loop's.
 * It does nothing but read(2) records from /dev/kmsg (one record per read),
 * timestamp them and append them to a bounded in-memory queue; the event
 * loop drains the queue (source.c), woken through an eventfd. Nothing the
 * thread does waits on disk, network or crypto, so a printk storm is read
 * as fast as the kernel hands it out, whatever the spool and the uplink
 * are doing.
 *
 * Loss stays exact. A ring overrun (EPIPE) marks the next entry. A record
 * that finds the queue full is dropped and its kernel sequence number (the
 * header's second field: the only parsing the thread does) joins a "lost"
 * range, queued as one entry once half the queue is free again (records
 * read until then join the range); the drainer turns it into a gap
 * record (cause "queue-full"). The queue is a
 * single-producer single-consumer ring of queue_bytes, allocated at start:
 * memory is bounded by configuration (kmsg.queue_size).
 */

#include <stddef.h>
#include <stdint.h>

struct kreader;

enum kreader_kind {
	KREADER_RECORD, /* data, len: the bytes of one read(2) */
	KREADER_LOST,	/* the queue was full: seqs first..last dropped (count records) */
	KREADER_ERROR,	/* read(2) failed with -error (-ENODATA: it returned 0, end of
			 * file); the thread has ended */
};

struct kreader_item {
	enum kreader_kind kind;
	/* Ring overruns (EPIPE): bit 0, seen just before this entry; bit 1
	 * (LOST only), seen while the range was pending, so after it. */
	int overrun;
	uint64_t read_usec; /* CLOCK_MONOTONIC when read (RECORD), or when the loss began */
	const uint8_t *data;
	size_t len;
	uint64_t first, last, count; /* LOST; count may be below last - first + 1 when
				      * the ring also overran while the queue was full */
	int error;		     /* ERROR */
};

struct kreader_stats {
	uint64_t reads;	     /* records read */
	uint64_t overruns;   /* EPIPE returns */
	uint64_t dropped;    /* records dropped because the queue was full */
	uint64_t peak_bytes; /* highest queue fill seen by the thread */
	size_t queue_bytes;
};

/* Smallest queue: a few of the largest records (KMSG_READ_MAX). */
#define KREADER_QUEUE_MIN (64u << 10)

/*
 * A reader of fd (O_NONBLOCK; not closed by the reader) with a queue of
 * queue_bytes (at least KREADER_QUEUE_MIN). The thread is not started yet.
 * Returns 0 or -errno.
 */
__attribute__((warn_unused_result)) int kreader_new(struct kreader **ret, int fd, size_t queue_bytes);
/* The eventfd the drainer polls (EPOLLIN): readable after kreader_arm
 * when entries are queued. */
int kreader_wake_fd(const struct kreader *k);
/* Start the thread (after the sandbox is entered: it inherits it). The
 * thread has the creating thread's scheduling policy and priority. */
__attribute__((warn_unused_result)) int kreader_start(struct kreader *k);

/* Consumer side (one thread only). 1 and *it filled with the oldest entry
 * (valid until kreader_pop), or 0 when the queue is empty. */
int kreader_peek(struct kreader *k, struct kreader_item *it);
void kreader_pop(struct kreader *k);
/*
 * The drainer found the queue empty and goes to sleep: clears the eventfd
 * and asks the thread to signal it for the next entry. Returns 1 when an
 * entry arrived meanwhile (drain again now), else 0.
 */
int kreader_arm(struct kreader *k);
void kreader_get_stats(struct kreader *k, struct kreader_stats *st);
/* Stop and join the thread (if started), free everything. */
void kreader_free(struct kreader *k);
