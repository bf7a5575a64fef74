/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "text.h"

void cursor_format(char *buf, size_t cap, const char *host, const struct journal_entry *e)
{
	char sid[33];
	text_hex(sid, e->stream_id, 16);
	snprintf(buf, cap, "h=%s;o=%lld;s=%s;q=%" PRIu64, host, (long long)e->offset, sid, e->rec.stream_seq);
}

static int parse_u64(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cursor_parse(const char *s, struct cursor *ret)
{
	struct cursor c;
	bool h = false, o = false, sid = false, q = false;
	memset(&c, 0, sizeof(c));
	while (*s) {
		const char *end = strchr(s, ';');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len < 2 || s[1] != '=')
			return -EINVAL;
		const char *v = s + 2;
		size_t vlen = len - 2;
		uint64_t n;
		switch (s[0]) {
		case 'h':
			if (h || vlen > STORE_NAME_MAX)
				return -EINVAL;
			memcpy(c.host, v, vlen);
			c.host[vlen] = '\0';
			if (!store_name_valid(c.host))
				return -EINVAL;
			h = true;
			break;
		case 'o':
			if (o || parse_u64(v, vlen, &n) < 0 || n > INT64_MAX)
				return -EINVAL;
			c.offset = (off_t)n;
			o = true;
			break;
		case 's':
			if (sid || vlen != 32)
				return -EINVAL;
			for (size_t i = 0; i < 16; i++) {
				int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
				if (hi < 0 || lo < 0)
					return -EINVAL;
				c.stream_id[i] = (uint8_t)(hi << 4 | lo);
			}
			sid = true;
			break;
		case 'q':
			if (q || parse_u64(v, vlen, &c.stream_seq) < 0)
				return -EINVAL;
			q = true;
			break;
		default:
			return -EINVAL;
		}
		s += len;
		if (*s == ';')
			s++;
	}
	if (!h || !o || !sid || !q)
		return -EINVAL;
	*ret = c;
	return 0;
}

int cursor_matches(const struct cursor *c, const struct journal_entry *e)
{
	return memcmp(c->stream_id, e->stream_id, 16) == 0 && c->stream_seq == e->rec.stream_seq;
}
