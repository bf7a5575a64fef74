/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * kmsgctl's cursor: the position of one stored record, for --cursor,
 * --after-cursor, --show-cursor and the __CURSOR field.
 *
 *   h=HOST;o=OFFSET;s=STREAM_ID;q=STREAM_SEQ
 *
 *   h  the host (its directory name in the store)
 *   o  the entry's logical position in the host's journal (docs/STORE.md:
 *      segment base + offset in the segment file), decimal
 *   s  the agent's stream id, 32 lower-case hex digits
 *   q  the record's stream sequence number, decimal
 *
 * o locates the entry; s and q identify the record
 * independently of the file layout, and are checked against the entry
 * found at o so that a cursor never silently lands on another record.
 * (Collector records share the stream seq of their session; o tells
 * them apart.) The keys may come in any order; unknown keys are errors.
 */

#include <stdint.h>
#include <sys/types.h>

#include "journal.h"
#include "store.h"

#define CURSOR_MAX (2 + STORE_NAME_MAX + 3 + 20 + 3 + 32 + 3 + 20 + 1)

struct cursor {
	char host[STORE_NAME_MAX + 1];
	off_t offset;
	uint8_t stream_id[16];
	uint64_t stream_seq;
};

/* Writes the cursor of entry e of host into buf (cap >= CURSOR_MAX). */
void cursor_format(char *buf, size_t cap, const char *host, const struct journal_entry *e);

/* 0, or -EINVAL when s is not a cursor; *ret untouched on failure. */
__attribute__((warn_unused_result)) int cursor_parse(const char *s, struct cursor *ret);

/* True when e is the record c names (stream id and seq; the offset is the caller's). */
int cursor_matches(const struct cursor *c, const struct journal_entry *e);
