/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The pstore input: what a crashed previous boot left in /sys/fs/pstore
 * (dmesg-ramoops-N, dmesg-efi_pstore-N, console-ramoops-0, pmsg-ramoops-0,
 * ...), read once at agent start and shipped as RECORD_SRC_PSTORE records.
 * docs/PSTORE-INPUT.md has the record layout and the decisions.
 *
 * Text files (no NUL byte, not compressed, no line over
 * PSTORE_LINE_MAX) become one record per line: "<PRI>[secs.usecs] text"
 * gives level, facility and monotonic time; the ramoops/kmsg_dump header
 * "Oops#1 Part1" is a record of its own and names PSTORE_REASON, _COUNT
 * and _PART on every record of the file. Anything else (binary, ".enc.z"
 * that the kernel could not decompress) is shipped as it is, in chunks
 * that fit RECORD_MAX (PSTORE_CHUNK/PSTORE_CHUNKS/PSTORE_OFFSET).
 *
 * Every record has boot id all zero (the crashed boot is unknown), field
 * PSTORE_BOOT=previous, kmsg seq 0, and the file's mtime as wall clock.
 *
 * Shipped once: a state file lists each shipped file by name, size and
 * BLAKE2b-256 of its content (mtime kept for information). pstore_scan
 * hands records to the sink and remembers which files it fully handed
 * over; pstore_commit, called once the caller's spool holds those records,
 * writes the state file (durable_replace) and, with remove set, unlinks
 * them. Without a commit the next scan (or agent start) ships them again:
 * a duplicate, never a loss.
 *
 * WARNING: /sys/fs/pstore is readable by root only and unlinking a pstore
 * file erases the backend record, which needs root as well: open, scan
 * and (with remove) commit before dropping privileges.
 */

#include <stdbool.h>
#include <stdint.h>

#include "source.h"

/* Most bytes read from one file. A larger file keeps its last
 * PSTORE_FILE_MAX bytes (the crash is at the end); the first record of the
 * file is then flagged RECORD_F_TRUNCATED with PSTORE_SKIPPED_BYTES. */
#define PSTORE_FILE_MAX (4u * 1024 * 1024)
/* A text line longer than this makes the file binary (kernel lines are
 * under 1 KiB; console lines a little more). */
#define PSTORE_LINE_MAX 16384
/* State entries kept; the oldest of files no longer present go first. */
#define PSTORE_STATE_MAX 1024

struct pstore;

struct pstore_stats {
	uint64_t files;	    /* regular files seen by scans */
	uint64_t shipped;   /* files whose records were all handed to the sink */
	uint64_t skipped;   /* files already listed in the state file */
	uint64_t records;   /* records handed to the sink */
	uint64_t truncated; /* files larger than PSTORE_FILE_MAX (or growing) */
	uint64_t binary;    /* files shipped in chunks, not as lines */
	uint64_t errors;    /* files that could not be read (a record says so) */
	uint64_t ignored;   /* directory entries that are not regular files */
	uint64_t committed; /* files marked shipped by pstore_commit */
	uint64_t removed;   /* files unlinked by pstore_commit */
	uint64_t remove_failed;
	int remove_error; /* -errno of the last failed unlink, or 0 */
	/* Why the state file was ignored at open (everything is then shipped
	 * again): 0 (fine or absent), -EBADMSG (damaged), -EFBIG, or the
	 * -errno of reading it. */
	int state_error;
};

/*
 * Open the pstore directory dir and load state_file. Returns 0, -ENOENT
 * when dir does not exist (the input is then simply off), or -errno. A
 * missing, unreadable or damaged state file is not an error: it counts as
 * empty and pstore_stats.state_error says why.
 */
__attribute__((warn_unused_result)) int pstore_open(struct pstore **ret, const char *dir,
						    const char *state_file, bool remove);

/*
 * Read every regular file in dir not already shipped and hand its records
 * to sink, file by file in name order. Returns the number of records handed
 * over, or -errno: the sink's error (scan stops at once) or a directory
 * read error. Files whose records were all accepted before an error stay
 * pending for pstore_commit. Each scan starts a new pending list.
 * A file that cannot be read yields one record saying so (PSTORE_ERROR)
 * and is not marked shipped, so it is tried again on the next start.
 */
__attribute__((warn_unused_result)) int pstore_scan(struct pstore *p, source_sink_fn sink, void *data);

/*
 * The caller's spool holds every record of the last scan: write the state
 * file, then (remove set) unlink the files shipped and the files skipped
 * as already shipped. Returns 0 or -errno of writing the state (nothing
 * is then removed and the pending list is kept for a retry); unlink
 * failures only count in the stats.
 */
__attribute__((warn_unused_result)) int pstore_commit(struct pstore *p);

void pstore_get_stats(const struct pstore *p, struct pstore_stats *st);
void pstore_free(struct pstore *p);
