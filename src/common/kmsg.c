/* SPDX-License-Identifier: ISC */

/*
 * /dev/kmsg record parser (format: kmsg.h, docs/KMSG-FORMAT.md and the
 * kernel's Documentation/ABI/testing/dev-kmsg).
 *
 * Decisions:
 * - Strict header, lenient body. PRI, SEQ and TS_USEC are plain decimal
 *   (digits only, no sign, not empty, no overflow); PRI above
 *   0xFFFF * 8 + 7 does not fit the record's u16 facility. A header without
 *   ';' on its first line, or with fewer than three fields, is not a kmsg
 *   record: -EBADMSG, and the caller keeps the raw bytes as a malformed
 *   record. Everything after a valid header is kept, never rejected.
 * - FLAGS: '-', empty or absent is a whole record; 'c' is a fragment;
 *   '+' (kernels before 5.10: continues the previous fragment) is a fragment
 *   and also kept as field KMSG_FLAGS=+, so that a merger can tell a new
 *   fragment ('c') from a continuation ('+'). Any other FLAGS value is kept
 *   as KMSG_FLAGS=<raw> on a whole record.
 * - Extra header fields (caller=T123, and whatever later kernels add):
 *   NAME=VALUE with NAME of [A-Za-z0-9_]+ becomes KMSG_HDR_<NAME>=VALUE
 *   (NAME upper-cased, VALUE as given: the kernel does not escape the
 *   header); anything else becomes KMSG_HDR=<raw>. Only the first
 *   KMSG_HDR_FIELDS_MAX extras get a field each; the rest of the header
 *   from the next extra on is kept whole as one KMSG_HDR=<raw>. This bounds
 *   the growth (each field costs 10 bytes more than its input) so that
 *   the promise of kmsg.h holds: scratch of len + 64 bytes is always enough
 *   (worst case: KMSG_FLAGS +13, five KMSG_HDR fields +50, less at least 7
 *   bytes of "P,S,T,;" that produce nothing).
 * - Newlines in the text: the kernel escapes every byte < 0x20, >= 0x7f and
 *   the backslash as \xNN, so a raw '\n' always ends the text line, and an
 *   embedded newline arrives as \x0a. It is decoded like any escape: msg
 *   holds the message bytes exactly as printk stored them, newlines
 *   included. Turning them into something printable is the job of whoever
 *   displays the message.
 * - Escapes: \xNN with two hex digits of either case is one byte; a
 *   backslash not followed by a complete \xNN stays a backslash (the kernel
 *   never emits one, since it escapes '\\' as \x5c).
 * - Dictionary lines (" KEY=VALUE"): KEY is kept as given, VALUE is
 *   unescaped. A line with no '=' or an empty KEY is kept raw (the bytes
 *   after the leading space, not unescaped): never a reason to reject.
 *   A line after the text line that does not start with a space is not
 *   dictionary but the start of another record, so the input is not one
 *   record: -EBADMSG (kmsg_record_span never produces such input; read(2)
 *   of /dev/kmsg neither).
 * - Limits of the record encoding: a field longer than 65535 bytes is cut,
 *   fields beyond 65535 are dropped, a message longer than UINT32_MAX is
 *   cut; each sets RECORD_F_TRUNCATED. The kernel never comes near these;
 *   a regular-file source might.
 * - rec is written only on success; scratch may be overwritten on failure.
 */

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "kmsg.h"

/* PRI = facility << 3 | level, facility a u16 in the record. */
#define KMSG_PRI_MAX ((uint64_t)UINT16_MAX * 8 + 7)
/* Extra header fields that get a field each; see the decisions above. */
#define KMSG_HDR_FIELDS_MAX 4

#define FIELD_HDR 2
#define FIELD_MAX UINT16_MAX

/*
 * Output into scratch: first the decoded message, then the field area.
 * An item (the message or one field) is open between item_begin and
 * item_end; bytes past its limit are dropped and counted as truncation.
 */
struct sink {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t start; /* offset of the open item's bytes */
	size_t limit; /* most bytes the open item may hold */
	bool skip;    /* the open item is dropped (field count full) */
	bool truncated;
	uint16_t nfields;
};

static int sink_put(struct sink *s, uint8_t c)
{
	if (s->skip)
		return 0;
	if (s->len - s->start >= s->limit) {
		s->truncated = true;
		return 0;
	}
	if (s->len >= s->cap)
		return -ENOSPC;
	s->buf[s->len++] = c;
	return 0;
}

static int sink_raw(struct sink *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = sink_put(s, p[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int sink_str(struct sink *s, const char *str)
{
	return sink_raw(s, (const uint8_t *)str, strlen(str));
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append p[0..n) with \xNN decoded; the output is never longer than n. */
static int sink_unescaped(struct sink *s, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		int hi, lo, r;

		if (c == '\\' && n - i >= 4 && p[i + 1] == 'x' && (hi = hexval(p[i + 2])) >= 0 &&
		    (lo = hexval(p[i + 3])) >= 0) {
			c = (uint8_t)(hi << 4 | lo);
			i += 4;
		} else {
			i++;
		}
		r = sink_put(s, c);
		if (r < 0)
			return r;
	}
	return 0;
}

static int field_begin(struct sink *s)
{
	s->skip = s->nfields == UINT16_MAX;
	if (s->skip) {
		s->truncated = true;
		return 0;
	}
	if (s->cap - s->len < FIELD_HDR)
		return -ENOSPC;
	s->len += FIELD_HDR;
	s->start = s->len;
	s->limit = FIELD_MAX;
	return 0;
}

static void field_end(struct sink *s)
{
	if (s->skip)
		return;
	put_be16(s->buf + s->start - FIELD_HDR, (uint16_t)(s->len - s->start));
	s->nfields++;
}

/* One field "prefix" + p[0..n) raw. */
static int field_prefixed(struct sink *s, const char *prefix, const uint8_t *p, size_t n)
{
	int r;

	if ((r = field_begin(s)) < 0 || (r = sink_str(s, prefix)) < 0 || (r = sink_raw(s, p, n)) < 0)
		return r;
	field_end(s);
	return 0;
}

/* Decimal u64: digits only, at least one, no overflow. */
static int parse_u64(const uint8_t *p, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	if (n == 0)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return -EBADMSG;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* Length of the header field at p (up to ',' or end). */
static size_t hdr_field_len(const uint8_t *p, size_t n)
{
	const uint8_t *comma = memchr(p, ',', n);

	return comma ? (size_t)(comma - p) : n;
}

static bool is_name_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* One extra header field e[0..n): KMSG_HDR_<NAME>=VALUE or KMSG_HDR=<raw>. */
static int field_hdr_extra(struct sink *s, const uint8_t *e, size_t n)
{
	const uint8_t *eq = memchr(e, '=', n);
	size_t nlen = eq ? (size_t)(eq - e) : 0;
	int r;

	for (size_t i = 0; i < nlen; i++) {
		if (!is_name_char(e[i])) {
			nlen = 0;
			break;
		}
	}
	if (nlen == 0)
		return field_prefixed(s, "KMSG_HDR=", e, n);

	if ((r = field_begin(s)) < 0 || (r = sink_str(s, "KMSG_HDR_")) < 0)
		return r;
	for (size_t i = 0; i < nlen; i++) {
		uint8_t c = e[i] >= 'a' && e[i] <= 'z' ? (uint8_t)(e[i] - 'a' + 'A') : e[i];
		if ((r = sink_put(s, c)) < 0)
			return r;
	}
	if ((r = sink_raw(s, eq, n - nlen)) < 0)
		return r;
	field_end(s);
	return 0;
}

/* One dictionary line l[0..n), leading space already removed. */
static int field_dict(struct sink *s, const uint8_t *l, size_t n)
{
	const uint8_t *eq = memchr(l, '=', n);
	size_t klen;
	int r;

	if (!eq || eq == l)
		return field_prefixed(s, "", l, n);
	klen = (size_t)(eq - l) + 1;
	if ((r = field_begin(s)) < 0 || (r = sink_raw(s, l, klen)) < 0 ||
	    (r = sink_unescaped(s, l + klen, n - klen)) < 0)
		return r;
	field_end(s);
	return 0;
}

int kmsg_parse(const uint8_t *buf, size_t len, struct record *rec, uint8_t *scratch, size_t cap)
{
	const uint8_t *line_end, *semi, *p, *hend, *flags = NULL;
	size_t line_len, n, flags_len = 0, msg_len;
	uint64_t pri, seq, ts;
	struct sink s = { .buf = scratch, .cap = cap };
	uint8_t rflags = 0;
	int r;

	/* memchr wants a valid pointer even for 0 bytes; empty input is no record anyway. */
	if (len == 0)
		return -EBADMSG;
	line_end = memchr(buf, '\n', len);
	line_len = line_end ? (size_t)(line_end - buf) : len;
	semi = memchr(buf, ';', line_len);
	if (!semi)
		return -EBADMSG;
	hend = semi;

	/* PRI,SEQ,TS_USEC: all three required. */
	p = buf;
	n = hdr_field_len(p, (size_t)(hend - p));
	if (parse_u64(p, n, &pri) < 0 || pri > KMSG_PRI_MAX || p + n == hend)
		return -EBADMSG;
	p += n + 1;
	n = hdr_field_len(p, (size_t)(hend - p));
	if (parse_u64(p, n, &seq) < 0 || p + n == hend)
		return -EBADMSG;
	p += n + 1;
	n = hdr_field_len(p, (size_t)(hend - p));
	if (parse_u64(p, n, &ts) < 0)
		return -EBADMSG;
	p += n;
	/* p is at ",FLAGS..." or at the ';'. */
	if (p < hend) {
		p++;
		flags = p;
		flags_len = hdr_field_len(p, (size_t)(hend - p));
		p += flags_len;
	}

	/* The message first, so that it sits at the start of scratch. */
	s.limit = UINT32_MAX;
	if ((r = sink_unescaped(&s, semi + 1, line_len - (size_t)(semi + 1 - buf))) < 0)
		return r;
	msg_len = s.len;

	if (flags_len == 1 && flags[0] == 'c') {
		rflags |= RECORD_F_FRAGMENT;
	} else if (flags_len == 1 && flags[0] == '+') {
		rflags |= RECORD_F_FRAGMENT;
		if ((r = field_prefixed(&s, "KMSG_FLAGS=", flags, flags_len)) < 0)
			return r;
	} else if (flags_len > 0 && !(flags_len == 1 && flags[0] == '-')) {
		if ((r = field_prefixed(&s, "KMSG_FLAGS=", flags, flags_len)) < 0)
			return r;
	}

	/* p is at ",EXTRA..." or at the ';'. */
	for (unsigned i = 0; p < hend; i++) {
		p++;
		if (i == KMSG_HDR_FIELDS_MAX) {
			if ((r = field_prefixed(&s, "KMSG_HDR=", p, (size_t)(hend - p))) < 0)
				return r;
			break;
		}
		n = hdr_field_len(p, (size_t)(hend - p));
		if ((r = field_hdr_extra(&s, p, n)) < 0)
			return r;
		p += n;
	}

	/* Dictionary: every following line starts with a space. */
	p = line_end ? line_end + 1 : buf + len;
	while (p < buf + len) {
		const uint8_t *eol = memchr(p, '\n', (size_t)(buf + len - p));

		n = eol ? (size_t)(eol - p) : (size_t)(buf + len - p);
		if (p[0] != ' ')
			return -EBADMSG;
		if ((r = field_dict(&s, p + 1, n - 1)) < 0)
			return r;
		p += n + (eol ? 1 : 0);
	}

	if (s.truncated)
		rflags |= RECORD_F_TRUNCATED;
	rec->source = RECORD_SRC_KMSG;
	rec->level = (uint8_t)(pri & 7);
	rec->facility = (uint16_t)(pri >> 3);
	rec->flags = rflags;
	rec->event = RECORD_EV_NONE;
	rec->kmsg_seq = seq;
	rec->mono_usec = ts;
	rec->msg = scratch;
	rec->msg_len = (uint32_t)msg_len;
	rec->nfields = s.nfields;
	rec->fields = scratch + msg_len;
	rec->fields_len = s.len - msg_len;
	return 0;
}

size_t kmsg_record_span(const uint8_t *buf, size_t avail, int at_eof)
{
	const uint8_t *nl;
	size_t pos;

	if (avail == 0)
		return 0;
	nl = memchr(buf, '\n', avail);
	if (!nl)
		return at_eof ? avail : 0;
	pos = (size_t)(nl - buf) + 1;

	/* Continuation lines: take each complete one; stop at the first other line. */
	for (;;) {
		if (pos == avail)
			return at_eof ? pos : 0;
		if (buf[pos] != ' ')
			return pos;
		nl = memchr(buf + pos, '\n', avail - pos);
		if (!nl)
			return at_eof ? avail : 0;
		pos = (size_t)(nl - buf) + 1;
	}
}
