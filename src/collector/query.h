/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The records kmsgctl shows: the selected hosts' journals (journal.h),
 * read sequentially and read-only, skipping index blocks that cannot match
 * the filter's levels and times or the -b boot, filtered (filter.h, and the boot of -b per
 * host), and merged into one sequence. Each host's records keep their
 * stored order, except those the collector stored early (ahead of their
 * place, docs/STORE.md "Early records"): each of those is shown right
 * before the first record of its stream stored in order with a higher
 * stream seq, or at the end, so that a stream reads in kernel order
 * (also from -n's start and around cursors); across hosts the head with
 * the lowest realtime comes
 * first, ties going to the host listed first (hosts are sorted by name
 * unless -H gave them). Hosts are opened read-only; the collector may
 * append meanwhile: what is not complete yet reads as "no more for now",
 * which is what follow mode waits on.
 *
 * Errors are reported here, once, on stderr as "kmsgctl: ...", because
 * this is where it is decided to go on without the host.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cursor.h"
#include "filter.h"
#include "journal.h"
#include "summary.h"

struct query;

struct query_item {
	size_t host;
	const struct journal_entry *e; /* valid until the next query call */
};

/*
 * Open the hosts named (n > 0), or every host with a journal under
 * DIR/hosts (names NULL), and follow new ones as they appear then.
 * -ENOENT for an unknown host, other -errno; reported.
 */
__attribute__((warn_unused_result)) int query_open(struct query **ret, const char *dir, char *const *names,
						   size_t n, const struct filter *f);
void query_free(struct query *q);

size_t query_nhosts(const struct query *q);
const char *query_host_name(const struct query *q, size_t i);
const char *query_host_path(const struct query *q, size_t i);

/*
 * Restrict each host to the boot spec names (its own boot list: -b -1 is
 * every host's previous boot). -ENOENT, reported, when no host has it.
 */
__attribute__((warn_unused_result)) int query_set_boot(struct query *q, const struct boot_spec *spec);

/*
 * Start at the record c names (after it when after): its host continues
 * from there; of every other host, only records at or after that record's
 * time are shown (records at the same time only of hosts listed after the
 * cursor's, as the merge would put them after it). A cursor names one
 * record of one host, so across hosts it positions by time, as
 * journalctl's cursor does across journal files. -ENOENT (host not
 * selected), -ESTALE (no such record at that place); reported.
 */
__attribute__((warn_unused_result)) int query_seek_cursor(struct query *q, const struct cursor *c,
							  bool after);

/* The next record: 1 and *it, 0 when there is none now, -ENOMEM. */
__attribute__((warn_unused_result)) int query_next(struct query *q, struct query_item *it);

/* The entry at position off of host (an offset query_next returned). 0 or -errno, reported. */
__attribute__((warn_unused_result)) int query_read_at(struct query *q, size_t host, off_t off,
						      struct journal_entry *ret);

/*
 * For -n: with one host, start it again at an index block from which at
 * least records entries follow (what the merge returns from then on is a
 * suffix of the host's records). 1 when that is the whole journal (or
 * there is more than one host: nothing done), 0 when older entries were
 * left out, -errno (reported).
 */
__attribute__((warn_unused_result)) int query_tail(struct query *q, uint64_t records);

/*
 * Follow mode: wait up to timeout_ms for a journal to grow or a host to
 * appear (inotify; polling every 50 ms where that is not available).
 */
void query_wait(struct query *q, int timeout_ms);

/*
 * True when the store has no hosts directory: a state directory no host
 * has sent to yet, or none at all. query_open then gives a query of no
 * hosts (when no host was named) instead of an error, as journalctl does
 * for a directory without journals.
 */
bool query_empty(const struct query *q);

/* The group whose members may read the store (tmpfiles.d): named in the
 * message for a permission problem. */
#define QUERY_STORE_GROUP "kmsg-collector"

/* True when some host could not be read to its end (damage, I/O error). */
bool query_failed(const struct query *q);
