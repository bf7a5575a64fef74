/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

/*
 * store.c: host names, the handshake counter rule and its persistence,
 * append (duplicates, jumps and the collector's gap record), the durable
 * high-water mark before and after commit, and its recovery from the
 * journal when the store is opened again.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include "check.h"
#include "durable.h"
#include "journal.h"
#include "record.h"
#include "store.h"

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
	/* The journal exists with its header. */
	host_path(p, sizeof(p), "web-1", "journal");
	CHECK(stat(p, &st) == 0 && st.st_size == JOURNAL_HDR_LEN);
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

	/* The journal: 0, 1, 2, the gap, 10, sid2's 0, the event. */
	host_path(p, sizeof(p), "db_2", "journal");
	CHECK_EQ_INT(journal_reader_open(&jr, p), 0);
	for (uint64_t seq = 0; seq < 3; seq++) {
		CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
		check_stored(&e, sid1, seq);
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
	host_path(p, sizeof(p), "db_2", "journal");
	fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write_all(fd, "\x00\x00\x01\x00torn", 8), 0);
	close(fd);

	CHECK_EQ_INT(store_open(&s, tmpdir), 0);
	CHECK_EQ_INT(store_host(s, "db_2", &h, &cut), 0);
	CHECK_EQ_INT(cut, 8);
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
	CHECK_EQ_INT(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	return CHECK_DONE();
}
