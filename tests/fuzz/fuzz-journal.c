/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the collector store's recovery and reading
 * (store.h, journal.h, verify.h, docs/STORE.md). The input is the entry
 * area of a host's only segment: the harness writes a valid segment header
 * (base 0, first record 0, zero chain) followed by the input bytes into
 * a host directory, then:
 *
 * - the journal reader returns entries in order, at growing positions,
 *   with record numbers 0, 1, 2, ...-like positions inside the file, then
 *   0 (an incomplete tail) or -EBADMSG, again on a further call;
 * - store_host recovers the host: -EUCLEAN with the segment untouched, or
 *   success with the segment cut to a prefix of itself (cut + new size ==
 *   old size, at most one entry's worth cut, the kept bytes unchanged);
 * - after a successful recovery the reader reads the recovered entries to
 *   the end without damage, and kmsgctl --verify's check finds nothing
 *   wrong with what recovery kept (index and checkpoints included), the
 *   same number of records.
 *
 * Checksums (CRC-32C, or BLAKE2b in format 2) and chain values (BLAKE2b)
 * are what mutations never get right:
 * when bit 0 of the first input byte is set, the harness first rewrites
 * record number, checksum and chain value of every complete entry whose
 * length is in range, so the fuzzer reaches record_decode and recovery's
 * later checks. When bit 1 is set, 2 * (bytes 1 and 2) zero bytes are
 * appended: a tail of damage large enough for -EUCLEAN. When bit 2 is set,
 * the segment is format 2 (an older collector's; the collector then goes
 * on in a new segment of the current format). The entries start at input
 * byte 3.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "checkpoint.h"
#include "crc32c.h"
#include "durable.h"
#include "journal.h"
#include "record.h"
#include "segment.h"
#include "store.h"
#include "verify.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (1 << 20)

#define REQUIRE(cond)            \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static char state[64], host[128], seg[192];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	snprintf(state, sizeof(state), "/tmp/fuzz-journal.XXXXXX");
	REQUIRE(mkdtemp(state));
	snprintf(host, sizeof(host), "%s/hosts/h", state);
	REQUIRE(mkdir_p(host, 0700) == 0);
	snprintf(seg, sizeof(seg), "%s/0000000000000000.seg", host);
	return 0;
}

/* Give every complete entry of the right length its record number, checksum and chain value. */
static void fixup(uint8_t *buf, size_t size, size_t pos, unsigned version)
{
	uint8_t chain[SEGMENT_HASH_LEN] = { 0 }, digest[SEGMENT_HASH_LEN];
	uint64_t recno = 0;
	size_t total;
	while (size - pos >= 4 && (total = segment_entry_size(buf + pos, version)) > 0 &&
	       size - pos >= total) {
		uint8_t *p = buf + pos;
		size_t n = total - segment_entry_trailer(version);
		put_be64(p + 4, recno++);
		crypto_generichash(digest, sizeof(digest), p, n, NULL, 0);
		if (version >= 3)
			put_be32(p + n, crc32c(p, n));
		else
			memcpy(p + n, digest, SEGMENT_HASH_LEN);
		segment_chain_next(chain, chain, digest);
		memcpy(p + total - SEGMENT_HASH_LEN, chain, SEGMENT_HASH_LEN);
		pos += total;
	}
}

/* Every file of the host directory gone (a format 2 run leaves a second segment). */
static void clear_host(void)
{
	DIR *d = opendir(host);
	REQUIRE(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			REQUIRE(unlinkat(dirfd(d), de->d_name, 0) == 0);
	closedir(d);
}

static uint64_t read_entries(bool expect_clean)
{
	struct journal_reader *r;
	struct journal_entry e;
	uint64_t n = 0;
	off_t last = -1;
	int ret;
	REQUIRE(journal_reader_open(&r, host) == 0);
	while ((ret = journal_reader_next(r, &e)) == 1) {
		REQUIRE(e.offset > last);
		last = e.offset;
		REQUIRE(journal_reader_offset(r) > e.offset);
		n++;
	}
	REQUIRE(ret == 0 || ret == -EBADMSG);
	if (expect_clean)
		REQUIRE(ret == 0);
	off_t at = journal_reader_offset(r);
	REQUIRE(journal_reader_next(r, &e) == ret);
	REQUIRE(journal_reader_offset(r) == at);
	journal_reader_free(r);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size > INPUT_MAX)
		return 0;
	size_t pad = data[0] & 2 ? 2 * (size_t)get_be16(data + 1) : 0;
	size_t hlen = segment_header_size(0), len = hlen + size - 3 + pad;
	uint8_t *buf = calloc(1, len), *back = malloc(len);
	REQUIRE(buf && back);
	/* Bit 2: a format 2 segment (an older collector's), else the current. */
	struct segment_header h = { .version = data[0] & 4 ? 2 : SEGMENT_VERSION };
	segment_header_encode(buf, &h);
	memcpy(buf + hlen, data + 3, size - 3);
	if (data[0] & 1)
		fixup(buf, len, hlen, h.version);
	clear_host();
	REQUIRE(durable_replace(seg, buf, len, 0600) == 0);

	read_entries(false);

	struct store *s;
	struct store_host *sh;
	long long cut = -1;
	REQUIRE(store_open(&s, state) == 0);
	int r = store_host(s, "h", &sh, &cut);
	REQUIRE(r == 0 || r == -EUCLEAN);
	store_free(s);
	struct stat st;
	REQUIRE(stat(seg, &st) == 0);
	REQUIRE((size_t)st.st_size <= len);
	REQUIRE(read_file(seg, back, len) == st.st_size);
	REQUIRE(memcmp(back, buf, (size_t)st.st_size) == 0);
	if (getenv("FUZZ_JOURNAL_DEBUG"))
		fprintf(stderr, "store_host %d, cut %lld, size %lld of %zu\n", r, cut, (long long)st.st_size,
			len);
	if (r == -EUCLEAN) {
		REQUIRE((size_t)st.st_size == len);
	} else {
		REQUIRE(cut >= 0 && (size_t)cut + (size_t)st.st_size == len);
		REQUIRE((size_t)cut <= SEGMENT_ENTRY_MAX);
		uint64_t n = read_entries(true);
		struct verify_result v;
		REQUIRE(verify_host(host, &v) == 0);
		if (v.problem != VERIFY_OK || v.records != n || v.tail_bytes != 0) {
			fprintf(stderr,
				"verify after recovery: %s at %s offset %llu: %s (%llu records, %llu read)\n",
				verify_problem_name(v.problem), v.file, (unsigned long long)v.offset, v.what,
				(unsigned long long)v.records, (unsigned long long)n);
			abort();
		}
	}
	free(buf);
	free(back);
	return 0;
}
