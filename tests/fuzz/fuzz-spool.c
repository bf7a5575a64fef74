/* SPDX-License-Identifier: ISC */

/*
 * libFuzzer target for spool recovery (spool_check, spool_open and
 * spool_read over whatever a segment file holds).
 *
 * Input: byte 0 is flags, byte 1 a split point, the rest file bytes.
 *   flags bit 0: split the bytes into two segment files at the split point
 *   flags bit 1: fix up the header hash and the entry checksums (keyed with
 *                the stream id the header names), so that the fuzzer gets
 *                past them to record decoding, seq order and overflow
 * Each file is named by the first seq its header bytes give (as a real
 * segment is), so a header can be valid.
 *
 * Invariants: spool_check returns 0 or 1; spool_open never fails on file
 * contents; every record read decodes, carries the seq it was read under,
 * comes in ascending order and is below spool_next_seq; appends work
 * after recovery (unless a crafted header used up the seqs: -EOVERFLOW,
 * from spool_close too);
 * after spool_close the spool checks clean. ASan's leak
 * checker sees everything freed.
 */

#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "bytes.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[128];
static const uint8_t sid[16] = { 0x5a, 1, 2, 3 };
static const uint8_t boot[16] = { 0xb0 };

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

static void cleanup(void)
{
	char dir[192];

	snprintf(dir, sizeof(dir), "%s/s", base);
	rm_dir(dir);
	rmdir(base);
}

static void fixup(uint8_t *b, size_t n)
{
	size_t p = SPOOL_SEG_HDR_LEN;

	if (n < SPOOL_SEG_HDR_LEN)
		return;
	memcpy(b, SPOOL_MAGIC, 8);
	crypto_generichash(b + 80, 16, b, 80, NULL, 0);
	while (n - p >= SPOOL_ENTRY_OVERHEAD) {
		uint32_t len = get_be32(b + p);
		if (len > n - p - SPOOL_ENTRY_OVERHEAD)
			break;
		crypto_generichash(b + p + 4 + len, 16, b + p, 4 + (size_t)len, b + 8, 16);
		p += 4 + (size_t)len + 16;
	}
}

static void write_seg(const char *dir, const uint8_t *src, size_t n, int fix)
{
	uint8_t *b = malloc(n ? n : 1);
	uint64_t first = 0;
	char p[512];
	int fd;

	if (!b)
		abort();
	memcpy(b, src, n);
	if (n >= 32)
		first = get_be64(b + 24) & ((UINT64_C(1) << 62) - 1);
	if (n >= 32 && fix)
		put_be64(b + 24, first);
	if (fix)
		fixup(b, n);
	snprintf(p, sizeof(p), "%s/%016" PRIx64 ".seg", dir, first);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, b, n) != (ssize_t)n)
		abort();
	close(fd);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[192];
	struct spool_conf c;
	struct spool *s;
	FILE *null;
	uint64_t from = 0, seq, last = 0;
	const uint8_t *buf;
	size_t len, n;
	int r, any = 0, at_limit;

	if (size < 2)
		return 0;
	if (!base[0]) {
		const char *t = getenv("TMPDIR");
		if (!t || strlen(t) > 64)
			t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(base, sizeof(base), "%s/fuzz-spool.XXXXXX", t);
		if (!mkdtemp(base) || sodium_init() < 0)
			abort();
		atexit(cleanup);
	}
	snprintf(dir, sizeof(dir), "%s/s", base);
	rm_dir(dir);
	if (mkdir(dir, 0700) < 0)
		abort();

	n = size - 2;
	if ((data[0] & 1) && n > 0) {
		size_t cut = (size_t)data[1] * n / 256;
		write_seg(dir, data + 2, cut, data[0] & 2);
		write_seg(dir, data + 2 + cut, n - cut, data[0] & 2);
	} else {
		write_seg(dir, data + 2, n, data[0] & 2);
	}

	null = fopen("/dev/null", "w");
	if (!null)
		abort();
	r = spool_check(dir, null);
	if (r != 0 && r != 1)
		abort();

	spool_conf_init(&c);
	c.max_bytes = SPOOL_MIN_BYTES;
	c.segment_bytes = 4096;
	c.cache_bytes = 512;
	if (spool_open(&s, dir, &c, sid, boot) != 0)
		abort();
	while ((r = spool_read(s, from, &buf, &len, &seq)) == 0) {
		struct record rec;
		if (seq < from || (any && seq <= last) || seq >= spool_next_seq(s))
			abort();
		if (record_decode(buf, len, &rec) != 0 || rec.stream_seq != seq)
			abort();
		any = 1;
		last = seq;
		from = seq + 1;
	}
	if (r != -ENOENT)
		abort();
	for (int i = 0; i < 3; i++) {
		static const uint8_t msg[] = "fuzz record";
		struct record rec = { .source = RECORD_SRC_KMSG,
				      .level = (uint8_t)(3 + 2 * i),
				      .msg = msg,
				      .msg_len = sizeof(msg) - 1 };
		seq = spool_next_seq(s);
		r = spool_append(s, &rec);
		/* A crafted header can claim seqs up to the limit (2^62). */
		if (r == -EOVERFLOW && seq >= (UINT64_C(1) << 62) - 2)
			break;
		if (r != 0 || rec.stream_seq < seq)
			abort();
		if (spool_read(s, rec.stream_seq, &buf, &len, &seq) != 0 || seq != rec.stream_seq)
			abort();
	}
	at_limit = spool_next_seq(s) >= (UINT64_C(1) << 62) - 2;
	r = spool_close(s);
	if (r != 0 && !(r == -EOVERFLOW && at_limit))
		abort();
	if (spool_check(dir, null) != 0)
		abort();
	fclose(null);
	rm_dir(dir);
	return 0;
}
