/* SPDX-License-Identifier: ISC */
#pragma once

/* The agent's configuration (shipper.conf, man kmsg-shipper.conf(5)). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uplink.h"

#define AGENT_MAX_COLLECTORS 16

struct agent_conf {
	struct cfg *cfg;  /* owns the strings below */
	const char *path; /* the file loaded (the caller's string) */
	const char *private_key_file;
	const char *state_dir;
	const char *user;	/* started as root: the user to become after the privileged opens */
	bool landlock_required; /* landlock = "required": no start without Landlock */
	const char *kmsg_path;
	bool kmsg_from_now;		    /* no cursor for this boot: start after the last record */
	unsigned long long kmsg_queue_size; /* the reader thread's queue (source.h) */
	long long kmsg_reader_priority;	    /* 0: normal scheduling; 1..99: SCHED_FIFO */
	int log_level;
	/* spool.*: the bound and the sync policy (spool.h has the defaults) */
	unsigned long long spool_max;
	unsigned long long spool_segment;
	unsigned long long spool_memory_max;
	int spool_sync_level; /* -1: none */
	long long spool_sync_records;
	unsigned long long spool_sync_interval_ms;
	/* journal.*: the optional journal input (off by default) */
	bool journal_enable;
	const char **journal_matches; /* NULL-terminated, njournal_matches entries */
	size_t njournal_matches;
	bool journal_exclude_kernel;
	bool journal_from_now;
	unsigned long long journal_max_field;
	const char *journal_directory; /* NULL: the local system journal */
	/* pstore.*: what a crashed previous boot left (on when the directory exists) */
	bool pstore_enable;
	const char *pstore_path;
	bool pstore_remove;
	struct uplink_target targets[AGENT_MAX_COLLECTORS];
	char ports[AGENT_MAX_COLLECTORS][8];
	size_t ntargets;
	unsigned long long connect_timeout_ms;
	unsigned long long heartbeat_ms;
	unsigned long long backoff_max_ms;
	unsigned long long session_max_ms;
	bool padding;		 /* network.padding */
	bool require_extensions; /* network.require_extensions */
};

/*
 * Load and check path. On failure returns -errno and *err points to a
 * message "FILE:LINE: ..." (static storage or owned by conf; print it before
 * agent_conf_free).
 */
__attribute__((warn_unused_result)) int agent_conf_load(struct agent_conf *c, const char *path,
							const char **err);
void agent_conf_free(struct agent_conf *c);
