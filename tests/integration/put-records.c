/* SPDX-License-Identifier: ISC */
/*
 * put-records: append records given on stdin to a host's journal through
 * the store API (store.h), as the collector would store what an agent
 * sent, so that tests can give kmsgctl records with any bytes, including
 * a hostile agent's.
 *
 *   put-records STATE_DIR HOST < ENTRIES
 *
 * ENTRIES is in systemd's Journal Export Format: per field "NAME=value\n"
 * or "NAME\n", a 64-bit little-endian length, the bytes, "\n"; an empty
 * line ends a record. Names starting with '@' set the record's header:
 * @source (number, 1 kmsg .. 5 collector; default 2 journal), @level
 * (default 6), @facility (default 1), @event, @flags, @seq (kmsg seq),
 * @mono and @real (usec), @boot (32 hex digits), @msg (the message),
 * @stream_seq (the record's seq; higher than the next makes a gap);
 * every other field is added as the agent's own field, as it is. Records
 * get stream seqs 0, 1, ... of one stream (continued on a second run),
 * whose id is made from HOST.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define BUF_MAX (RECORD_MAX * 2)

static uint8_t fields[BUF_MAX], msg[BUF_MAX], enc[BUF_MAX + 4096];

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One field: its name into name (NUL-terminated) and value into val. 1, 0 at the end of a record, -1 at EOF.
 */
static int read_field(char *name, size_t ncap, uint8_t *val, size_t vcap, size_t *vlen)
{
	size_t n = 0;
	int c;
	while ((c = getchar()) != EOF && c != '\n' && c != '=') {
		if (n + 1 >= ncap)
			return -2;
		name[n++] = (char)c;
	}
	name[n] = '\0';
	if (c == EOF)
		return n ? -2 : -1;
	if (c == '\n' && n == 0)
		return 0;
	*vlen = 0;
	if (c == '=') {
		while ((c = getchar()) != EOF && c != '\n') {
			if (*vlen >= vcap)
				return -2;
			val[(*vlen)++] = (uint8_t)c;
		}
		return 1;
	}
	uint8_t le[8];
	if (fread(le, 1, 8, stdin) != 8)
		return -2;
	uint64_t len = 0;
	for (int k = 7; k >= 0; k--)
		len = len << 8 | le[k];
	if (len > vcap || fread(val, 1, len, stdin) != len || getchar() != '\n')
		return -2;
	*vlen = (size_t)len;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: put-records STATE_DIR HOST < ENTRIES\n");
		return 2;
	}
	struct store *s;
	struct store_host *h;
	long long cut;
	int r = store_open(&s, argv[1]);
	if (r < 0 || (r = store_host(s, argv[2], &h, &cut)) < 0) {
		fprintf(stderr, "put-records: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	uint8_t sid[STORE_STREAM_ID_LEN];
	for (int i = 0; i < STORE_STREAM_ID_LEN; i++)
		sid[i] = (uint8_t)(0x50 + i) ^ (uint8_t)argv[2][i % strlen(argv[2])];
	uint64_t seq = store_stream_hwm(h, sid);
	if ((r = store_stream_counter(h, sid, (uint64_t)time(NULL) * 1000 + seq % 1000 + 1)) < 0) {
		fprintf(stderr, "put-records: stream counter: %s\n", strerror(-r));
		return 1;
	}
	static uint8_t val[BUF_MAX];
	char name[256];
	size_t vlen, count = 0;
	for (bool eof = false; !eof;) {
		struct record_fields fb = { .buf = fields, .cap = sizeof(fields) };
		struct record rec = { .source = RECORD_SRC_JOURNAL,
				      .level = 6,
				      .facility = 1,
				      .real_usec = UINT64_C(1767225600000000) + seq * 1000000,
				      .mono_usec = 1000000 + seq * 1000 };
		bool any = false;
		for (;;) {
			r = read_field(name, sizeof(name), val, sizeof(val), &vlen);
			if (r == -1) {
				eof = true;
				break;
			}
			if (r < 0) {
				fprintf(stderr, "put-records: bad input after %zu records\n", count);
				return 1;
			}
			if (r == 0)
				break;
			any = true;
			char num[32];
			snprintf(num, sizeof(num), "%.*s", (int)(vlen < 31 ? vlen : 31), (const char *)val);
			unsigned long long v = strtoull(num, NULL, 0);
			if (strcmp(name, "@msg") == 0) {
				memcpy(msg, val, vlen);
				rec.msg = msg;
				rec.msg_len = (uint32_t)vlen;
			} else if (strcmp(name, "@source") == 0) {
				rec.source = (uint8_t)v;
			} else if (strcmp(name, "@level") == 0) {
				rec.level = (uint8_t)v;
			} else if (strcmp(name, "@facility") == 0) {
				rec.facility = (uint16_t)v;
			} else if (strcmp(name, "@event") == 0) {
				rec.event = (uint16_t)v;
			} else if (strcmp(name, "@flags") == 0) {
				rec.flags = (uint8_t)v;
			} else if (strcmp(name, "@seq") == 0) {
				rec.kmsg_seq = v;
			} else if (strcmp(name, "@mono") == 0) {
				rec.mono_usec = v;
			} else if (strcmp(name, "@stream_seq") == 0) {
				seq = v; /* a jump forward: the store adds a gap record */
			} else if (strcmp(name, "@real") == 0) {
				rec.real_usec = v;
			} else if (strcmp(name, "@boot") == 0) {
				for (size_t k = 0; k < RECORD_BOOT_ID_LEN && 2 * k + 1 < vlen; k++)
					rec.boot_id[k] = (uint8_t)((hexval(val[2 * k]) & 15) << 4 |
								   (hexval(val[2 * k + 1]) & 15));
			} else if (record_fields_add(&fb, name, val, vlen) < 0) {
				fprintf(stderr, "put-records: fields too large\n");
				return 1;
			}
		}
		if (!any)
			continue;
		rec.stream_seq = seq++;
		rec.nfields = fb.count;
		rec.fields = fb.buf;
		rec.fields_len = fb.len;
		int len = record_encode(&rec, enc, sizeof(enc));
		if (len < 0 || (r = store_append(h, sid, &rec, enc, (size_t)len, rec.real_usec + 5000)) < 0) {
			fprintf(stderr, "put-records: append: %s\n", strerror(len < 0 ? -len : -r));
			return 1;
		}
		count++;
	}
	if ((r = store_commit(s)) < 0) {
		fprintf(stderr, "put-records: commit: %s\n", strerror(-r));
		return 1;
	}
	store_free(s);
	return 0;
}
