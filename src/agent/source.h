/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The kmsg source: reads /dev/kmsg (or a regular file or FIFO in the same
 * text format, for tests and benchmarks), parses each record and hands it
 * to the sink. Kernel sequence jumps and ring overruns (EPIPE) become gap
 * records; lines that do not parse become malformed-event records holding
 * the raw bytes. Nothing is skipped without a record saying so.
 */

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "record.h"

struct source;

/* Called for every record, in kernel order. The record's buffers are valid
 * only during the call. Returns 0 or -errno (the source stops on error). */
typedef int (*source_sink_fn)(struct record *rec, void *data);
/* Called once per read burst, after the last record of the burst. */
typedef void (*source_flush_fn)(void *data);

struct source_stats {
	uint64_t records;
	uint64_t skipped; /* at or before the resume cursor: already spooled */
	uint64_t gaps;
	uint64_t missing; /* kernel records reported lost */
	uint64_t malformed;
	uint64_t truncated;	/* cut to fit RECORD_MAX (file and FIFO sources only) */
	uint64_t queue_dropped; /* device: records the full reader queue dropped (in a gap) */
	uint64_t queue_peak;	/* device: most bytes the reader queue held */
	int error;		/* -errno that ended reading (the loop was stopped), or 0 */
};

/*
 * Open path (O_RDONLY|O_NONBLOCK). Must be called while privileged, before
 * anything is parsed. Returns 0 or -errno.
 */
__attribute__((warn_unused_result)) int source_open(struct source **ret, const char *path,
						    const uint8_t boot_id[16]);
/*
 * Where to start (before source_start). With a cursor of this boot,
 * records up to kmsg_seq are skipped as already spooled and a record
 * beyond kmsg_seq + 1 yields a "cursor-overwritten" gap. Without one (or
 * with a cursor of another boot) reading starts at the ring's first record
 * (from_now false) or after its last (from_now true); either way the
 * records before the first one read are reported as a gap
 * ("overwritten-before-start" or "started-from-now").
 */
struct source_position {
	bool have_cursor;
	uint8_t boot_id[16];
	uint64_t kmsg_seq; /* last kmsg seq already spooled */
	bool from_now;
};
void source_set_position(struct source *s, const struct source_position *p);

/* The device's reader thread (kreader.h): its queue's size (default
 * SOURCE_QUEUE_DEFAULT), and rt_prio > 0 to run it at SCHED_FIFO
 * rt_prio (set by source_start, which then needs CAP_SYS_NICE). Before
 * source_start. */
#define SOURCE_QUEUE_DEFAULT (16u << 20)
void source_set_reader(struct source *s, size_t queue_bytes, int rt_prio);

/* Register with the loop and start reading. A device is read by a thread
 * started on the loop's first turn (so after a sandbox entered before
 * loop_run: the thread inherits it). A read error (other than
 * EAGAIN, EINTR, EPIPE) or a sink error stops the loop; stats.error says
 * which. */
__attribute__((warn_unused_result)) int source_start(struct source *s, struct loop *l, source_sink_fn sink,
						     source_flush_fn flush, void *data);
void source_get_stats(const struct source *s, struct source_stats *st);
void source_free(struct source *s);
