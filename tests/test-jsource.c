/* SPDX-License-Identifier: ISC */

/*
 * jsource.c against real journal files, made without journald: entries
 * are written in the Journal Export Format and converted with
 * systemd-journal-remote (skipped, exit 77, if it is not installed).
 * Fields kept, level and facility, kernel entries excluded, matches,
 * binary and huge fields, the cursor (resume without repeat or skip), a
 * vacuumed resume point (gap record, with and without journal sequence
 * numbers), from boot / from now, and entries appended while the loop runs.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "check.h"
#include "durable.h"
#include "jsource.h"
#include "loop.h"
#include "record.h"

#define BOOT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BOOT_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define BOOT_C "cccccccccccccccccccccccccccccccc"
#define REAL0 1700000000000000ULL
/* A test that has not seen its records after this long has failed. */
#define GUARD_MS 5000
/* How long to wait to be sure nothing more arrives. */
#define SETTLE_MS 200

static const char *jr;
static char top[64];

/* ---- Journal Export Format writer ---- */

struct exp {
	char *buf;
	size_t len, cap;
};

static void ex_put(struct exp *e, const void *p, size_t n)
{
	if (e->len + n > e->cap) {
		e->cap = (e->len + n) * 2;
		e->buf = realloc(e->buf, e->cap);
		if (!e->buf)
			abort();
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void ex_field(struct exp *e, const char *key, const char *val)
{
	ex_put(e, key, strlen(key));
	ex_put(e, "=", 1);
	ex_put(e, val, strlen(val));
	ex_put(e, "\n", 1);
}

/* Binary form: KEY\n, little-endian u64 length, bytes, \n. */
static void ex_bin(struct exp *e, const char *key, const void *val, size_t n)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)((uint64_t)n >> (8 * i));
	ex_put(e, key, strlen(key));
	ex_put(e, "\n", 1);
	ex_put(e, le, 8);
	ex_put(e, val, n);
	ex_put(e, "\n", 1);
}

/* Entry k of a boot: realtime REAL0 + k s, monotonic k s. */
static void ex_begin(struct exp *e, const char *boot, unsigned k)
{
	char v[32];
	snprintf(v, sizeof(v), "%llu", REAL0 + k * 1000000ULL);
	ex_field(e, "__REALTIME_TIMESTAMP", v);
	snprintf(v, sizeof(v), "%llu", k * 1000000ULL);
	ex_field(e, "__MONOTONIC_TIMESTAMP", v);
	ex_field(e, "_BOOT_ID", boot);
}

static void ex_end(struct exp *e)
{
	ex_put(e, "\n", 1);
}

/* A plain entry "mK" of boot, transport journal. */
static void ex_msg(struct exp *e, const char *boot, unsigned k)
{
	char m[16];
	snprintf(m, sizeof(m), "m%u", k);
	ex_begin(e, boot, k);
	ex_field(e, "MESSAGE", m);
	ex_field(e, "_TRANSPORT", "journal");
	ex_end(e);
}

/* Convert (or append, if file exists) with systemd-journal-remote. */
static int jr_write(const char *file, struct exp *e)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s -o %s - 2>/dev/null", jr, file);
	FILE *f = popen(cmd, "w");
	if (!f)
		return -1;
	fwrite(e->buf, 1, e->len, f);
	int st = pclose(f);
	free(e->buf);
	*e = (struct exp){ 0 };
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "systemd-journal-remote -o %s failed (status %d)\n", file, st);
		check_failures++;
		return -1;
	}
	return 0;
}

/* Entries first..last ("mK") of boot into file. */
static void jr_msgs(const char *file, const char *boot, unsigned first, unsigned last)
{
	struct exp e = { 0 };
	for (unsigned k = first; k <= last; k++)
		ex_msg(&e, boot, k);
	(void)jr_write(file, &e);
}

static void path(char *buf, size_t n, const char *a, const char *b)
{
	snprintf(buf, n, "%s/%s%s%s", top, a, b ? "/" : "", b ? b : "");
}

static char *mkdir_in(const char *name)
{
	static char bufs[16][128];
	static int next;
	char *p = bufs[next++ % 16];
	path(p, 128, name, NULL);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		abort();
	return p;
}

static void boot_bytes(const char *hex, uint8_t out[16])
{
	sd_id128_t id;
	if (sd_id128_from_string(hex, &id) < 0)
		abort();
	memcpy(out, id.bytes, 16);
}

/* The cursor of the k-th entry (from 1) of a journal directory. */
static char *cursor_of(const char *dir, int k)
{
	sd_journal *j;
	char *c = NULL;
	if (sd_journal_open_directory(&j, dir, 0) < 0)
		abort();
	for (int i = 0; i < k; i++)
		if (sd_journal_next(j) <= 0)
			abort();
	if (sd_journal_get_cursor(j, &c) < 0)
		abort();
	sd_journal_close(j);
	return c;
}

static void write_cursor(const char *file, const char *c)
{
	char buf[600];
	int n = snprintf(buf, sizeof(buf), "%s\n", c);
	if (durable_replace(file, buf, (size_t)n, 0600) < 0)
		abort();
}

/* ---- running a source ---- */

#define MAXREC 64

struct run {
	struct loop *l;
	struct jsource *js;
	uint8_t *rec[MAXREC];
	size_t len[MAXREC];
	int n;
	int want;    /* stop once this many records arrived */
	int fail_at; /* sink refuses record number fail_at (1-based); 0: never */
	bool timed_out;
	/* Called after each burst (the caller's flush), may append entries. */
	void (*hook)(struct run *r);
	int stage;
	const char *dir;
};

static int on_rec(struct record *rec, void *data)
{
	struct run *r = data;
	if (r->fail_at && r->n + 1 == r->fail_at)
		return -EIO;
	CHECK(r->n < MAXREC);
	if (r->n >= MAXREC)
		return -ENOSPC;
	uint8_t *b = malloc(RECORD_MAX);
	int len = record_encode(rec, b, RECORD_MAX);
	CHECK(len > 0);
	r->rec[r->n] = b;
	r->len[r->n] = len > 0 ? (size_t)len : 0;
	r->n++;
	return 0;
}

static void on_flush(void *data)
{
	struct run *r = data;
	if (r->hook)
		r->hook(r);
	if (r->want && r->n >= r->want)
		loop_stop(r->l);
}

static void on_guard(struct loop *l, struct loop_timer *t, void *data)
{
	struct run *r = data;
	r->timed_out = true;
	loop_stop(l);
}

static void on_settle(struct loop *l, struct loop_timer *t, void *data)
{
	loop_stop(l);
}

static int run_open(struct run *r, const struct jsource_conf *c)
{
	if (loop_new(&r->l) < 0)
		abort();
	int ret = jsource_open(&r->js, c);
	if (ret < 0)
		return ret;
	return jsource_start(r->js, r->l, on_rec, on_flush, r);
}

/* Run until want records arrived (a time-out is a failure), then SETTLE_MS
 * more to see that nothing else comes. */
static void run_until(struct run *r, int want)
{
	struct loop_timer *g = NULL;
	r->want = want;
	r->timed_out = false;
	if (want > r->n) {
		if (loop_timer_add(r->l, GUARD_MS, on_guard, r, &g) < 0)
			abort();
		loop_run(r->l);
		if (!r->timed_out)
			loop_timer_cancel(r->l, g);
		CHECK(!r->timed_out);
	}
	r->want = 0;
	if (loop_timer_add(r->l, SETTLE_MS, on_settle, r, NULL) < 0)
		abort();
	loop_run(r->l);
	CHECK_EQ_INT(r->n, want);
}

static void run_close(struct run *r)
{
	jsource_free(r->js);
	loop_free(r->l);
	for (int i = 0; i < r->n; i++)
		free(r->rec[i]);
	memset(r->rec, 0, sizeof(r->rec));
	r->n = 0;
	r->js = NULL;
	r->l = NULL;
}

static struct record get(struct run *r, int i)
{
	struct record rec = { 0 };
	CHECK(i < r->n);
	if (i < r->n)
		CHECK_EQ_INT(record_decode(r->rec[i], r->len[i], &rec), 0);
	return rec;
}

static bool has_field(const struct record *rec, const char *key, const char *val)
{
	const uint8_t *v;
	size_t n;
	if (!record_field_get(rec, key, &v, &n))
		return false;
	return !val || (n == strlen(val) && memcmp(v, val, n) == 0);
}

static bool msg_is(const struct record *rec, const char *s)
{
	return rec->msg_len == strlen(s) && memcmp(rec->msg, s, rec->msg_len) == 0;
}

/* Records i.. are journal entries "mFIRST".."mLAST". */
static void check_msgs(struct run *r, int i, unsigned first, unsigned last)
{
	for (unsigned k = first; k <= last; k++, i++) {
		char m[16];
		snprintf(m, sizeof(m), "m%u", k);
		struct record rec = get(r, i);
		CHECK_EQ_INT(rec.source, RECORD_SRC_JOURNAL);
		if (!msg_is(&rec, m))
			fprintf(stderr, "  record %d: want %s, got %.*s\n", i, m, (int)rec.msg_len, rec.msg);
		CHECK(msg_is(&rec, m));
		CHECK_EQ_INT(rec.mono_usec, k * 1000000ULL);
	}
}

static void conf_for(struct jsource_conf *c, const char *dir)
{
	jsource_conf_defaults(c);
	c->directory = dir;
	boot_bytes(BOOT_B, c->boot_id);
}

/* ---- tests ---- */

static const char *fields_dir(void)
{
	static char *dir;
	if (dir)
		return dir;
	dir = mkdir_in("fields");
	char f[160];
	struct exp e = { 0 };
	ex_begin(&e, BOOT_B, 1);
	ex_field(&e, "MESSAGE", "hello");
	ex_field(&e, "PRIORITY", "3");
	ex_field(&e, "SYSLOG_FACILITY", "4");
	ex_field(&e, "SYSLOG_IDENTIFIER", "sshd");
	ex_field(&e, "_PID", "42");
	ex_field(&e, "_TRANSPORT", "syslog");
	ex_field(&e, "CUSTOM_FIELD", "x y z");
	ex_end(&e);
	ex_begin(&e, BOOT_B, 2);
	ex_field(&e, "MESSAGE", "kernel line");
	ex_field(&e, "PRIORITY", "5");
	ex_field(&e, "_TRANSPORT", "kernel");
	ex_end(&e);
	ex_begin(&e, BOOT_B, 3);
	ex_field(&e, "MESSAGE", "no priority");
	ex_field(&e, "SYSLOG_IDENTIFIER", "app");
	ex_field(&e, "_TRANSPORT", "journal");
	ex_end(&e);
	ex_begin(&e, BOOT_B, 4);
	ex_field(&e, "MESSAGE", "bad priority");
	ex_field(&e, "PRIORITY", "9");
	ex_field(&e, "SYSLOG_FACILITY", "x");
	ex_field(&e, "_TRANSPORT", "stdout");
	ex_end(&e);
	ex_begin(&e, BOOT_B, 5);
	ex_field(&e, "FOO", "bar");
	ex_field(&e, "_TRANSPORT", "journal");
	ex_end(&e);
	path(f, sizeof(f), "fields", "a.journal");
	(void)jr_write(f, &e);
	return dir;
}

static void test_fields(void)
{
	struct jsource_conf c;
	struct jsource_stats st;
	struct run r = { 0 };
	uint8_t boot[16];
	conf_for(&c, fields_dir());
	boot_bytes(BOOT_B, boot);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 4);
	jsource_get_stats(r.js, &st);
	CHECK_EQ_INT(st.entries, 4);
	CHECK_EQ_INT(st.excluded, 1);
	CHECK_EQ_INT(st.truncated, 0);
	CHECK_EQ_INT(st.error, 0);

	struct record rec = get(&r, 0);
	CHECK_EQ_INT(rec.source, RECORD_SRC_JOURNAL);
	CHECK_EQ_INT(rec.event, RECORD_EV_NONE);
	CHECK_EQ_INT(rec.level, 3);
	CHECK_EQ_INT(rec.facility, 4);
	CHECK_EQ_INT(rec.flags, 0);
	CHECK_EQ_INT(rec.kmsg_seq, 0);
	CHECK_EQ_INT(rec.mono_usec, 1000000);
	CHECK_EQ_INT(rec.real_usec, REAL0 + 1000000);
	CHECK_EQ_MEM(rec.boot_id, boot, 16);
	CHECK(msg_is(&rec, "hello"));
	CHECK(has_field(&rec, "PRIORITY", "3"));
	CHECK(has_field(&rec, "SYSLOG_FACILITY", "4"));
	CHECK(has_field(&rec, "SYSLOG_IDENTIFIER", "sshd"));
	CHECK(has_field(&rec, "_PID", "42"));
	CHECK(has_field(&rec, "_TRANSPORT", "syslog"));
	CHECK(has_field(&rec, "CUSTOM_FIELD", "x y z"));
	CHECK(has_field(&rec, "_BOOT_ID", BOOT_B));
	CHECK(!has_field(&rec, "MESSAGE", NULL));
	CHECK_EQ_INT(rec.nfields, 7);

	rec = get(&r, 1); /* the kernel entry is not there */
	CHECK(msg_is(&rec, "no priority"));
	CHECK_EQ_INT(rec.level, 6);
	CHECK_EQ_INT(rec.facility, 1);
	rec = get(&r, 2);
	CHECK(msg_is(&rec, "bad priority"));
	CHECK_EQ_INT(rec.level, 6);
	CHECK_EQ_INT(rec.facility, 1);
	CHECK(has_field(&rec, "PRIORITY", "9"));
	CHECK(has_field(&rec, "SYSLOG_FACILITY", "x"));
	rec = get(&r, 3);
	CHECK_EQ_INT(rec.msg_len, 0);
	CHECK(has_field(&rec, "FOO", "bar"));
	run_close(&r);

	/* Kernel entries included on request; facility 0 without SYSLOG_FACILITY. */
	c.exclude_kernel = false;
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 5);
	rec = get(&r, 1);
	CHECK(msg_is(&rec, "kernel line"));
	CHECK_EQ_INT(rec.level, 5);
	CHECK_EQ_INT(rec.facility, 0);
	jsource_get_stats(r.js, &st);
	CHECK_EQ_INT(st.excluded, 0);
	run_close(&r);
}

static void test_matches(void)
{
	struct jsource_conf c;
	struct jsource_stats st;
	struct run r = { 0 };
	conf_for(&c, fields_dir());

	const char *m1[] = { "SYSLOG_IDENTIFIER=sshd", "FOO=bar" };
	c.matches = m1;
	c.nmatches = 2;
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 2);
	struct record rec = get(&r, 0);
	CHECK(msg_is(&rec, "hello"));
	rec = get(&r, 1);
	CHECK(has_field(&rec, "FOO", "bar"));
	run_close(&r);

	/* Same field twice, and one that matches the excluded entry only. */
	const char *m2[] = { "SYSLOG_IDENTIFIER=app", "SYSLOG_IDENTIFIER=nobody", "_TRANSPORT=kernel" };
	c.matches = m2;
	c.nmatches = 3;
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 1);
	rec = get(&r, 0);
	CHECK(msg_is(&rec, "no priority"));
	jsource_get_stats(r.js, &st);
	CHECK_EQ_INT(st.excluded, 1);
	run_close(&r);

	const char *bad[][1] = { { "FOO" }, { "foo=bar" }, { "=x" }, { "1FOO=x" }, { "FOO-BAR=x" } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jsource *js = NULL;
		c.matches = bad[i];
		c.nmatches = 1;
		CHECK(!jsource_match_valid(bad[i][0]));
		CHECK_EQ_INT(jsource_open(&js, &c), -EINVAL);
	}
	CHECK(jsource_match_valid("_SYSTEMD_UNIT=sshd.service"));
	CHECK(jsource_match_valid("FOO="));
	c.matches = NULL;
	c.nmatches = 0;
	c.max_field_bytes = 10;
	struct jsource *js = NULL;
	CHECK_EQ_INT(jsource_open(&js, &c), -EINVAL);
}

static void test_big(void)
{
	char *dir = mkdir_in("big"), f[160];
	struct exp e = { 0 };
	static uint8_t bin[300], big[60000];
	static const uint8_t bmsg[] = { 'a', 0, 'b', 0xff, '\n', 0x80 };
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;

	ex_begin(&e, BOOT_B, 1);
	ex_bin(&e, "MESSAGE", bmsg, sizeof(bmsg));
	ex_bin(&e, "BIN", bin, sizeof(bin));
	memset(big, 'x', 10000);
	ex_bin(&e, "BIG", big, 10000);
	ex_end(&e);
	ex_begin(&e, BOOT_B, 2);
	memset(big, 'm', sizeof(big));
	ex_bin(&e, "MESSAGE", big, sizeof(big));
	ex_end(&e);
	ex_begin(&e, BOOT_B, 3);
	ex_field(&e, "MESSAGE", "many");
	for (int i = 0; i < 12; i++) {
		char k[16];
		snprintf(k, sizeof(k), "F%02d", i);
		memset(big, 'a' + i, 8000);
		ex_bin(&e, k, big, 8000);
	}
	ex_field(&e, "AFTER", "yes");
	ex_end(&e);
	path(f, sizeof(f), "big", "a.journal");
	(void)jr_write(f, &e);

	struct jsource_conf c;
	struct jsource_stats st;
	struct run r = { 0 };
	conf_for(&c, dir);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 3);
	jsource_get_stats(r.js, &st);
	CHECK_EQ_INT(st.truncated, 3);
	CHECK_EQ_INT(st.fields_cut, 2);
	CHECK(st.fields_dropped >= 4);

	/* Binary message and field kept as bytes; BIG cut to 8192. */
	struct record rec = get(&r, 0);
	CHECK_EQ_INT(rec.msg_len, sizeof(bmsg));
	CHECK_EQ_MEM(rec.msg, bmsg, sizeof(bmsg));
	const uint8_t *v;
	size_t n;
	CHECK(record_field_get(&rec, "BIN", &v, &n) && n == sizeof(bin) && memcmp(v, bin, n) == 0);
	CHECK(record_field_get(&rec, "BIG", &v, &n) && n == 8192);
	CHECK(rec.flags & RECORD_F_TRUNCATED);
	CHECK(has_field(&rec, "_KS_TRUNCATED", "BIG"));
	CHECK(!has_field(&rec, "_KS_DROPPED", NULL));

	/* A 60000-byte message: cut to what the record leaves for it. */
	rec = get(&r, 1);
	CHECK(rec.flags & RECORD_F_TRUNCATED);
	CHECK(rec.msg_len > 50000 && rec.msg_len < 60000);
	CHECK(rec.msg_len > 0 && rec.msg[0] == 'm' && rec.msg[rec.msg_len - 1] == 'm');
	CHECK(has_field(&rec, "_KS_TRUNCATED", "MESSAGE"));
	CHECK(has_field(&rec, "_BOOT_ID", BOOT_B));

	/* Twelve 8000-byte fields do not fit: some are left out, whole;
	 * the small field after them still goes in. */
	rec = get(&r, 2);
	CHECK(rec.flags & RECORD_F_TRUNCATED);
	CHECK(record_encoded_len(&rec) <= RECORD_MAX);
	CHECK(has_field(&rec, "AFTER", "yes"));
	CHECK(record_field_get(&rec, "_KS_DROPPED", &v, &n));
	int kept = 0, named = 0;
	for (int i = 0; i < 12; i++) {
		char k[16];
		snprintf(k, sizeof(k), "F%02d", i);
		const uint8_t *fv;
		size_t fn;
		if (record_field_get(&rec, k, &fv, &fn)) {
			kept++;
			CHECK_EQ_INT(fn, 8000);
		}
		if (memmem(v, n, k, 3))
			named++;
	}
	CHECK_EQ_INT(kept + named, 12);
	CHECK(kept >= 7);
	run_close(&r);

	/* A smaller limit cuts the binary field too. */
	c.max_field_bytes = 100;
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 3);
	rec = get(&r, 0);
	CHECK(record_field_get(&rec, "BIN", &v, &n) && n == 100 && memcmp(v, bin, n) == 0);
	CHECK(has_field(&rec, "_KS_TRUNCATED", "BIN,BIG"));
	rec = get(&r, 2);
	CHECK(has_field(&rec, "MESSAGE", NULL) == false);
	CHECK(msg_is(&rec, "many"));
	run_close(&r);
}

static void test_cursor(void)
{
	char *dir = mkdir_in("cursor"), f[160], cf[160];
	path(f, sizeof(f), "cursor", "a.journal");
	path(cf, sizeof(cf), "cursor.state", NULL);
	jr_msgs(f, BOOT_B, 1, 6);

	struct jsource_conf c;
	struct jsource_stats st;
	struct run r = { 0 };
	conf_for(&c, dir);
	c.cursor_file = cf;

	/* The sink refuses the 4th: three are consumed, the source stops. */
	r.fail_at = 4;
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 3);
	jsource_get_stats(r.js, &st);
	CHECK_EQ_INT(st.error, -EIO);
	check_msgs(&r, 0, 1, 3);
	char *c3 = cursor_of(dir, 3);
	CHECK(jsource_cursor(r.js) && strcmp(jsource_cursor(r.js), c3) == 0);
	CHECK_EQ_INT(jsource_save_cursor(r.js, NULL), 0);
	char buf[600];
	ssize_t n = read_file(cf, buf, sizeof(buf) - 1);
	CHECK(n > 0 && (size_t)n == strlen(c3) + 1 && memcmp(buf, c3, strlen(c3)) == 0);
	free(c3);
	run_close(&r);
	r.fail_at = 0;

	/* Resume: exactly 4..6. */
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 3);
	check_msgs(&r, 0, 4, 6);
	jsource_get_stats(r.js, &st);
	CHECK_EQ_INT(st.skipped, 1);
	CHECK_EQ_INT(st.gaps, 0);
	CHECK_EQ_INT(jsource_save_cursor(r.js, NULL), 0);
	run_close(&r);

	/* Nothing new: nothing read, the cursor stays. */
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 0);
	char *c6 = cursor_of(dir, 6);
	CHECK(jsource_cursor(r.js) && strcmp(jsource_cursor(r.js), c6) == 0);
	free(c6);
	run_close(&r);

	/* New entries in a new file (another seqnum id, as after a journal
	 * wipe) and appended to the old one: exactly those. */
	char f2[160];
	path(f2, sizeof(f2), "cursor", "b.journal");
	jr_msgs(f2, BOOT_B, 7, 8);
	jr_msgs(f, BOOT_B, 9, 9);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 3);
	check_msgs(&r, 0, 7, 9);
	/* Save a cursor the caller kept (as on an ack) rather than the last. */
	char *c7 = cursor_of(dir, 7);
	CHECK_EQ_INT(jsource_save_cursor(r.js, c7), 0);
	run_close(&r);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 2);
	check_msgs(&r, 0, 8, 9);
	free(c7);
	run_close(&r);

	/* A cursor file that is not a cursor: said, then from boot. */
	write_cursor(cf, "s=nonsense");
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 10);
	struct record rec = get(&r, 0);
	CHECK_EQ_INT(rec.source, RECORD_SRC_AGENT);
	CHECK_EQ_INT(rec.event, RECORD_EV_GAP);
	CHECK(has_field(&rec, "GAP_CAUSE", "journal-cursor-invalid"));
	check_msgs(&r, 1, 1, 9);
	run_close(&r);
}

/* Set a journal file's seqnum id and last seqnum (header offsets 72 and
 * 160), so that entries appended next continue another file's numbering,
 * as journald's rotation does. */
static void patch_seqnum(const char *file, const char *cursor, uint64_t tail)
{
	sd_id128_t id;
	char hex[33];
	const char *s = strstr(cursor, "s=");
	if (!s || strlen(s) < 34)
		abort();
	memcpy(hex, s + 2, 32);
	hex[32] = 0;
	if (sd_id128_from_string(hex, &id) < 0)
		abort();
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(tail >> (8 * i));
	int fd = open(file, O_RDWR);
	if (fd < 0 || pwrite(fd, id.bytes, 16, 72) != 16 || pwrite(fd, le, 8, 160) != 8)
		abort();
	close(fd);
}

/* A journal that starts after entry `after` with that numbering: an
 * old-boot placeholder entry, then entries first..last. */
static void vacuumed(const char *dir, const char *name, const char *cursor, uint64_t after, unsigned first,
		     unsigned last)
{
	char f[160];
	struct exp e = { 0 };
	(void)mkdir_in(dir);
	path(f, sizeof(f), dir, name);
	ex_begin(&e, BOOT_C, 0);
	ex_field(&e, "MESSAGE", "placeholder");
	ex_end(&e);
	(void)jr_write(f, &e);
	patch_seqnum(f, cursor, after);
	jr_msgs(f, BOOT_B, first, last);
}

static void test_vacuum(void)
{
	char *src = mkdir_in("vsrc"), f[160], cf[160];
	path(f, sizeof(f), "vsrc", "a.journal");
	path(cf, sizeof(cf), "vacuum.state", NULL);
	jr_msgs(f, BOOT_B, 1, 10);
	char *c4 = cursor_of(src, 4);
	struct jsource_conf c;
	struct jsource_stats st;
	struct run r = { 0 };

	/* Entries 5 and 6 are gone, 7.. remain, same numbering: the gap
	 * names seqnums 5..6. */
	vacuumed("vsame", "b.journal", c4, 6, 7, 10);
	conf_for(&c, mkdir_in("vsame"));
	c.cursor_file = cf;
	write_cursor(cf, c4);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 5);
	struct record rec = get(&r, 0);
	CHECK_EQ_INT(rec.source, RECORD_SRC_AGENT);
	CHECK_EQ_INT(rec.event, RECORD_EV_GAP);
	CHECK_EQ_INT(rec.level, 4);
	CHECK(has_field(&rec, "GAP_CAUSE", "journal-vacuumed"));
	CHECK(has_field(&rec, "GAP_FIRST_JOURNAL_SEQNUM", "5"));
	CHECK(has_field(&rec, "GAP_LAST_JOURNAL_SEQNUM", "6"));
	CHECK(has_field(&rec, "JOURNAL_SEQNUM_ID", NULL));
	char t[32];
	snprintf(t, sizeof(t), "%llu", REAL0 + 4000000ULL);
	CHECK(has_field(&rec, "GAP_AFTER_REALTIME_USEC", t));
	snprintf(t, sizeof(t), "%llu", REAL0 + 7000000ULL);
	CHECK(has_field(&rec, "GAP_BEFORE_REALTIME_USEC", t));
	CHECK_EQ_INT(rec.mono_usec, 7000000);
	check_msgs(&r, 1, 7, 10);
	jsource_get_stats(r.js, &st);
	CHECK_EQ_INT(st.gaps, 1);
	run_close(&r);

	/* Only the cursor's own entry is gone: no gap, 5.. follow. */
	vacuumed("vnext", "b.journal", c4, 4, 5, 10);
	conf_for(&c, mkdir_in("vnext"));
	c.cursor_file = cf;
	write_cursor(cf, c4);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 6);
	check_msgs(&r, 0, 5, 10);
	run_close(&r);

	/* Another numbering (journal wiped and started again): the gap says
	 * when, not which. */
	char *dir = mkdir_in("vother");
	path(f, sizeof(f), "vother", "c.journal");
	jr_msgs(f, BOOT_B, 7, 10);
	conf_for(&c, dir);
	c.cursor_file = cf;
	write_cursor(cf, c4);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 5);
	rec = get(&r, 0);
	CHECK_EQ_INT(rec.event, RECORD_EV_GAP);
	CHECK(has_field(&rec, "GAP_CAUSE", "journal-vacuumed"));
	CHECK(!has_field(&rec, "GAP_FIRST_JOURNAL_SEQNUM", NULL));
	snprintf(t, sizeof(t), "%llu", REAL0 + 4000000ULL);
	CHECK(has_field(&rec, "GAP_AFTER_REALTIME_USEC", t));
	snprintf(t, sizeof(t), "%llu", REAL0 + 7000000ULL);
	CHECK(has_field(&rec, "GAP_BEFORE_REALTIME_USEC", t));
	check_msgs(&r, 1, 7, 10);
	run_close(&r);
	free(c4);
}

static void test_start(void)
{
	char *dir = mkdir_in("start"), f[160];
	/* An older file of boot C (a journal_file_move_to_entry_by_monotonic
	 * miss falls back to its head), and one with boot A then boot B. */
	path(f, sizeof(f), "start", "old.journal");
	jr_msgs(f, BOOT_C, 1, 3);
	path(f, sizeof(f), "start", "cur.journal");
	struct exp e = { 0 };
	for (unsigned k = 1; k <= 3; k++)
		ex_msg(&e, BOOT_A, k);
	for (unsigned k = 11; k <= 13; k++) {
		char m[16];
		snprintf(m, sizeof(m), "m%u", k);
		ex_begin(&e, BOOT_B, k);
		ex_field(&e, "MESSAGE", m);
		ex_end(&e);
	}
	(void)jr_write(f, &e);

	struct jsource_conf c;
	struct jsource_stats st;
	struct run r = { 0 };
	conf_for(&c, dir);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 3);
	check_msgs(&r, 0, 11, 13);
	run_close(&r);

	/* From now: nothing of the journal, but said, since this boot had
	 * entries; then what is appended. */
	c.from_now = true;
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 1);
	struct record rec = get(&r, 0);
	CHECK_EQ_INT(rec.event, RECORD_EV_GAP);
	CHECK(has_field(&rec, "GAP_CAUSE", "journal-started-from-now"));
	char t[32];
	snprintf(t, sizeof(t), "%llu", REAL0 + 13000001ULL);
	CHECK(has_field(&rec, "GAP_BEFORE_REALTIME_USEC", t));
	path(f, sizeof(f), "start", "new.journal");
	jr_msgs(f, BOOT_B, 14, 14);
	run_until(&r, 2);
	check_msgs(&r, 1, 14, 14);
	run_close(&r);

	/* A boot the journal has nothing of: from boot reads only what
	 * comes, and there is nothing to say. */
	c.from_now = false;
	boot_bytes("dddddddddddddddddddddddddddddddd", c.boot_id);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 0);
	path(f, sizeof(f), "start", "new2.journal");
	jr_msgs(f, "dddddddddddddddddddddddddddddddd", 15, 15);
	run_until(&r, 1);
	check_msgs(&r, 0, 15, 15);
	jsource_get_stats(r.js, &st);
	CHECK_EQ_INT(st.gaps, 0);
	run_close(&r);
}

/* Appends while the loop runs: a new file (as after rotation), then more
 * entries in the existing file (as journald writes). */
static void live_hook(struct run *r)
{
	char f[160];
	if (r->stage == 0 && r->n == 2) {
		r->stage = 1;
		path(f, sizeof(f), "live", "b.journal");
		jr_msgs(f, BOOT_B, 3, 4);
	} else if (r->stage == 1 && r->n == 4) {
		r->stage = 2;
		path(f, sizeof(f), "live", "a.journal");
		jr_msgs(f, BOOT_B, 5, 6);
	}
}

static void test_live(void)
{
	char *dir = mkdir_in("live"), f[160];
	path(f, sizeof(f), "live", "a.journal");
	jr_msgs(f, BOOT_B, 1, 2);
	struct jsource_conf c;
	struct run r = { 0 };
	conf_for(&c, dir);
	r.hook = live_hook;
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 6);
	check_msgs(&r, 0, 1, 6);
	run_close(&r);

	/* An empty directory: the first file to appear is read. */
	dir = mkdir_in("empty");
	conf_for(&c, dir);
	CHECK_EQ_INT(run_open(&r, &c), 0);
	run_until(&r, 0);
	path(f, sizeof(f), "empty", "a.journal");
	jr_msgs(f, BOOT_B, 1, 3);
	run_until(&r, 3);
	check_msgs(&r, 0, 1, 3);
	run_close(&r);
}

static const char *find_jr(void)
{
	static const char *const paths[] = { "/usr/lib/systemd/systemd-journal-remote",
					     "/lib/systemd/systemd-journal-remote" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

int main(void)
{
	jr = find_jr();
	if (!jr) {
		fprintf(stderr, "systemd-journal-remote not installed: skipped\n");
		return 77;
	}
	snprintf(top, sizeof(top), "/tmp/test-jsource.XXXXXX");
	if (!mkdtemp(top))
		return 1;
	test_fields();
	test_matches();
	test_big();
	test_cursor();
	test_vacuum();
	test_start();
	test_live();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (check_failures == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	else if (check_failures)
		fprintf(stderr, "journal files kept in %s\n", top);
	return CHECK_DONE();
}
