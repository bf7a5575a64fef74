/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The agent as a witness of its collectors' journals (docs/PROTOCOL.md
 * 5.4, docs/STORE.md "Commitments"): the newest commitment each collector
 * gave it, kept durably in STATE_DIR/commitments, one text line per
 * collector (commitment.h, with "collector=KEY"), rewritten (temporary
 * file, fsync, rename) at most once a second while they change.
 *
 * A collector whose new commitment goes back from the one kept (fewer
 * records, an earlier end, a lower mark of the stream) no longer holds
 * what it committed to: the agent logs an error and appends the old line
 * to STATE_DIR/commitments.disputed (fsynced, never rewritten), so that
 * the evidence outlives the newer commitment.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "commitment.h"

#define WITNESS_FILE "commitments"
#define WITNESS_DISPUTED_FILE "commitments.disputed"
#define WITNESS_MAX 64 /* collectors remembered (more than a failover list holds) */

struct witness;

/* Load STATE_DIR/commitments (a missing file is none). 0 or -errno. */
__attribute__((warn_unused_result)) int witness_open(struct witness **ret, const char *state_dir);
void witness_free(struct witness *w);

/* The newest commitment of the collector with this public key, or NULL. */
const struct commitment *witness_get(const struct witness *w, const uint8_t collector[32]);

/* A new commitment from that collector (see above for one that goes back). */
void witness_put(struct witness *w, const uint8_t collector[32], const struct commitment *c);

/* Write the file if something changed: at once with now_ms 0, else at most
 * once a second. 0 or -errno (kept dirty: tried again). */
int witness_save(struct witness *w, uint64_t now_ms);

/* kmsg-shipper --print-commitment: the lines of STATE_DIR/commitments to
 * f, checked. Returns how many, or -errno (-ENOENT: none yet). */
int witness_print(const char *state_dir, FILE *f);
