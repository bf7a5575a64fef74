/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "pad.h"

size_t pad_plain_len(size_t len)
{
	size_t body = PAD_BODY_MIN;
	while (body < PAD_HDR + len + PROTO_TAG_LEN && body < 32768)
		body *= 2;
	if (body < PAD_HDR + len + PROTO_TAG_LEN)
		body = PROTO_FRAME_MAX;
	return body - PROTO_TAG_LEN;
}

int pad_wrap(uint8_t *out, size_t cap, const uint8_t *msg, size_t len)
{
	if (len < 1 || len > PAD_MSG_MAX)
		return -EMSGSIZE;
	size_t n = pad_plain_len(len);
	if (n > cap)
		return -ENOSPC;
	put_be16(out, (uint16_t)len);
	memmove(out + PAD_HDR, msg, len);
	memset(out + PAD_HDR + len, 0, n - PAD_HDR - len);
	return (int)n;
}

int pad_unwrap(const uint8_t *p, size_t n, const uint8_t **msg, size_t *len)
{
	if (n < PAD_HDR)
		return -EPROTO;
	size_t l = get_be16(p);
	if (l < 1 || l > n - PAD_HDR || pad_plain_len(l) != n)
		return -EPROTO;
	for (size_t i = PAD_HDR + l; i < n; i++)
		if (p[i])
			return -EPROTO;
	*msg = p + PAD_HDR;
	*len = l;
	return 0;
}
