/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Which records to show: the per-record predicate of kmsgctl, built from
 * -p, --facility, -S, -U, -g and FIELD=VALUE matches. Host, boot and
 * cursor selection are the query's (query.h).
 *
 * Matches combine as journalctl's: matches of the same field are OR'ed,
 * of different fields AND'ed, and a "+" argument starts an alternative
 * (OR of the groups). A match's field is a name of view.h, or the key of
 * one of the record's own fields (SUBSYSTEM=usb matches _KERNEL_SUBSYSTEM).
 */

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "view.h"

struct filter_match {
	char *field;
	char *value;
	size_t len;
};

struct filter_group {
	struct filter_match *m;
	size_t n;
};

struct filter_ident {
	char *name;
	bool exclude; /* -T */
};

struct filter {
	uint8_t levels;	   /* bit i: level i is shown */
	uint8_t *facility; /* bitmap over 0..65535; NULL: any */
	bool has_since, has_until;
	uint64_t since, until; /* realtime, usec, inclusive */
	bool has_grep;
	regex_t grep;
	struct filter_group *groups;
	size_t ngroups;
	bool kernel_only;	     /* -k: kernel records (_TRANSPORT=kernel) */
	struct filter_ident *idents; /* -t (any of them) and -T (none of them) */
	size_t nidents;
	char **units; /* -u, mangled (".service" added where no suffix) */
	size_t nunits;
};

void filter_init(struct filter *f);
void filter_free(struct filter *f);

/* -p: a level or FROM..TO, names (emerg .. debug) or numbers 0..7. -EINVAL. */
__attribute__((warn_unused_result)) int filter_priority(struct filter *f, const char *arg);
/* --facility: comma-separated names (kern, user, ..., local7) or numbers 0..65535. -EINVAL. */
__attribute__((warn_unused_result)) int filter_facility(struct filter *f, const char *arg);
/* The facility names, one per line, as --facility=help prints them. */
void filter_facility_help(void);
/*
 * -g: POSIX extended regex on the message; case-insensitive when
 * case_sensitive < 0 and the pattern has no upper-case letter (as
 * journalctl), else as case_sensitive says. On a bad pattern returns
 * -EINVAL with regerror's text in err.
 */
__attribute__((warn_unused_result)) int filter_grep(struct filter *f, const char *pattern, int case_sensitive,
						    char *err, size_t errlen);
/* A FIELD=VALUE argument or "+". -EINVAL (not of that form), -ENOMEM. */
__attribute__((warn_unused_result)) int filter_match(struct filter *f, const char *arg);

/* -t ID (exclude false) or -T ID (true): SYSLOG_IDENTIFIER as view.h
 * gives it; records with any -t one and none of the -T ones. -ENOMEM. */
__attribute__((warn_unused_result)) int filter_identifier(struct filter *f, const char *id, bool exclude);
/*
 * -u UNIT: journal records of the unit, matched as journalctl 252 does
 * (_SYSTEMD_UNIT, COREDUMP_UNIT, UNIT from _PID=1, OBJECT_SYSTEMD_UNIT
 * from _UID=0); a name without a suffix gets ".service"; *?[ are globs.
 * Kernel records belong to no unit. -EINVAL (empty), -ENOMEM.
 */
__attribute__((warn_unused_result)) int filter_unit(struct filter *f, const char *unit);

/* True when filter_test needs the entry's view (there are matches). */
bool filter_needs_view(const struct filter *f);
/* v: the entry's view when filter_needs_view, else may be NULL. */
bool filter_test(const struct filter *f, const struct journal_entry *e, const struct view *v);
/* First -g match in msg: true and its byte range [*so, *eo). */
bool filter_grep_find(const struct filter *f, const uint8_t *msg, size_t len, size_t *so, size_t *eo);
