/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * What one host's journal holds, from one pass over it: its boots (for
 * --list-boots and -b), times, last contact and session state (for
 * --list-hosts), and optionally its completeness (gaps.h).
 *
 *   boots        every non-zero boot id, in the order of its first record
 *                in the journal (stored order, not the clock's: hosts
 *                without a real-time clock start in 1970); its first and
 *                last entry = the realtime of its first and last record
 *                in stored order, as journalctl 252 (struct boot_info)
 *   first, last  lowest and highest realtime of the agent's records
 *                (collector records excluded)
 *   last_seen    the collector's last contact with the host (collector
 *                clock): the highest receive time of an agent record, or
 *                the last authenticated message of a session (heartbeats
 *                included, STORE_CONTACT_FILE), whichever is later
 *   last_recv    highest receive time of an agent record
 *   newest       realtime (agent clock) of that record; the lag
 *                last_recv - newest is transport delay plus clock skew
 *   forward_lag  records of the journal (collector events included)
 *                after the forwarding cursor (forward.h): stored but
 *                not acked by NATS JetStream yet; no cursor: none
 *   session      the last session event stored: start (open) or end
 *                (closed); a collector that died without writing the
 *                end leaves "open" behind
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "gaps.h"
#include "store.h"

struct boot_info {
	uint8_t id[16];
	/* Wall-clock times of the boot's first and last record in stored
	 * order, as journalctl 252 shows them for the export (output.c): a
	 * record without a boot counts in its host's boot before it, or,
	 * before any, in the next one. */
	uint64_t first, last;
	uint64_t records;
};

enum session_state { SESSION_NONE, SESSION_OPEN, SESSION_CLOSED };

struct host_summary {
	char name[STORE_NAME_MAX + 1];
	uint64_t records;
	bool has_times;
	uint64_t first, last, newest;
	bool has_seen;
	uint64_t last_seen;
	uint64_t last_recv;
	enum session_state session;
	bool has_forward;
	uint64_t forward_lag;
	struct boot_info *boots;
	size_t nboots;
	struct gaps *gaps; /* with_gaps only; finished */
	off_t damaged_at;  /* -EBADMSG: offset of the bad entry */
};

/*
 * Scan the journal at path. Returns 0, -EBADMSG (damaged entry at
 * ret->damaged_at; ret holds what came before) or another -errno (ret
 * then empty). Free with summary_free in every case.
 */
__attribute__((warn_unused_result)) int summary_scan(const char *name, const char *path, bool with_gaps,
						     struct host_summary *ret);
void summary_free(struct host_summary *s);

enum summary_format { SUMMARY_TEXT, SUMMARY_JSON, SUMMARY_JSON_PRETTY };

/* --list-boots: journalctl's table (with a HOST column when n > 1), or one JSON object per boot. */
void summary_print_boots(const struct host_summary *hs, size_t n, enum summary_format fmt, bool utc, FILE *f);
/* --list-hosts: a table, or one JSON object per host. */
void summary_print_hosts(const struct host_summary *hs, size_t n, enum summary_format fmt, bool utc, FILE *f);

/*
 * --silent: hosts not heard from for longer than limit (usec) before now,
 * i.e. neither a record nor a heartbeat received since (last_seen). A host without last_seen (no record of
 * its agent, or no journal: ret of summary_scan left empty but for the name) is silent. A last_seen after now
 * (the clock went back) is silent for 0.
 */
bool summary_silent(const struct host_summary *s, uint64_t now, uint64_t limit);
/*
 * The silent hosts of hs, one per line: a table (HOST, LAST SEEN, SECONDS
 * SILENT; nothing at all, not even the header, when none is silent), or
 * one JSON object per host with host, last_seen (usec or null) and
 * silent_sec (whole seconds, or null when never seen). 0 or -ENOMEM.
 */
__attribute__((warn_unused_result)) int summary_print_silent(const struct host_summary *hs, size_t n,
							     uint64_t now, uint64_t limit,
							     enum summary_format fmt, bool utc, FILE *f);

/*
 * A -b argument: "all", an offset N (1 = the first boot, 0 = the last,
 * -1 the one before, ...), a boot id (32 hex digits, dashes allowed), or
 * an id with an offset relative to it (ID-1, ID+2).
 */
struct boot_spec {
	bool all;
	bool has_id;
	uint8_t id[16];
	long offset;
};

/* "" (the -b without an argument) is 0, the last boot. 0 or -EINVAL. */
__attribute__((warn_unused_result)) int boot_spec_parse(const char *s, struct boot_spec *ret);

/* The boot of s that spec names: 0 and *ret, or -ENOENT. */
__attribute__((warn_unused_result)) int summary_find_boot(const struct host_summary *s,
							  const struct boot_spec *spec, uint8_t ret[16]);
