/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

/*
 * verify.c on planted damage of a small journal written through the
 * store: every single-byte change of its segment, index and checkpoints
 * is found; a removed, a duplicated (inserted), two swapped records, a
 * record rewritten with a matching checksum (and with matching checksum
 * and chain value), a missing segment and a cut journal are each named
 * at their first bad place. The pristine journal verifies.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "check.h"
#include "checkpoint.h"
#include "crc32c.h"
#include "durable.h"
#include "record.h"
#include "segment.h"
#include "store.h"
#include "verify.h"

#define NREC 6

static char tmpdir[64];
static char hostdir[128];
static char seg[192], idx[192], ckp[192];
static const uint8_t sid[STORE_STREAM_ID_LEN] = { 0x33, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static uint8_t *orig_seg, *orig_idx, *orig_ckp;
static size_t seg_len, idx_len, ckp_len;
static size_t off[NREC + 1]; /* entry offsets; off[NREC] = end */

static uint8_t *slurp(const char *p, size_t *len)
{
	struct stat st;
	if (stat(p, &st) < 0)
		return NULL;
	uint8_t *b = malloc((size_t)st.st_size + 1);
	if (b && read_file(p, b, (size_t)st.st_size) != st.st_size) {
		free(b);
		return NULL;
	}
	*len = (size_t)st.st_size;
	return b;
}

static void put(const char *p, const uint8_t *b, size_t len)
{
	CHECK_EQ_INT(durable_replace(p, b, len, 0640), 0);
}

static void restore(void)
{
	put(seg, orig_seg, seg_len);
	put(idx, orig_idx, idx_len);
	put(ckp, orig_ckp, ckp_len);
}

static void make_journal(void)
{
	struct store *s;
	struct store_host *h;
	long long cut;

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "v", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid, 1), 0);
	for (uint64_t seq = 0; seq < NREC; seq++) {
		uint8_t enc[256];
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "record %llu", (unsigned long long)seq);
		struct record r = {
			.source = RECORD_SRC_KMSG,
			.level = (uint8_t)(seq % 8),
			.stream_seq = seq,
			.kmsg_seq = seq,
			.real_usec = UINT64_C(1700000000000000) + seq,
			.msg = (const uint8_t *)msg,
			.msg_len = (uint32_t)n,
		};
		/* A new boot at 3 ends the first index block: the index has an entry. */
		memset(r.boot_id, seq < 3 ? 0x42 : 0x43, sizeof(r.boot_id));
		n = record_encode(&r, enc, sizeof(enc));
		CHECK_EQ_INT(store_append(h, sid, &r, enc, (size_t)n, r.real_usec + 1), 1);
		CHECK_EQ_INT(store_commit(s), 0);
	}
	store_free(s); /* writes the last checkpoint */
}

/* Verify; the problem found (and print it when verbose). */
static enum verify_problem verify(struct verify_result *v)
{
	int r = verify_host(hostdir, v);
	CHECK_EQ_INT(r, 0);
	return r < 0 ? VERIFY_OK : v->problem;
}

static void expect(enum verify_problem want, const char *file, size_t at, uint64_t recno, const char *what)
{
	struct verify_result v;
	enum verify_problem got = verify(&v);
	if (got != want || strcmp(v.file, file) != 0 || v.offset != at || (v.has_recno && v.recno != recno)) {
		fprintf(stderr,
			"%s: got %s at %s offset %llu record %llu (%s); want %s at %s offset %zu record "
			"%llu\n",
			what, verify_problem_name(got), v.file, (unsigned long long)v.offset,
			(unsigned long long)v.recno, v.what, verify_problem_name(want), file, at,
			(unsigned long long)recno);
		check_failures++;
	}
	restore();
}

static void test_pristine(void)
{
	struct verify_result v;
	CHECK_EQ_INT(verify(&v), VERIFY_OK);
	CHECK_EQ_INT(v.records, NREC);
	CHECK_EQ_INT(v.segments, 1);
	CHECK(v.checkpoints >= 1);
	CHECK_EQ_INT(v.tail_bytes, 0);
}

/* Every byte of every file, changed: always found. */
static void test_every_byte(void)
{
	struct {
		const char *path;
		uint8_t *orig;
		size_t len;
	} files[] = { { seg, orig_seg, seg_len }, { idx, orig_idx, idx_len }, { ckp, orig_ckp, ckp_len } };
	for (size_t f = 0; f < 3; f++) {
		uint8_t *b = malloc(files[f].len);
		CHECK(b != NULL);
		for (size_t i = 0; b && i < files[f].len; i++) {
			memcpy(b, files[f].orig, files[f].len);
			b[i] ^= 0x01;
			put(files[f].path, b, files[f].len);
			struct verify_result v;
			if (verify(&v) == VERIFY_OK) {
				fprintf(stderr, "%s: change of byte %zu not found\n", files[f].path, i);
				check_failures++;
			}
			put(files[f].path, files[f].orig, files[f].len);
		}
		free(b);
	}
}

/* Rewrite entry k with a changed message byte and a right checksum; with chain also its chain value. */
static void forge(uint8_t *b, size_t k, bool chain)
{
	size_t size = off[k + 1] - off[k], n = size - segment_entry_trailer(SEGMENT_VERSION);
	uint8_t *p = b + off[k];
	p[n - 1] ^= 0x20; /* the last message byte */
	put_be32(p + n, crc32c(p, n));
	if (chain) {
		const uint8_t *prev = b + off[k] - SEGMENT_HASH_LEN; /* k > 0: the previous entry's */
		uint8_t digest[SEGMENT_HASH_LEN];
		crypto_generichash(digest, sizeof(digest), p, n, NULL, 0);
		segment_chain_next(p + size - SEGMENT_HASH_LEN, prev, digest);
	}
}

static void test_planted(void)
{
	uint8_t *b = malloc(seg_len + 1024);
	CHECK(b != NULL);
	if (!b)
		return;
	char name[32];
	segment_name(name, sizeof(name), 0, SEGMENT_SUFFIX);

	/* Removed: record 2 cut out. */
	memcpy(b, orig_seg, off[2]);
	memcpy(b + off[2], orig_seg + off[3], seg_len - off[3]);
	put(seg, b, seg_len - (off[3] - off[2]));
	expect(VERIFY_MISSING, name, off[2], 2, "removed record 2");

	/* Inserted: record 2 twice. */
	memcpy(b, orig_seg, off[3]);
	memcpy(b + off[3], orig_seg + off[2], off[3] - off[2]);
	memcpy(b + off[3] + (off[3] - off[2]), orig_seg + off[3], seg_len - off[3]);
	put(seg, b, seg_len + (off[3] - off[2]));
	expect(VERIFY_ORDER, name, off[3], 3, "record 2 inserted again after itself");

	/* Reordered: records 3 and 4 swapped. */
	memcpy(b, orig_seg, seg_len);
	memcpy(b + off[3], orig_seg + off[4], off[5] - off[4]);
	memcpy(b + off[3] + (off[5] - off[4]), orig_seg + off[3], off[4] - off[3]);
	put(seg, b, seg_len);
	expect(VERIFY_MISSING, name, off[3], 3, "records 3 and 4 swapped");

	/* Modified with a matching checksum: the chain breaks at the record. */
	memcpy(b, orig_seg, seg_len);
	forge(b, 1, false);
	put(seg, b, seg_len);
	expect(VERIFY_CHAIN, name, off[1], 1, "record 1 modified, checksum fixed");

	/* ... and with its chain value fixed too: at the next record. */
	memcpy(b, orig_seg, seg_len);
	forge(b, 1, true);
	put(seg, b, seg_len);
	expect(VERIFY_CHAIN, name, off[2], 2, "record 1 modified, checksum and chain fixed");

	/* Plain damage: the checksum. */
	memcpy(b, orig_seg, seg_len);
	b[off[4] + 40] ^= 0xff;
	put(seg, b, seg_len);
	expect(VERIFY_CHECKSUM, name, off[4], 4, "a byte of record 4");

	/* Cut after record 3 (a whole entry, nothing torn): the checkpoint says 6. */
	put(seg, orig_seg, off[4]);
	expect(VERIFY_TRUNCATED, name, off[4], 4, "journal cut after record 3");
	free(b);
}

/* Two segments; the first removed without retention's record of it. */
static void test_segments(void)
{
	struct store *s;
	struct store_host *h;
	struct store_limits lim = { .segment_size = 64 << 10 };
	long long cut;
	char dir2[192], p[300];

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	store_set_limits(s, &lim);
	CHECK_EQ_INT(store_host(s, "w", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid, 1), 0);
	for (uint64_t seq = 0; seq < 2000; seq++) {
		uint8_t enc[512];
		char msg[200];
		int n = snprintf(msg, sizeof(msg),
				 "record %llu padded to be long enough for a few segments ...",
				 (unsigned long long)seq);
		struct record r = {
			.source = RECORD_SRC_KMSG,
			.level = 6,
			.stream_seq = seq,
			.real_usec = seq,
			.msg = (const uint8_t *)msg,
			.msg_len = (uint32_t)n,
		};
		n = record_encode(&r, enc, sizeof(enc));
		CHECK_EQ_INT(store_append(h, sid, &r, enc, (size_t)n, seq), 1);
		if (seq % 50 == 49)
			CHECK_EQ_INT(store_commit(s), 0);
	}
	CHECK_EQ_INT(store_commit(s), 0);
	store_free(s);
	snprintf(dir2, sizeof(dir2), "%s/hosts/w", tmpdir);
	struct verify_result v;
	CHECK_EQ_INT(verify_host(dir2, &v), 0);
	CHECK_EQ_INT(v.problem, VERIFY_OK);
	CHECK(v.segments >= 3);
	CHECK_EQ_INT(v.records, 2000);

	/* The second of three or more segments removed: named at the third. */
	DIR *d = opendir(dir2);
	uint64_t bases[64];
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) && n < 64)
		if (segment_name_parse(de->d_name, SEGMENT_SUFFIX, &bases[n]) == 0)
			n++;
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (bases[j] < bases[i]) {
				uint64_t t = bases[i];
				bases[i] = bases[j];
				bases[j] = t;
			}
	CHECK(n >= 3);
	if (n < 3)
		return;
	char name[32];
	segment_name(name, sizeof(name), bases[1], SEGMENT_SUFFIX);
	snprintf(p, sizeof(p), "%s/%s", dir2, name);
	CHECK_EQ_INT(unlink(p), 0);
	CHECK_EQ_INT(verify_host(dir2, &v), 0);
	segment_name(name, sizeof(name), bases[2], SEGMENT_SUFFIX);
	CHECK_EQ_INT(v.problem, VERIFY_SEGMENT);
	CHECK(strcmp(v.file, name) == 0);
	CHECK_EQ_INT(v.offset, 0);

	/* The oldest removed (as retention does, without its checkpoints): what is left verifies. */
	segment_name(name, sizeof(name), bases[0], SEGMENT_SUFFIX);
	snprintf(p, sizeof(p), "%s/%s", dir2, name);
	CHECK_EQ_INT(unlink(p), 0);
	CHECK_EQ_INT(verify_host(dir2, &v), 0);
	CHECK_EQ_INT(v.problem, VERIFY_OK);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	if (sodium_init() < 0)
		return 1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test-verify.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(hostdir, sizeof(hostdir), "%s/hosts/v", tmpdir);
	snprintf(seg, sizeof(seg), "%s/0000000000000000.seg", hostdir);
	snprintf(idx, sizeof(idx), "%s/0000000000000000.idx", hostdir);
	snprintf(ckp, sizeof(ckp), "%s/%s", hostdir, CHECKPOINT_FILE);
	make_journal();
	orig_seg = slurp(seg, &seg_len);
	orig_idx = slurp(idx, &idx_len);
	orig_ckp = slurp(ckp, &ckp_len);
	CHECK(orig_seg && orig_idx && orig_ckp);
	if (orig_seg) {
		/* The entry offsets, by their lengths. */
		size_t o = segment_header_size(0);
		for (int k = 0; k <= NREC; k++) {
			off[k] = o;
			if (k < NREC && o + 4 <= seg_len)
				o += segment_entry_size(orig_seg + o, SEGMENT_VERSION);
		}
		CHECK_EQ_INT(off[NREC], seg_len);
		test_pristine();
		test_every_byte();
		test_planted();
	}
	test_segments();
	free(orig_seg);
	free(orig_idx);
	free(orig_ckp);
	CHECK_EQ_INT(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	return CHECK_DONE();
}
