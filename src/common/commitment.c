/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "commitment.h"
#include "key.h"

static const uint8_t zero[COMMITMENT_NAME_MAX];

int commitment_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > COMMITMENT_NAME_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

void commitment_encode(uint8_t out[COMMITMENT_LEN], const struct commitment *c)
{
	memset(out, 0, COMMITMENT_LEN);
	memcpy(out, COMMITMENT_MAGIC, 8);
	put_be64(out + 8, c->records);
	put_be64(out + 16, c->end);
	put_be64(out + 24, c->written_usec);
	memcpy(out + 32, c->chain, 32);
	memcpy(out + 64, c->stream_id, 16);
	put_be64(out + 80, c->hwm);
	size_t n = strnlen(c->host, COMMITMENT_NAME_MAX);
	out[88] = (uint8_t)n;
	memcpy(out + 96, c->host, n);
}

int commitment_decode(const uint8_t *in, size_t len, struct commitment *ret)
{
	if (len != COMMITMENT_LEN || memcmp(in, COMMITMENT_MAGIC, 8) != 0 || memcmp(in + 89, zero, 7) != 0)
		return -EBADMSG;
	size_t n = in[88];
	if (n < 1 || n > COMMITMENT_NAME_MAX || memcmp(in + 96 + n, zero, COMMITMENT_NAME_MAX - n) != 0)
		return -EBADMSG;
	struct commitment c;
	memset(&c, 0, sizeof(c));
	memcpy(c.host, in + 96, n);
	c.host[n] = 0;
	if (strlen(c.host) != n || !commitment_name_valid(c.host))
		return -EBADMSG;
	c.records = get_be64(in + 8);
	c.end = get_be64(in + 16);
	c.written_usec = get_be64(in + 24);
	memcpy(c.chain, in + 32, 32);
	memcpy(c.stream_id, in + 64, 16);
	c.hwm = get_be64(in + 80);
	*ret = c;
	return 0;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

int commitment_format(char *out, size_t cap, const struct commitment *c)
{
	char sid[33], chain[65], key[KEY_B64_LEN + 1] = "";
	hex(sid, c->stream_id, 16);
	hex(chain, c->chain, 32);
	if (c->has_collector)
		key_to_base64(key, c->collector);
	int n = snprintf(out, cap,
			 "kmsg-commitment/1 host=%s stream=%s hwm=%" PRIu64 " records=%" PRIu64
			 " end=%" PRIu64 " time=%" PRIu64 " chain=%s%s%s",
			 c->host, sid, c->hwm, c->records, c->end, c->written_usec, chain,
			 c->has_collector ? " collector=" : "", key);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

static int unhex(uint8_t *out, size_t n, const char *s, size_t len)
{
	if (len != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		char ch = s[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
		if (d < 0)
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(d << 4);
		else
			out[i / 2] |= (uint8_t)d;
	}
	return 0;
}

static int num(uint64_t *out, const char *s, size_t len)
{
	if (len == 0 || len > 20)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int commitment_parse(const char *line, struct commitment *ret)
{
	static const char *const keys[] = { "host", "stream", "hwm",   "records",
					    "end",  "time",   "chain", "collector" };
	static const char prefix[] = "kmsg-commitment/1";
	struct commitment c;
	memset(&c, 0, sizeof(c));
	size_t len = strlen(line);
	if (len && line[len - 1] == '\n')
		len--;
	if (len < sizeof(prefix) - 1 || memcmp(line, prefix, sizeof(prefix) - 1) != 0)
		return -EINVAL;
	const char *p = line + sizeof(prefix) - 1, *end = line + len;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (p == end && k == 7)
			break;
		size_t kl = strlen(keys[k]);
		if (p >= end || *p != ' ' || (size_t)(end - p) < kl + 2 || memcmp(p + 1, keys[k], kl) != 0 ||
		    p[1 + kl] != '=')
			return -EINVAL;
		const char *v = p + 2 + kl, *ve = v;
		while (ve < end && *ve != ' ')
			ve++;
		size_t vl = (size_t)(ve - v);
		int r = 0;
		switch (k) {
		case 0:
			if (vl > COMMITMENT_NAME_MAX)
				return -EINVAL;
			memcpy(c.host, v, vl);
			c.host[vl] = 0;
			r = commitment_name_valid(c.host) ? 0 : -EINVAL;
			break;
		case 1:
			r = unhex(c.stream_id, 16, v, vl);
			break;
		case 2:
			r = num(&c.hwm, v, vl);
			break;
		case 3:
			r = num(&c.records, v, vl);
			break;
		case 4:
			r = num(&c.end, v, vl);
			break;
		case 5:
			r = num(&c.written_usec, v, vl);
			break;
		case 6:
			r = unhex(c.chain, 32, v, vl);
			break;
		case 7: {
			if (vl != KEY_B64_LEN)
				return -EINVAL;
			r = key_from_base64(c.collector, v, vl) < 0 ? -EINVAL : 0;
			c.has_collector = 1;
			break;
		}
		}
		if (r < 0)
			return -EINVAL;
		p = ve;
	}
	if (p != end)
		return -EINVAL;
	*ret = c;
	return 0;
}
