/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * kmsgctl --verify: one sequential pass over a host's journal that
 * checks everything the format promises (docs/STORE.md, "Verification"):
 *
 *   segments  header checksum; base = the previous segment's base + size
 *             (none missing); first record number and chain in continue
 *             the previous segment
 *   entries   length, checksum, record number (dense: a removed,
 *             inserted or reordered record shows here), chain value =
 *             BLAKE2b-256(previous chain || checksum), record encoding
 *   indexes   every usable index entry equals the block the writer's rule
 *             makes of the records (a wrong entry would hide records)
 *   checkpoints  each one matches the record it names (position, chain);
 *             one naming a record the journal does not hold means the
 *             journal was cut
 *
 * It stops at the first problem and names its place. Read-only.
 */

#include <stdbool.h>
#include <stdint.h>

#include "commitment.h"
#include "segment.h"

enum verify_problem {
	VERIFY_OK,
	VERIFY_SEGMENT,	   /* header, or a segment missing between two */
	VERIFY_LENGTH,	   /* entry length out of range */
	VERIFY_CHECKSUM,   /* entry checksum */
	VERIFY_RECORD,	   /* record does not decode */
	VERIFY_ORDER,	   /* record number out of order: reordered or inserted */
	VERIFY_MISSING,	   /* record numbers skipped: removed */
	VERIFY_CHAIN,	   /* chain value does not follow from the previous record */
	VERIFY_TAIL,	   /* bytes after the last entry of a sealed segment */
	VERIFY_INDEX,	   /* an index entry does not match its records */
	VERIFY_CHECKPOINT, /* a checkpoint does not match its record */
	VERIFY_TRUNCATED,  /* a checkpoint names records the journal does not hold */
	VERIFY_ACKED,	   /* the journal does not hold what the collector acknowledged (acked file) */
	VERIFY_LOSS,	   /* the collector recorded a loss of acknowledged records (at its start) */
	VERIFY_TAMPER,	   /* the collector recorded an agent commitment its journal did not hold */
	VERIFY_COMMITMENT, /* the journal does not hold what a given commitment names */
};

struct verify_result {
	enum verify_problem problem;
	uint64_t records;			   /* entries checked */
	uint64_t segments;			   /* segment files */
	uint64_t checkpoints;			   /* checkpoints matched */
	bool acked;				   /* the acked file was there and matched */
	uint64_t commitments, commitments_skipped; /* matched; of records removed by retention */
	/* The first problem: where and what. */
	char file[SEGMENT_NAME_LEN + 16]; /* segment (or index, checkpoints) file name */
	uint64_t offset;		  /* in that file */
	uint64_t position;		  /* logical position */
	bool has_recno;
	uint64_t recno; /* record number expected there */
	char what[256];
	/* An incomplete last entry: a write in progress, or a torn tail the
	 * collector cuts when it opens the host. Not a problem by itself. */
	uint64_t tail_bytes;
};

/*
 * Verify the journal in host directory dir. 0 with ret filled (problem
 * VERIFY_OK or the first one found), or -errno when it could not be read
 * (ret->what says what).
 */
__attribute__((warn_unused_result)) int verify_host(const char *dir, struct verify_result *ret);

/*
 * The same, and the journal must also hold what each of the n
 * commitments names (commitment.h; those of this host only: the caller
 * picks them by name): its record records-1 ending at position end with
 * that chain value, and the stream's records below hwm. A commitment of
 * records removed by retention is counted in ret->commitments_skipped.
 */
__attribute__((warn_unused_result)) int verify_host_with(const char *dir, const struct commitment *cs,
							 size_t n, struct verify_result *ret);

/* "checksum", "chain", ...: the problem's name. */
const char *verify_problem_name(enum verify_problem p);
