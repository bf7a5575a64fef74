/* SPDX-License-Identifier: ISC */

/*
 * journal.c: a new file's header, round trips through the reader (more
 * than one read chunk, records up to RECORD_MAX), a partial entry at the
 * tail while the writer is still at it, and recovery: torn tails cut to the
 * byte, a bad last checksum cut, damage in the middle and bad magic refused
 * with the file left as it was.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "check.h"
#include "durable.h"
#include "journal.h"
#include "record.h"

#define ENTRY_MAX (JOURNAL_ENTRY_OVERHEAD + RECORD_MAX)

static char tmpdir[64];
static char path[128];
static uint8_t msgbuf[RECORD_MAX];
static uint8_t recbuf[RECORD_MAX];
static uint8_t entbuf[ENTRY_MAX];

/* Test entry i: stream seq i, one of two stream ids, mostly small messages
 * and every 500th (from 7) a record of exactly RECORD_MAX bytes. */
static size_t msg_len_of(uint64_t i)
{
	return i % 500 == 7 ? RECORD_MAX - RECORD_HDR_LEN : (size_t)(i * 37 % 1500);
}

static uint8_t msg_byte(uint64_t i, size_t k)
{
	return (uint8_t)(i * 31 + k * 7 + (k >> 8));
}

static uint64_t recv_of(uint64_t i)
{
	return UINT64_C(1700000000000000) + i * 1000;
}

static void sid_of(uint64_t i, uint8_t sid[16])
{
	for (int k = 0; k < 16; k++)
		sid[k] = (uint8_t)((i & 1 ? 0xa0 : 0x50) + k);
}

/* Encode entry i into entbuf; returns its length. */
static size_t make_entry(uint64_t i)
{
	struct record r = {
		.source = RECORD_SRC_KMSG,
		.level = (uint8_t)(i % 8),
		.facility = 0,
		.stream_seq = i,
		.kmsg_seq = i * 3,
		.mono_usec = i * 11,
		.real_usec = recv_of(i) - 5,
		.msg = msgbuf,
		.msg_len = (uint32_t)msg_len_of(i),
	};
	uint8_t sid[16];

	for (size_t k = 0; k < r.msg_len; k++)
		msgbuf[k] = msg_byte(i, k);
	int n = record_encode(&r, recbuf, sizeof(recbuf));
	if (n != (int)(RECORD_HDR_LEN + r.msg_len)) {
		fprintf(stderr, "record_encode(%llu): %d\n", (unsigned long long)i, n);
		abort();
	}
	sid_of(i, sid);
	return journal_encode(entbuf, recv_of(i), sid, recbuf, (size_t)n);
}

static size_t entry_size(uint64_t i)
{
	return JOURNAL_ENTRY_OVERHEAD + RECORD_HDR_LEN + msg_len_of(i);
}

/* Does e hold entry i? Counts a failure for every difference. */
static void check_entry(const struct journal_entry *e, uint64_t i)
{
	uint8_t sid[16];
	size_t bad = 0;

	sid_of(i, sid);
	CHECK(e->recv_usec == recv_of(i));
	CHECK_EQ_MEM(e->stream_id, sid, 16);
	CHECK_EQ_INT(e->rec.source, RECORD_SRC_KMSG);
	CHECK_EQ_INT(e->rec.level, i % 8);
	CHECK(e->rec.stream_seq == i);
	CHECK(e->rec.kmsg_seq == i * 3);
	CHECK(e->rec.mono_usec == i * 11);
	CHECK_EQ_INT(e->rec.msg_len, msg_len_of(i));
	if (e->rec.msg_len != msg_len_of(i))
		return;
	for (size_t k = 0; k < e->rec.msg_len; k++)
		bad += e->rec.msg[k] != msg_byte(i, k);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(e->rec.nfields, 0);
}

/* Append entries from .. to-1 to fd; returns the bytes written. */
static off_t write_entries(int fd, uint64_t from, uint64_t to)
{
	off_t total = 0;

	for (uint64_t i = from; i < to; i++) {
		size_t n = make_entry(i);
		CHECK_EQ_INT(n, entry_size(i));
		CHECK_EQ_INT(write_all(fd, entbuf, n), 0);
		total += (off_t)n;
	}
	return total;
}

/* Offset of entry i in a file of entries 0, 1, ... */
static off_t offset_of(uint64_t i)
{
	off_t off = JOURNAL_HDR_LEN;

	for (uint64_t k = 0; k < i; k++)
		off += (off_t)entry_size(k);
	return off;
}

static off_t file_size(const char *p)
{
	struct stat st;

	if (stat(p, &st) < 0)
		return -1;
	return st.st_size;
}

/* The whole file, malloc'd; *len gets its size. */
static uint8_t *slurp(const char *p, size_t *len)
{
	off_t size = file_size(p);
	uint8_t *buf;
	int fd;

	*len = 0;
	if (size < 0 || !(buf = malloc((size_t)size + 1)))
		return NULL;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread_all(fd, buf, (size_t)size, 0) < 0) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	close(fd);
	*len = (size_t)size;
	return buf;
}

/* Recovery callback: the entries must come in order 0, 1, 2, ... */
struct scan {
	uint64_t count;
};

static void scan_cb(const struct journal_entry *e, void *data)
{
	struct scan *s = data;

	check_entry(e, s->count);
	CHECK_EQ_INT(e->offset, offset_of(s->count));
	s->count++;
}

/* A fresh journal at path through journal_recover; returns its fd. */
static int new_journal(void)
{
	struct scan s = { 0 };
	off_t cut = -1;
	int fd;

	unlink(path);
	fd = journal_recover(path, scan_cb, &s, &cut);
	CHECK(fd >= 0);
	CHECK_EQ_INT(cut, 0);
	CHECK_EQ_INT(s.count, 0);
	if (fd < 0)
		abort();
	return fd;
}

/* Read the whole file with a reader: entries 0 .. n-1, then the end. */
static void check_reads_back(uint64_t n)
{
	struct journal_reader *jr;
	struct journal_entry e;
	uint64_t i = 0;
	int r;

	CHECK_EQ_INT(journal_reader_open(&jr, path), 0);
	while ((r = journal_reader_next(jr, &e)) == 1) {
		CHECK_EQ_INT(e.offset, offset_of(i));
		check_entry(&e, i);
		i++;
		CHECK_EQ_INT(journal_reader_offset(jr), offset_of(i));
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(i, n);
	CHECK_EQ_INT(journal_reader_offset(jr), file_size(path));
	journal_reader_free(jr);
}

static void test_new_file(void)
{
	static const uint8_t hdr[JOURNAL_HDR_LEN] = "KSJRNL00";
	char missing[160];
	uint8_t buf[64];
	off_t cut = -1;
	int fd;

	fd = new_journal();
	CHECK_EQ_INT(file_size(path), JOURNAL_HDR_LEN);
	CHECK_EQ_INT(read_file(path, buf, sizeof(buf)), JOURNAL_HDR_LEN);
	CHECK_EQ_MEM(buf, hdr, JOURNAL_HDR_LEN);
	/* Opened for appending: a write lands after the header. */
	CHECK_EQ_INT(write_entries(fd, 0, 1), entry_size(0));
	close(fd);
	check_reads_back(1);

	/* An empty journal reads as "nothing yet". */
	fd = new_journal();
	close(fd);
	check_reads_back(0);

	snprintf(missing, sizeof(missing), "%s/no-such-dir/journal", tmpdir);
	CHECK_EQ_INT(journal_recover(missing, scan_cb, &(struct scan){ 0 }, &cut), -ENOENT);
	CHECK_EQ_INT(unlink(path), 0);
}

/* 3000 entries, about 3 MiB with six of RECORD_MAX: several read chunks. */
static void test_round_trip(void)
{
	struct scan s = { 0 };
	off_t total, cut = -1;
	int fd;

	fd = new_journal();
	total = write_entries(fd, 0, 3000);
	close(fd);
	CHECK(total > 2 * (1 << 20));
	CHECK_EQ_INT(file_size(path), JOURNAL_HDR_LEN + total);
	check_reads_back(3000);

	/* Recovery of an intact file visits everything and cuts nothing. */
	fd = journal_recover(path, scan_cb, &s, &cut);
	CHECK(fd >= 0);
	CHECK_EQ_INT(cut, 0);
	CHECK_EQ_INT(s.count, 3000);
	CHECK_EQ_INT(file_size(path), JOURNAL_HDR_LEN + total);
	if (fd >= 0)
		close(fd);
	CHECK_EQ_INT(unlink(path), 0);
}

/*
 * The reader follows a writer: a partial entry at the tail, whatever the
 * cut (inside the length, the body, the checksum), reads as 0 and does not
 * move the offset; once complete it reads as the entry.
 */
static void tail_in_pieces(struct journal_reader *jr, int fd, uint64_t i)
{
	struct journal_entry e;
	size_t len = make_entry(i), done = 0;
	const size_t cuts[] = { 1, 3, 4, 5, 28, len / 2, len - 16, len - 1 };
	off_t before = journal_reader_offset(jr);

	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		CHECK_EQ_INT(write_all(fd, entbuf + done, cuts[c] - done), 0);
		done = cuts[c];
		CHECK_EQ_INT(journal_reader_next(jr, &e), 0);
		CHECK_EQ_INT(journal_reader_offset(jr), before);
	}
	CHECK_EQ_INT(write_all(fd, entbuf + done, len - done), 0);
	CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	check_entry(&e, i);
	CHECK_EQ_INT(e.offset, before);
	CHECK_EQ_INT(journal_reader_offset(jr), before + (off_t)len);
	CHECK_EQ_INT(journal_reader_next(jr, &e), 0);
}

static void test_partial_tail(void)
{
	struct journal_reader *jr;
	struct journal_entry e;
	int fd = new_journal();

	write_entries(fd, 0, 2);
	CHECK_EQ_INT(journal_reader_open(&jr, path), 0);
	CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	check_entry(&e, 0);
	CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	check_entry(&e, 1);
	CHECK_EQ_INT(journal_reader_next(jr, &e), 0);
	CHECK_EQ_INT(journal_reader_offset(jr), offset_of(2));

	tail_in_pieces(jr, fd, 2);
	write_entries(fd, 3, 7);
	for (uint64_t i = 3; i < 7; i++) {
		CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
		check_entry(&e, i);
	}
	/* Entry 7 is a record of RECORD_MAX bytes. */
	CHECK_EQ_INT(entry_size(7), ENTRY_MAX);
	tail_in_pieces(jr, fd, 7);
	journal_reader_free(jr);
	close(fd);
	check_reads_back(8);
	CHECK_EQ_INT(unlink(path), 0);
}

static void test_recover_torn(void)
{
	struct scan s = { 0 };
	off_t cut = -1;
	size_t len;
	int fd = new_journal();

	/* Entries 0..5 and all but 7 bytes of entry 6. */
	write_entries(fd, 0, 6);
	len = make_entry(6);
	CHECK_EQ_INT(write_all(fd, entbuf, len - 7), 0);
	close(fd);

	fd = journal_recover(path, scan_cb, &s, &cut);
	CHECK(fd >= 0);
	CHECK_EQ_INT(cut, len - 7);
	CHECK_EQ_INT(s.count, 6);
	CHECK_EQ_INT(file_size(path), offset_of(6));
	/* Appending after the cut gives a good file again. */
	CHECK_EQ_INT(write_entries(fd, 6, 7), len);
	close(fd);
	check_reads_back(7);

	/* A tear inside the length word: two bytes. */
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(fd >= 0);
	make_entry(7);
	CHECK_EQ_INT(write_all(fd, entbuf, 2), 0);
	close(fd);
	s.count = 0;
	fd = journal_recover(path, scan_cb, &s, &cut);
	CHECK(fd >= 0);
	CHECK_EQ_INT(cut, 2);
	CHECK_EQ_INT(s.count, 7);
	CHECK_EQ_INT(write_entries(fd, 7, 9), entry_size(7) + entry_size(8));
	close(fd);
	check_reads_back(9);
	CHECK_EQ_INT(unlink(path), 0);
}

/* One bit of the last entry's checksum flipped: that entry goes, to the byte. */
static void test_recover_bad_last_sum(void)
{
	struct journal_reader *jr;
	struct journal_entry e;
	struct scan s = { 0 };
	off_t cut = -1, size;
	uint8_t last;
	int fd = new_journal();

	write_entries(fd, 0, 5);
	close(fd);
	size = file_size(path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK_EQ_INT(pread_all(fd, &last, 1, size - 1), 0);
	last ^= 0x10;
	CHECK_EQ_INT(pwrite(fd, &last, 1, size - 1), 1);
	close(fd);

	CHECK_EQ_INT(journal_reader_open(&jr, path), 0);
	for (uint64_t i = 0; i < 4; i++)
		CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	CHECK_EQ_INT(journal_reader_next(jr, &e), -EBADMSG);
	CHECK_EQ_INT(e.offset, offset_of(4));
	CHECK_EQ_INT(journal_reader_offset(jr), offset_of(4));
	journal_reader_free(jr);

	fd = journal_recover(path, scan_cb, &s, &cut);
	CHECK(fd >= 0);
	CHECK_EQ_INT(cut, entry_size(4));
	CHECK_EQ_INT(s.count, 4);
	CHECK_EQ_INT(file_size(path), offset_of(4));
	close(fd);
	check_reads_back(4);
	CHECK_EQ_INT(unlink(path), 0);
}

/* journal_recover must refuse with want and leave the file byte for byte. */
static void check_refused(int want)
{
	struct scan s = { 0 };
	size_t before_len, after_len;
	uint8_t *before = slurp(path, &before_len), *after;
	off_t cut = -12345;
	int r;

	CHECK(before != NULL);
	r = journal_recover(path, scan_cb, &s, &cut);
	CHECK_EQ_INT(r, want);
	if (r >= 0)
		close(r);
	after = slurp(path, &after_len);
	CHECK(after != NULL);
	CHECK_EQ_INT(after_len, before_len);
	if (before && after && after_len == before_len)
		CHECK(memcmp(before, after, before_len) == 0);
	/* House style: ret_ out-parameters are untouched on failure. */
	CHECK_EQ_INT(cut, -12345);
	free(before);
	free(after);
}

/*
 * A bit flip in the checksum of entry 3 of 200: everything after it is far
 * more than a torn append leaves, so it is damage and nothing is cut.
 */
static void test_recover_damage_middle(void)
{
	struct journal_reader *jr;
	struct journal_entry e;
	uint8_t b;
	int fd = new_journal();
	off_t sum_at = offset_of(4) - 1;

	write_entries(fd, 0, 200);
	close(fd);
	CHECK(file_size(path) - offset_of(3) > ENTRY_MAX);
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK_EQ_INT(pread_all(fd, &b, 1, sum_at), 0);
	b ^= 0x01;
	CHECK_EQ_INT(pwrite(fd, &b, 1, sum_at), 1);
	close(fd);

	/* The reader stops at entry 3 and stays there. */
	CHECK_EQ_INT(journal_reader_open(&jr, path), 0);
	for (uint64_t i = 0; i < 3; i++)
		CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	CHECK_EQ_INT(journal_reader_next(jr, &e), -EBADMSG);
	CHECK_EQ_INT(e.offset, offset_of(3));
	CHECK_EQ_INT(journal_reader_next(jr, &e), -EBADMSG);
	CHECK_EQ_INT(journal_reader_offset(jr), offset_of(3));
	journal_reader_free(jr);

	check_refused(-EUCLEAN);
	CHECK_EQ_INT(unlink(path), 0);
}

/*
 * The limit between a tear and damage: ENTRY_MAX bad bytes after the last
 * good entry are cut (an entry of RECORD_MAX short of its last byte, or
 * less); one more byte is damage.
 */
static void test_recover_limit(void)
{
	static uint8_t junk[ENTRY_MAX + 1];
	struct scan s = { 0 };
	off_t cut = -1;
	int fd = new_journal();

	memset(junk, 0xff, sizeof(junk));
	write_entries(fd, 0, 2);
	CHECK_EQ_INT(write_all(fd, junk, ENTRY_MAX + 1), 0);
	close(fd);
	check_refused(-EUCLEAN);

	CHECK_EQ_INT(truncate(path, offset_of(2) + ENTRY_MAX), 0);
	fd = journal_recover(path, scan_cb, &s, &cut);
	CHECK(fd >= 0);
	CHECK_EQ_INT(cut, ENTRY_MAX);
	CHECK_EQ_INT(s.count, 2);
	CHECK_EQ_INT(file_size(path), offset_of(2));
	if (fd >= 0)
		close(fd);
	CHECK_EQ_INT(unlink(path), 0);
}

/* Entries with a good checksum that are still not entries. */
static void test_bad_entries(void)
{
	struct journal_reader *jr;
	struct journal_entry e;
	uint8_t sid[16] = { 0 };
	size_t rlen, len;
	int fd;

	/* A record that does not decode (version 2). */
	fd = new_journal();
	write_entries(fd, 0, 1);
	make_entry(1);
	rlen = RECORD_HDR_LEN + msg_len_of(1);
	recbuf[0] = 2;
	len = journal_encode(entbuf, 1, sid, recbuf, rlen);
	CHECK_EQ_INT(write_all(fd, entbuf, len), 0);
	close(fd);
	CHECK_EQ_INT(journal_reader_open(&jr, path), 0);
	CHECK_EQ_INT(journal_reader_next(jr, &e), 1);
	CHECK_EQ_INT(journal_reader_next(jr, &e), -EBADMSG);
	CHECK_EQ_INT(e.offset, offset_of(1));
	journal_reader_free(jr);

	/* A body one byte shorter than a record header. */
	fd = new_journal();
	len = journal_encode(entbuf, 1, sid, recbuf, RECORD_HDR_LEN - 1);
	CHECK_EQ_INT(write_all(fd, entbuf, len), 0);
	close(fd);
	CHECK_EQ_INT(journal_reader_open(&jr, path), 0);
	CHECK_EQ_INT(journal_reader_next(jr, &e), -EBADMSG);
	CHECK_EQ_INT(e.offset, JOURNAL_HDR_LEN);
	journal_reader_free(jr);
	CHECK_EQ_INT(unlink(path), 0);
}

static void test_bad_magic(void)
{
	struct journal_reader *jr = NULL;
	uint8_t hdr[JOURNAL_HDR_LEN] = "KSJRNL01";
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write_all(fd, hdr, sizeof(hdr)), 0);
	write_entries(fd, 0, 3);
	close(fd);
	CHECK_EQ_INT(journal_reader_open(&jr, path), -EBADMSG);
	CHECK(jr == NULL);
	check_refused(-EBADMSG);
	CHECK_EQ_INT(unlink(path), 0);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-journal.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	test_new_file();
	test_round_trip();
	test_partial_tail();
	test_recover_torn();
	test_recover_bad_last_sum();
	test_recover_damage_middle();
	test_recover_limit();
	test_bad_entries();
	test_bad_magic();
	CHECK_EQ_INT(rmdir(tmpdir), 0);
	return CHECK_DONE();
}
