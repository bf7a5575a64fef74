/* SPDX-License-Identifier: ISC */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

static bool is_control(uint32_t c, bool allow_newline)
{
	if (c == '\n')
		return !allow_newline;
	return (c < 0x20 && c != '\t') || (c >= 0x7f && c <= 0x9f);
}

size_t text_char_len(const uint8_t *p, size_t len, bool allow_newline)
{
	if (len == 0)
		return 0;
	uint8_t b = p[0];
	if (b >= 0x20 && b < 0x7f)
		return 1;
	uint32_t c;
	size_t n;
	if (b < 0x80) {
		c = b;
		n = 1;
	} else if ((b & 0xe0) == 0xc0) {
		c = b & 0x1f;
		n = 2;
	} else if ((b & 0xf0) == 0xe0) {
		c = b & 0x0f;
		n = 3;
	} else if ((b & 0xf8) == 0xf0) {
		c = b & 0x07;
		n = 4;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[k] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are invalid. */
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (is_control(c, allow_newline))
		return 0;
	return n;
}

bool text_printable(const uint8_t *p, size_t len, bool allow_newline)
{
	size_t i = 0;
	while (i < len) {
		if (p[i] >= 0x20 && p[i] < 0x7f) {
			i++;
			continue;
		}
		size_t n = text_char_len(p + i, len - i, allow_newline);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t text_escape(char *out, const uint8_t *p, size_t len, bool allow_newline)
{
	static const char digits[] = "0123456789abcdef";
	size_t i = 0, w = 0;
	while (i < len) {
		size_t n = text_char_len(p + i, len - i, allow_newline);
		if (n) {
			memcpy(out + w, p + i, n);
			w += n;
			i += n;
			continue;
		}
		out[w++] = '\\';
		out[w++] = 'x';
		out[w++] = digits[p[i] >> 4];
		out[w++] = digits[p[i] & 15];
		i++;
	}
	return w;
}

bool text_plain_ascii(const uint8_t *p, size_t len)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
	/* Per 8 bytes, a high bit is set where a byte is >= 0x80, below 0x20
	 * or 0x7f. The borrow tricks may mark a wrong byte of a word, never a
	 * word without one; messages are short, so no early exit. */
	uint64_t bad = 0;
	size_t i = 0;
	for (; len - i >= 8; i += 8) {
		uint64_t w, del;
		memcpy(&w, p + i, 8);
		del = w ^ (0x7f * ones);
		bad |= w | ((w - 0x20 * ones) & ~w) | ((del - ones) & ~del);
	}
	if (bad & highs)
		return false;
	for (; i < len; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f)
			return false;
	return true;
}

void text_bytes(char *buf, size_t cap, uint64_t n)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} units[] = {
		{ "E", UINT64_C(1) << 60 }, { "P", UINT64_C(1) << 50 }, { "T", UINT64_C(1) << 40 },
		{ "G", UINT64_C(1) << 30 }, { "M", UINT64_C(1) << 20 }, { "K", UINT64_C(1) << 10 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (n < units[i].factor)
			continue;
		/* One truncated decimal, as systemd computes it. */
		uint64_t tenth = i + 1 < sizeof(units) / sizeof(units[0])
					 ? (n / units[i + 1].factor * 10 / 1024) % 10
					 : (n * 10 / units[i].factor) % 10;
		snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 "%s", n / units[i].factor, tenth, units[i].suffix);
		return;
	}
	snprintf(buf, cap, "%" PRIu64 "B", n);
}

void text_hex(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

bool text_id_null(const uint8_t id[16])
{
	uint8_t acc = 0;
	for (int i = 0; i < 16; i++)
		acc |= id[i];
	return acc == 0;
}
