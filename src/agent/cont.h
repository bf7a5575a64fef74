/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Continuation merger: kernels before 5.10 hand a line printed in pieces
 * (pr_cont) to /dev/kmsg readers as a fragment with FLAGS 'c', followed by
 * fragments with FLAGS '+' (docs/KMSG-FORMAT.md). The kernel documentation
 * asks readers to join them; this does.
 *
 * A 'c' fragment is held; each '+' that follows is appended to it; any
 * other record (or cont_flush) completes it. The merged record:
 *   msg        the fragments' texts, concatenated
 *   kmsg_seq   the LAST fragment's sequence number, so a resume cursor
 *              taken from it never re-reads a merged fragment
 *   fields     the first fragment's fields, then every '+' fragment's
 *              fields except KMSG_FLAGS, then KMSG_SEQ_FIRST=<first seq>
 *              and KMSG_FRAGMENTS=<count>
 *   flags      RECORD_F_CONT (and RECORD_F_TRUNCATED when the text or the
 *              fields had to be cut to stay within RECORD_MAX)
 *   the rest   level, facility, times, boot id of the first fragment
 * A lone 'c' with nothing after it, and a '+' with no 'c' before it, are
 * passed on unchanged (RECORD_F_FRAGMENT still set): nothing is invented.
 */

#include <stdbool.h>

#include "record.h"

struct cont;

typedef int (*cont_emit_fn)(struct record *rec, void *data);

__attribute__((warn_unused_result)) int cont_new(struct cont **ret);
void cont_free(struct cont *c);

/* Feed one parsed kmsg record (its buffers need only live during the
 * call). Calls emit, in kernel order, for every record that is complete.
 * Returns 0 or the first negative value emit returned. */
int cont_push(struct cont *c, const struct record *rec, cont_emit_fn emit, void *data);

/* Emit the held fragment(s), if any (timeout, gap, shutdown). */
int cont_flush(struct cont *c, cont_emit_fn emit, void *data);

bool cont_pending(const struct cont *c);
