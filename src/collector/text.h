/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Byte strings judged and shown the way journalctl does (systemd 252):
 * what counts as printable text, and how a blob's size is written.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * True when p[0..len) is valid UTF-8 without control characters: no code
 * point below 0x20 except tab (and newline when allow_newline), none in
 * 0x7f..0x9f. journalctl prints such a value as text and anything else as
 * a blob (short), a byte array (json) or length-prefixed (export).
 */
bool text_printable(const uint8_t *p, size_t len, bool allow_newline);

/*
 * True when every byte of p[0..len) is in 0x20..0x7e: printable ASCII
 * without tab or newline, which every output shows as it is. The common
 * case, checked 8 bytes at a time, before the slower text_printable.
 */
bool text_plain_ascii(const uint8_t *p, size_t len);

/*
 * How far text_printable holds from p: the length of the valid UTF-8
 * character at p that is not a control character (tab, and newline when
 * allow_newline, are allowed), or 0 when p[0] starts none.
 */
size_t text_char_len(const uint8_t *p, size_t len, bool allow_newline);

/*
 * p[0..len) made safe for a terminal: every character text_printable
 * allows is copied, and every other byte written as the four characters
 * \xNN (lower-case hex). out needs 4 * len bytes; returns the length
 * written.
 */
size_t text_escape(char *out, const uint8_t *p, size_t len, bool allow_newline);

/* "17B", "1.9K", "58.5K", "1.2M": systemd's format_bytes(). */
void text_bytes(char *buf, size_t cap, uint64_t n);

/* Lower-case hex of n bytes into out (2n + 1 bytes with the NUL). */
void text_hex(char *out, const uint8_t *p, size_t n);

/* True when all 16 bytes are zero (collector and pstore records have no boot). */
bool text_id_null(const uint8_t id[16]);
