/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The completeness report of one host (kmsgctl --gaps).
 *
 * Fed every entry of the host's journal in stored order (an entry stored
 * early counts as held; it is not taken as a neighbour of the kernel
 * records stored around it), it knows per
 * boot which kernel sequence numbers it holds (a merged continuation
 * record holds KMSG_SEQ_FIRST .. its kmsg seq) and per stream which
 * stream sequence numbers. What is missing:
 *
 *   kernel: 0 .. the highest seq known for the boot (held, or named by a
 *           gap record), minus what is held. The kernel numbers every
 *           boot's records from 0, so a boot whose first held record is
 *           N > 0 misses 0 .. N-1. Records after the last one known
 *           cannot be known missing and are not reported.
 *   stream: 0 .. the highest stream seq known (held, or named by a gap
 *           record), minus the seqs of the agent's records held.
 *
 * Each missing range is split by cause:
 *   - an agent gap record naming kernel seqs (GAP_FIRST..GAP_LAST:
 *     ring-overrun, seq-jump, cursor-overwritten, overwritten-before-start,
 *     started-from-now) covers those seqs of its boot;
 *   - a hole in the kernel seqs of one stream, between two kernel records
 *     of that stream, is explained by the stream gap records (GAP_FIRST_
 *     STREAM_SEQ..GAP_LAST_STREAM_SEQ: queue-overflow, spool-full with the
 *     levels it dropped (GAP_COUNT_<LEVEL>), spool-unwritable, spool-torn,
 *     spool-damaged, the collector's stream-jump) that overlap the stream
 *     seqs between those two records, and by agent malformed-input records
 *     there (a line that did not parse took its seq with it);
 *   - what nothing explains is "unknown".
 * Stream ranges are split by the stream gap records alone.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "journal.h"

struct gaps;

__attribute__((warn_unused_result)) int gaps_new(struct gaps **ret);
void gaps_free(struct gaps *g);

/* One entry, in stored order. 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int gaps_add(struct gaps *g, const struct journal_entry *e);

/* The collector acknowledged stream id's records below hwm (its acked
 * file, docs/STORE.md): those not held are missing, cause "acked-lost".
 * 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int gaps_acked(struct gaps *g, const uint8_t id[16], uint64_t hwm);

/* After the last entry: resolve the causes. 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int gaps_finish(struct gaps *g);

/* Missing ranges (kernel and stream, before splitting by cause). */
size_t gaps_count(const struct gaps *g);

struct gaps_report_opts {
	const uint8_t (*boots)[16]; /* only these boot ids (and the streams that
				     * carry records of them); NULL for all */
	size_t nboots;
	bool json, pretty; /* one JSON object (pretty: json-pretty); else text */
	/*
	 * Text: every missing range on a line of its own (kmsgctl
	 * --gaps=full). Without it, a summary: consecutive missing ranges
	 * with the same causes (only held records between them) on one line
	 * with their count, number of gaps and the times of their gap
	 * records; more than 8 held ranges of a boot or stream as
	 * first-last with their count and number. JSON always lists every
	 * range.
	 */
	bool full;
	bool utc; /* times in UTC, else local */
};

/*
 * Print the report of host to f. Returns 1 when something is missing in
 * what was printed, 0 when it is complete. Kernel records missing by the
 * agent's declared choice (before the first record held of a boot, cause
 * "started-from-now" alone: kmsg.from = "now") are printed, marked
 * declared, and do not make the report incomplete.
 */
int gaps_report(const struct gaps *g, const char *host, const struct gaps_report_opts *o, FILE *f);
