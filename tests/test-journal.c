/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

/*
 * The journal's formats and reader: segment names, headers and entries
 * (checksum, chain), index blocks (the writer's rule, encoding, the
 * usable prefix of an index file), checkpoints (encoding, a torn last
 * one), and the reader over a host's segments: skipping by the index
 * gives exactly the entries a full read filtered the same way gives (by
 * level, time and boot), a partial entry at the end reads as "not yet",
 * and a segment added after the reader opened is read on.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "check.h"
#include "checkpoint.h"
#include "crc32c.h"
#include "durable.h"
#include "journal.h"
#include "record.h"
#include "segindex.h"
#include "segment.h"
#include "store.h"

static char tmpdir[64];
static const uint8_t sid[16] = { 0x77, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static void test_names(void)
{
	char name[32];
	uint64_t base = 1;
	segment_name(name, sizeof(name), 0x1234abcdULL, SEGMENT_SUFFIX);
	CHECK(strcmp(name, "000000001234abcd.seg") == 0);
	CHECK_EQ_INT(segment_name_parse(name, SEGMENT_SUFFIX, &base), 0);
	CHECK_EQ_INT(base, 0x1234abcdULL);
	CHECK_EQ_INT(segment_name_parse(name, SEGMENT_INDEX_SUFFIX, &base), -EINVAL);
	CHECK_EQ_INT(segment_name_parse("000000001234ABCD.seg", SEGMENT_SUFFIX, &base), -EINVAL);
	CHECK_EQ_INT(segment_name_parse("00000001234abcd.seg", SEGMENT_SUFFIX, &base), -EINVAL);
	CHECK_EQ_INT(segment_name_parse("000000001234abcd.seg.tmp", SEGMENT_SUFFIX, &base), -EINVAL);
}

static void test_header(void)
{
	struct segment_stream st[2] = { { .hwm = 5 }, { .hwm = UINT64_MAX } };
	memset(st[0].id, 1, 16);
	memset(st[1].id, 2, 16);
	struct segment_header h = {
		.base = 4096, .first_recno = 77, .created_usec = 123, .streams = st, .nstreams = 2
	};
	memset(h.chain_in, 0xcc, sizeof(h.chain_in));
	uint8_t buf[SEGMENT_HDR_MIN + 2 * SEGMENT_STREAM_LEN];
	CHECK_EQ_INT(segment_header_size(2), sizeof(buf));
	segment_header_encode(buf, &h);
	CHECK(memcmp(buf, "KSSEG003", 8) == 0);
	char p[128];
	snprintf(p, sizeof(p), "%s/hdr", tmpdir);
	CHECK_EQ_INT(durable_replace(p, buf, sizeof(buf), 0600), 0);
	int fd = open(p, O_RDONLY);
	struct segment_header got;
	CHECK_EQ_INT(segment_header_read(fd, &got), 0);
	CHECK_EQ_INT(got.base, 4096);
	CHECK_EQ_INT(got.first_recno, 77);
	CHECK_EQ_INT(got.created_usec, 123);
	CHECK_EQ_INT(got.len, sizeof(buf));
	CHECK_EQ_INT(got.nstreams, 2);
	CHECK_EQ_MEM(got.chain_in, h.chain_in, 32);
	if (got.nstreams == 2) {
		CHECK_EQ_MEM(got.streams[1].id, st[1].id, 16);
		CHECK(got.streams[1].hwm == UINT64_MAX);
	}
	segment_header_free(&got);
	close(fd);
	/* Any changed byte, or a short file, is refused. */
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] ^= 4;
		CHECK_EQ_INT(durable_replace(p, buf, sizeof(buf), 0600), 0);
		fd = open(p, O_RDONLY);
		int r = segment_header_read(fd, &got);
		CHECK(r == -EBADMSG || r == -ENODATA);
		if (r == 0)
			segment_header_free(&got);
		close(fd);
		buf[i] ^= 4;
	}
	CHECK_EQ_INT(durable_replace(p, buf, sizeof(buf) - 1, 0600), 0);
	fd = open(p, O_RDONLY);
	CHECK_EQ_INT(segment_header_read(fd, &got), -ENODATA);
	close(fd);
}

/* An entry of each format the writer can append: sizes, fields, the
 * checksum catching every flipped bit of length and body, the chain. */
static void test_entry_version(unsigned version)
{
	uint8_t rec[RECORD_HDR_LEN + 5], out[SEGMENT_ENTRY_OVERHEAD + sizeof(rec)];
	struct record r = {
		.source = RECORD_SRC_KMSG, .level = 3, .msg = (const uint8_t *)"hello", .msg_len = 5
	};
	CHECK_EQ_INT(record_encode(&r, rec, sizeof(rec)), sizeof(rec));
	uint8_t chain[32], prev[32];
	memset(chain, 9, sizeof(chain));
	memcpy(prev, chain, sizeof(prev));
	size_t n = segment_entry_encode(out, version, 42, 1000, sid, rec, sizeof(rec), SEGMENT_ENTRY_EARLY,
					chain);
	size_t trailer = version >= 3 ? 4 + 32 : 64;
	CHECK_EQ_INT(n, 4 + SEGMENT_BODY_FIXED + sizeof(rec) + trailer);
	CHECK_EQ_INT(segment_entry_size(out, version), n);
	/* Format 1 has no flags. */
	CHECK_EQ_INT(segment_entry_flags(out), version >= 2 ? SEGMENT_ENTRY_EARLY : 0);
	CHECK_EQ_INT(segment_entry_recno(out), 42);
	CHECK_EQ_INT(segment_entry_recv(out), 1000);
	CHECK_EQ_MEM(segment_entry_sid(out), sid, 16);
	size_t len;
	CHECK_EQ_MEM(segment_entry_record(out, &len), rec, sizeof(rec));
	CHECK_EQ_INT(len, sizeof(rec));
	CHECK(segment_entry_sum_ok(out, n, version));
	/* The checksum: CRC-32C (format 3) or BLAKE2b-256 (1, 2) of length and body. */
	uint8_t digest[32], want[32];
	crypto_generichash(digest, sizeof(digest), out, n - trailer, NULL, 0);
	if (version >= 3)
		CHECK_EQ_INT(get_be32(out + n - trailer), crc32c(out, n - trailer));
	else
		CHECK_EQ_MEM(out + n - trailer, digest, 32);
	uint8_t got[32];
	segment_entry_digest(got, out, n, version);
	CHECK_EQ_MEM(got, digest, 32);
	/* The chain value is H(previous || digest), and it is what came back. */
	segment_chain_next(want, prev, digest);
	CHECK_EQ_MEM(segment_entry_chain(out, n), want, 32);
	CHECK_EQ_MEM(chain, want, 32);
	for (size_t i = 4; i < n - trailer; i++) {
		for (int b = 0; b < 8; b++) {
			out[i] ^= (uint8_t)(1u << b);
			CHECK(!segment_entry_sum_ok(out, n, version));
			out[i] ^= (uint8_t)(1u << b);
		}
	}
	/* The checksum itself damaged. */
	out[n - trailer] ^= 0x80;
	CHECK(!segment_entry_sum_ok(out, n, version));
	out[n - trailer] ^= 0x80;
	CHECK(segment_entry_sum_ok(out, n, version));
	/* Lengths out of range. */
	uint8_t small[4] = { 0, 0, 0, SEGMENT_BODY_FIXED + RECORD_HDR_LEN - 1 };
	CHECK_EQ_INT(segment_entry_size(small, version), 0);
	uint8_t big[4] = { 0, 0, 0xff, 0xff };
	CHECK_EQ_INT(segment_entry_size(big, version), 0);
}

static void test_entry(void)
{
	for (unsigned v = 1; v <= SEGMENT_VERSION; v++)
		test_entry_version(v);
}

static void test_index(void)
{
	struct segindex_block b = { 0 };
	struct record r = { .source = RECORD_SRC_KMSG, .level = 4, .real_usec = 100, .stream_seq = 7 };
	uint8_t other[16], boot2[16];
	memset(other, 0xee, 16);
	memset(r.boot_id, 0x11, 16);
	memset(boot2, 0x22, 16);
	segindex_block_add(&b, 5, 200, 150, sid, &r);
	CHECK_EQ_INT(b.count, 1);
	CHECK_EQ_INT(b.levels, 1 << 4);
	CHECK_EQ_INT(b.hwm, 8);
	CHECK(!segindex_block_breaks(&b, sid, r.boot_id));
	CHECK(segindex_block_breaks(&b, other, r.boot_id));
	CHECK(segindex_block_breaks(&b, sid, boot2));
	uint8_t zero[16] = { 0 };
	CHECK(!segindex_block_breaks(&b, sid, zero)); /* collector events of the session */
	struct record ev = { .source = RECORD_SRC_COLLECTOR, .level = 6, .real_usec = 50, .stream_seq = 100 };
	segindex_block_add(&b, 6, 350, 120, sid, &ev);
	CHECK_EQ_INT(b.hwm, 8); /* collector records move no mark */
	CHECK_EQ_INT(b.min_real, 50);
	CHECK_EQ_INT(b.max_real, 100);
	CHECK_EQ_INT(b.levels, (1 << 4) | (1 << 6));
	CHECK_EQ_INT(b.bytes, 270);
	while (b.count < SEGINDEX_BLOCK_RECORDS)
		segindex_block_add(&b, 5 + b.count, 200 + b.bytes, 100, sid, &r);
	CHECK(segindex_block_breaks(&b, sid, r.boot_id));

	uint8_t e[SEGINDEX_ENTRY_LEN];
	struct segindex_block got;
	segindex_encode(e, &b);
	CHECK_EQ_INT(segindex_decode(e, &got), 0);
	CHECK(memcmp(&got, &b, sizeof(got)) == 0 ||
	      (got.first_recno == b.first_recno && got.bytes == b.bytes));
	e[30] ^= 1;
	CHECK_EQ_INT(segindex_decode(e, &got), -EBADMSG);

	/* An index file: header, two entries that tile, a third that does not. */
	char p[128];
	snprintf(p, sizeof(p), "%s/idx", tmpdir);
	uint8_t file[SEGINDEX_HDR_LEN + 3 * SEGINDEX_ENTRY_LEN];
	segindex_header(file, 4096);
	struct segindex_block x = b;
	x.first_recno = 0;
	x.offset = 88;
	segindex_encode(file + SEGINDEX_HDR_LEN, &x);
	x.first_recno += x.count;
	x.offset += x.bytes;
	segindex_encode(file + SEGINDEX_HDR_LEN + SEGINDEX_ENTRY_LEN, &x);
	x.first_recno += x.count + 1; /* a gap in record numbers */
	x.offset += x.bytes;
	segindex_encode(file + SEGINDEX_HDR_LEN + 2 * SEGINDEX_ENTRY_LEN, &x);
	CHECK_EQ_INT(durable_replace(p, file, sizeof(file), 0600), 0);
	struct segindex_block *blocks;
	size_t n;
	uint64_t good;
	CHECK_EQ_INT(segindex_load(p, 4096, 88, 0, 1 << 20, &blocks, &n, &good), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(good, SEGINDEX_HDR_LEN + 2 * SEGINDEX_ENTRY_LEN);
	free(blocks);
	/* Past the segment's end: not used. */
	CHECK_EQ_INT(segindex_load(p, 4096, 88, 0, 88 + b.bytes, &blocks, &n, &good), 0);
	CHECK_EQ_INT(n, 1);
	free(blocks);
	/* Another base: not this segment's. */
	CHECK_EQ_INT(segindex_load(p, 0, 88, 0, 1 << 20, &blocks, &n, &good), -EBADMSG);
}

static void test_checkpoint(void)
{
	struct checkpoint c = { .records = 10, .end = 2000, .segment = 1024, .written_usec = 5 }, got;
	memset(c.chain, 0xab, 32);
	uint8_t file[CHECKPOINT_HDR_LEN + 2 * CHECKPOINT_LEN + 10];
	checkpoint_header(file);
	checkpoint_encode(file + CHECKPOINT_HDR_LEN, &c);
	CHECK_EQ_INT(checkpoint_decode(file + CHECKPOINT_HDR_LEN, &got), 0);
	CHECK(got.records == 10 && got.end == 2000 && got.segment == 1024 && got.written_usec == 5);
	CHECK_EQ_MEM(got.chain, c.chain, 32);
	c.records = 20;
	checkpoint_encode(file + CHECKPOINT_HDR_LEN + CHECKPOINT_LEN, &c);
	file[CHECKPOINT_HDR_LEN + CHECKPOINT_LEN + 3] ^= 1; /* the second is damaged */
	char p[128];
	snprintf(p, sizeof(p), "%s/ckp", tmpdir);
	CHECK_EQ_INT(durable_replace(p, file, sizeof(file), 0600), 0);
	struct checkpoint *all;
	size_t n;
	off_t good, size;
	CHECK_EQ_INT(checkpoint_load(p, &all, &n, &good, &size), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(good, CHECKPOINT_HDR_LEN + CHECKPOINT_LEN);
	CHECK_EQ_INT(size, sizeof(file));
	free(all);
}

/* Record seq as gen-store makes them: a level mix, 1 ms apart, a new boot every 1000. */
static int put_record(struct store_host *h, uint64_t seq)
{
	uint8_t enc[256];
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "record %llu", (unsigned long long)seq);
	struct record r = {
		.source = RECORD_SRC_KMSG,
		.level = seq % 97 == 5	 ? 3
			 : seq % 13 == 0 ? 4
					 : 6,
		.stream_seq = seq,
		.kmsg_seq = seq % 1000,
		.real_usec = 1000000 + seq * 1000,
		.msg = (const uint8_t *)msg,
		.msg_len = (uint32_t)n,
	};
	memset(r.boot_id, (int)(1 + seq / 1000), 16);
	n = record_encode(&r, enc, sizeof(enc));
	return store_append(h, sid, &r, enc, (size_t)n, r.real_usec);
}

static bool matches(const struct journal_select *sel, const struct journal_entry *e)
{
	const struct record *r = &e->rec;
	return (sel->levels & (1u << r->level)) && (!sel->has_since || r->real_usec >= sel->since) &&
	       (!sel->has_until || r->real_usec <= sel->until) &&
	       (!sel->has_boot || memcmp(r->boot_id, sel->boot, 16) == 0);
}

/* The reader with sel gives the entries the full read gives filtered by sel. */
static void check_select(const char *dir, const struct journal_select *sel)
{
	struct journal_reader *all, *some;
	struct journal_entry a, b;
	int ra, rb;
	uint64_t n = 0;
	CHECK_EQ_INT(journal_reader_open(&all, dir), 0);
	CHECK_EQ_INT(journal_reader_open(&some, dir), 0);
	journal_reader_select(some, sel);
	for (;;) {
		while ((ra = journal_reader_next(all, &a)) == 1 && !matches(sel, &a))
			;
		rb = journal_reader_next(some, &b);
		CHECK_EQ_INT(rb, ra);
		if (ra != 1 || rb != 1)
			break;
		CHECK_EQ_INT(b.recno, a.recno);
		CHECK_EQ_INT(b.offset, a.offset);
		n++;
	}
	CHECK(n > 0);
	journal_reader_free(all);
	journal_reader_free(some);
}

static void test_reader(void)
{
	struct store *s;
	struct store_host *h;
	struct store_limits lim = { .segment_size = 64 << 10 };
	long long cut;
	char dir[128];

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	store_set_limits(s, &lim);
	CHECK_EQ_INT(store_host(s, "r", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid, 1), 0);
	for (uint64_t seq = 0; seq < 5000; seq++) {
		CHECK_EQ_INT(put_record(h, seq), 1);
		if (seq % 250 == 249)
			CHECK_EQ_INT(store_commit(s), 0);
	}
	CHECK_EQ_INT(store_commit(s), 0);
	snprintf(dir, sizeof(dir), "%s/hosts/r", tmpdir);

	struct journal_select sel = { .levels = 1 << 3 };
	check_select(dir, &sel); /* -p err */
	sel.levels = 0xff;
	sel.has_since = sel.has_until = true;
	sel.since = 1000000 + 2500 * 1000;
	sel.until = 1000000 + 2600 * 1000;
	check_select(dir, &sel); /* -S -U */
	sel.has_since = sel.has_until = false;
	sel.has_boot = true;
	memset(sel.boot, 3, 16);
	check_select(dir, &sel); /* -b */
	sel.levels = (1 << 3) | (1 << 4);
	check_select(dir, &sel);

	/* A reader at the end sees new entries, also in a new segment. */
	struct journal_reader *jr;
	struct journal_entry e;
	uint64_t n = 0;
	CHECK_EQ_INT(journal_reader_open(&jr, dir), 0);
	while (journal_reader_next(jr, &e) == 1)
		n++;
	CHECK_EQ_INT(n, 5000);
	CHECK_EQ_INT(journal_reader_next(jr, &e), 0);
	for (uint64_t seq = 5000; seq < 6000; seq++)
		CHECK_EQ_INT(put_record(h, seq), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	while (journal_reader_next(jr, &e) == 1)
		n++;
	CHECK_EQ_INT(n, 6000);
	CHECK_EQ_INT(e.recno, 5999);
	store_free(s);

	/* A partial entry at the end: "not yet", then the entry once whole. */
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t base, last = 0;
	while (d && (de = readdir(d)))
		if (segment_name_parse(de->d_name, SEGMENT_SUFFIX, &base) == 0 && base >= last)
			last = base;
	if (d)
		closedir(d);
	char name[32], p[300];
	segment_name(name, sizeof(name), last, SEGMENT_SUFFIX);
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	uint8_t rec[RECORD_HDR_LEN], ent[SEGMENT_ENTRY_OVERHEAD + RECORD_HDR_LEN], chain[32];
	struct record r = { .source = RECORD_SRC_KMSG, .level = 6 };
	CHECK_EQ_INT(record_encode(&r, rec, sizeof(rec)), sizeof(rec));
	{
		/* The chain of the last entry: its last 32 bytes. */
		struct stat st;
		int fd = open(p, O_RDWR | O_APPEND);
		CHECK(fd >= 0 && fstat(fd, &st) == 0);
		CHECK_EQ_INT(pread_all(fd, chain, 32, st.st_size - 32), 0);
		size_t len =
			segment_entry_encode(ent, SEGMENT_VERSION, 6000, 1, sid, rec, sizeof(rec), 0, chain);
		CHECK_EQ_INT(write_all(fd, ent, 10), 0);
		CHECK_EQ_INT(journal_reader_next(jr, &e), 0);
		CHECK_EQ_INT(write_all(fd, ent + 10, len - 10), 0);
		CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
		CHECK_EQ_INT(e.recno, 6000);
		close(fd);
	}
	journal_reader_free(jr);
	CHECK_EQ_INT(journal_reader_open(&jr, tmpdir), -ENOENT); /* no segments there */
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
	snprintf(tmpdir, sizeof(tmpdir), "%s/test-journal.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_names();
	test_header();
	test_entry();
	test_index();
	test_checkpoint();
	test_reader();
	CHECK_EQ_INT(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	return CHECK_DONE();
}
