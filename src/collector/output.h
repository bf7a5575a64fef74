/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Records on stdout in journalctl's formats (-o). The short formats have
 * journalctl's layout for the same record (systemd 252, Debian 12):
 *
 *   short            "Nov 28 12:42:06 HOST IDENTIFIER: MESSAGE"
 *   short-iso        "2026-11-28T12:42:06+0100 HOST ..."
 *   short-precise    "Nov 28 12:42:06.123456 HOST ..."
 *   short-monotonic  "[ 1234.567890] HOST ..."
 *
 * IDENTIFIER (view_identifier) is kernel, kmsg-shipper or kmsg-collector,
 * or a journal record's own with "[PID]". MESSAGE: tabs as 8 blanks and
 * colour escapes (ESC [ ... m) removed; then, if it is not printable UTF-8
 * (text.h), "[17B blob data]" with the size after that; else one final
 * newline dropped and each further line indented under the first; an
 * OSC (ESC ] ... BEL) and carriage returns before a newline or the end
 * are removed too, as journalctl 252's strip_tab_ansi does. A line
 * "-- Boot ID --"
 * is put where the boot changes (when boot_separators; records without a
 * boot, i.e. collector events, do not count).
 *
 *   cat          the message bytes as they are, and a newline; when tty,
 *                prepared as the short formats' (tabs kept) and every
 *                byte not printable UTF-8, tab or newline as \xNN
 *   json         one object per line (json.h), fields of view.h, a field
 *                given more than once as an array of its values
 *   json-pretty  the same, indented
 *   export       systemd's Journal Export Format: per field "NAME=value\n",
 *                or, for a value that is not printable UTF-8 or holds a
 *                newline, "NAME\n", its length as 64-bit little endian,
 *                the bytes, "\n"; an empty line ends the entry; when
 *                tty, such a value as NAME=value with \xNN escapes
 *
 * In the short formats the host, identifier and pid appear only when
 * printable (view_printable). Nothing but tab, newline, printable UTF-8
 * and the colours below reaches a terminal (tty) in any format.
 *
 * Colours (when color): the message of error and worse in bold red,
 * warning in bold yellow (256-colour 185), notice in bold, debug in grey,
 * the -g match highlighted in red (bold where the line is red already).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "filter.h"
#include "journal.h"

enum output_mode {
	OUTPUT_SHORT,
	OUTPUT_SHORT_ISO,
	OUTPUT_SHORT_PRECISE,
	OUTPUT_SHORT_MONOTONIC,
	OUTPUT_SHORT_ISO_PRECISE,
	OUTPUT_SHORT_FULL,
	OUTPUT_SHORT_UNIX,
	OUTPUT_SHORT_DELTA,
	OUTPUT_WITH_UNIT,
	OUTPUT_CAT,
	OUTPUT_JSON,
	OUTPUT_JSON_PRETTY,
	OUTPUT_JSON_SEQ,
	OUTPUT_JSON_SSE,
	OUTPUT_EXPORT,
	OUTPUT_VERBOSE, /* the last: tests/fuzz/fuzz-kmsgctl-output.c walks them all */
};

#define OUTPUT_NAMES                                                                                    \
	"short, short-iso, short-precise, short-monotonic, short-iso-precise, short-full, short-unix, " \
	"short-delta, with-unit, cat, json, json-pretty, json-seq, json-sse, export, verbose"

/* 0, or -EINVAL for a name not in OUTPUT_NAMES. */
__attribute__((warn_unused_result)) int output_mode_parse(const char *s, enum output_mode *ret);
/* The short formats and with-unit: one line per record, boot separators. */
bool output_mode_short(enum output_mode m);
/* Whether "-- No entries --" is printed when nothing was (as journalctl:
 * the short formats and verbose). */
bool output_mode_says_empty(enum output_mode m);
/* json, json-pretty, json-seq, json-sse. */
bool output_mode_json(enum output_mode m);

struct output_conf {
	enum output_mode mode;
	bool utc;
	bool color;
	bool boot_separators;
	bool keep_cursor;	   /* remember the last record's cursor (--show-cursor) */
	const struct filter *grep; /* its -g pattern is highlighted; may be NULL */
	bool tty;		   /* the output reaches a terminal (directly or by the pager) */
	bool all;		   /* -a: unprintable messages and values escaped, not blobs */
	bool no_hostname;	   /* --no-hostname: the short formats leave the host out */
	unsigned columns;	   /* --no-full on a terminal: its width (0: lines are not cut) */
	char *const *fields;	   /* --output-fields: json, export, verbose show only these */
	size_t nfields;		   /*   (and the "__" names and _BOOT_ID), when nfields > 0 */
	FILE *out;		   /* NULL: stdout */
};

struct output;

__attribute__((warn_unused_result)) int output_new(struct output **ret, const struct output_conf *c);
void output_free(struct output *o);

/* Print entry e of host. 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int output_entry(struct output *o, const char *host,
						     const struct journal_entry *e);
/* Records printed so far. */
size_t output_count(const struct output *o);
/* The cursor of the last record printed ("" if none; keep_cursor only). */
const char *output_last_cursor(const struct output *o);
