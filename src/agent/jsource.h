/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The journal source (optional): reads the systemd journal with sd_journal
 * and hands each entry to the sink as a record of source JOURNAL, with all
 * its fields. Kernel-transport entries are skipped by default (the kmsg
 * source has them). The position is a journal cursor kept in a file, and
 * it only moves on when the caller says the records are safe
 * (jsource_save_cursor), so a restart resumes right after the last entry
 * spooled. A resume point whose entries the journal no longer has
 * (vacuumed, rotated away) becomes a gap record. docs/JOURNAL-INPUT.md has
 * the record layout, the start positions and the limits.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "record.h"
#include "source.h"

struct jsource;

/* Per-field limit when jsource_conf.max_field_bytes is 0. */
#define JSOURCE_MAX_FIELD_DEFAULT 8192
/* Smallest and largest accepted max_field_bytes. */
#define JSOURCE_MAX_FIELD_MIN 64
#define JSOURCE_MAX_FIELD_MAX 60000

struct jsource_conf {
	/* Journal files of this directory (tests, or a copied journal); NULL:
	 * the local system journal (SD_JOURNAL_LOCAL_ONLY|SD_JOURNAL_SYSTEM). */
	const char *directory;
	/* "FIELD=value" strings; an entry is read if it matches any of them.
	 * None: every entry. */
	const char *const *matches;
	size_t nmatches;
	/* Skip entries with _TRANSPORT=kernel (counted in stats.excluded). */
	bool exclude_kernel;
	/* Where the resume cursor is kept; NULL: none (every start is a start
	 * without a cursor). Read by jsource_open, written by
	 * jsource_save_cursor. */
	const char *cursor_file;
	/* Without a usable cursor: start after the journal's last entry
	 * (true) or at the first entry of the current boot (false). */
	bool from_now;
	/* Longest field value kept; longer ones are cut and the record is
	 * flagged TRUNCATED. 0: JSOURCE_MAX_FIELD_DEFAULT. MESSAGE has its own,
	 * larger limit (what is left of RECORD_MAX, see the docs). */
	size_t max_field_bytes;
	/* The current boot (/proc/sys/kernel/random/boot_id): "from boot"
	 * means this one. */
	uint8_t boot_id[RECORD_BOOT_ID_LEN];
};

/* Defaults: system journal, no matches, exclude_kernel, no cursor file,
 * from boot, JSOURCE_MAX_FIELD_DEFAULT. boot_id is zeroed. */
void jsource_conf_defaults(struct jsource_conf *c);

/* Whether m is a valid match: "FIELD=value" with FIELD of 1..64 of
 * A-Z, 0-9 and '_', not starting with a digit (the journal's rule). */
bool jsource_match_valid(const char *m);

struct jsource_stats {
	uint64_t entries;	    /* handed on as records */
	uint64_t excluded;	    /* kernel-transport entries skipped (exclude_kernel) */
	uint64_t skipped;	    /* the resume cursor's own entry: already spooled */
	uint64_t gaps;		    /* gap records emitted */
	uint64_t truncated;	    /* records flagged TRUNCATED */
	uint64_t fields_cut;	    /* field values cut to max_field_bytes (or MESSAGE to its limit) */
	uint64_t fields_dropped;    /* fields left out to fit RECORD_MAX */
	uint64_t fields_unreadable; /* fields the journal could not give (corrupt, unknown compression) */
	int error;		    /* -errno that stopped the source, or 0 */
};

/*
 * Open the journal (while privileged: journal files are readable by root
 * and the systemd-journal group), apply the matches, set up the journal's
 * inotify fd and read the cursor file. An unreadable cursor file other
 * than a missing one is an error; a cursor that does not parse becomes a
 * gap record at start. Returns 0, -EINVAL for a bad configuration, or
 * -errno.
 */
__attribute__((warn_unused_result)) int jsource_open(struct jsource **ret, const struct jsource_conf *c);

/*
 * Position (cursor, or from boot/now), register with the loop and start
 * reading. Entries are handed to sink in journal order, in bursts; flush
 * is called after each burst. If sink returns an error, or the journal
 * fails, the source stops and stats.error says why; the entry that failed
 * is not part of jsource_cursor. Returns 0 or -errno.
 */
__attribute__((warn_unused_result)) int jsource_start(struct jsource *j, struct loop *l, source_sink_fn sink,
						      source_flush_fn flush, void *data);

/*
 * Cursor of the last entry consumed (handed to the sink, or skipped by
 * exclude_kernel), or NULL before the first. Valid until the next loop
 * callback of the source. A caller that frees records on a later event
 * (an ack) may copy it and pass it to jsource_save_cursor then.
 */
const char *jsource_cursor(const struct jsource *j);

/*
 * Persist cursor (NULL: jsource_cursor(j)) to the cursor file with a
 * durable write. Call it only once the records up to that entry are safe
 * in the spool: what is saved is never read again. Does nothing if there
 * is no cursor file, no cursor, or it is already the saved one. Returns 0
 * or -errno.
 */
__attribute__((warn_unused_result)) int jsource_save_cursor(struct jsource *j, const char *cursor);

void jsource_get_stats(const struct jsource *j, struct jsource_stats *st);
void jsource_free(struct jsource *j);
