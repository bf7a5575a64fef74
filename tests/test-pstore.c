/* SPDX-License-Identifier: ISC */
/*
 * pstore input: a pstore directory built in a temp dir from the fixtures in
 * tests/data/pstore (a ramoops Oops dump and the console of the crashed
 * boot) plus generated files (compressed, binary, empty, huge, oddly named,
 * not regular), scanned through a sink that keeps every record encoded.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "check.h"
#include "pstore.h"

#ifndef SRCDIR
#define SRCDIR "tests"
#endif

static char tmpdir[64];
static char dir[128];
static char state[128];

/* mtime given to every fixture: 2023-11-14 22:13:20.123456 UTC */
#define MTIME_SEC 1700000000
#define MTIME_USEC 123456
#define MTIME ((uint64_t)MTIME_SEC * 1000000 + MTIME_USEC)

#define HUGE_NAME "console-ramoops-1"
#define HUGE_LEN (PSTORE_FILE_MAX + 300000u)
#define BIN_NAME "pmsg-ramoops-0"
#define BIN_LEN 150000u
#define ENC_NAME "dmesg-efi_pstore-171234567801001.enc.z"
#define ENC_LEN 3000u
#define EMPTY_NAME "dmesg-ramoops-1"
#define ODD_NAME "odd name%\x01\xff"

/* ---- collecting sink ---- */

struct col {
	uint8_t **buf;
	size_t *len;
	size_t n, cap;
	size_t fail_at; /* 1-based record number to refuse; 0: never */
	int fail_err;
};

static int col_sink(struct record *rec, void *data)
{
	struct col *c = data;
	uint8_t tmp[RECORD_MAX];
	int n;

	if (c->fail_at && c->n + 1 == c->fail_at)
		return c->fail_err;
	n = record_encode(rec, tmp, sizeof(tmp));
	CHECK(n > 0);
	if (n <= 0)
		return -EINVAL;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->buf = realloc(c->buf, c->cap * sizeof(*c->buf));
		c->len = realloc(c->len, c->cap * sizeof(*c->len));
	}
	c->buf[c->n] = malloc((size_t)n);
	memcpy(c->buf[c->n], tmp, (size_t)n);
	c->len[c->n] = (size_t)n;
	c->n++;
	return 0;
}

static void col_free(struct col *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->buf[i]);
	free(c->buf);
	free(c->len);
	memset(c, 0, sizeof(*c));
}

static struct record col_get(const struct col *c, size_t i)
{
	struct record r;
	memset(&r, 0, sizeof(r));
	CHECK(record_decode(c->buf[i], c->len[i], &r) == 0);
	return r;
}

/* Field value as a C string ("" if absent; *found tells). */
static const char *field(const struct record *r, const char *key, int *found)
{
	static char v[1024];
	const uint8_t *val;
	size_t vlen;
	int f = record_field_get(r, key, &val, &vlen);

	if (found)
		*found = f;
	if (!f)
		return "";
	if (vlen >= sizeof(v))
		vlen = sizeof(v) - 1;
	memcpy(v, val, vlen);
	v[vlen] = '\0';
	return v;
}

static int has_field(const struct record *r, const char *key)
{
	int f;
	(void)field(r, key, &f);
	return f;
}

static int msg_is(const struct record *r, const char *s)
{
	return r->msg_len == strlen(s) && memcmp(r->msg, s, r->msg_len) == 0;
}

/* Records of one file, in order. */
static size_t of_file(const struct col *c, const char *name, struct record *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++) {
		struct record r = col_get(c, i);
		if (strcmp(field(&r, "PSTORE_FILE", NULL), name) == 0) {
			if (n < cap)
				out[n] = r;
			n++;
		}
	}
	return n;
}

/* ---- fixtures ---- */

static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void set_mtime(const char *name)
{
	char p[512];
	struct timespec ts[2] = { { MTIME_SEC, MTIME_USEC * 1000 }, { MTIME_SEC, MTIME_USEC * 1000 } };
	path_of(p, sizeof(p), name);
	CHECK(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

static void put_file(const char *name, const void *data, size_t len)
{
	char p[512];
	path_of(p, sizeof(p), name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0444);
	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
	set_mtime(name);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(1 << 16);
	CHECK(f != NULL);
	if (!f) {
		*len = 0;
		return b;
	}
	*len = fread(b, 1, 1 << 16, f);
	fclose(f);
	return b;
}

static void copy_fixture(const char *name)
{
	char src[512];
	size_t len;
	snprintf(src, sizeof(src), "%s/data/pstore/%s", SRCDIR, name);
	uint8_t *b = slurp(src, &len);
	CHECK(len > 0);
	put_file(name, b, len);
	free(b);
}

static uint8_t enc[ENC_LEN];
static uint8_t *bin;
static uint8_t *huge;

/* The generated files' content is deterministic (seeded BLAKE2b stream). */
static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	uint8_t key[crypto_generichash_KEYBYTES] = { seed };
	uint64_t ctr = 0;
	for (size_t off = 0; off < n; off += 64, ctr++) {
		uint8_t h[64];
		crypto_generichash(h, sizeof(h), (const uint8_t *)&ctr, sizeof(ctr), key, sizeof(key));
		memcpy(b + off, h, n - off < 64 ? n - off : 64);
	}
}

/* Lines "<6>[%5u.%06u] huge line N ..." up to HUGE_LEN, last one complete. */
static void make_huge(void)
{
	size_t off = 0;
	unsigned i = 0;
	huge = malloc(HUGE_LEN);
	while (off < HUGE_LEN) {
		char l[128];
		int n = snprintf(l, sizeof(l),
				 "<6>[%5u.%06u] huge line %07u padding padding padding padding\n", i / 1000,
				 (i % 1000) * 1000, i);
		size_t k = (size_t)n;
		if (off + k > HUGE_LEN) {
			/* pad the last line so the file ends exactly with a newline */
			memset(huge + off, 'x', HUGE_LEN - off - 1);
			huge[HUGE_LEN - 1] = '\n';
			break;
		}
		memcpy(huge + off, l, k);
		off += k;
		i++;
	}
}

static void build_dir(void)
{
	char p[512];

	CHECK(mkdir(dir, 0755) == 0);
	copy_fixture("dmesg-ramoops-0");
	copy_fixture("console-ramoops-0");
	put_file(ENC_NAME, enc, sizeof(enc));
	put_file(BIN_NAME, bin, BIN_LEN);
	put_file(EMPTY_NAME, "", 0);
	put_file(HUGE_NAME, huge, HUGE_LEN);
	put_file(ODD_NAME, "plain text, odd name", 20); /* no final newline */
	/* Not regular files: ignored. */
	path_of(p, sizeof(p), "subdir");
	CHECK(mkdir(p, 0755) == 0);
	path_of(p, sizeof(p), "link");
	CHECK(symlink("dmesg-ramoops-0", p) == 0);
}

#define NFILES 7 /* regular files build_dir makes */

static void rm_rf(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	char p[1024];
	if (!dd)
		return;
	while ((de = readdir(dd))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, de->d_name);
		if (de->d_type == DT_DIR)
			rm_rf(p);
		else
			CHECK(unlink(p) == 0);
	}
	closedir(dd);
	CHECK(rmdir(d) == 0);
}

static void reset(void)
{
	rm_rf(dir);
	unlink(state);
	build_dir();
}

static int exists(const char *name)
{
	char p[512];
	struct stat sb;
	path_of(p, sizeof(p), name);
	return lstat(p, &sb) == 0;
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, ch;
	if (!f)
		return -1;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* Open, scan into c, return the scan's result. */
static int open_scan(struct pstore **p, bool remove, struct col *c)
{
	int r = pstore_open(p, dir, state, remove);
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		return r;
	return pstore_scan(*p, col_sink, c);
}

/* ---- tests ---- */

static void check_common(const struct record *r)
{
	static const uint8_t zero[RECORD_BOOT_ID_LEN];
	CHECK_EQ_INT(r->source, RECORD_SRC_PSTORE);
	CHECK_EQ_INT(r->kmsg_seq, 0);
	CHECK_EQ_INT(r->event, 0);
	CHECK_EQ_MEM(r->boot_id, zero, RECORD_BOOT_ID_LEN);
	CHECK_EQ_INT(r->real_usec, MTIME);
	CHECK(strcmp(field(r, "PSTORE_BOOT", NULL), "previous") == 0);
	CHECK_EQ_INT(strtoull(field(r, "PSTORE_MTIME", NULL), NULL, 10), MTIME);
	CHECK(!has_field(r, "PSTORE_STATE"));
}

static void test_dmesg(const struct col *c)
{
	struct record r[32];
	size_t n = of_file(c, "dmesg-ramoops-0", r, 32);

	/* 23 lines, one of them empty */
	CHECK_EQ_INT(n, 22);
	if (n != 22)
		return;
	for (size_t i = 0; i < n; i++) {
		check_common(&r[i]);
		CHECK(strcmp(field(&r[i], "PSTORE_TYPE", NULL), "dmesg") == 0);
		CHECK(strcmp(field(&r[i], "PSTORE_BACKEND", NULL), "ramoops") == 0);
		CHECK(strcmp(field(&r[i], "PSTORE_ID", NULL), "0") == 0);
		CHECK(strcmp(field(&r[i], "PSTORE_REASON", NULL), "Oops") == 0);
		CHECK(strcmp(field(&r[i], "PSTORE_COUNT", NULL), "1") == 0);
		CHECK(strcmp(field(&r[i], "PSTORE_PART", NULL), "1") == 0);
		CHECK(strcmp(field(&r[i], "PSTORE_CONTENT", NULL), "text") == 0);
		CHECK(r[i].flags == 0);
	}
	/* the header line, kept as a record of its own */
	CHECK(msg_is(&r[0], "Oops#1 Part1"));
	CHECK_EQ_INT(r[0].level, 2);
	CHECK_EQ_INT(r[0].mono_usec, 0);
	CHECK(strcmp(field(&r[0], "PSTORE_LINE", NULL), "1") == 0);

	CHECK(msg_is(&r[1], "usb 1-1: new high-speed USB device number 2 using xhci_hcd"));
	CHECK_EQ_INT(r[1].level, 6);
	CHECK_EQ_INT(r[1].facility, 0);
	CHECK_EQ_INT(r[1].mono_usec, 4512340);
	CHECK(strcmp(field(&r[1], "PSTORE_LINE", NULL), "2") == 0);

	CHECK(msg_is(&r[2], "BUG: kernel NULL pointer dereference, address: 0000000000000040"));
	CHECK_EQ_INT(r[2].level, 1);
	CHECK_EQ_INT(r[2].mono_usec, 12304518);

	/* trailing space kept; text after the prefix is never trimmed */
	CHECK(msg_is(&r[5], "PGD 0 P4D 0 "));
	CHECK(msg_is(&r[6], "Oops: 0000 [#1] PREEMPT SMP NOPTI"));
	CHECK_EQ_INT(r[6].level, 4);
	/* "<4>[ts]  <TASK>": one space is the separator, the other is text */
	CHECK(msg_is(&r[12], " <TASK>"));
	CHECK(msg_is(&r[15], " </TASK>"));

	/* PRI 12: facility 1 (user), level 4 */
	CHECK(msg_is(&r[19], "systemd[1]: message a user-space writer put in /dev/kmsg"));
	CHECK_EQ_INT(r[19].facility, 1);
	CHECK_EQ_INT(r[19].level, 4);
	CHECK_EQ_INT(r[19].mono_usec, 12310000);

	CHECK(msg_is(&r[20], "line with the CONFIG_PRINTK_CALLER field"));
	CHECK(strcmp(field(&r[20], "PSTORE_CALLER", NULL), "T1187") == 0);
	CHECK_EQ_INT(r[20].mono_usec, 12311000);
	CHECK_EQ_INT(r[20].level, 6);

	/* ramoops' ECC notice: no prefix, level 6, no monotonic time; the
	 * empty line before it is not a record but counts in PSTORE_LINE */
	CHECK(msg_is(&r[21], "ECC: No errors detected"));
	CHECK_EQ_INT(r[21].level, 6);
	CHECK_EQ_INT(r[21].mono_usec, 0);
	CHECK(strcmp(field(&r[21], "PSTORE_LINE", NULL), "23") == 0);
}

static void test_console(const struct col *c)
{
	struct record r[16];
	size_t n = of_file(c, "console-ramoops-0", r, 16);

	CHECK_EQ_INT(n, 8);
	if (n != 8)
		return;
	for (size_t i = 0; i < n; i++) {
		check_common(&r[i]);
		CHECK(strcmp(field(&r[i], "PSTORE_TYPE", NULL), "console") == 0);
		CHECK(!has_field(&r[i], "PSTORE_REASON"));
		CHECK_EQ_INT(r[i].level, 6);
	}
	CHECK(msg_is(&r[5], "Kernel panic - not syncing: Fatal exception"));
	CHECK_EQ_INT(r[5].mono_usec, 12310222);
	CHECK_EQ_INT(r[0].mono_usec, 0);
	CHECK(r[0].msg_len > 14 && memcmp(r[0].msg, "Linux version ", 14) == 0);
}

static void test_binary(const struct col *c)
{
	struct record r[8];
	size_t n;

	/* compressed: the kernel could not decompress it; shipped as is */
	n = of_file(c, ENC_NAME, r, 8);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		check_common(&r[0]);
		CHECK(strcmp(field(&r[0], "PSTORE_CONTENT", NULL), "compressed") == 0);
		CHECK(strcmp(field(&r[0], "PSTORE_TYPE", NULL), "dmesg") == 0);
		CHECK(strcmp(field(&r[0], "PSTORE_BACKEND", NULL), "efi_pstore") == 0);
		CHECK(strcmp(field(&r[0], "PSTORE_ID", NULL), "171234567801001") == 0);
		CHECK(strcmp(field(&r[0], "PSTORE_CHUNK", NULL), "1") == 0);
		CHECK(strcmp(field(&r[0], "PSTORE_CHUNKS", NULL), "1") == 0);
		CHECK_EQ_INT(r[0].msg_len, ENC_LEN);
		CHECK(r[0].msg_len == ENC_LEN && memcmp(r[0].msg, enc, ENC_LEN) == 0);
		CHECK_EQ_INT(r[0].level, 2);
	}

	/* binary (NUL bytes), larger than a record: chunks that add up */
	n = of_file(c, BIN_NAME, r, 8);
	CHECK_EQ_INT(n, 3);
	size_t off = 0;
	for (size_t i = 0; i < n && i < 8; i++) {
		check_common(&r[i]);
		CHECK(strcmp(field(&r[i], "PSTORE_CONTENT", NULL), "binary") == 0);
		CHECK_EQ_INT(strtoull(field(&r[i], "PSTORE_CHUNK", NULL), NULL, 10), i + 1);
		CHECK_EQ_INT(strtoull(field(&r[i], "PSTORE_CHUNKS", NULL), NULL, 10), n);
		CHECK_EQ_INT(strtoull(field(&r[i], "PSTORE_OFFSET", NULL), NULL, 10), off);
		CHECK(off + r[i].msg_len <= BIN_LEN && memcmp(r[i].msg, bin + off, r[i].msg_len) == 0);
		CHECK(r[i].flags == 0);
		off += r[i].msg_len;
	}
	CHECK_EQ_INT(off, BIN_LEN);

	/* empty: one record, so that the file's existence is known */
	n = of_file(c, EMPTY_NAME, r, 8);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		check_common(&r[0]);
		CHECK_EQ_INT(r[0].msg_len, 0);
		CHECK(strcmp(field(&r[0], "PSTORE_CONTENT", NULL), "empty") == 0);
		CHECK(strcmp(field(&r[0], "PSTORE_SIZE", NULL), "0") == 0);
	}

	/* a name that is not TYPE-BACKEND-ID: shipped, without the parts */
	n = of_file(c, ODD_NAME, r, 8);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		check_common(&r[0]);
		CHECK(msg_is(&r[0], "plain text, odd name"));
		CHECK(!has_field(&r[0], "PSTORE_TYPE"));
		CHECK_EQ_INT(r[0].level, 6);
	}
}

static void test_huge(const struct col *c)
{
	size_t n = 0, bytes = 0, first = SIZE_MAX, last = 0;

	for (size_t i = 0; i < c->n; i++) {
		struct record r = col_get(c, i);
		if (strcmp(field(&r, "PSTORE_FILE", NULL), HUGE_NAME) != 0)
			continue;
		if (first == SIZE_MAX) {
			first = i;
			/* the head was cut: said on the first record */
			CHECK(r.flags & RECORD_F_TRUNCATED);
			CHECK_EQ_INT(strtoull(field(&r, "PSTORE_SKIPPED_BYTES", NULL), NULL, 10),
				     HUGE_LEN - PSTORE_FILE_MAX);
			CHECK_EQ_INT(strtoull(field(&r, "PSTORE_SIZE", NULL), NULL, 10), HUGE_LEN);
		} else {
			CHECK(!(r.flags & RECORD_F_TRUNCATED));
			CHECK(!has_field(&r, "PSTORE_SKIPPED_BYTES"));
		}
		n++;
		bytes += r.msg_len;
		last = i;
	}
	CHECK(n > 1000);
	/* the tail was kept: the last record is the file's last line */
	if (n > 0) {
		struct record r = col_get(c, last);
		CHECK(r.msg_len > 0 && r.msg[0] == 'x');
		CHECK(strcmp(field(&r, "PSTORE_CONTENT", NULL), "text") == 0);
		r = col_get(c, last - 1);
		CHECK(r.msg_len > 10 && memcmp(r.msg, "huge line ", 10) == 0);
		CHECK(r.mono_usec > 0);
	}
	/* every byte of the kept tail is in a record (minus prefixes and newlines) */
	CHECK(bytes < PSTORE_FILE_MAX && bytes > PSTORE_FILE_MAX / 2);
}

static void test_scan(void)
{
	struct pstore *p = NULL;
	struct pstore_stats st;
	struct col c = { 0 };

	reset();
	int r = open_scan(&p, false, &c);
	CHECK(r > 0);
	CHECK_EQ_INT(r, c.n);
	test_dmesg(&c);
	test_console(&c);
	test_binary(&c);
	test_huge(&c);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.files, NFILES);
	CHECK_EQ_INT(st.shipped, NFILES);
	CHECK_EQ_INT(st.skipped, 0);
	CHECK_EQ_INT(st.records, c.n);
	CHECK_EQ_INT(st.truncated, 1);
	CHECK_EQ_INT(st.binary, 2);
	CHECK_EQ_INT(st.ignored, 2);
	CHECK_EQ_INT(st.errors, 0);
	CHECK_EQ_INT(st.state_error, 0);
	CHECK_EQ_INT(st.committed, 0);
	/* nothing written before commit */
	CHECK(access(state, F_OK) != 0);
	pstore_free(p);
	col_free(&c);
}

/* After commit, a restart sends nothing; a changed file is sent again. */
static void test_commit(void)
{
	struct pstore *p = NULL;
	struct pstore_stats st;
	struct col c = { 0 };
	struct stat sb;
	int n1;

	reset();
	n1 = open_scan(&p, false, &c);
	CHECK(n1 > 0);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.committed, NFILES);
	CHECK(stat(state, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	/* same object: a second scan after commit produces nothing */
	col_free(&c);
	CHECK_EQ_INT(pstore_scan(p, col_sink, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	pstore_free(p);

	/* restart */
	CHECK_EQ_INT(open_scan(&p, false, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.skipped, NFILES);
	CHECK_EQ_INT(st.shipped, 0);
	CHECK_EQ_INT(st.state_error, 0);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_free(p);

	/* the next crash reuses the name: new content, shipped */
	static const char crash2[] = "Panic#2 Part1\n<0>[    3.491035] Kernel panic - not syncing: sysrq\n";
	char path[512];
	path_of(path, sizeof(path), "dmesg-ramoops-0");
	CHECK(unlink(path) == 0);
	put_file("dmesg-ramoops-0", crash2, sizeof(crash2) - 1);
	CHECK_EQ_INT(open_scan(&p, false, &c), 2);
	if (c.n == 2) {
		struct record r = col_get(&c, 1);
		CHECK(strcmp(field(&r, "PSTORE_REASON", NULL), "Panic") == 0);
		CHECK(strcmp(field(&r, "PSTORE_COUNT", NULL), "2") == 0);
		CHECK_EQ_INT(r.level, 0);
		CHECK_EQ_INT(r.mono_usec, 3491035);
		r = col_get(&c, 0);
		CHECK_EQ_INT(r.level, 2);
	}
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_free(p);
	col_free(&c);
	/* the old content's entry went with it: one entry per file */
	CHECK_EQ_INT(count_lines(state), NFILES + 2);
	CHECK_EQ_INT(open_scan(&p, false, &c), 0);
	pstore_free(p);

	/* pstore not mounted at one start: entries kept, nothing sent later */
	rm_rf(dir);
	CHECK(mkdir(dir, 0755) == 0);
	CHECK_EQ_INT(open_scan(&p, false, &c), 0);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_free(p);
	rm_rf(dir);
	build_dir();
	CHECK(unlink(path) == 0);
	put_file("dmesg-ramoops-0", crash2, sizeof(crash2) - 1);
	CHECK_EQ_INT(open_scan(&p, false, &c), 0);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.skipped, NFILES);
	pstore_free(p);
	col_free(&c);
}

/* Without commit, everything comes again: on the same object and after a restart. */
static void test_no_commit(void)
{
	struct pstore *p = NULL;
	struct col c = { 0 };
	int n1, n2;

	reset();
	n1 = open_scan(&p, false, &c);
	CHECK(n1 > 0);
	col_free(&c);
	n2 = pstore_scan(p, col_sink, &c);
	CHECK_EQ_INT(n2, n1);
	pstore_free(p);
	col_free(&c);
	CHECK_EQ_INT(open_scan(&p, false, &c), n1);
	CHECK(access(state, F_OK) != 0);
	pstore_free(p);
	col_free(&c);
}

static void test_remove(void)
{
	struct pstore *p = NULL;
	struct pstore_stats st;
	struct col c = { 0 };

	reset();
	CHECK(open_scan(&p, true, &c) > 0);
	/* scanned, not committed: nothing removed */
	CHECK(exists("dmesg-ramoops-0") && exists(HUGE_NAME) && exists(ODD_NAME));
	pstore_free(p);
	CHECK(exists("dmesg-ramoops-0"));

	col_free(&c);
	CHECK(open_scan(&p, true, &c) > 0);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.removed, NFILES);
	CHECK_EQ_INT(st.remove_failed, 0);
	CHECK(!exists("dmesg-ramoops-0") && !exists("console-ramoops-0") && !exists(ENC_NAME) &&
	      !exists(BIN_NAME) && !exists(EMPTY_NAME) && !exists(HUGE_NAME) && !exists(ODD_NAME));
	/* not regular: left alone */
	CHECK(exists("subdir") && exists("link"));
	pstore_free(p);
	col_free(&c);

	/* crash between state write and unlink, or remove turned on later:
	 * files already shipped are skipped, then removed on commit */
	reset();
	CHECK(open_scan(&p, false, &c) > 0);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_free(p);
	col_free(&c);
	CHECK(exists("dmesg-ramoops-0"));
	CHECK_EQ_INT(open_scan(&p, true, &c), 0);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.removed, NFILES);
	CHECK(!exists("dmesg-ramoops-0"));
	pstore_free(p);
	col_free(&c);

	/* state cannot be written: commit fails, nothing removed, retry works */
	reset();
	char bad[256];
	snprintf(bad, sizeof(bad), "%s/no-such-dir/pstore-state", tmpdir);
	CHECK_EQ_INT(pstore_open(&p, dir, bad, true), 0);
	int n = pstore_scan(p, col_sink, &c);
	CHECK(n > 0);
	CHECK_EQ_INT(pstore_commit(p), -ENOENT);
	CHECK(exists("dmesg-ramoops-0"));
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.committed, 0);
	CHECK_EQ_INT(st.removed, 0);
	pstore_free(p);
	col_free(&c);
}

static void corrupt_state(int how)
{
	size_t len;
	uint8_t *b = slurp(state, &len);
	CHECK(len > 100);
	int fd = open(state, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	switch (how) {
	case 0: /* one flipped bit in an entry */
		b[40] ^= 1;
		CHECK(write(fd, b, len) == (ssize_t)len);
		break;
	case 1: /* torn: half the file */
		CHECK(write(fd, b, len / 2) == (ssize_t)(len / 2));
		break;
	case 2: /* garbage */
		CHECK(write(fd, "\0\xff garbage\n", 11) == 11);
		break;
	}
	close(fd);
	free(b);
}

/* A damaged state file counts as empty: everything is shipped again (a
 * duplicate, marked PSTORE_STATE=damaged), never held back. */
static void test_damaged_state(void)
{
	for (int how = 0; how < 3; how++) {
		struct pstore *p = NULL;
		struct pstore_stats st;
		struct col c = { 0 };
		int n1;

		reset();
		n1 = open_scan(&p, false, &c);
		CHECK_EQ_INT(pstore_commit(p), 0);
		pstore_free(p);
		col_free(&c);
		corrupt_state(how);

		CHECK_EQ_INT(open_scan(&p, false, &c), n1);
		pstore_get_stats(p, &st);
		CHECK_EQ_INT(st.state_error, -EBADMSG);
		CHECK_EQ_INT(st.shipped, NFILES);
		for (size_t i = 0; i < c.n; i++) {
			struct record r = col_get(&c, i);
			CHECK(strcmp(field(&r, "PSTORE_STATE", NULL), "damaged") == 0);
		}
		/* commit rewrites a sound state file */
		CHECK_EQ_INT(pstore_commit(p), 0);
		pstore_free(p);
		col_free(&c);
		CHECK_EQ_INT(open_scan(&p, false, &c), 0);
		pstore_get_stats(p, &st);
		CHECK_EQ_INT(st.state_error, 0);
		CHECK_EQ_INT(st.skipped, NFILES);
		pstore_free(p);
		col_free(&c);
	}
}

/* The sink refuses a record: the scan stops with its error, only files
 * fully handed over are committed, the rest comes on the next start. */
static void test_sink_error(void)
{
	struct pstore *p = NULL;
	struct pstore_stats st;
	struct col c = { 0 };
	int total;

	reset();
	total = open_scan(&p, false, &c);
	pstore_free(p);
	col_free(&c);

	/* files in name order: console-ramoops-0 (8 records), console-ramoops-1 (huge), ... */
	c.fail_at = 12; /* inside the huge file */
	c.fail_err = -ENOSPC;
	CHECK_EQ_INT(open_scan(&p, false, &c), -ENOSPC);
	CHECK_EQ_INT(c.n, 11);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.committed, 1);
	pstore_free(p);
	col_free(&c);

	CHECK_EQ_INT(open_scan(&p, false, &c), total - 8);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.skipped, 1);
	CHECK_EQ_INT(st.shipped, NFILES - 1);
	pstore_free(p);
	col_free(&c);
}

/* Entries of files no longer present are kept up to PSTORE_STATE_MAX, oldest dropped first. */
static void test_state_cap(void)
{
	struct pstore *p = NULL;
	struct pstore_stats st;
	struct col c = { 0 };
	const unsigned extra = 7, nfiles = PSTORE_STATE_MAX + extra;
	char name[64], line[64];

	rm_rf(dir);
	unlink(state);
	CHECK(mkdir(dir, 0755) == 0);
	for (unsigned i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "dmesg-ramoops-%u", i);
		int n = snprintf(line, sizeof(line), "<6>[    0.%06u] file %u\n", i, i);
		put_file(name, line, (size_t)n);
	}
	CHECK_EQ_INT(open_scan(&p, false, &c), nfiles);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_free(p);
	col_free(&c);
	/* all present: none dropped, whatever the cap */
	CHECK_EQ_INT(count_lines(state), nfiles + 2);

	rm_rf(dir);
	CHECK(mkdir(dir, 0755) == 0);
	put_file("console-ramoops-0", "new\n", 4);
	CHECK_EQ_INT(open_scan(&p, false, &c), 1);
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_free(p);
	col_free(&c);
	CHECK_EQ_INT(count_lines(state), PSTORE_STATE_MAX + 2);

	/* the extra + 1 oldest entries went (one place went to the new
	 * file): their file would come again; the others not */
	for (unsigned i = extra; i <= extra + 1; i++) {
		snprintf(name, sizeof(name), "dmesg-ramoops-%u", i);
		int n = snprintf(line, sizeof(line), "<6>[    0.%06u] file %u\n", i, i);
		put_file(name, line, (size_t)n);
	}
	CHECK_EQ_INT(open_scan(&p, false, &c), 1);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.skipped, 2);
	CHECK_EQ_INT(st.shipped, 1);
	if (c.n == 1) {
		struct record r = col_get(&c, 0);
		snprintf(name, sizeof(name), "dmesg-ramoops-%u", extra);
		CHECK(strcmp(field(&r, "PSTORE_FILE", NULL), name) == 0);
	}
	pstore_free(p);
	col_free(&c);
}

static void test_unreadable(void)
{
	struct pstore *p = NULL;
	struct pstore_stats st;
	struct col c = { 0 };
	char path[512];

	CHECK_EQ_INT(pstore_open(&p, "/nonexistent/pstore", state, false), -ENOENT);

	if (geteuid() == 0) {
		fprintf(stderr, "test-pstore: running as root, unreadable-file case skipped\n");
		return;
	}
	reset();
	path_of(path, sizeof(path), "dmesg-ramoops-0");
	CHECK(chmod(path, 0) == 0);
	CHECK(open_scan(&p, false, &c) > 0);
	pstore_get_stats(p, &st);
	CHECK_EQ_INT(st.errors, 1);
	CHECK_EQ_INT(st.shipped, NFILES - 1);
	struct record r[4];
	size_t n = of_file(&c, "dmesg-ramoops-0", r, 4);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_INT(r[0].source, RECORD_SRC_PSTORE);
		CHECK_EQ_INT(r[0].level, 3);
		CHECK(strcmp(field(&r[0], "PSTORE_ERROR", NULL), strerror(EACCES)) == 0);
	}
	CHECK_EQ_INT(pstore_commit(p), 0);
	pstore_free(p);
	col_free(&c);
	/* not marked shipped: once readable, it comes */
	CHECK(chmod(path, 0444) == 0);
	CHECK_EQ_INT(open_scan(&p, false, &c), 22);
	pstore_free(p);
	col_free(&c);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	if (sodium_init() < 0)
		return 1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test-pstore.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/pstore", tmpdir);
	snprintf(state, sizeof(state), "%s/pstore-shipped", tmpdir);
	fill(enc, sizeof(enc), 1);
	bin = malloc(BIN_LEN);
	fill(bin, BIN_LEN, 2);
	memset(bin + 100, 0, 4); /* certainly binary */
	make_huge();
	CHECK(mkdir(dir, 0755) == 0);

	test_scan();
	test_commit();
	test_no_commit();
	test_remove();
	test_damaged_state();
	test_sink_error();
	test_state_cap();
	test_unreadable();

	rm_rf(dir);
	unlink(state);
	CHECK(rmdir(tmpdir) == 0);
	free(bin);
	free(huge);
	if (check_failures == 0)
		printf("test-pstore: all checks passed\n");
	return CHECK_DONE();
}
