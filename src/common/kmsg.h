/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Parser for one /dev/kmsg record as read(2) returns it (or one line of a
 * file in that format, plus its continuation lines):
 *
 *   PRI,SEQ,TS_USEC,FLAGS[,FIELD...];TEXT\n
 *   [ KEY=VALUE\n]...
 *
 * TEXT and VALUE have non-printable bytes escaped as \xNN; they are decoded.
 * Unknown header fields (e.g. caller=T123) are kept as field
 * "KMSG_HDR_<NAME>=<value>" (name upper-cased), never a reason to reject.
 * Dictionary lines become fields as-is (SUBSYSTEM=, DEVICE=, ...).
 * FLAGS '-' (or none) is a whole record; 'c' and '+' mark fragments
 * (RECORD_F_FRAGMENT).
 */

#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* Largest record the kernel hands to a /dev/kmsg reader (text + dictionary
 * with escaping), with margin: read(2) buffers must be this large so that
 * EINVAL never skips a record. */
#define KMSG_READ_MAX 16384

/*
 * Parse len bytes (one read(2) of /dev/kmsg; a trailing newline is allowed).
 * Fills rec (source KMSG, level, facility, kmsg_seq, mono_usec, flags, msg,
 * fields); msg and fields are decoded into scratch (cap >= len + 64 is always
 * enough). stream_seq, real_usec and boot_id are left for the caller.
 * Returns 0 or -EBADMSG (not a kmsg record; rec untouched), -ENOSPC.
 */
__attribute__((warn_unused_result)) int kmsg_parse(const uint8_t *buf, size_t len, struct record *rec,
						   uint8_t *scratch, size_t cap);

/*
 * For regular-file/FIFO sources, where records follow each other: length of
 * the record starting at buf, given avail bytes: its first (header) line up
 * to and including its '\n', plus every following line that starts with a
 * space, each up to and including its '\n'. The record ends where a line
 * starts with anything else.
 *
 * Returns 0 ("cannot decide yet, read more") when the first line has no
 * '\n' yet, when a continuation line has no '\n' yet, or when the buffer
 * ends right after a complete line (more continuation lines may follow).
 * With at_eof non-zero, whatever lines are there form the record instead,
 * a last line without '\n' included; 0 then only for avail == 0.
 * Never more than avail. A FIFO writer's last record is thus only returned
 * once the next record starts or at_eof is given.
 */
size_t kmsg_record_span(const uint8_t *buf, size_t avail, int at_eof);
