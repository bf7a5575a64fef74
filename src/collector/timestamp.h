/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Times as journalctl writes and reads them: record times in the short
 * formats, boot and host lists, spans such as a lag, and the --since and
 * --until arguments. All times are microseconds since the epoch.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum timestamp_style {
	TS_SHORT,   /* "Nov 28 12:42:06" (-o short) */
	TS_PRECISE, /* "Nov 28 12:42:06.123456" (-o short-precise) */
	TS_ISO,	    /* "2026-11-28T12:42:06+0100" (-o short-iso; systemd 252 writes no colon in the offset) */
	TS_FULL,    /* "Sat 2026-11-28 12:42:06 CET" (--list-boots, --list-hosts) */
};

/* Local time, or UTC when utc. Always NUL-terminates (cap >= 1). */
void timestamp_format(char *buf, size_t cap, uint64_t usec, enum timestamp_style style, bool utc);

/* A span as systemd writes it, at millisecond accuracy: "0", "350ms", "1.203s", "2min 5.5s", "3d 4h". */
void timespan_format(char *buf, size_t cap, int64_t usec);

/*
 * Parse a --since/--until argument relative to now (usec). Accepted, as
 * journalctl: "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS"
 * (optionally ".UUUUUU", a 'T' instead of the blank, a leading weekday and
 * a trailing " UTC" or "Z"), "HH:MM[:SS]" (today), "now", "today",
 * "yesterday", "tomorrow", "@SECONDS[.FRACTION]", and relative times
 * "-1h", "+10s", "-1h 30min", "2d ago" with systemd's units (us, ms, s,
 * min, h, d, w, M, y and their long names). Local time unless UTC is
 * given. Returns 0 or -EINVAL; *ret untouched on failure.
 */
__attribute__((warn_unused_result)) int timestamp_parse(const char *s, uint64_t now, uint64_t *ret);

/* CLOCK_REALTIME now, in usec. */
uint64_t timestamp_now(void);
