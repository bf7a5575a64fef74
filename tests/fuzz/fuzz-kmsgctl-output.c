/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for kmsgctl's output of a stored record (output.c,
 * view.c, text.c, json.c): a hostile agent controls the message and every
 * field of its records, and what kmsgctl prints of them must not reach the
 * reader's terminal as anything but text (issue 22).
 *
 * The input makes a record: byte 0 its source, 1 its level, 2 its flags,
 * 3 its event, 4-5 its facility; then chunks of a length byte and that
 * many bytes: the first is the message, each further one a field. A
 * field chunk's first byte picks a key of keys[] (the names output.c and
 * view.c look at), the rest being its value; a byte past the table
 * makes the rest the whole field, as the agent sent it ("KEY=value" or
 * anything). The record is printed in every
 * format, to a terminal (tty) and not, without and with colour, -a and
 * --no-full (40 columns), and the
 * bytes checked against kmsgctl(1)'s promise:
 *
 *   - short formats, json, json-pretty, and cat and export to a terminal:
 *     valid UTF-8, no control character but tab and newline (no other C0,
 *     no DEL, no C1 U+0080..U+009F), escape sequences only kmsgctl's own
 *     colours (with colour on);
 *   - short formats: every line after the first starts with a blank (the
 *     indentation of a message's further lines), so no record can print
 *     a line that looks like another record's;
 *   - json: exactly one line per record; json-seq: the same after its
 *     record separator 0x1e (RFC 7464), the one other control byte;
 *   - verbose: every line after the first starts with a blank;
 *   - export to a terminal: every line "NAME=text", NAME of A-Z 0-9 _,
 *     and an empty line at the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
bool store_name_valid(const char *name);

/* cursor.c's parser asks the store; nothing here parses a cursor. */
bool store_name_valid(const char *name)
{
	(void)name;
	abort();
}

#define FIELDS_MAX 64

static const char *const keys[] = {
	"SYSLOG_IDENTIFIER", "_COMM",	  "_PID",   "SYSLOG_PID", "_HOSTNAME",
	"MESSAGE",	     "SUBSYSTEM", "DEVICE", "__CURSOR",	  "KMSG_SEQ",
	"PRIORITY",	     "_BOOT_ID",  "A",	    "a-b",
};

static const char *const colors[] = {
	"\x1b[0;1;31m", "\x1b[0;1;38;5;185m", "\x1b[0;1;39m", "\x1b[0;38;5;245m", "\x1b[0m",
};

/* Length of the UTF-8 character at p that is not a control character
 * (tab and newline allowed), 0 for anything else. */
static size_t text_ok(const uint8_t *p, size_t len)
{
	if (p[0] == '\t' || p[0] == '\n')
		return 1;
	return text_char_len(p, len, false);
}

static void check_text(const uint8_t *p, size_t len, bool color)
{
	size_t i = 0;
	while (i < len) {
		if (color && p[i] == 0x1b) {
			size_t k = 0, n = 0;
			for (; k < sizeof(colors) / sizeof(colors[0]); k++) {
				n = strlen(colors[k]);
				if (len - i >= n && memcmp(p + i, colors[k], n) == 0)
					break;
			}
			if (k == sizeof(colors) / sizeof(colors[0]))
				abort(); /* an escape kmsgctl did not make */
			i += n;
			continue;
		}
		size_t n = text_ok(p + i, len - i);
		if (n == 0)
			abort(); /* a control byte or invalid UTF-8 */
		i += n;
	}
}

static void check_export(const uint8_t *p, size_t len)
{
	if (len < 2 || p[len - 1] != '\n' || p[len - 2] != '\n')
		abort();
	size_t i = 0;
	while (i < len - 1) {
		const uint8_t *nl = memchr(p + i, '\n', len - 1 - i);
		size_t end = nl ? (size_t)(nl - p) : len - 1;
		size_t k = i;
		while (k < end &&
		       ((p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= '0' && p[k] <= '9') || p[k] == '_'))
			k++;
		if (k == i || k == end || p[k] != '=')
			abort();
		i = end + 1;
	}
	check_text(p, len, false);
}

static void check(enum output_mode mode, bool tty, bool color, const uint8_t *p, size_t len)
{
	if ((mode == OUTPUT_CAT || mode == OUTPUT_EXPORT) && !tty)
		return; /* bytes as they are, for pipes (kmsgctl(1)) */
	if (mode == OUTPUT_EXPORT) {
		check_export(p, len);
		return;
	}
	/* json-seq: RFC 7464's record separator first, its only control byte. */
	if (mode == OUTPUT_JSON_SEQ) {
		if (len == 0 || p[0] != 0x1e)
			abort();
		p++;
		len--;
	}
	check_text(p, len, color);
	if (len == 0 || p[len - 1] != '\n')
		abort();
	if (output_mode_short(mode) || mode == OUTPUT_VERBOSE) {
		for (size_t i = 0; i + 1 < len; i++)
			if (p[i] == '\n' && p[i + 1] != ' ')
				abort(); /* a line that is not the record's own */
	} else if (mode == OUTPUT_JSON && memchr(p, '\n', len - 1)) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 6)
		return 0;
	static uint8_t fields[FIELDS_MAX * (2 + 32 + 255)];
	struct record rec = {
		.source = (uint8_t)(RECORD_SRC_KMSG + data[0] % 5),
		.level = data[1] & 7,
		.flags = data[2] & 15,
		.event = data[3] % 12,
		.facility = (uint16_t)(data[4] | data[5] << 8),
		.stream_seq = 7,
		.kmsg_seq = 3,
		.mono_usec = 1234567,
		.real_usec = UINT64_C(1767225600123456),
	};
	memset(rec.boot_id, 0x42, sizeof(rec.boot_id));
	size_t i = 6, flen = 0;
	uint8_t *msg = NULL;
	for (int chunk = 0; i < size && chunk <= FIELDS_MAX; chunk++) {
		size_t n = data[i++];
		if (n > size - i)
			n = size - i;
		if (chunk == 0) {
			/* A copy of exactly its size, so ASan sees a read past it. */
			msg = malloc(n ? n : 1);
			if (!msg)
				abort();
			memcpy(msg, data + i, n);
			rec.msg = msg;
			rec.msg_len = (uint32_t)n;
		} else if (n > 0) {
			const uint8_t *v = data + i;
			size_t vn = n, kn = 0;
			const char *key = NULL;
			if (v[0] < sizeof(keys) / sizeof(keys[0])) {
				key = keys[v[0]];
				kn = strlen(key) + 1;
			}
			v++;
			vn--;
			size_t total = kn + vn;
			fields[flen] = (uint8_t)(total >> 8);
			fields[flen + 1] = (uint8_t)total;
			if (key) {
				memcpy(fields + flen + 2, key, kn - 1);
				fields[flen + 2 + kn - 1] = '=';
			}
			memcpy(fields + flen + 2 + kn, v, vn);
			flen += 2 + total;
			rec.nfields++;
		}
		i += n;
	}
	if (!msg)
		rec.msg = (const uint8_t *)"";
	rec.fields = fields;
	rec.fields_len = flen;
	uint8_t sid[16];
	memset(sid, 0xab, sizeof(sid));
	struct journal_entry e = {
		.recno = 1, .recv_usec = rec.real_usec + 5000, .stream_id = sid, .rec = rec
	};

	/* Every format: the enum runs from OUTPUT_SHORT to OUTPUT_VERBOSE. */
	for (int m = OUTPUT_SHORT; m <= OUTPUT_VERBOSE; m++) {
		for (int v = 0; v < 8; v++) {
			char *buf = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&buf, &len);
			if (!f)
				abort();
			struct output_conf c = {
				.mode = (enum output_mode)m,
				.utc = true,
				.tty = v & 1,
				.color = v & 2,
				.all = v & 4,
				.columns = v & 4 ? 40 : 0,
				.out = f,
			};
			struct output *o;
			if (output_new(&o, &c) < 0)
				abort();
			if (output_entry(o, "host", &e) < 0)
				abort();
			output_free(o);
			fclose(f);
			check((enum output_mode)m, c.tty, c.color, (const uint8_t *)buf, len);
			free(buf);
		}
	}
	free(msg);
	return 0;
}
