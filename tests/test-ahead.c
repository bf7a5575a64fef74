/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

/*
 * Records stored ahead of their place (issue 4, item 6; docs/STORE.md
 * "Early records"): the collector's ahead sets (store.c) — an early
 * record is stored once, its in-order copy is a duplicate, the mark goes
 * on over it, a jump leaves gap records only for what is really missing,
 * the sets are bounded and survive a restart (from the active segment's
 * header, its index and its entries), a format 1 journal is continued in
 * format 2 — and the readers: journal_reader_early, the completeness
 * report, verification, and kmsgctl's order (query.c: kernel order
 * from the start, from -n's index block, and around cursors).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "cursor.h"
#include "durable.h"
#include "filter.h"
#include "gaps.h"
#include "journal.h"
#include "query.h"
#include "record.h"
#include "segment.h"
#include "store.h"
#include "verify.h"

static char tmpdir[64];
static const uint8_t sid1[STORE_STREAM_ID_LEN] = { 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* A kernel record: kmsg seq = stream seq, one boot, time growing with seq. */
static int rec_of(uint64_t seq, int level, struct record *r, uint8_t *enc, size_t cap, char *msg)
{
	int n = snprintf(msg, 64, "record %llu", (unsigned long long)seq);
	memset(r, 0, sizeof(*r));
	r->source = RECORD_SRC_KMSG;
	r->level = (uint8_t)level;
	r->stream_seq = seq;
	r->kmsg_seq = seq;
	r->real_usec = UINT64_C(1700000000000000) + seq * 1000;
	memset(r->boot_id, 0xb0, sizeof(r->boot_id));
	r->msg = (const uint8_t *)msg;
	r->msg_len = (uint32_t)n;
	return record_encode(r, enc, cap);
}

/* In order (a BATCH record), or early (an URGENT one, level err). */
static int put(struct store_host *h, uint64_t seq, bool early)
{
	uint8_t enc[256];
	char msg[64];
	struct record r;
	int n = rec_of(seq, early ? LOG_ERR : LOG_INFO, &r, enc, sizeof(enc), msg);
	CHECK(n > 0);
	if (n <= 0)
		return n;
	return early ? store_append_early(h, sid1, &r, enc, (size_t)n, r.real_usec)
		     : store_append(h, sid1, &r, enc, (size_t)n, r.real_usec);
}

static void put_range(struct store *s, struct store_host *h, uint64_t from, uint64_t to)
{
	for (uint64_t seq = from; seq < to; seq++) {
		if (put(h, seq, false) != 1) {
			fprintf(stderr, "put_range: record %llu not stored\n", (unsigned long long)seq);
			check_failures++;
		}
		if (seq % 50 == 49)
			CHECK_EQ_INT(store_commit(s), 0);
	}
	CHECK_EQ_INT(store_commit(s), 0);
}

static void host_dir(char *out, size_t n, const char *host)
{
	snprintf(out, n, "%s/hosts/%s", tmpdir, host);
}

static struct store_host *open_host(struct store **s, const char *name)
{
	struct store_host *h = NULL;
	long long cut;
	CHECK_EQ_INT(store_open(s, tmpdir), 0);
	CHECK_EQ_INT(store_host(*s, name, &h, &cut), 0);
	CHECK_EQ_INT(cut, 0);
	return h;
}

static void check_verify_ok(const char *host)
{
	struct verify_result v;
	char p[256];
	host_dir(p, sizeof(p), host);
	CHECK_EQ_INT(verify_host(p, &v), 0);
	if (v.problem != VERIFY_OK) {
		fprintf(stderr, "verify %s: %s at %s offset %llu: %s\n", host, verify_problem_name(v.problem),
			v.file, (unsigned long long)v.offset, v.what);
		check_failures++;
	}
}

/* The journal in stored order: "S" per agent record (E when stored early),
 * "g(first-last)" per gap record, into buf. */
static void stored_order(const char *host, char *buf, size_t cap)
{
	struct journal_reader *jr;
	struct journal_entry e;
	char p[256];
	size_t n = 0;
	buf[0] = 0;
	host_dir(p, sizeof(p), host);
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	while (journal_reader_next(jr, &e) == 1 && n + 40 < cap) {
		const uint8_t *a, *b;
		size_t al, bl;
		if (e.rec.source != RECORD_SRC_COLLECTOR)
			n += (size_t)snprintf(buf + n, cap - n, "%s%llu ", e.early ? "E" : "",
					      (unsigned long long)e.rec.stream_seq);
		else if (e.rec.event == RECORD_EV_GAP &&
			 record_field_get(&e.rec, "GAP_FIRST_STREAM_SEQ", &a, &al) == 1 &&
			 record_field_get(&e.rec, "GAP_LAST_STREAM_SEQ", &b, &bl) == 1)
			n += (size_t)snprintf(buf + n, cap - n, "g%.*s-%.*s ", (int)al, (const char *)a,
					      (int)bl, (const char *)b);
		CHECK(!e.early || e.rec.source != RECORD_SRC_COLLECTOR);
	}
	journal_reader_free(jr);
}

static void check_order(const char *host, const char *want)
{
	char got[4096];
	stored_order(host, got, sizeof(got));
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "%s stored: \"%s\"\n  want \"%s\"\n", host, got, want);
		check_failures++;
	}
}

/* Duplicates, the mark over early records, jumps, early at the mark. */
static void test_append(void)
{
	struct store *s;
	struct store_host *h = open_host(&s, "a");

	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	for (uint64_t i = 0; i < 5; i++)
		CHECK_EQ_INT(put(h, i, false), 1);
	CHECK_EQ_INT(put(h, 10, true), 1);
	CHECK_EQ_INT(put(h, 12, true), 1);
	CHECK_EQ_INT(put(h, 10, true), 0); /* sent again: held already */
	CHECK_EQ_INT(put(h, 3, true), 0);  /* below the mark */
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 5); /* early records do not move it */
	for (uint64_t i = 5; i < 10; i++)
		CHECK_EQ_INT(put(h, i, false), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	/* 0..9 in order, 10 early: all below 11 is stored. */
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 11);
	CHECK_EQ_INT(put(h, 10, false), 0);
	CHECK_EQ_INT(put(h, 11, false), 1);
	CHECK_EQ_INT(put(h, 12, false), 0);
	CHECK_EQ_INT(put(h, 13, false), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 14);

	/* A jump over early records: gap records for the rest only. */
	CHECK_EQ_INT(put(h, 20, true), 1);
	CHECK_EQ_INT(put(h, 22, true), 1);
	CHECK_EQ_INT(put(h, 23, true), 1);
	CHECK_EQ_INT(put(h, 26, false), 1);
	/* Early at the mark: stored in place. */
	CHECK_EQ_INT(put(h, 27, true), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 28);
	check_order("a", "0 1 2 3 4 E10 E12 5 6 7 8 9 11 13 E20 E22 E23 g14-19 g21-21 g24-25 26 27 ");

	/* A restart keeps the sets: a resend is a duplicate. */
	CHECK_EQ_INT(put(h, 40, true), 1);
	CHECK_EQ_INT(put(h, 41, true), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	store_free(s);
	h = open_host(&s, "a");
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 28);
	CHECK_EQ_INT(put(h, 41, true), 0);
	for (uint64_t i = 28; i < 40; i++)
		CHECK_EQ_INT(put(h, i, false), 1);
	CHECK_EQ_INT(put(h, 40, false), 0);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 42);
	/* ... and the mark over them at the place the restart found. */
	CHECK_EQ_INT(put(h, 43, true), 1);
	CHECK_EQ_INT(put(h, 42, false), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 44);
	store_free(s);
	h = open_host(&s, "a");
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 44);
	CHECK_EQ_INT(put(h, 43, false), 0);
	CHECK_EQ_INT(put(h, 44, false), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	store_free(s);
	check_verify_ok("a");
}

/* Early records in a sealed segment, and in an indexed block of the active one. */
static void test_restart(void)
{
	struct store_limits small = { .segment_size = 4096 }, big = { .segment_size = 64 << 20 };
	struct store *s;
	struct store_host *h = open_host(&s, "r");

	store_set_limits(s, &small);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	CHECK_EQ_INT(put(h, 100, true), 1);
	CHECK_EQ_INT(put(h, 150, true), 1);
	put_range(s, h, 0, 99); /* many segments: 100 and 150 are in the first */
	store_free(s);
	h = open_host(&s, "r");
	store_set_limits(s, &big);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 99);
	CHECK_EQ_INT(put(h, 100, true), 0);
	CHECK_EQ_INT(put(h, 150, true), 0);
	CHECK_EQ_INT(put(h, 99, false), 1);
	CHECK_EQ_INT(put(h, 100, false), 0);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 101);
	/* In the active segment, in a block the index covers. */
	CHECK_EQ_INT(put(h, 300, true), 1);
	put_range(s, h, 101, 150);
	CHECK_EQ_INT(put(h, 150, false), 0);
	put_range(s, h, 151, 250);
	store_free(s);
	h = open_host(&s, "r");
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 250);
	CHECK_EQ_INT(put(h, 300, true), 0);
	CHECK_EQ_INT(put(h, 150, true), 0); /* passed */
	put_range(s, h, 250, 300);
	CHECK_EQ_INT(put(h, 300, false), 0);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 301);
	store_free(s);
	check_verify_ok("r");
}

/* STORE_AHEAD_MAX per host; the sets empty when in-order records pass them. */
static void test_bound(void)
{
	struct store *s;
	struct store_host *h = open_host(&s, "b");

	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	for (uint64_t i = 1; i <= STORE_AHEAD_MAX; i++)
		CHECK_EQ_INT(put(h, i, true), 1);
	CHECK_EQ_INT(put(h, STORE_AHEAD_MAX + 10, true), 2);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 0);
	/* Record 0 completes 0..MAX: the mark goes over them all. */
	CHECK_EQ_INT(put(h, 0, false), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), STORE_AHEAD_MAX + 1);
	/* Still held until an in-order record passes them. */
	CHECK_EQ_INT(put(h, STORE_AHEAD_MAX + 10, true), 2);
	CHECK_EQ_INT(put(h, STORE_AHEAD_MAX + 1, false), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(put(h, STORE_AHEAD_MAX + 10, true), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	store_free(s);
	check_verify_ok("b");
}

/* The format of segment file i (in name order) of host, 0 if none. */
static unsigned seg_version(const char *host, size_t i)
{
	char p[300];
	host_dir(p, sizeof(p), host);
	DIR *d = opendir(p);
	uint64_t bases[8], base;
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (segment_name_parse(de->d_name, SEGMENT_SUFFIX, &base) == 0 && n < 8)
			bases[n++] = base;
	if (d)
		closedir(d);
	if (i >= n)
		return 0;
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++)
			if (bases[b] < bases[a]) {
				base = bases[a];
				bases[a] = bases[b];
				bases[b] = base;
			}
	char name[SEGMENT_NAME_LEN + 1], path[340];
	segment_name(name, sizeof(name), bases[i], SEGMENT_SUFFIX);
	snprintf(path, sizeof(path), "%s/%s", p, name);
	int fd = open(path, O_RDONLY);
	struct segment_header hd = { 0 };
	CHECK(fd >= 0);
	CHECK_EQ_INT(segment_header_read(fd, &hd), 0);
	segment_header_free(&hd);
	close(fd);
	return hd.version;
}

/*
 * A journal of an older collector (format 1: no entry flags; format 2:
 * BLAKE2b entry checksums) is read, recovered and verified as it is, and
 * goes on in the current format from the next start.
 */
static void test_older_format(unsigned version)
{
	struct store *s;
	struct store_host *h = NULL;
	long long cut;
	char host[16], want[128];
	snprintf(host, sizeof(host), "old%u", version);

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_set_format(s, version), 0);
	CHECK_EQ_INT(store_host(s, host, &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	put_range(s, h, 0, 10);
	/* Format 1 cannot mark a record early: it waits for its place. */
	CHECK_EQ_INT(put(h, 15, true), version >= 2 ? 1 : 2);
	CHECK_EQ_INT(store_commit(s), 0);
	store_free(s);
	CHECK_EQ_INT(seg_version(host, 0), version);
	CHECK_EQ_INT(seg_version(host, 1), 0);
	check_verify_ok(host);
	check_order(host, version >= 2 ? "0 1 2 3 4 5 6 7 8 9 E15 " : "0 1 2 3 4 5 6 7 8 9 ");

	/* Recovery over its entries in its format, then a new segment. */
	h = open_host(&s, host);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 10);
	CHECK_EQ_INT(put(h, 20, true), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	store_free(s);
	CHECK_EQ_INT(seg_version(host, 0), version);
	CHECK_EQ_INT(seg_version(host, 1), SEGMENT_VERSION);
	CHECK_EQ_INT(seg_version(host, 2), 0);
	check_verify_ok(host);
	snprintf(want, sizeof(want), "0 1 2 3 4 5 6 7 8 9 %sE20 ", version >= 2 ? "E15 " : "");
	check_order(host, want);
	h = open_host(&s, host);
	CHECK_EQ_INT(put(h, 20, true), 0);
	if (version >= 2)
		CHECK_EQ_INT(put(h, 15, true), 0);
	store_free(s);
}

/* An older collector's segment with no entry is sealed empty: verify
 * accepts the checkpoint naming the position after it. */
static void test_older_empty(void)
{
	struct store *s;
	struct store_host *h = NULL;
	long long cut;
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_set_format(s, 2), 0);
	CHECK_EQ_INT(store_host(s, "empty2", &h, &cut), 0);
	store_free(s);
	h = open_host(&s, "empty2");
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	put_range(s, h, 0, 3);
	store_free(s);
	CHECK_EQ_INT(seg_version("empty2", 0), 2);
	CHECK_EQ_INT(seg_version("empty2", 1), SEGMENT_VERSION);
	check_verify_ok("empty2");
	check_order("empty2", "0 1 2 ");
}

static void test_format1(void)
{
	test_older_format(1);
	test_older_format(2);
	test_older_empty();
}

/* The early records before a position, and the completeness report. */
static void test_readers(void)
{
	struct store *s;
	struct store_host *h = open_host(&s, "g");
	struct journal_reader *jr;
	struct journal_entry e;
	struct journal_early *v;
	size_t n;
	char p[256];
	off_t at5 = -1;

	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	CHECK_EQ_INT(put(h, 7, true), 1);
	CHECK_EQ_INT(put(h, 9, true), 1);
	put_range(s, h, 0, 7);
	store_free(s);
	host_dir(p, sizeof(p), "g");
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	while (journal_reader_next(jr, &e) == 1)
		if (!e.early && e.rec.stream_seq == 5)
			at5 = e.offset;
	CHECK(at5 > 0);
	CHECK_EQ_INT(journal_reader_early(jr, at5, &v, &n), 0);
	CHECK_EQ_INT(n, 2);
	if (n == 2)
		CHECK(v[0].seq == 7 && v[1].seq == 9 && v[0].offset < v[1].offset);
	free(v);
	CHECK_EQ_INT(journal_reader_early(jr, journal_reader_offset(jr), &v, &n), 0);
	CHECK_EQ_INT(n, 2);
	free(v);
	journal_reader_free(jr);

	/* 8 is missing until it comes. */
	struct gaps *g;
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	CHECK_EQ_INT(gaps_new(&g), 0);
	while (journal_reader_next(jr, &e) == 1)
		CHECK_EQ_INT(gaps_add(g, &e), 0);
	CHECK_EQ_INT(gaps_finish(g), 0);
	CHECK(gaps_count(g) > 0);
	gaps_free(g);
	journal_reader_free(jr);

	h = open_host(&s, "g");
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 8);
	CHECK_EQ_INT(put(h, 8, false), 1);
	CHECK_EQ_INT(put(h, 9, false), 0);
	put_range(s, h, 10, 12);
	store_free(s);
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	CHECK_EQ_INT(gaps_new(&g), 0);
	while (journal_reader_next(jr, &e) == 1)
		CHECK_EQ_INT(gaps_add(g, &e), 0);
	CHECK_EQ_INT(gaps_finish(g), 0);
	CHECK_EQ_INT(gaps_count(g), 0);
	gaps_free(g);
	/* Passed: none is before the end any more. */
	CHECK_EQ_INT(journal_reader_early(jr, journal_reader_offset(jr), &v, &n), 0);
	CHECK_EQ_INT(n, 0);
	free(v);
	journal_reader_free(jr);
	check_verify_ok("g");
}

/* kmsgctl's sequence: the stream seqs query_next returns, into seqs. */
static size_t query_seqs(struct query *q, uint64_t *seqs, size_t cap, off_t *offs)
{
	struct query_item it;
	size_t n = 0;
	int r;
	while ((r = query_next(q, &it)) == 1) {
		if (it.e->rec.source == RECORD_SRC_COLLECTOR)
			continue;
		if (n < cap) {
			if (offs)
				offs[n] = it.e->offset;
			seqs[n] = it.e->rec.stream_seq;
		}
		n++;
	}
	CHECK_EQ_INT(r, 0);
	return n;
}

/* seqs[0..n) is from, from+1, ... to-1. */
static void check_run(const uint64_t *seqs, size_t n, uint64_t from, uint64_t to, const char *what)
{
	bool ok = n == to - from;
	for (size_t i = 0; ok && i < n; i++)
		ok = seqs[i] == from + i;
	if (!ok) {
		fprintf(stderr, "%s: %zu records, want %llu..%llu:", what, n, (unsigned long long)from,
			(unsigned long long)to - 1);
		for (size_t i = 0; i < n && i < 40; i++)
			fprintf(stderr, " %llu", (unsigned long long)seqs[i]);
		fputc('\n', stderr);
		check_failures++;
	}
}

static void test_query(void)
{
	static uint64_t seqs[2000];
	static off_t offs[2000];
	struct store *s;
	struct store_host *h = open_host(&s, "q");
	struct filter f;
	struct query *q;
	char *names[] = { "q" };
	size_t n;

	filter_init(&f);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	put_range(s, h, 0, 10);
	CHECK_EQ_INT(put(h, 30, true), 1);
	CHECK_EQ_INT(put(h, 900, true), 1);
	CHECK_EQ_INT(put(h, 950, true), 1);
	put_range(s, h, 10, 30);
	/* Not yet at their places: after everything else (their seqs are the highest). */
	CHECK_EQ_INT(query_open(&q, tmpdir, names, 1, &f), 0);
	n = query_seqs(q, seqs, 2000, NULL);
	CHECK_EQ_INT(n, 33);
	check_run(seqs, 31, 0, 31, "before the fill");
	CHECK(n == 33 && seqs[31] == 900 && seqs[32] == 950);
	query_free(q);

	CHECK_EQ_INT(put(h, 30, false), 0);
	put_range(s, h, 31, 900);
	CHECK_EQ_INT(put(h, 900, false), 0);
	put_range(s, h, 901, 950);
	CHECK_EQ_INT(put(h, 950, false), 0);
	put_range(s, h, 951, 1000);
	store_free(s);
	/* From the start: kernel order. */
	CHECK_EQ_INT(query_open(&q, tmpdir, names, 1, &f), 0);
	n = query_seqs(q, seqs, 2000, offs);
	check_run(seqs, n, 0, 1000, "from the start");
	off_t at899 = n == 1000 ? offs[899] : 0, at900 = n == 1000 ? offs[900] : 0;
	off_t at950 = n == 1000 ? offs[950] : 0;
	CHECK(at900 < at899 && at950 < at899); /* stored early */
	/* -n: from an index block after where 900 and 950 were stored. */
	CHECK_EQ_INT(query_tail(q, 150), 0);
	n = query_seqs(q, seqs, 2000, NULL);
	CHECK(n >= 150 && n < 1000);
	if (n >= 150 && n < 1000)
		check_run(seqs, n, 1000 - n, 1000, "-n");
	query_free(q);

	/* Cursors: after 899 (stored in order) comes 900 (stored early)... */
	struct journal_entry e;
	struct cursor c;
	char buf[CURSOR_MAX];
	static const struct {
		uint64_t seq;
		bool after;
	} cases[] = { { 899, true },  { 899, false }, { 900, true },
		      { 900, false }, { 949, true },  { 950, false } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ_INT(query_open(&q, tmpdir, names, 1, &f), 0);
		off_t at = cases[i].seq == 899	 ? at899
			   : cases[i].seq == 900 ? at900
			   : cases[i].seq == 950 ? at950
						 : 0;
		if (!at) {
			/* 949: find it */
			n = query_seqs(q, seqs, 2000, offs);
			at = n == 1000 ? offs[949] : 0;
			query_free(q);
			CHECK_EQ_INT(query_open(&q, tmpdir, names, 1, &f), 0);
		}
		CHECK_EQ_INT(query_read_at(q, 0, at, &e), 0);
		cursor_format(buf, sizeof(buf), "q", &e);
		CHECK_EQ_INT(cursor_parse(buf, &c), 0);
		CHECK_EQ_INT(query_seek_cursor(q, &c, cases[i].after), 0);
		n = query_seqs(q, seqs, 2000, NULL);
		uint64_t from = cases[i].seq + (cases[i].after ? 1 : 0);
		char what[64];
		snprintf(what, sizeof(what), "cursor %llu%s", (unsigned long long)cases[i].seq,
			 cases[i].after ? " (after)" : "");
		check_run(seqs, n, from, 1000, what);
		query_free(q);
	}
	filter_free(&f);
	check_verify_ok("q");
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-ahead.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir) || sodium_init() < 0) {
		perror("mkdtemp");
		return 1;
	}
	test_append();
	test_restart();
	test_bound();
	test_format1();
	test_readers();
	test_query();
	CHECK_EQ_INT(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	return CHECK_DONE();
}
