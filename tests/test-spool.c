/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "spool.h"

#define MSG_LEN 120
/* Entry length of every test record: no fields, MSG_LEN bytes of message. */
#define E ((uint64_t)RECORD_HDR_LEN + MSG_LEN + SPOOL_ENTRY_OVERHEAD)

static char tmpdir[64];
static const uint8_t sid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t other_sid[16] = { 0xee };
static const uint8_t boot[16] = { 0xb0, 0x07 };

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			path_in(p, sizeof(p), dir, de->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

static void fresh(char *dir, size_t n, const char *name)
{
	snprintf(dir, n, "%s/%s", tmpdir, name);
	rm_rf(dir);
}

static char msgbuf[MSG_LEN + 1];

/* A kmsg record of level, with kernel seq kseq and a message naming i. */
static struct record mkrec(int level, uint64_t kseq, unsigned i)
{
	struct record r;

	memset(&r, 0, sizeof(r));
	memset(msgbuf, 'x', MSG_LEN);
	snprintf(msgbuf, sizeof(msgbuf), "record %06u", i);
	msgbuf[strlen(msgbuf)] = ' ';
	r.source = RECORD_SRC_KMSG;
	r.level = (uint8_t)level;
	r.kmsg_seq = kseq;
	memcpy(r.boot_id, boot, 16);
	r.msg = (const uint8_t *)msgbuf;
	r.msg_len = MSG_LEN;
	return r;
}

static int append(struct spool *s, int level, uint64_t kseq, unsigned i)
{
	struct record r = mkrec(level, kseq, i);

	return spool_append(s, &r);
}

static struct spool_conf small_conf(uint64_t seg)
{
	struct spool_conf c;

	spool_conf_init(&c);
	c.segment_bytes = seg;
	c.max_bytes = UINT64_C(64) << 20;
	return c;
}

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);
		if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void seg_path(char *out, size_t n, const char *dir, uint64_t first)
{
	snprintf(out, n, "%s/%016" PRIx64 ".seg", dir, first);
}

static off_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) < 0 ? -1 : st.st_size;
}

static void flip(const char *p, off_t off)
{
	int fd = open(p, O_RDWR);
	uint8_t b;

	CHECK(fd >= 0);
	CHECK_EQ_INT(pread(fd, &b, 1, off), 1);
	b ^= 0x20;
	CHECK_EQ_INT(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* record_decode that leaves r empty on failure, so that checks after a
 * failed one fail instead of crashing. */
static int dec(const uint8_t *buf, size_t len, struct record *r)
{
	memset(r, 0, sizeof(*r));
	return buf ? record_decode(buf, len, r) : -EBADMSG;
}

static uint64_t field_u64(const struct record *r, const char *key)
{
	const uint8_t *v;
	size_t vl;
	char tmp[32];

	if (!record_field_get(r, key, &v, &vl) || vl >= sizeof(tmp))
		return UINT64_MAX;
	memcpy(tmp, v, vl);
	tmp[vl] = 0;
	return strtoull(tmp, NULL, 10);
}

static int field_is(const struct record *r, const char *key, const char *val)
{
	const uint8_t *v;
	size_t vl;

	return record_field_get(r, key, &v, &vl) && vl == strlen(val) && memcmp(v, val, vl) == 0;
}

/* Everything readable: seqs into seqs[] (cap), returns the count; gap
 * records are counted in *gaps. */
static size_t read_all(struct spool *s, uint64_t *seqs, size_t cap, size_t *gaps)
{
	uint64_t from = 0, seq;
	const uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	struct record r;

	if (gaps)
		*gaps = 0;
	while (spool_read(s, from, &buf, &len, &seq) == 0) {
		CHECK(seq >= from);
		CHECK_EQ_INT(dec(buf, len, &r), 0);
		CHECK_EQ_INT(r.stream_seq, seq);
		if (r.event == RECORD_EV_GAP && gaps)
			(*gaps)++;
		if (n < cap)
			seqs[n] = seq;
		n++;
		from = seq + 1;
	}
	return n;
}

static void test_roundtrip(void)
{
	char dir[128];
	struct spool_conf c = small_conf(4096);
	struct spool *s;
	struct spool_stats st;
	uint64_t per = (4096 - SPOOL_SEG_HDR_LEN) / E, seq;
	const uint8_t *buf = NULL;
	size_t len = 0;
	struct record r;

	fresh(dir, sizeof(dir), "roundtrip");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK_EQ_INT(spool_next_seq(s), 0);
	for (unsigned i = 0; i < 200; i++)
		CHECK_EQ_INT(append(s, 6, 500 + i, i), 0);
	CHECK_EQ_INT(spool_next_seq(s), 200);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.appended, 200);
	CHECK_EQ_INT(st.segments, (200 + per - 1) / per);
	CHECK_EQ_INT(count_files(dir, ".seg"), (200 + per - 1) / per);
	CHECK_EQ_INT(st.held[6], 200);
	CHECK_EQ_INT(st.bytes, st.segments * SPOOL_SEG_HDR_LEN + 200 * E);

	for (uint64_t i = 0; i < 200; i++) {
		CHECK_EQ_INT(spool_read(s, i, &buf, &len, &seq), 0);
		CHECK_EQ_INT(seq, i);
		CHECK_EQ_INT(len, E - SPOOL_ENTRY_OVERHEAD);
		CHECK_EQ_INT(dec(buf, len, &r), 0);
		CHECK_EQ_INT(r.stream_seq, i);
		CHECK_EQ_INT(r.kmsg_seq, 500 + i);
		snprintf(msgbuf, sizeof(msgbuf), "record %06u", (unsigned)i);
		CHECK_EQ_MEM(r.msg, msgbuf, 13);
	}
	CHECK_EQ_INT(spool_read(s, 200, &buf, &len, &seq), -ENOENT);

	/* Ack deletes whole segments below the hwm, never the newest. */
	CHECK_EQ_INT(spool_ack(s, 100), 0);
	CHECK_EQ_INT(spool_read(s, 0, &buf, &len, &seq), 0);
	CHECK_EQ_INT(seq, (100 / per) * per);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.segments, (200 + per - 1) / per - 100 / per);
	CHECK_EQ_INT(spool_ack(s, UINT64_MAX), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.segments, 1);
	CHECK_EQ_INT(count_files(dir, ".seg"), 1);
	CHECK_EQ_INT(spool_read(s, 0, &buf, &len, &seq), 0);
	CHECK_EQ_INT(seq, (199 / per) * per);
	CHECK_EQ_INT(st.held[6], 200 - (199 / per) * per);

	/* Bad records use no seq. */
	{
		struct record bad = mkrec(8, 0, 0);
		CHECK_EQ_INT(spool_append(s, &bad), -EINVAL);
		bad = mkrec(3, 0, 0);
		bad.source = 9;
		CHECK_EQ_INT(spool_append(s, &bad), -EINVAL);
		bad = mkrec(3, 0, 0);
		bad.msg_len = RECORD_MAX;
		CHECK_EQ_INT(spool_append(s, &bad), -EMSGSIZE);
		CHECK_EQ_INT(spool_next_seq(s), 200);
	}
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

static void test_reopen(void)
{
	char dir[128], p[256];
	struct spool_conf c = small_conf(4096);
	uint64_t per = (4096 - SPOOL_SEG_HDR_LEN) / E, seq, kseq, first_newest;
	struct spool *s;
	uint8_t b[16];
	const uint8_t *buf = NULL;
	size_t len = 0, nl;

	fresh(dir, sizeof(dir), "reopen");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 0);
	for (unsigned i = 0; i < 50; i++)
		CHECK_EQ_INT(append(s, 6, 1000 + i, i), 0);
	CHECK_EQ_INT(spool_close(s), 0);

	/* Another stream id is offered: the spool's own wins. */
	CHECK_EQ_INT(spool_open(&s, dir, &c, other_sid, boot), 0);
	CHECK_EQ_MEM(spool_stream_id(s), sid, 16);
	CHECK_EQ_INT(spool_next_seq(s), 50);
	CHECK_EQ_INT(spool_synced_seq(s), 50);
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 1);
	CHECK_EQ_INT(kseq, 1049);
	CHECK_EQ_MEM(b, boot, 16);
	spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 0);
	/* Every segment but the newest deleted by ack. */
	CHECK_EQ_INT(spool_ack(s, 50), 0);
	CHECK_EQ_INT(spool_close(s), 0);
	first_newest = (49 / per) * per;
	CHECK_EQ_INT(count_files(dir, ".seg"), 1);

	CHECK_EQ_INT(spool_open(&s, dir, &c, other_sid, boot), 0);
	CHECK_EQ_INT(spool_next_seq(s), 50);
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 1);
	CHECK_EQ_INT(kseq, 1049);
	CHECK_EQ_INT(spool_read(s, 0, &buf, &len, &seq), 0);
	CHECK_EQ_INT(seq, first_newest);
	CHECK_EQ_INT(spool_close(s), 0);

	/* The newest empty (its records never reached the disk): next seq
	 * and cursor from its header. */
	seg_path(p, sizeof(p), dir, first_newest);
	CHECK_EQ_INT(truncate(p, SPOOL_SEG_HDR_LEN), 0);
	CHECK_EQ_INT(spool_open(&s, dir, &c, other_sid, boot), 0);
	CHECK_EQ_MEM(spool_stream_id(s), sid, 16);
	CHECK_EQ_INT(spool_next_seq(s), first_newest);
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 1);
	CHECK_EQ_INT(kseq, 1000 + first_newest - 1);
	CHECK_EQ_INT(spool_read(s, 0, &buf, &len, &seq), -ENOENT);
	spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 0);
	CHECK_EQ_INT(append(s, 3, 7, 0), 0);
	CHECK_EQ_INT(spool_read(s, 0, &buf, &len, &seq), 0);
	CHECK_EQ_INT(seq, first_newest);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

/* Recovery of a single segment of 10 records whose last entry is cut to
 * keep bytes of it. */
static void torn_case(uint64_t keep, uint64_t want_count, uint64_t want_next)
{
	char dir[128], p[256];
	struct spool_conf c = small_conf(1 << 20);
	struct spool *s;
	const struct spool_loss *l;
	struct spool_stats st;
	uint64_t seqs[32], seq;
	const uint8_t *buf = NULL;
	size_t nl, len = 0, gaps;
	struct record r;

	fresh(dir, sizeof(dir), "torn");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ_INT(append(s, 6, i, i), 0);
	CHECK_EQ_INT(spool_close(s), 0);
	seg_path(p, sizeof(p), dir, 0);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + 10 * E);
	CHECK_EQ_INT(truncate(p, (off_t)(SPOOL_SEG_HDR_LEN + 9 * E + keep)), 0);

	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	l = spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 1);
	if (nl == 1) {
		CHECK(strcmp(l[0].cause, "spool-torn") == 0);
		CHECK(strcmp(l[0].segment, "0000000000000000.seg") == 0);
		CHECK_EQ_INT(l[0].offset, SPOOL_SEG_HDR_LEN + 9 * E);
		CHECK_EQ_INT(l[0].bytes, keep);
		CHECK_EQ_INT(l[0].count, want_count);
		CHECK_EQ_INT(l[0].first_seq, want_count ? 9 : 0);
		CHECK_EQ_INT(l[0].last_seq, want_count ? 9 : 0);
	}
	CHECK_EQ_INT(spool_next_seq(s), want_next);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.damaged, want_count);
	CHECK_EQ_INT(st.gap_records, want_count ? 1 : 0);
	CHECK_EQ_INT(read_all(s, seqs, 32, &gaps), want_count ? 10 : 9);
	for (unsigned i = 0; i < 9; i++)
		CHECK_EQ_INT(seqs[i], i);
	CHECK_EQ_INT(gaps, want_count ? 1 : 0);
	if (want_count) {
		CHECK_EQ_INT(seqs[9], 10);
		CHECK_EQ_INT(spool_read(s, 9, &buf, &len, &seq), 0);
		CHECK_EQ_INT(seq, 10);
		CHECK_EQ_INT(dec(buf, len, &r), 0);
		CHECK(field_is(&r, "GAP_CAUSE", "spool-torn"));
		CHECK_EQ_INT(field_u64(&r, "GAP_COUNT"), 1);
		CHECK_EQ_INT(field_u64(&r, "GAP_FIRST_STREAM_SEQ"), 9);
		CHECK_EQ_INT(field_u64(&r, "GAP_LAST_STREAM_SEQ"), 9);
		CHECK_EQ_INT(field_u64(&r, "SPOOL_OFFSET"), SPOOL_SEG_HDR_LEN + 9 * E);
		CHECK_EQ_INT(r.source, RECORD_SRC_AGENT);
		CHECK_EQ_MEM(r.boot_id, boot, 16);
	}
	CHECK_EQ_INT(spool_close(s), 0);
	/* Truncated: nothing reported the second time. */
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 0);
	CHECK_EQ_INT(spool_next_seq(s), want_next);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

/* An agent event record (boot or start) of boot b, made like mkrec's. */
static int append_event(struct spool *s, uint16_t event, const uint8_t b[16], unsigned i)
{
	struct record r = mkrec(6, 0, i);

	r.source = RECORD_SRC_AGENT;
	r.facility = RECORD_FACILITY_EVENT;
	r.event = event;
	memcpy(r.boot_id, b, 16);
	return spool_append(s, &r);
}

/*
 * The boot event is a position of its own: it says the boot was announced
 * (spool_boot_announced), in the records and in the headers, without
 * being a kmsg cursor; a kernel record of the boot says more.
 */
static void test_boot_event(void)
{
	char dir[128], p[256];
	struct spool_conf c = small_conf(4096);
	uint64_t per = (4096 - SPOOL_SEG_HDR_LEN) / E, kseq;
	const uint8_t boot2[16] = { 0xb0, 0x08 };
	struct spool *s;
	uint8_t b[16];

	fresh(dir, sizeof(dir), "bootev");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK(!spool_boot_announced(s, boot));
	CHECK_EQ_INT(append_event(s, RECORD_EV_BOOT, boot, 0), 0);
	CHECK(spool_boot_announced(s, boot));
	CHECK(!spool_boot_announced(s, boot2));
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 0);
	/* Other agent events fill segments: their headers keep the boot event. */
	for (unsigned i = 1; i < 3 * per; i++)
		CHECK_EQ_INT(append_event(s, RECORD_EV_START, boot, i), 0);
	CHECK_EQ_INT(spool_close(s), 0);

	/* From the records. */
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK(spool_boot_announced(s, boot));
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 0);
	/* From the newest header alone: the boot event's segment is gone. */
	CHECK_EQ_INT(spool_ack(s, 3 * per), 0);
	CHECK_EQ_INT(spool_close(s), 0);
	CHECK_EQ_INT(count_files(dir, ".seg"), 1);
	seg_path(p, sizeof(p), dir, 2 * per);
	CHECK_EQ_INT(truncate(p, SPOOL_SEG_HDR_LEN), 0);
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK(spool_boot_announced(s, boot));
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 0);

	/* A kernel record of the boot is the cursor; a later boot event of
	 * the same boot does not hide it, neither now nor after a restart. */
	CHECK_EQ_INT(append(s, 6, 5, 0), 0);
	CHECK_EQ_INT(append_event(s, RECORD_EV_BOOT, boot, 1), 0);
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 1);
	CHECK_EQ_INT(kseq, 5);
	CHECK_EQ_INT(spool_close(s), 0);
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK(spool_boot_announced(s, boot));
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 1);
	CHECK_EQ_INT(kseq, 5);

	/* Another boot's event: that boot is announced, the old cursor is
	 * no position in it. */
	CHECK_EQ_INT(append_event(s, RECORD_EV_BOOT, boot2, 2), 0);
	CHECK(spool_boot_announced(s, boot2));
	CHECK(!spool_boot_announced(s, boot));
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 0);
	CHECK_EQ_INT(spool_close(s), 0);
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot2), 0);
	CHECK(spool_boot_announced(s, boot2));
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 0);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

static void test_torn(void)
{
	/* The cut entry's seq is still readable: seq 9 is known lost. */
	torn_case(E - 30, 1, 11);
	/* Only 10 bytes: nothing known about it. */
	torn_case(10, 0, 9);
}

/* A flipped byte at offset off_in_entry of entry 10 of 20. */
static void flip_case(uint64_t off_in_entry)
{
	char dir[128], p[256];
	struct spool_conf c = small_conf(1 << 20);
	struct spool *s;
	const struct spool_loss *l;
	uint64_t seqs[32], seq;
	const uint8_t *buf = NULL;
	size_t nl, len = 0, gaps, n;
	struct record r;

	fresh(dir, sizeof(dir), "flip");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	for (unsigned i = 0; i < 20; i++)
		CHECK_EQ_INT(append(s, 6, i, i), 0);
	CHECK_EQ_INT(spool_close(s), 0);
	seg_path(p, sizeof(p), dir, 0);
	flip(p, (off_t)(SPOOL_SEG_HDR_LEN + 10 * E + off_in_entry));

	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	l = spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 1);
	if (nl == 1) {
		CHECK(strcmp(l[0].cause, "spool-damaged") == 0);
		CHECK_EQ_INT(l[0].offset, SPOOL_SEG_HDR_LEN + 10 * E);
		CHECK_EQ_INT(l[0].bytes, E);
		CHECK_EQ_INT(l[0].first_seq, 10);
		CHECK_EQ_INT(l[0].last_seq, 10);
		CHECK_EQ_INT(l[0].count, 1);
	}
	CHECK_EQ_INT(spool_next_seq(s), 21);
	n = read_all(s, seqs, 32, &gaps);
	CHECK_EQ_INT(n, 20);
	CHECK_EQ_INT(gaps, 1);
	for (unsigned i = 0; i < 19 && i < n; i++)
		CHECK_EQ_INT(seqs[i], i < 10 ? i : i + 1);
	CHECK_EQ_INT(spool_read(s, 20, &buf, &len, &seq), 0);
	CHECK_EQ_INT(dec(buf, len, &r), 0);
	CHECK(field_is(&r, "GAP_CAUSE", "spool-damaged"));
	CHECK_EQ_INT(field_u64(&r, "GAP_COUNT"), 1);
	CHECK_EQ_INT(field_u64(&r, "GAP_FIRST_STREAM_SEQ"), 10);
	CHECK_EQ_INT(field_u64(&r, "GAP_LAST_STREAM_SEQ"), 10);
	CHECK_EQ_INT(spool_close(s), 0);

	/* The damaged entry was cut out after its gap record: a clean spool,
	 * reported once. */
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + 19 * E + len + SPOOL_ENTRY_OVERHEAD);
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 0);
	CHECK_EQ_INT(spool_next_seq(s), 21);
	CHECK_EQ_INT(read_all(s, seqs, 32, &gaps), 20);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

static void test_flip(void)
{
	flip_case(4 + 70); /* in the message */
	flip_case(1);	   /* in the length: found again by scanning */
	flip_case(E - 1);  /* in the checksum */
}

/* Damage found by spool_read in a running spool: skipped, then reported. */
static void test_read_damage(void)
{
	char dir[128], p[256];
	struct spool_conf c = small_conf(4096);
	uint64_t per = (4096 - SPOOL_SEG_HDR_LEN) / E, seq;
	struct spool *s;
	struct spool_stats st;
	const uint8_t *buf = NULL;
	size_t len = 0;
	struct record r;

	fresh(dir, sizeof(dir), "readdmg");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	for (unsigned i = 0; i < 3 * per; i++)
		CHECK_EQ_INT(append(s, 6, i, i), 0);
	seg_path(p, sizeof(p), dir, 0);
	flip(p, (off_t)(SPOOL_SEG_HDR_LEN + 2 * E + 50));
	CHECK_EQ_INT(spool_read(s, 2, &buf, &len, &seq), 0);
	CHECK_EQ_INT(seq, 3);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.damaged, 1);
	CHECK_EQ_INT(spool_sync_due_ms(s), 0);
	CHECK_EQ_INT(spool_sync(s), 0);
	CHECK_EQ_INT(spool_read(s, 3 * per, &buf, &len, &seq), 0);
	CHECK_EQ_INT(seq, 3 * per);
	CHECK_EQ_INT(dec(buf, len, &r), 0);
	CHECK(field_is(&r, "GAP_CAUSE", "spool-damaged"));
	CHECK_EQ_INT(field_u64(&r, "GAP_COUNT"), 1);
	CHECK_EQ_INT(field_u64(&r, "GAP_FIRST_STREAM_SEQ"), 2);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

static void test_bad_header(void)
{
	char dir[128], p[256], q[300];
	struct spool_conf c = small_conf(4096);
	uint64_t per = (4096 - SPOOL_SEG_HDR_LEN) / E, seq;
	uint64_t seqs[64];
	struct spool *s;
	const struct spool_loss *l;
	const uint8_t *buf = NULL;
	size_t nl, len = 0, gaps, n;
	struct record r;

	fresh(dir, sizeof(dir), "badhdr");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	for (unsigned i = 0; i < 3 * per; i++)
		CHECK_EQ_INT(append(s, 6, i, i), 0);
	CHECK_EQ_INT(spool_close(s), 0);
	CHECK_EQ_INT(count_files(dir, ".seg"), 3);

	/* The middle segment's header. */
	seg_path(p, sizeof(p), dir, per);
	flip(p, 30);
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	l = spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 1);
	if (nl == 1) {
		CHECK(strcmp(l[0].cause, "spool-damaged") == 0);
		CHECK_EQ_INT(l[0].offset, 0);
		CHECK_EQ_INT(l[0].bytes, 0);
		CHECK_EQ_INT(l[0].first_seq, per);
		CHECK_EQ_INT(l[0].last_seq, 2 * per - 1);
		CHECK_EQ_INT(l[0].count, per);
	}
	snprintf(q, sizeof(q), "%s.damaged", p);
	CHECK_EQ_INT(file_size(p), -1);
	CHECK_EQ_INT(file_size(q), SPOOL_SEG_HDR_LEN + per * E);
	CHECK_EQ_INT(spool_next_seq(s), 3 * per + 1);
	n = read_all(s, seqs, 64, &gaps);
	CHECK_EQ_INT(n, 2 * per + 1);
	CHECK_EQ_INT(gaps, 1);
	CHECK_EQ_INT(seqs[per - 1], per - 1);
	CHECK_EQ_INT(seqs[per], 2 * per);
	CHECK_EQ_INT(spool_read(s, 3 * per, &buf, &len, &seq), 0);
	CHECK_EQ_INT(dec(buf, len, &r), 0);
	CHECK_EQ_INT(field_u64(&r, "GAP_COUNT"), per);
	CHECK_EQ_INT(spool_close(s), 0);

	/* The newest segment's header (it holds the gap record alone): its
	 * seqs are learned from its entries, none is given again. */
	seg_path(p, sizeof(p), dir, 3 * per);
	flip(p, 70);
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	l = spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 1);
	if (nl == 1) {
		CHECK_EQ_INT(l[0].first_seq, 3 * per);
		CHECK_EQ_INT(l[0].last_seq, 3 * per);
		CHECK_EQ_INT(l[0].count, 1);
	}
	CHECK_EQ_INT(spool_next_seq(s), 3 * per + 2);
	CHECK_EQ_MEM(spool_stream_id(s), sid, 16);
	CHECK_EQ_INT(count_files(dir, ".damaged"), 2);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

/* A segment of another stream, and a rewrite's leftover temporary file. */
static void test_foreign_and_tmp(void)
{
	char dir[128], odir[128], p[320], q[256], out[4096];
	struct spool_conf c = small_conf(4096);
	uint64_t per = (4096 - SPOOL_SEG_HDR_LEN) / E, seqs[64];
	struct spool *s;
	const struct spool_loss *l;
	struct spool_stats st;
	size_t nl, gaps;
	FILE *f;
	int fd;

	fresh(odir, sizeof(odir), "other");
	CHECK_EQ_INT(spool_open(&s, odir, &c, other_sid, boot), 0);
	CHECK_EQ_INT(append(s, 3, 1, 1), 0);
	CHECK_EQ_INT(spool_close(s), 0);

	fresh(dir, sizeof(dir), "foreign");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	for (unsigned i = 0; i < 2 * per; i++)
		CHECK_EQ_INT(append(s, 6, i, i), 0);
	CHECK_EQ_INT(spool_ack(s, 2 * per), 0);
	CHECK_EQ_INT(spool_close(s), 0);
	seg_path(p, sizeof(p), odir, 0);
	seg_path(q, sizeof(q), dir, 0);
	CHECK_EQ_INT(rename(p, q), 0);
	snprintf(p, sizeof(p), "%s/%016" PRIx64 ".seg.tmp.AbCdEf", dir, per);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	close(fd);

	f = fmemopen(out, sizeof(out), "w");
	CHECK_EQ_INT(spool_check(dir, f), 1);
	fclose(f);
	CHECK(strstr(out, "segment 0000000000000000.seg: 300 bytes, other stream id ee000000") != NULL);
	CHECK(strstr(out, ".seg.tmp.AbCdEf: recovery removes it") != NULL);

	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK_EQ_MEM(spool_stream_id(s), sid, 16);
	l = spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 1);
	if (nl == 1) {
		CHECK(strcmp(l[0].cause, "spool-foreign") == 0);
		CHECK(strcmp(l[0].segment, "0000000000000000.seg") == 0);
		CHECK_EQ_INT(l[0].count, 0);
	}
	CHECK_EQ_INT(spool_next_seq(s), 2 * per);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.gap_records, 0);
	CHECK_EQ_INT(read_all(s, seqs, 64, &gaps), per);
	CHECK_EQ_INT(seqs[0], per);
	CHECK_EQ_INT(file_size(p), -1);
	snprintf(p, sizeof(p), "%s.damaged", q);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + E);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
	rm_rf(odir);
}

/*
 * Overflow: a small spool fed err, info and debug records. After every
 * append: a level is dropped only when nothing less important is left.
 * At the end the gap records account exactly, per level, for every
 * missing seq.
 */
static void test_overflow(void)
{
	enum { N = 3000, MAXSEQ = N + 1000 };
	static int lvl[MAXSEQ];
	static uint8_t present[MAXSEQ];
	char dir[128];
	struct spool_conf c;
	struct spool *s;
	struct spool_stats st, prev;
	uint64_t gap_level[8] = { 0 }, gap_total = 0, missing[8] = { 0 }, seq, from = 0, first_gap_count = 0;
	uint64_t per, dropped_before_close[8];
	const uint8_t *buf = NULL;
	size_t len = 0;
	struct record r;
	int bad_order = 0, ngap = 0;

	spool_conf_init(&c);
	c.max_bytes = SPOOL_MIN_BYTES;
	c.segment_bytes = 8192;
	per = (8192 - SPOOL_SEG_HDR_LEN) / E;
	fresh(dir, sizeof(dir), "overflow");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	spool_get_stats(s, &prev);
	for (unsigned i = 0; i < N; i++) {
		/* First a run of debug only, then a mix. */
		int level = i < 600 ? 7 : (i % 3 == 0 ? 3 : i % 3 == 1 ? 6 : 7);
		uint64_t at = spool_next_seq(s);
		struct record rec = mkrec(level, i, i);
		CHECK_EQ_INT(spool_append(s, &rec), 0);
		if (rec.stream_seq < MAXSEQ)
			lvl[rec.stream_seq] = level;
		(void)at;
		spool_get_stats(s, &st);
		if (prev.dropped_total == 0 && st.dropped_total > 0) {
			/* The first episode: the oldest segment, all debug, went;
			 * its gap record comes right before the record that
			 * needed the room. */
			uint64_t k = 0;
			while ((k ? (k + per - 1) / per : 1) * SPOOL_SEG_HDR_LEN + k * E + E +
				       SPOOL_SEG_HDR_LEN + SPOOL_GAP_RESERVE <=
			       c.max_bytes)
				k++;
			CHECK_EQ_INT(i, k);
			CHECK_EQ_INT(spool_read(s, rec.stream_seq - 1, &buf, &len, &seq), 0);
			CHECK_EQ_INT(seq, rec.stream_seq - 1);
			CHECK_EQ_INT(dec(buf, len, &r), 0);
			CHECK(field_is(&r, "GAP_CAUSE", "spool-full"));
			CHECK_EQ_INT(field_u64(&r, "GAP_COUNT"), per);
			CHECK_EQ_INT(field_u64(&r, "GAP_COUNT_DEBUG"), per);
			CHECK_EQ_INT(field_u64(&r, "GAP_FIRST_STREAM_SEQ"), 0);
			CHECK_EQ_INT(field_u64(&r, "GAP_LAST_STREAM_SEQ"), per - 1);
		}
		CHECK(st.bytes <= c.max_bytes);
		for (int l = 0; l < 8; l++)
			if (st.dropped[l] > prev.dropped[l])
				for (int m = l + 1; m < 8; m++)
					if (m != 4 && st.held[m] != 0) /* 4: gap records */
						bad_order++;
		prev = st;
	}
	CHECK_EQ_INT(bad_order, 0);
	spool_get_stats(s, &st);
	CHECK(st.dropped[3] > 0);
	CHECK(st.dropped[6] > 0);
	CHECK(st.dropped[7] > 0);
	CHECK_EQ_INT(st.dropped_total, st.dropped[3] + st.dropped[6] + st.dropped[7]);
	CHECK(st.rewrites > 0);
	memcpy(dropped_before_close, st.dropped, sizeof(dropped_before_close));
	seq = spool_next_seq(s);
	CHECK_EQ_INT(spool_close(s), 0);

	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK(spool_next_seq(s) >= seq);
	CHECK(spool_next_seq(s) < MAXSEQ);
	while (spool_read(s, from, &buf, &len, &seq) == 0 && seq < MAXSEQ) {
		CHECK_EQ_INT(dec(buf, len, &r), 0);
		present[seq] = 1;
		if (r.event == RECORD_EV_GAP) {
			lvl[seq] = -1;
			CHECK(field_is(&r, "GAP_CAUSE", "spool-full"));
			if (ngap++ == 0)
				first_gap_count = field_u64(&r, "GAP_COUNT");
			gap_total += field_u64(&r, "GAP_COUNT");
			for (int l = 0; l < 8; l++) {
				static const char *const k[8] = {
					"GAP_COUNT_EMERG", "GAP_COUNT_ALERT",	"GAP_COUNT_CRIT",
					"GAP_COUNT_ERR",   "GAP_COUNT_WARNING", "GAP_COUNT_NOTICE",
					"GAP_COUNT_INFO",  "GAP_COUNT_DEBUG",
				};
				uint64_t v = field_u64(&r, k[l]);
				if (v != UINT64_MAX)
					gap_level[l] += v;
			}
		}
		from = seq + 1;
	}
	for (uint64_t q = 0; q < spool_next_seq(s); q++)
		if (!present[q] && lvl[q] >= 0)
			missing[lvl[q]]++;
	/* Gap records written before the ones read were dropped too: none
	 * are, as long as lower levels remain. */
	CHECK_EQ_INT(missing[4], 0);
	for (int l = 0; l < 8; l++) {
		CHECK_EQ_INT(gap_level[l], missing[l]);
		CHECK_EQ_INT(dropped_before_close[l], missing[l]);
	}
	CHECK_EQ_INT(gap_total, missing[3] + missing[6] + missing[7]);
	/* The first episode: the oldest segment, all debug, deleted. */
	CHECK_EQ_INT(first_gap_count, per);
	CHECK(ngap > 1);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

static void test_sync_policy(void)
{
	char dir[128];
	struct spool_conf c = small_conf(1 << 20);
	struct spool *s;
	struct spool_stats st;
	uint64_t base;
	int due;

	fresh(dir, sizeof(dir), "sync");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs, 2); /* the first segment and the directory */
	base = st.fsyncs;
	CHECK_EQ_INT(spool_sync_due_ms(s), -1);
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ_INT(append(s, 6, i, i), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs, base);
	CHECK_EQ_INT(spool_synced_seq(s), 0);
	due = spool_sync_due_ms(s);
	CHECK(due > 900 && due <= 1000);
	/* An error record: fdatasync at once, the info records with it. */
	CHECK_EQ_INT(append(s, 3, 10, 10), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs, base + 1);
	CHECK_EQ_INT(spool_synced_seq(s), 11);
	CHECK_EQ_INT(spool_sync_due_ms(s), -1);
	/* Info records: one fdatasync per 256. */
	for (unsigned i = 0; i < 255; i++)
		CHECK_EQ_INT(append(s, 6, 11 + i, i), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs, base + 1);
	CHECK_EQ_INT(append(s, 7, 300, 0), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs, base + 2);
	CHECK_EQ_INT(spool_synced_seq(s), spool_next_seq(s));
	/* The timer: spool_sync flushes the rest. */
	CHECK_EQ_INT(spool_sync(s), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs, base + 2);
	CHECK_EQ_INT(append(s, 5, 301, 0), 0);
	CHECK_EQ_INT(spool_sync(s), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs, base + 3);
	CHECK_EQ_INT(spool_sync_due_ms(s), -1);
	CHECK_EQ_INT(st.sync_errors, 0);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

/* The write buffer: appended records reach the file in one write per
 * spool_flush, fdatasync or SPOOL_WBUF_BYTES; until then they are read
 * from memory and are not synced. A crash loses only what was never
 * written, and the cursor after it names only what is in the file. */
static void test_buffered(void)
{
	char dir[128], p[256];
	struct spool_conf c = small_conf(1 << 20);
	struct spool *s;
	struct spool_stats st;
	uint64_t fs0, seq, kseq, seqs[16], wbuf_recs = (SPOOL_WBUF_BYTES + E - 1) / E;
	const uint8_t *buf = NULL;
	size_t len = 0, nl, gaps;
	struct record r;
	uint8_t b[16];
	int status;
	pid_t pid;

	c.sync_records = 100000; /* only the buffer bound and the level */
	fresh(dir, sizeof(dir), "buffered");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	seg_path(p, sizeof(p), dir, 0);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN);
	spool_get_stats(s, &st);
	fs0 = st.fsyncs;
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ_INT(append(s, 6, 100 + i, i), 0);
	/* Not written, not synced, yet readable (from the buffer). */
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.writes, 0);
	CHECK_EQ_INT(st.fsyncs, fs0);
	CHECK_EQ_INT(spool_synced_seq(s), 0);
	for (uint64_t i = 0; i < 10; i++) {
		CHECK_EQ_INT(spool_read(s, i, &buf, &len, &seq), 0);
		CHECK_EQ_INT(seq, i);
		CHECK_EQ_INT(dec(buf, len, &r), 0);
		CHECK_EQ_INT(r.kmsg_seq, 100 + i);
	}
	/* A flush writes them, in one write, without a sync. */
	CHECK_EQ_INT(spool_flush(s), 0);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + 10 * E);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.writes, 1);
	CHECK_EQ_INT(st.fsyncs, fs0);
	CHECK_EQ_INT(spool_synced_seq(s), 0);
	/* An err record: written and fdatasynced at once, with the info
	 * records before it. */
	for (unsigned i = 10; i < 15; i++)
		CHECK_EQ_INT(append(s, 6, 100 + i, i), 0);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + 10 * E);
	CHECK_EQ_INT(append(s, 3, 115, 15), 0);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + 16 * E);
	CHECK_EQ_INT(spool_synced_seq(s), 16);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.writes, 2);
	CHECK_EQ_INT(st.fsyncs, fs0 + 1);
	/* A sync writes and syncs what waits. */
	CHECK_EQ_INT(append(s, 6, 116, 16), 0);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + 16 * E);
	CHECK_EQ_INT(spool_synced_seq(s), 16);
	CHECK_EQ_INT(spool_sync(s), 0);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + 17 * E);
	CHECK_EQ_INT(spool_synced_seq(s), 17);
	/* The buffer's bound: written once SPOOL_WBUF_BYTES wait. */
	for (unsigned i = 0; i + 1 < wbuf_recs; i++)
		CHECK_EQ_INT(append(s, 6, 117 + i, i), 0);
	CHECK_EQ_INT(file_size(p), SPOOL_SEG_HDR_LEN + 17 * E);
	CHECK_EQ_INT(append(s, 6, 117 + wbuf_recs - 1, 0), 0);
	CHECK_EQ_INT(file_size(p), (off_t)(SPOOL_SEG_HDR_LEN + (17 + wbuf_recs) * E));
	CHECK_EQ_INT(spool_synced_seq(s), 17);
	CHECK_EQ_INT(spool_close(s), 0);
	CHECK_EQ_INT(file_size(p), (off_t)(SPOOL_SEG_HDR_LEN + (17 + wbuf_recs) * E));
	rm_rf(dir);

	/* A crash (no close) with 3 records in the buffer: they are gone,
	 * seqs and cursor come from what was written. */
	fresh(dir, sizeof(dir), "buffered");
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (spool_open(&s, dir, &c, sid, boot) < 0)
			_exit(2);
		for (unsigned i = 0; i < 8; i++)
			if (append(s, 6, 200 + i, i) != 0 || (i == 4 && spool_flush(s) != 0))
				_exit(3);
		_exit(0);
	}
	CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	spool_recovery(s, &nl);
	CHECK_EQ_INT(nl, 0);
	CHECK_EQ_INT(spool_next_seq(s), 5);
	CHECK_EQ_INT(spool_cursor(s, b, &kseq), 1);
	CHECK_EQ_INT(kseq, 204);
	CHECK_EQ_INT(read_all(s, seqs, 16, &gaps), 5);
	CHECK_EQ_INT(gaps, 0);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

/* The index in chunks: many entries per segment, read in order, out of
 * order and from any seq; an entry damaged in the middle of a chunk is
 * skipped and reported, and an overflow rewrite keeps the index right. */
static void test_index(void)
{
	char dir[128], p[256];
	struct spool_conf c = small_conf(1 << 20);
	struct spool *s;
	struct spool_stats st;
	uint64_t seq, seqs[600];
	const uint8_t *buf = NULL;
	size_t len = 0, gaps, n;
	struct record r;

	fresh(dir, sizeof(dir), "index");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	/* Levels 6 and 7 alternate, every 10th is err. */
	for (unsigned i = 0; i < 500; i++)
		CHECK_EQ_INT(append(s, i % 10 == 9 ? 3 : 6 + (int)(i % 2), 1000 + i, i), 0);
	CHECK_EQ_INT(spool_sync(s), 0);
	CHECK_EQ_INT(read_all(s, seqs, 600, &gaps), 500);
	for (uint64_t k = 0; k < 500; k++) {
		uint64_t i = (k * 337) % 500; /* out of order */
		CHECK_EQ_INT(spool_read(s, i, &buf, &len, &seq), 0);
		CHECK_EQ_INT(seq, i);
		CHECK_EQ_INT(dec(buf, len, &r), 0);
		CHECK_EQ_INT(r.kmsg_seq, 1000 + i);
		CHECK_EQ_INT(r.level, i % 10 == 9 ? 3 : 6 + i % 2);
	}
	CHECK_EQ_INT(spool_read(s, 500, &buf, &len, &seq), -ENOENT);
	CHECK_EQ_INT(spool_close(s), 0);

	/* Entry 200 (mid-chunk) damaged on disk while running: reopen, read
	 * from a fresh spool whose cache does not hold it. */
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	seg_path(p, sizeof(p), dir, 0);
	flip(p, (off_t)(SPOOL_SEG_HDR_LEN + 200 * E + 80));
	n = read_all(s, seqs, 600, &gaps);
	CHECK_EQ_INT(n, 499);
	CHECK_EQ_INT(seqs[199], 199);
	CHECK_EQ_INT(seqs[200], 201);
	CHECK_EQ_INT(spool_read(s, 200, &buf, &len, &seq), 0);
	CHECK_EQ_INT(seq, 201);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.damaged, 1);
	CHECK_EQ_INT(st.held[6] + st.held[7] + st.held[3], 499);
	/* Its gap record, then the records after it. */
	CHECK_EQ_INT(spool_sync(s), 0);
	CHECK_EQ_INT(spool_read(s, 500, &buf, &len, &seq), 0);
	CHECK_EQ_INT(dec(buf, len, &r), 0);
	CHECK(field_is(&r, "GAP_CAUSE", "spool-damaged"));
	CHECK_EQ_INT(field_u64(&r, "GAP_FIRST_STREAM_SEQ"), 200);
	CHECK_EQ_INT(field_u64(&r, "SPOOL_OFFSET"), SPOOL_SEG_HDR_LEN + 200 * E);
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);

	/* Overflow rewrites segments of many chunks without their debug
	 * records: what is left reads back whole and in kernel order. */
	fresh(dir, sizeof(dir), "index");
	c.max_bytes = SPOOL_MIN_BYTES + (64 << 10);
	c.segment_bytes = 64 << 10;
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	for (unsigned i = 0; i < 3000; i++)
		CHECK_EQ_INT(append(s, i % 10 == 9 ? 3 : 6 + (int)(i % 2), 1000 + i, i), 0);
	spool_get_stats(s, &st);
	CHECK(st.rewrites > 0);
	CHECK(st.dropped[7] > 0);
	{
		uint64_t from = 0, last_k = 0, held = 0, nread = 0;
		for (int l = 0; l < 8; l++)
			held += st.held[l];
		while (spool_read(s, from, &buf, &len, &seq) == 0) {
			CHECK(seq >= from);
			CHECK_EQ_INT(dec(buf, len, &r), 0);
			CHECK_EQ_INT(r.stream_seq, seq);
			if (r.source == RECORD_SRC_KMSG) {
				CHECK(r.kmsg_seq > last_k);
				last_k = r.kmsg_seq;
			}
			nread++;
			from = seq + 1;
		}
		CHECK_EQ_INT(nread, held);
		CHECK_EQ_INT(last_k, 3999);
	}
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
}

/* Contents of every file in dir, concatenated with names, for comparison. */
static size_t snapshot(const char *dir, uint8_t *out, size_t cap)
{
	struct dirent **list;
	size_t n = 0;
	int k = scandir(dir, &list, NULL, alphasort);

	for (int i = 0; i < k; i++) {
		char p[512];
		int fd;
		ssize_t got;
		path_in(p, sizeof(p), dir, list[i]->d_name);
		if (list[i]->d_name[0] != '.' && n + 256 < cap) {
			n += (size_t)snprintf((char *)out + n, 256, "%s:", list[i]->d_name);
			fd = open(p, O_RDONLY);
			if (fd >= 0) {
				got = read(fd, out + n, cap - n);
				n += got > 0 ? (size_t)got : 0;
				close(fd);
			}
		}
		free(list[i]);
	}
	free(list);
	return n;
}

static void test_check(void)
{
	static uint8_t before[1 << 16], after[1 << 16];
	char dir[128], p[256], out[8192];
	struct spool_conf c = small_conf(4096);
	uint64_t per = (4096 - SPOOL_SEG_HDR_LEN) / E;
	struct spool *s;
	size_t nb, na;
	FILE *f;

	fresh(dir, sizeof(dir), "check");
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	for (unsigned i = 0; i < 2 * per + 5; i++)
		CHECK_EQ_INT(append(s, 6, i, i), 0);
	CHECK_EQ_INT(spool_close(s), 0);

	f = fmemopen(out, sizeof(out), "w");
	CHECK_EQ_INT(spool_check(dir, f), 0);
	fclose(f);
	CHECK(strstr(out, "result: clean\n") != NULL);
	CHECK(strstr(out, "next seq: ") != NULL);

	seg_path(p, sizeof(p), dir, 0);
	flip(p, (off_t)(SPOOL_SEG_HDR_LEN + 3 * E + 80));
	seg_path(p, sizeof(p), dir, 2 * per);
	CHECK_EQ_INT(truncate(p, (off_t)(SPOOL_SEG_HDR_LEN + 4 * E + 40)), 0);
	nb = snapshot(dir, before, sizeof(before));
	f = fmemopen(out, sizeof(out), "w");
	CHECK_EQ_INT(spool_check(dir, f), 1);
	fclose(f);
	na = snapshot(dir, after, sizeof(after));
	CHECK_EQ_INT(na, nb);
	CHECK(memcmp(before, after, nb) == 0);
	CHECK(strstr(out, "damaged: bytes 708+204, seqs 3..3 lost (1)") != NULL);
	CHECK(strstr(out, "torn tail: bytes 912+40, seqs ") != NULL);
	CHECK(strstr(out, "result: damaged\n") != NULL);
	CHECK_EQ_INT(spool_check("/nonexistent/spool", stdout), -ENOENT);
	if (check_failures)
		fputs(out, stderr);
	rm_rf(dir);
}

static int fill(const char *path)
{
	static uint8_t block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return -1;
	while (write(fd, block, sizeof(block)) > 0)
		;
	close(fd);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void test_disk_full(void)
{
	char mnt[128], dir[160], filler[160];
	struct spool_conf c;
	struct spool *s;
	struct spool_stats st;
	uint64_t seqs[512], n, first_mem = 0;
	const uint8_t *buf = NULL;
	size_t len = 0, got, gaps;
	uint64_t seq;
	int r, kept_mem = 0;

	fresh(mnt, sizeof(mnt), "mnt");
	CHECK_EQ_INT(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") < 0) {
		fprintf(stderr, "test-spool: skipping the disk-full test: mount tmpfs: %s\n",
			strerror(errno));
		rmdir(mnt);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/spool", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	spool_conf_init(&c);
	c.retry_ms = 5;
	c.mem_max = 128 << 10;
	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	CHECK_EQ_INT(fill(filler), 0);

	/* 300 records: the page the segment has, then memory. */
	for (unsigned i = 0; i < 300; i++) {
		r = append(s, i % 2 ? 6 : 3, i, i);
		CHECK(r == 0 || r == 1);
		if (r == 1 && !kept_mem++)
			first_mem = i;
	}
	CHECK(kept_mem > 250);
	CHECK_EQ_INT(spool_degraded(s), -ENOSPC);
	spool_get_stats(s, &st);
	CHECK(st.write_errors >= 1);
	/* The record whose write failed stays in the segment's cache, to be
	 * written again; the ones after it wait in the memory queue. */
	CHECK_EQ_INT(st.mem_records, 300 - first_mem - 1);
	{
		uint64_t sy = spool_synced_seq(s);
		/* first_mem - 1 if it was an info record (grouped, unsynced). */
		CHECK(sy == first_mem || sy + 1 == first_mem);
	}
	CHECK_EQ_INT(st.dropped_total, 0);
	n = read_all(s, seqs, 512, &gaps);
	CHECK_EQ_INT(n, 300);
	for (unsigned i = 0; i < 300 && i < n; i++)
		CHECK_EQ_INT(seqs[i], i);
	CHECK(spool_sync_due_ms(s) >= 0 && spool_sync_due_ms(s) <= 5);

	/* Still full: the retry fails and keeps everything. */
	sleep_ms(10);
	CHECK_EQ_INT(spool_sync(s), -ENOSPC);
	CHECK_EQ_INT(spool_degraded(s), -ENOSPC);

	/* Space again. */
	CHECK_EQ_INT(unlink(filler), 0);
	sleep_ms(10);
	CHECK_EQ_INT(spool_sync(s), 0);
	CHECK_EQ_INT(spool_degraded(s), 0);
	spool_get_stats(s, &st);
	CHECK_EQ_INT(st.mem_records, 0);
	CHECK_EQ_INT(spool_synced_seq(s), 300);
	CHECK_EQ_INT(spool_close(s), 0);

	CHECK_EQ_INT(spool_open(&s, dir, &c, sid, boot), 0);
	spool_recovery(s, &got);
	CHECK_EQ_INT(got, 0);
	n = read_all(s, seqs, 512, &gaps);
	CHECK_EQ_INT(n, 300);
	CHECK_EQ_INT(gaps, 0);
	for (unsigned i = 0; i < 300 && i < n; i++)
		CHECK_EQ_INT(seqs[i], i);

	/* Full again, now past the memory bound: info goes before err, and
	 * the gap record written after the queue counts exactly that. */
	CHECK_EQ_INT(fill(filler), 0);
	for (unsigned i = 0; i < 1200; i++)
		CHECK((r = append(s, i % 2 ? 6 : 3, 300 + i, i)) == 0 || r == 1);
	spool_get_stats(s, &st);
	CHECK(st.dropped[6] > 0);
	CHECK_EQ_INT(st.dropped[3], 0);
	CHECK(st.mem_bytes <= c.mem_max);
	CHECK_EQ_INT(unlink(filler), 0);
	sleep_ms(10);
	CHECK_EQ_INT(spool_sync(s), 0);
	CHECK_EQ_INT(spool_degraded(s), 0);
	CHECK_EQ_INT(spool_ack(s, 300), 0);
	CHECK_EQ_INT(spool_read(s, 1500, &buf, &len, &seq), 0);
	CHECK_EQ_INT(seq, 1500);
	{
		struct record g;
		CHECK_EQ_INT(dec(buf, len, &g), 0);
		CHECK(field_is(&g, "GAP_CAUSE", "spool-unwritable"));
		CHECK_EQ_INT(field_u64(&g, "GAP_COUNT"), st.dropped[6]);
		CHECK_EQ_INT(field_u64(&g, "GAP_COUNT_INFO"), st.dropped[6]);
		CHECK_EQ_INT(field_u64(&g, "GAP_COUNT_ERR"), UINT64_MAX);
	}
	/* Every err record is there, in order. */
	{
		uint64_t from = 300, errs = 0, last = 0;
		struct record g;
		while (spool_read(s, from, &buf, &len, &seq) == 0 && seq < 1500) {
			CHECK_EQ_INT(dec(buf, len, &g), 0);
			CHECK(seq > last || from == 300);
			errs += g.level == 3;
			last = seq;
			from = seq + 1;
		}
		CHECK_EQ_INT(errs, 600);
	}
	CHECK_EQ_INT(spool_close(s), 0);
	rm_rf(dir);
	CHECK_EQ_INT(umount(mnt), 0);
	rmdir(mnt);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-spool.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_roundtrip();
	test_reopen();
	test_boot_event();
	test_torn();
	test_flip();
	test_read_damage();
	test_bad_header();
	test_foreign_and_tmp();
	test_overflow();
	test_sync_policy();
	test_buffered();
	test_index();
	test_check();
	test_disk_full();
	CHECK_EQ_INT(rmdir(tmpdir), 0);
	return CHECK_DONE();
}
