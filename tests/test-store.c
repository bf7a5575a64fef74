/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

/*
 * store.c: host names, the handshake counter rule and its persistence,
 * append (duplicates, jumps and the collector's gap record), the durable
 * high-water mark before and after commit, and its recovery when the
 * store is opened again; segments and rotation, the index rebuilt when
 * lost, a torn tail cut at every byte offset of a small journal (and
 * recorded), checkpoints, and retention by host size, age and global size
 * with its gap events (which the completeness report names as retention).
 */

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <sys/time.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include "check.h"
#include "checkpoint.h"
#include "durable.h"
#include "gaps.h"
#include "journal.h"
#include "record.h"
#include "segindex.h"
#include "segment.h"
#include "store.h"
#include "verify.h"

static char tmpdir[64];
static const uint8_t sid1[STORE_STREAM_ID_LEN] = { 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t sid2[STORE_STREAM_ID_LEN] = { 0x22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* Record seq of a stream, as an agent would send it; *enc gets its encoding. */
static int make_record(const uint8_t *sid, uint64_t seq, struct record *r, uint8_t *enc, size_t cap,
		       char *msg, size_t msgcap)
{
	int n = snprintf(msg, msgcap, "stream %02x record %llu", sid[0], (unsigned long long)seq);

	memset(r, 0, sizeof(*r));
	r->source = RECORD_SRC_KMSG;
	r->level = 6;
	r->stream_seq = seq;
	r->kmsg_seq = seq + 1000;
	r->real_usec = UINT64_C(1700000000000000) + seq;
	for (int i = 0; i < RECORD_BOOT_ID_LEN; i++)
		r->boot_id[i] = (uint8_t)(sid[0] + seq + i);
	r->msg = (const uint8_t *)msg;
	r->msg_len = (uint32_t)n;
	return record_encode(r, enc, cap);
}

static uint64_t recv_of(uint64_t seq)
{
	return UINT64_C(1800000000000000) + seq;
}

static int append(struct store_host *h, const uint8_t *sid, uint64_t seq)
{
	uint8_t enc[256];
	char msg[64];
	struct record r;
	int n = make_record(sid, seq, &r, enc, sizeof(enc), msg, sizeof(msg));

	CHECK(n > 0);
	if (n <= 0)
		return n;
	return store_append(h, sid, &r, enc, (size_t)n, recv_of(seq));
}

static void host_path(char *out, size_t n, const char *host, const char *file)
{
	snprintf(out, n, "%s/hosts/%s/%s", tmpdir, host, file);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void test_names(void)
{
	static const char *const good[] = {
		"a",	"web-1", "a.b_c-D9",
		"_x",	"-x",	 "9",
		"a..b", "x.",	 "1234567890123456789012345678901234567890123456789012345678901234", /* 64 */
	};
	static const char *const bad[] = {
		"",	    ".",
		"..",	    ".hidden",
		"a/b",	    "/",
		"a b",	    "a\\b",
		"\xc3\xa9", "a:b",
		"a*",	    "12345678901234567890123456789012345678901234567890123456789012345", /* 65 */
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!store_name_valid(good[i])) {
			fprintf(stderr, "name \"%s\" refused\n", good[i]);
			check_failures++;
		}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (store_name_valid(bad[i])) {
			fprintf(stderr, "name \"%s\" accepted\n", bad[i]);
			check_failures++;
		}
}

static void test_open_host(void)
{
	struct store_host *h = NULL, *h2 = NULL;
	struct store *s = NULL;
	long long cut = -1;
	char p[256];
	struct stat st;

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	snprintf(p, sizeof(p), "%s/hosts", tmpdir);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ_INT(store_host(s, "web-1", &h, &cut), 0);
	CHECK_EQ_INT(cut, 0);
	CHECK(h != NULL);
	CHECK(strcmp(store_host_name(h), "web-1") == 0);
	CHECK(!store_dirty(s));
	/* The first segment exists with its header, and its index and the checkpoints. */
	host_path(p, sizeof(p), "web-1", "0000000000000000.seg");
	CHECK(stat(p, &st) == 0 && st.st_size == SEGMENT_HDR_MIN);
	host_path(p, sizeof(p), "web-1", "0000000000000000.idx");
	CHECK(stat(p, &st) == 0 && st.st_size == SEGINDEX_HDR_LEN);
	host_path(p, sizeof(p), "web-1", "checkpoints");
	CHECK(stat(p, &st) == 0 && st.st_size == CHECKPOINT_HDR_LEN);
	/* The same name is the same host. */
	CHECK_EQ_INT(store_host(s, "web-1", &h2, &cut), 0);
	CHECK(h2 == h);
	h2 = NULL;
	CHECK_EQ_INT(store_host(s, "..", &h2, &cut), -EINVAL);
	CHECK_EQ_INT(store_host(s, "a/b", &h2, &cut), -EINVAL);
	CHECK(h2 == NULL);
	store_free(s);
}

static void test_counter(void)
{
	static const uint8_t expect[8 + 2 * 24] = {
		'K', 'S', 'S', 'T', 'R', 'S', '0', '0', 0x11, 1,  2, 3, 4, 5,	 6, 7, 8, 9, 10,
		11,  12,  13,  14,  15,	 0,   0,   0,	0,    0,  0, 0, 6, 0x22, 1, 2, 3, 4, 5,
		6,   7,	  8,   9,   10,	 11,  12,  13,	14,   15, 0, 0, 0, 0,	 0, 0, 0, 1,
	};
	struct store_host *h;
	struct store *s;
	long long cut;
	uint8_t buf[128];
	char p[256];

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "counter", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 5), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 5), -ESTALE);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 4), -ESTALE);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 0), -ESTALE);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 6), 0);
	/* Streams are independent. */
	CHECK_EQ_INT(store_stream_counter(h, sid2, 1), 0);
	/* A known stream without records has mark 0, like an unknown one. */
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 0);
	store_free(s);

	host_path(p, sizeof(p), "counter", "streams");
	CHECK_EQ_INT(read_file(p, buf, sizeof(buf)), sizeof(expect));
	CHECK_EQ_MEM(buf, expect, sizeof(expect));

	/* Persisted: after reopening, the old counters are still refused. */
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "counter", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 6), -ESTALE);
	CHECK_EQ_INT(store_stream_counter(h, sid2, 1), -ESTALE);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 7), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid2, UINT64_MAX), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid2, UINT64_MAX), -ESTALE);
	store_free(s);
}

/* Field key of the gap record, as a NUL-terminated value compared to want. */
static void check_field(const struct record *r, const char *key, const char *want)
{
	const uint8_t *v;
	size_t vlen;

	if (record_field_get(r, key, &v, &vlen) != 1) {
		fprintf(stderr, "field %s missing\n", key);
		check_failures++;
		return;
	}
	if (vlen != strlen(want) || memcmp(v, want, vlen) != 0) {
		fprintf(stderr, "field %s = \"%.*s\", want \"%s\"\n", key, (int)vlen, (const char *)v, want);
		check_failures++;
	}
}

/* The journal entry e is record seq of sid, byte for byte as sent. */
static void check_stored(const struct journal_entry *e, const uint8_t *sid, uint64_t seq)
{
	uint8_t want[256], got[256];
	char msg[64];
	struct record r;
	int n = make_record(sid, seq, &r, want, sizeof(want), msg, sizeof(msg));

	CHECK_EQ_MEM(e->stream_id, sid, STORE_STREAM_ID_LEN);
	CHECK(e->recv_usec == recv_of(seq));
	CHECK_EQ_INT(record_encode(&e->rec, got, sizeof(got)), n);
	if (n > 0)
		CHECK_EQ_MEM(got, want, (size_t)n);
}

static void test_append(void)
{
	struct journal_reader *jr;
	struct journal_entry e;
	struct store_host *h;
	struct store *s;
	struct record r10;
	uint8_t enc10[256];
	char msg[64], p[256];
	long long cut;

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "db_2", &h, &cut), 0);

	/* Every stream comes through a handshake. */
	CHECK_EQ_INT(append(h, sid1, 0), -ENOENT);
	CHECK(!store_dirty(s));
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);

	CHECK_EQ_INT(append(h, sid1, 0), 1);
	CHECK_EQ_INT(append(h, sid1, 1), 1);
	CHECK_EQ_INT(append(h, sid1, 2), 1);
	CHECK(store_dirty(s));
	/* Duplicates of what is pending, committed or not, are dropped. */
	CHECK_EQ_INT(append(h, sid1, 1), 0);
	CHECK_EQ_INT(append(h, sid1, 0), 0);
	/* Only durable marks are reported. */
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 0);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK(!store_dirty(s));
	CHECK(!store_host_failed(h));
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 3);
	CHECK_EQ_INT(append(h, sid1, 2), 0);
	CHECK(!store_dirty(s));

	/* A jump from 3 to 10: a gap record for 3..9 goes first. */
	CHECK_EQ_INT(append(h, sid1, 10), 1);
	CHECK_EQ_INT(append(h, sid1, 5), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 3);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 11);

	/* A second stream has its own marks. */
	CHECK_EQ_INT(store_stream_counter(h, sid2, 1), 0);
	CHECK_EQ_INT(append(h, sid2, 0), 1);
	/* A collector event with a high seq moves no mark. */
	CHECK_EQ_INT(store_event(h, sid1, RECORD_EV_SESSION_END, LOG_INFO, 100, NULL, "session end", NULL,
				 recv_of(100)),
		     0);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 11);
	CHECK_EQ_INT(store_stream_hwm(h, sid2), 1);
	store_free(s);

	/* The journal: 0, 1, 2, the gap, 10, sid2's 0, the event; numbered from 0. */
	host_path(p, sizeof(p), "db_2", "");
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	for (uint64_t seq = 0; seq < 3; seq++) {
		CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
		check_stored(&e, sid1, seq);
		CHECK_EQ_INT(e.recno, seq);
	}

	CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	CHECK(make_record(sid1, 10, &r10, enc10, sizeof(enc10), msg, sizeof(msg)) > 0);
	CHECK_EQ_MEM(e.stream_id, sid1, STORE_STREAM_ID_LEN);
	CHECK(e.recv_usec == recv_of(10));
	CHECK_EQ_INT(e.rec.source, RECORD_SRC_COLLECTOR);
	CHECK_EQ_INT(e.rec.event, RECORD_EV_GAP);
	CHECK_EQ_INT(e.rec.level, LOG_WARNING);
	CHECK_EQ_INT(e.rec.facility, RECORD_FACILITY_EVENT);
	CHECK_EQ_INT(e.rec.stream_seq, 3);
	CHECK_EQ_MEM(e.rec.boot_id, r10.boot_id, RECORD_BOOT_ID_LEN);
	CHECK_EQ_INT(e.rec.nfields, 4);
	check_field(&e.rec, "GAP_CAUSE", "stream-jump");
	check_field(&e.rec, "GAP_COUNT", "7");
	check_field(&e.rec, "GAP_FIRST_STREAM_SEQ", "3");
	check_field(&e.rec, "GAP_LAST_STREAM_SEQ", "9");

	CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	check_stored(&e, sid1, 10);
	CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	check_stored(&e, sid2, 0);

	CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	CHECK_EQ_MEM(e.stream_id, sid1, STORE_STREAM_ID_LEN);
	CHECK_EQ_INT(e.rec.source, RECORD_SRC_COLLECTOR);
	CHECK_EQ_INT(e.rec.event, RECORD_EV_SESSION_END);
	CHECK_EQ_INT(e.rec.stream_seq, 100);
	CHECK_EQ_INT(e.rec.msg_len, 11);
	CHECK_EQ_MEM(e.rec.msg, "session end", 11);

	CHECK_EQ_INT(journal_reader_next(jr, &e), 0);
	journal_reader_free(jr);
}

/* Marks are not stored: reopening rebuilds them from the journal. */
static void test_recovery(void)
{
	struct store_host *h;
	struct store *s;
	long long cut = -1;
	char p[256];
	int fd;

	/* A torn tail left by a crash, reported by store_host. */
	host_path(p, sizeof(p), "db_2", "0000000000000000.seg");
	fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write_all(fd, "\x00\x00\x01\x00torn", 8), 0);
	close(fd);

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "db_2", &h, &cut), 0);
	CHECK_EQ_INT(cut, 8);
	/* ... and recorded in the journal with the next commit. */
	CHECK(store_dirty(s));
	CHECK_EQ_INT(store_commit(s), 0);
	/* Highest stored seq + 1; the gap (seq 3) and the event (seq 100) do not count. */
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 11);
	CHECK_EQ_INT(store_stream_hwm(h, sid2), 1);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), -ESTALE);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 2), 0);
	/* Pending is recovered too: old seqs are duplicates, the next one is not. */
	CHECK_EQ_INT(append(h, sid1, 10), 0);
	CHECK_EQ_INT(append(h, sid1, 3), 0);
	CHECK(!store_dirty(s));
	CHECK_EQ_INT(append(h, sid1, 11), 1);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 11);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 12);
	store_free(s);

	/* Uncommitted appends are not in the journal: freeing the store loses them. */
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "db_2", &h, &cut), 0);
	CHECK_EQ_INT(cut, 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 12);
	CHECK_EQ_INT(append(h, sid1, 12), 1);
	store_free(s);
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "db_2", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 12);
	store_free(s);
}

/* Read host's journal: the number of entries, each checked (dense record numbers). */
static uint64_t read_all(const char *host, uint64_t first_recno)
{
	struct journal_reader *jr;
	struct journal_entry e;
	char p[256];
	uint64_t n = 0;
	int r;

	host_path(p, sizeof(p), host, "");
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	while ((r = journal_reader_next(jr, &e)) == 1) {
		CHECK_EQ_INT(e.recno, first_recno + n);
		n++;
	}
	CHECK_EQ_INT(r, 0);
	journal_reader_free(jr);
	return n;
}

static void check_verify_ok(const char *host)
{
	struct verify_result v;
	char p[256];

	host_path(p, sizeof(p), host, "");
	CHECK_EQ_INT(verify_host(p, &v), 0);
	if (v.problem != VERIFY_OK) {
		fprintf(stderr, "verify %s: %s at %s offset %llu: %s\n", host, verify_problem_name(v.problem),
			v.file, (unsigned long long)v.offset, v.what);
		check_failures++;
	}
}

static size_t count_segments(const char *host)
{
	char p[256];
	DIR *d;
	struct dirent *de;
	size_t n = 0;
	uint64_t base;

	host_path(p, sizeof(p), host, "");
	d = opendir(p);
	CHECK(d != NULL);
	while (d && (de = readdir(d)))
		n += segment_name_parse(de->d_name, SEGMENT_SUFFIX, &base) == 0;
	if (d)
		closedir(d);
	return n;
}

/* Segments, rotation, the index used and rebuilt, checkpoints. */
static void test_rotation(void)
{
	/* Not a multiple of a 100-record commit's bytes: the active segment
	 * holds entries at the end (an index to lose below). */
	struct store_limits lim = { .segment_size = 60 << 10 };
	struct store_host *h;
	struct store *s;
	long long cut;
	char p[256];
	struct stat st;

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	store_set_limits(s, &lim);
	CHECK_EQ_INT(store_host(s, "rot", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	for (uint64_t seq = 0; seq < 3000; seq++) {
		CHECK_EQ_INT(append(h, sid1, seq), 1);
		if (seq % 100 == 99)
			CHECK_EQ_INT(store_commit(s), 0);
	}
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 3000);
	store_free(s);
	/* About 157 bytes an entry: 8 segments of 60 KiB or so. */
	CHECK(count_segments("rot") >= 5);
	CHECK_EQ_INT(read_all("rot", 0), 3000);
	check_verify_ok("rot");

	/* The marks come back from the last header, the index and the tail. */
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "rot", &h, &cut), 0);
	CHECK_EQ_INT(cut, 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 3000);
	CHECK_EQ_INT(append(h, sid1, 2999), 0);
	store_free(s);

	/* A lost index of the active segment is rebuilt on open. */
	char last[64] = "";
	{
		DIR *d;
		struct dirent *de;
		uint64_t base, max = 0;
		host_path(p, sizeof(p), "rot", "");
		d = opendir(p);
		while (d && (de = readdir(d)))
			if (segment_name_parse(de->d_name, SEGMENT_SUFFIX, &base) == 0 && base >= max)
				max = base;
		if (d)
			closedir(d);
		segment_name(last, sizeof(last), max, SEGMENT_INDEX_SUFFIX);
	}
	host_path(p, sizeof(p), "rot", last);
	CHECK(stat(p, &st) == 0 && st.st_size > SEGINDEX_HDR_LEN);
	off_t had = st.st_size;
	CHECK_EQ_INT(unlink(p), 0);
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "rot", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 3000);
	store_free(s);
	CHECK(stat(p, &st) == 0 && st.st_size == had);
	check_verify_ok("rot");

	/* -n: a position near the end by the index, all entries after it. */
	struct journal_reader *jr;
	struct journal_entry e;
	off_t pos;
	uint64_t n = 0;
	host_path(p, sizeof(p), "rot", "");
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	CHECK_EQ_INT(journal_reader_back(jr, 100, &pos), 0);
	CHECK_EQ_INT(journal_reader_seek(jr, pos), 0);
	while (journal_reader_next(jr, &e) == 1)
		n++;
	CHECK(n >= 100 && n < 100 + 2 * SEGINDEX_BLOCK_RECORDS);
	CHECK_EQ_INT(e.recno, 2999);
	CHECK_EQ_INT(journal_reader_back(jr, 1000000, &pos), 1);
	CHECK_EQ_INT(pos, journal_reader_start(jr));
	/* Read at a position, the sequence undisturbed. */
	CHECK_EQ_INT(journal_reader_read_at(jr, pos, &e), 0);
	CHECK_EQ_INT(e.recno, 0);
	CHECK_EQ_INT(journal_reader_read_at(jr, pos + 1, &e), -EBADMSG);
	journal_reader_free(jr);

	/* Checkpoints: every rotation wrote one; they match the journal. */
	struct checkpoint *c;
	size_t nc;
	off_t good, size;
	host_path(p, sizeof(p), "rot", CHECKPOINT_FILE);
	CHECK_EQ_INT(checkpoint_load(p, &c, &nc, &good, &size), 0);
	CHECK(nc >= count_segments("rot") - 1);
	CHECK_EQ_INT(good, size);
	if (nc)
		CHECK_EQ_INT(c[nc - 1].records, 3000);
	free(c);
}

/* A journal of three records, cut at every byte offset: recovery keeps the whole entries. */
static void test_torn_every_offset(void)
{
	struct store_host *h;
	struct store *s;
	long long cut;
	char p[256], q[256];
	uint8_t *orig;
	size_t len;
	off_t ends[4];

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "torn", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	struct stat st;
	host_path(p, sizeof(p), "torn", "0000000000000000.seg");
	CHECK(stat(p, &st) == 0);
	ends[0] = st.st_size;
	for (uint64_t seq = 0; seq < 3; seq++) {
		CHECK_EQ_INT(append(h, sid1, seq), 1);
		CHECK_EQ_INT(store_commit(s), 0);
		CHECK(stat(p, &st) == 0);
		ends[seq + 1] = st.st_size;
	}
	store_free(s);
	len = (size_t)ends[3];
	orig = malloc(len);
	CHECK(orig && read_file(p, orig, len) == (ssize_t)len);
	/* The checkpoints and the acked mark would (rightly) call every cut a
	 * truncation: not this test's point. */
	host_path(q, sizeof(q), "torn", CHECKPOINT_FILE);
	for (off_t at = ends[0]; orig && at <= ends[3]; at++) {
		uint64_t whole = 0;
		while (whole < 3 && ends[whole + 1] <= at)
			whole++;
		CHECK_EQ_INT(durable_replace(p, orig, (size_t)at, 0640), 0);
		CHECK_EQ_INT(unlink(q), 0);
		host_path(q, sizeof(q), "torn", ACKED_FILE);
		(void)unlink(q); /* the acked mark too (test-acked-cut.sh checks it) */
		host_path(q, sizeof(q), "torn", CHECKPOINT_FILE);
		CHECK_EQ_INT(store_open(&s, tmpdir), 0);
		CHECK_EQ_INT(store_host(s, "torn", &h, &cut), 0);
		CHECK_EQ_INT(cut, at - ends[whole]);
		CHECK_EQ_INT(store_stream_hwm(h, sid1), whole);
		CHECK_EQ_INT(store_commit(s), 0);
		store_free(s);
		/* The whole entries, and the torn-tail event when bytes were cut. */
		CHECK_EQ_INT(read_all("torn", 0), whole + (at > ends[whole]));
		check_verify_ok("torn");
	}
	free(orig);
}

/* The entry of host whose GAP_CAUSE is "retention" and stream sid, last of them: its fields. */
static int last_retention(const char *host, const uint8_t *sid, char *first, char *last, char *reason)
{
	struct journal_reader *jr;
	struct journal_entry e;
	char p[256];
	int found = 0;

	host_path(p, sizeof(p), host, "");
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	while (journal_reader_next(jr, &e) == 1) {
		const uint8_t *v;
		size_t vlen;
		if (e.rec.source != RECORD_SRC_COLLECTOR || e.rec.event != RECORD_EV_GAP ||
		    memcmp(e.stream_id, sid, 16) != 0 ||
		    record_field_get(&e.rec, "GAP_CAUSE", &v, &vlen) != 1 || vlen != 9 ||
		    memcmp(v, "retention", 9) != 0)
			continue;
		found = 1;
		if (record_field_get(&e.rec, "GAP_FIRST_STREAM_SEQ", &v, &vlen) == 1)
			snprintf(first, 24, "%.*s", (int)vlen, (const char *)v);
		if (record_field_get(&e.rec, "GAP_LAST_STREAM_SEQ", &v, &vlen) == 1)
			snprintf(last, 24, "%.*s", (int)vlen, (const char *)v);
		if (record_field_get(&e.rec, "RETENTION_REASON", &v, &vlen) == 1)
			snprintf(reason, 24, "%.*s", (int)vlen, (const char *)v);
	}
	journal_reader_free(jr);
	return found;
}

/* The completeness report of host, into buf. */
static void gaps_of(const char *host, char *buf, size_t cap)
{
	struct journal_reader *jr;
	struct journal_entry e;
	struct gaps *g;
	char p[256];

	host_path(p, sizeof(p), host, "");
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	CHECK_EQ_INT(gaps_new(&g), 0);
	while (journal_reader_next(jr, &e) == 1)
		CHECK_EQ_INT(gaps_add(g, &e), 0);
	CHECK_EQ_INT(gaps_finish(g), 0);
	FILE *f = fmemopen(buf, cap, "w");
	CHECK(f != NULL);
	if (f) {
		gaps_report(g, host, &(struct gaps_report_opts){ .full = true }, f);
		fclose(f);
	}
	gaps_free(g);
	journal_reader_free(jr);
}

/* A kernel record of one boot whose kmsg seq is its stream seq, as a real agent sends. */
static int append_kernel(struct store_host *h, const uint8_t *sid, uint64_t seq)
{
	uint8_t enc[256];
	char msg[64];
	struct record r;
	int n = make_record(sid, seq, &r, enc, sizeof(enc), msg, sizeof(msg));

	r.kmsg_seq = seq;
	memset(r.boot_id, sid[0], sizeof(r.boot_id));
	n = record_encode(&r, enc, sizeof(enc));
	CHECK(n > 0);
	return store_append(h, sid, &r, enc, (size_t)n, recv_of(seq));
}

static void fill(struct store *s, struct store_host *h, const uint8_t *sid, uint64_t from, uint64_t to)
{
	for (uint64_t seq = from; seq < to; seq++) {
		CHECK_EQ_INT(append_kernel(h, sid, seq), 1);
		if (seq % 100 == 99)
			CHECK_EQ_INT(store_commit(s), 0);
	}
	CHECK_EQ_INT(store_commit(s), 0);
}

static void age_segments(const char *host)
{
	char p[300];
	DIR *d;
	struct dirent *de;
	uint64_t base;
	struct timeval tv[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };

	host_path(p, sizeof(p), host, "");
	d = opendir(p);
	while (d && (de = readdir(d))) {
		char f[600];
		if (segment_name_parse(de->d_name, SEGMENT_SUFFIX, &base) < 0)
			continue;
		snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
		CHECK_EQ_INT(utimes(f, tv), 0);
	}
	if (d)
		closedir(d);
}

static void test_retention(void)
{
	struct store_limits lim = { .segment_size = 64 << 10, .host_max_size = 200 << 10 };
	struct store_host *h, *h2;
	struct store *s;
	long long cut;
	char first[24] = "", last[24] = "", reason[24] = "", report[8192];
	uint64_t now = UINT64_C(1800000000000000);

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	store_set_limits(s, &lim);
	CHECK_EQ_INT(store_host(s, "ret", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h, sid1, 1), 0);
	fill(s, h, sid1, 0, 3000);
	size_t before = count_segments("ret");
	CHECK(before >= 5);
	/* Not while something is pending. */
	CHECK_EQ_INT(append_kernel(h, sid1, 3000), 1);
	CHECK_EQ_INT(store_retention(s, now), 0);
	CHECK_EQ_INT(count_segments("ret"), before);
	CHECK_EQ_INT(store_commit(s), 0);
	CHECK_EQ_INT(store_retention(s, now), 0);
	size_t after = count_segments("ret");
	CHECK(after < before && after >= 3);
	CHECK(last_retention("ret", sid1, first, last, reason));
	CHECK(strcmp(first, "0") == 0);
	CHECK(strcmp(reason, "host_max_size") == 0);
	uint64_t hi1 = strtoull(last, NULL, 10);
	CHECK(hi1 > 0 && hi1 < 3000);
	/* Kept: everything after the removed range, from its next seq on. */
	check_verify_ok("ret");
	/* The report names the cause of what is missing. */
	gaps_of("ret", report, sizeof(report));
	CHECK(strstr(report, "retention") != NULL);
	CHECK(strstr(report, "unknown") == NULL);
	if (strstr(report, "unknown"))
		fputs(report, stderr);
	/* Soon after, with nothing sealed: nothing to do. */
	CHECK_EQ_INT(store_retention(s, now + 1), 0);
	CHECK_EQ_INT(count_segments("ret"), after);

	/* More records, another removal: its claim includes the first one's. */
	fill(s, h, sid1, 3001, 5000);
	CHECK_EQ_INT(store_retention(s, now + 2), 0);
	CHECK(last_retention("ret", sid1, first, last, reason));
	CHECK(strcmp(first, "0") == 0);
	CHECK(strtoull(last, NULL, 10) > hi1);
	check_verify_ok("ret");
	gaps_of("ret", report, sizeof(report));
	CHECK(strstr(report, "unknown") == NULL);
	/* The marks survive the removal of the segments that held the records. */
	store_free(s);
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "ret", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_hwm(h, sid1), 5000);
	CHECK_EQ_INT(append(h, sid1, 10), 0);

	/* Age: every sealed segment last written long ago goes, the active one stays. */
	struct store_limits age = { .segment_size = 64 << 10, .max_age_usec = UINT64_C(86400000000) };
	store_set_limits(s, &age);
	age_segments("ret");
	CHECK_EQ_INT(store_retention(s, now + 3), 0);
	CHECK_EQ_INT(count_segments("ret"), 1);
	CHECK(last_retention("ret", sid1, first, last, reason));
	CHECK(strcmp(reason, "max_age") == 0);
	check_verify_ok("ret");

	/* Global size: the host whose oldest segment is oldest gives first. */
	struct store_limits glob = { .segment_size = 64 << 10, .max_size = 300 << 10 };
	store_set_limits(s, &glob);
	CHECK_EQ_INT(store_host(s, "ret2", &h2, &cut), 0);
	CHECK_EQ_INT(store_stream_counter(h2, sid2, 1), 0);
	fill(s, h2, sid2, 0, 3000);
	fill(s, h, sid1, 5000, 7000);
	age_segments("ret2");
	CHECK_EQ_INT(store_retention(s, now + 4), 0);
	CHECK(last_retention("ret2", sid2, first, last, reason));
	CHECK(strcmp(reason, "max_size") == 0);
	check_verify_ok("ret");
	check_verify_ok("ret2");
	store_free(s);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	CHECK(d != NULL);
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/*
 * More hosts than may keep their files open (store_set_open_max 2): the
 * least recently written idle ones are closed and reopened when written
 * again, with rotation in between; every journal reads back whole and
 * verifies.
 */
static void test_open_max(void)
{
	struct store_limits lim = { .segment_size = 64 << 10 };
	struct store_host *h[6];
	struct store *s;
	long long cut;
	char name[16];
	int fds0 = count_fds();

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	store_set_limits(s, &lim);
	store_set_open_max(s, 2);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "om%d", i);
		CHECK_EQ_INT(store_host(s, name, &h[i], &cut), 0);
		CHECK_EQ_INT(store_stream_counter(h[i], sid1, 1), 0);
	}
	/* Rounds over all hosts: each round reopens most of them; 1,000
	 * records of about 150 bytes per host rotate each at least twice. */
	for (uint64_t seq = 0; seq < 1000; seq++) {
		for (int i = 0; i < 6; i++)
			CHECK_EQ_INT(append(h[i], sid1, seq), 1);
		CHECK_EQ_INT(store_commit(s), 0);
		/* 3 descriptors per open host; the store's own: none held. */
		int open = count_fds() - fds0;
		if (open > 3 * 6 || (seq > 0 && open > 3 * 2 + 3)) {
			fprintf(stderr, "open_max: %d descriptors open after round %llu\n", open,
				(unsigned long long)seq);
			check_failures++;
			break;
		}
	}
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(store_stream_hwm(h[i], sid1), 1000);
	store_free(s);
	CHECK_EQ_INT(count_fds(), fds0);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "om%d", i);
		CHECK(count_segments(name) >= 2);
		CHECK_EQ_INT(read_all(name, 0), 1000 + 0);
		check_verify_ok(name);
	}
}

/* A stream id whose first bytes are i (the rest fixed). */
static void sid_of(uint8_t out[STORE_STREAM_ID_LEN], unsigned i)
{
	memset(out, 0x5a, STORE_STREAM_ID_LEN);
	out[0] = (uint8_t)(i >> 8);
	out[1] = (uint8_t)i;
}

/*
 * Issue 22 item 4: the stream table at its bound. At 4 streams a new one
 * retires the least recently used finished stream (not held by a live
 * session, nothing uncommitted), with a STORE_EV_STREAM_RETIRED event in
 * the journal; when every stream is held, a new one is refused (-EUSERS);
 * the order survives a reopen. Then 1024 streams (the default bound):
 * every one is found, none retired, the next retires the oldest.
 */
static void test_streams_bound(void)
{
	struct store_host *h;
	struct store *s;
	long long cut;
	uint8_t id[8][STORE_STREAM_ID_LEN];
	char p[256], hex[33];

	for (unsigned i = 0; i < 8; i++)
		sid_of(id[i], i + 1);
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	store_set_streams_max(s, 4);
	CHECK_EQ_INT(store_host(s, "bound", &h, &cut), 0);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ_INT(store_stream_counter(h, id[i], 1), 0);
	CHECK_EQ_INT(store_stream_count(h), 4);
	/* Records of stream 0, committed: its mark goes into the event. */
	for (uint64_t seq = 0; seq < 3; seq++)
		CHECK_EQ_INT(append(h, id[0], seq), 1);
	CHECK_EQ_INT(store_commit(s), 0);
	/* Stream 1 is in use; stream 2 had a handshake again. */
	store_stream_hold(h, id[1], true);
	CHECK_EQ_INT(store_stream_counter(h, id[2], 2), 0);
	/* The 5th: stream 0 (least recently used, finished) goes. */
	CHECK_EQ_INT(store_stream_counter(h, id[4], 1), 0);
	CHECK_EQ_INT(store_stream_count(h), 4);
	CHECK(!store_stream_known(h, id[0]));
	CHECK(store_stream_known(h, id[1]) && store_stream_known(h, id[2]) && store_stream_known(h, id[3]));
	CHECK(store_stream_known(h, id[4]));
	/* The 6th: stream 1 is held, so stream 3 goes (2 was used since). */
	CHECK_EQ_INT(store_stream_counter(h, id[5], 1), 0);
	CHECK(store_stream_known(h, id[1]) && !store_stream_known(h, id[3]));
	CHECK_EQ_INT(store_commit(s), 0);
	/* Every stream held: a new one is refused, nothing retired. */
	store_stream_hold(h, id[2], true);
	store_stream_hold(h, id[4], true);
	store_stream_hold(h, id[5], true);
	CHECK_EQ_INT(store_stream_counter(h, id[6], 1), -EUSERS);
	CHECK_EQ_INT(store_stream_count(h), 4);
	CHECK(!store_stream_known(h, id[6]));
	/* Let one go: it is retired for the next. */
	store_stream_hold(h, id[4], false);
	CHECK_EQ_INT(store_stream_counter(h, id[6], 1), 0);
	CHECK(!store_stream_known(h, id[4]) && store_stream_known(h, id[6]));
	CHECK_EQ_INT(store_commit(s), 0);
	store_free(s);

	/* The journal: stream 0's records, then one event per retirement. */
	struct journal_reader *jr;
	struct journal_entry e;
	const uint8_t *retired[3] = { id[0], id[3], id[4] };
	const char *hwm[3] = { "3", "0", "0" };
	host_path(p, sizeof(p), "bound", "");
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	for (uint64_t seq = 0; seq < 3; seq++) {
		CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
		check_stored(&e, id[0], seq);
	}
	for (int k = 0; k < 3; k++) {
		CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
		CHECK_EQ_INT(e.rec.source, RECORD_SRC_COLLECTOR);
		CHECK_EQ_INT(e.rec.event, STORE_EV_STREAM_RETIRED);
		CHECK_EQ_MEM(e.stream_id, retired[k], STORE_STREAM_ID_LEN);
		for (int i = 0; i < STORE_STREAM_ID_LEN; i++)
			snprintf(hex + 2 * i, 3, "%02x", retired[k][i]);
		check_field(&e.rec, "RETIRED_STREAM_ID", hex);
		check_field(&e.rec, "RETIRED_COUNTER", "1");
		check_field(&e.rec, "RETIRED_STREAM_SEQ", hwm[k]);
		check_field(&e.rec, "STREAMS_MAX", "4");
	}
	CHECK_EQ_INT(journal_reader_next(jr, &e), 0);
	journal_reader_free(jr);

	/* Reopened: the same 4 streams, counters kept, least recently used
	 * order kept (stream 1, never handshaken since, goes first). */
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	store_set_streams_max(s, 4);
	CHECK_EQ_INT(store_host(s, "bound", &h, &cut), 0);
	CHECK_EQ_INT(store_stream_count(h), 4);
	CHECK_EQ_INT(store_stream_counter(h, id[2], 2), -ESTALE);
	CHECK_EQ_INT(store_stream_counter(h, id[7], 1), 0);
	CHECK(!store_stream_known(h, id[1]));
	CHECK(store_stream_known(h, id[2]) && store_stream_known(h, id[5]) && store_stream_known(h, id[6]));
	store_free(s);

	/* The default bound, 1024 streams: all found; the 1025th retires
	 * the oldest. */
	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "bound1024", &h, &cut), 0);
	uint8_t sid[STORE_STREAM_ID_LEN];
	for (unsigned i = 0; i < STORE_STREAMS_MAX; i++) {
		sid_of(sid, 1000 + i);
		CHECK_EQ_INT(store_stream_counter(h, sid, 1), 0);
	}
	CHECK_EQ_INT(store_stream_count(h), STORE_STREAMS_MAX);
	for (unsigned i = 0; i < STORE_STREAMS_MAX; i++) {
		sid_of(sid, 1000 + i);
		CHECK(store_stream_known(h, sid));
	}
	sid_of(sid, 999);
	CHECK(!store_stream_known(h, sid));
	CHECK_EQ_INT(store_stream_counter(h, sid, 1), 0);
	CHECK_EQ_INT(store_stream_count(h), STORE_STREAMS_MAX);
	sid_of(sid, 1000);
	CHECK(!store_stream_known(h, sid));
	sid_of(sid, 1001);
	CHECK(store_stream_known(h, sid));
	CHECK_EQ_INT(store_commit(s), 0);
	store_free(s);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-store.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_names();
	test_open_host();
	test_counter();
	test_append();
	test_recovery();
	test_rotation();
	test_torn_every_offset();
	test_retention();
	test_open_max();
	test_streams_bound();
	CHECK_EQ_INT(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	return CHECK_DONE();
}
