/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the collector's journal files (journal.h): the input
 * is a whole journal file. It is put in a memfd (no files on disk) and read
 * through /proc/self/fd/N:
 *
 * - journal_reader_open succeeds exactly when the file has a header with
 *   the magic (-ENODATA when shorter, -EBADMSG for another magic);
 * - journal_reader_next returns exactly the entries a reference parse of
 *   the input finds, in order, each at its offset, its record re-encoding
 *   to the stored bytes; then 0 (an incomplete tail) or -EBADMSG at the
 *   reader's offset, again on a further call; the offset never exceeds the
 *   file size;
 * - the same holds when the file grows while it is read: the input is
 *   first written up to a split point taken from the input, read to its
 *   end, then the rest is appended and reading resumes;
 * - journal_recover over a copy sees the same entries; on success it cuts
 *   the file to the reader's offset and cut + new size == original size,
 *   the kept bytes unchanged; with -EUCLEAN or an error the copy is
 *   untouched.
 *
 * Entry checksums are BLAKE2b, which mutations never get right: when bit 0
 * of header byte 8 (reserved, ignored by the reader) is set, the harness
 * first rewrites the checksum of every complete entry whose length is in
 * range, so that the fuzzer reaches record_decode. Bytes 9 and 10 pick the
 * split point. When bit 1 of byte 8 is set, 2 * (bytes 11 and 12) zero bytes
 * are appended to the input: a tail of damage large enough for
 * journal_recover's -EUCLEAN, which a 4 KiB input could not reach.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "journal.h"
#include "record.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_FIXED (8 + 16)
#define SUM_LEN 16
#define BODY_MIN (BODY_FIXED + RECORD_HDR_LEN)
#define BODY_MAX (BODY_FIXED + RECORD_MAX)
#define INPUT_MAX (1 << 20)
/* Entries a file of at most INPUT_MAX bytes (plus zero padding) can hold. */
#define MAX_ENTRIES ((INPUT_MAX - JOURNAL_HDR_LEN) / (4 + BODY_MIN + SUM_LEN) + 1)

#define REQUIRE(cond)            \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static uint8_t enc[RECORD_MAX];
/* Offsets of the entries the reference parse found. */
static off_t ref_off[MAX_ENTRIES];

struct scan {
	size_t n;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	return 0;
}

/* Length of the entry at pos if it is complete and its length in range,
 * else 0; sum receives the checksum it should have. */
static size_t entry_at(const uint8_t *buf, size_t size, size_t pos, uint8_t sum[SUM_LEN])
{
	size_t body, total;

	if (size - pos < 4)
		return 0;
	body = get_be32(buf + pos);
	if (body < BODY_MIN || body > BODY_MAX)
		return 0;
	total = 4 + body + SUM_LEN;
	if (size - pos < total)
		return 0;
	crypto_generichash(sum, SUM_LEN, buf + pos, 4 + body, NULL, 0);
	return total;
}

/* Reference parse: fills ref_off, returns the number of good entries
 * (checksum right, record decodes), *good the offset after the last one. */
static size_t reference(const uint8_t *buf, size_t size, size_t *good)
{
	size_t pos = JOURNAL_HDR_LEN, n = 0, total;
	uint8_t sum[SUM_LEN];
	struct record rec;

	while ((total = entry_at(buf, size, pos, sum)) > 0) {
		size_t body = total - 4 - SUM_LEN;

		if (memcmp(sum, buf + pos + 4 + body, SUM_LEN) != 0 ||
		    record_decode(buf + pos + 4 + BODY_FIXED, body - BODY_FIXED, &rec) != 0)
			break;
		REQUIRE(n < MAX_ENTRIES);
		ref_off[n++] = (off_t)pos;
		pos += total;
	}
	*good = pos;
	return n;
}

/* The entry must be the bytes of the input at its offset. */
static void check_entry(const uint8_t *buf, const struct journal_entry *e, size_t n, size_t n_ref)
{
	size_t off = (size_t)e->offset, body;
	int len;

	REQUIRE(n < n_ref && e->offset == ref_off[n]);
	body = get_be32(buf + off);
	REQUIRE(e->recv_usec == get_be64(buf + off + 4));
	REQUIRE(memcmp(e->stream_id, buf + off + 12, 16) == 0);
	len = record_encode(&e->rec, enc, sizeof(enc));
	REQUIRE(len >= 0 && (size_t)len == body - BODY_FIXED);
	REQUIRE(memcmp(enc, buf + off + 4 + BODY_FIXED, (size_t)len) == 0);
}

/* Read entries until the end or damage. Returns the result of the last
 * journal_reader_next; *n counts the entries. */
static int read_all(struct journal_reader *r, const uint8_t *buf, size_t avail, size_t *n, size_t n_ref)
{
	struct journal_entry e;
	off_t before;
	int ret;

	for (;;) {
		before = journal_reader_offset(r);
		memset(&e, 0, sizeof(e));
		ret = journal_reader_next(r, &e);
		REQUIRE(journal_reader_offset(r) >= JOURNAL_HDR_LEN);
		REQUIRE((size_t)journal_reader_offset(r) <= avail);
		if (ret != 1)
			break;
		check_entry(buf, &e, *n, n_ref);
		REQUIRE(e.offset == before);
		REQUIRE((size_t)journal_reader_offset(r) ==
			(size_t)e.offset + 4 + get_be32(buf + e.offset) + SUM_LEN);
		(*n)++;
	}
	REQUIRE(journal_reader_offset(r) == before);
	if (ret == -EBADMSG) {
		REQUIRE(e.offset == before);
	} else {
		REQUIRE(ret == 0);
		/* Nothing complete follows: fewer than 4 bytes, or fewer than
		 * the entry's length says. */
		if (avail - (size_t)before >= 4)
			REQUIRE(avail - (size_t)before < 4 + get_be32(buf + before) + SUM_LEN);
	}
	return ret;
}

static void write_at(int fd, const uint8_t *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, buf, len, off);

		REQUIRE(w > 0);
		buf += w;
		len -= (size_t)w;
		off += w;
	}
}

static int memfd_with(const uint8_t *buf, size_t len, char *path, size_t path_cap)
{
	int fd = memfd_create("fuzz-journal", MFD_CLOEXEC);

	REQUIRE(fd >= 0);
	write_at(fd, buf, len, 0);
	snprintf(path, path_cap, "/proc/self/fd/%d", fd);
	return fd;
}

static void count_entry(const struct journal_entry *e, void *data)
{
	struct scan *s = data;

	REQUIRE(s->n < MAX_ENTRIES && e->offset == ref_off[s->n]);
	s->n++;
}

static void check_recover(const uint8_t *buf, size_t size, int open_ret, size_t n_ref, size_t good)
{
	struct scan s = { 0 };
	char path[64];
	off_t cut = -1;
	struct stat st;
	uint8_t *back;
	int fd, ret;

	fd = memfd_with(buf, size, path, sizeof(path));
	ret = journal_recover(path, count_entry, &s, &cut);
	REQUIRE(fstat(fd, &st) == 0);
	if (open_ret < 0) {
		REQUIRE(ret == open_ret && s.n == 0);
		REQUIRE((size_t)st.st_size == size);
	} else if (ret == -EUCLEAN) {
		REQUIRE(s.n == n_ref);
		/* ret_cut is untouched on failure; the damage is what follows good. */
		REQUIRE(cut == -1);
		REQUIRE(size - good > JOURNAL_ENTRY_OVERHEAD + RECORD_MAX);
		REQUIRE((size_t)st.st_size == size);
	} else {
		REQUIRE(ret >= 0);
		close(ret);
		REQUIRE(s.n == n_ref);
		REQUIRE(cut >= 0 && cut <= (off_t)(JOURNAL_ENTRY_OVERHEAD + RECORD_MAX));
		REQUIRE((size_t)st.st_size == good);
		REQUIRE((size_t)cut + (size_t)st.st_size == size);
	}
	/* What is left is the input, unchanged. */
	back = malloc(st.st_size ? (size_t)st.st_size : 1);
	REQUIRE(back);
	REQUIRE(pread(fd, back, (size_t)st.st_size, 0) == st.st_size);
	REQUIRE(memcmp(back, buf, (size_t)st.st_size) == 0);
	free(back);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_reader *r = NULL;
	size_t n_ref = 0, good = 0, n = 0, split, pad = 0;
	uint8_t *buf;
	char path[64];
	int fd, ret, first, open_ret;
	off_t last;

	if (size > INPUT_MAX)
		return 0;
	if (size >= JOURNAL_HDR_LEN && data[8] & 2)
		pad = 2 * (size_t)get_be16(data + 11);
	buf = calloc(1, size + pad ? size + pad : 1);
	REQUIRE(buf);
	memcpy(buf, data, size);
	size += pad;
	if (size >= JOURNAL_HDR_LEN) {
		if (buf[8] & 1) {
			size_t pos = JOURNAL_HDR_LEN, total;
			uint8_t sum[SUM_LEN];

			while ((total = entry_at(buf, size, pos, sum)) > 0) {
				memcpy(buf + pos + total - SUM_LEN, sum, SUM_LEN);
				pos += total;
			}
		}
		split = JOURNAL_HDR_LEN + (size_t)get_be16(buf + 9) % (size - JOURNAL_HDR_LEN + 1);
		n_ref = reference(buf, size, &good);
	} else {
		split = size;
	}

	/* Write up to the split, read, append the rest, read on. */
	fd = memfd_with(buf, split, path, sizeof(path));
	open_ret = journal_reader_open(&r, path);
	if (size < JOURNAL_HDR_LEN)
		REQUIRE(open_ret == -ENODATA);
	else if (memcmp(buf, JOURNAL_MAGIC, 8) != 0)
		REQUIRE(open_ret == -EBADMSG);
	else
		REQUIRE(open_ret == 0);
	if (open_ret == 0) {
		ret = read_all(r, buf, split, &n, n_ref);
		last = journal_reader_offset(r);
		if (split < size) {
			write_at(fd, buf + split, size - split, (off_t)split);
			first = ret;
			ret = read_all(r, buf, size, &n, n_ref);
			/* Damage stays where it was found, whatever follows. */
			if (first == -EBADMSG)
				REQUIRE(ret == -EBADMSG && journal_reader_offset(r) == last);
		}
		/* At the end it stays at the end. */
		last = journal_reader_offset(r);
		REQUIRE(read_all(r, buf, size, &n, n_ref) == ret);
		REQUIRE(journal_reader_offset(r) == last);
		REQUIRE(n == n_ref && (size_t)last == good);
		journal_reader_free(r);
	}
	close(fd);

	check_recover(buf, size, open_ret, n_ref, good);
	free(buf);
	return 0;
}
