/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "check.h"

#define CHECK_EQ_STR(a, b)                                                                                   \
	do {                                                                                                 \
		const char *check_x_ = (a), *check_y_ = (b);                                                 \
		if (!check_x_ || !check_y_ ? check_x_ != check_y_ : strcmp(check_x_, check_y_) != 0) {       \
			fprintf(stderr, "%s:%d: %s == %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, #a, \
				#b, check_x_ ? check_x_ : "(null)", check_y_ ? check_y_ : "(null)");         \
			check_failures++;                                                                    \
		}                                                                                            \
	} while (0)

/* Loads text as "t.conf"; call (which uses ec) must return want_r and
 * leave want_msg as the recorded error. */
#define EXPECT(text, call, want_r, want_msg)                             \
	do {                                                             \
		struct cfg *ec = NULL;                                   \
		CHECK_EQ_INT(cfg_load_string(&ec, "t.conf", (text)), 0); \
		if (ec) {                                                \
			CHECK_EQ_INT((call), (want_r));                  \
			CHECK_EQ_STR(cfg_error(ec), (want_msg));         \
			cfg_free(ec);                                    \
		}                                                        \
	} while (0)

static char tmpdir[] = "/tmp/test-cfg-XXXXXX";

static char *write_file(const char *name, const char *data, size_t len)
{
	char *path;
	int fd;

	if (asprintf(&path, "%s/%s", tmpdir, name) < 0)
		abort();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) != 0)
		abort();
	return path;
}

static void test_int(void)
{
	static const char text[] = "a = 5;\n"			  /* 1 */
				   "b = 5000000000L;\n"		  /* 2 */
				   "c = 0x10;\n"		  /* 3 */
				   "d = -9223372036854775808L;\n" /* 4 */
				   "e = -2147483648;\n";	  /* 5 */
	struct cfg *c = NULL;
	long long v = 0;

	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", text), 0);
	CHECK_EQ_INT(cfg_int(c, "a", true, 0, 10, &v), 0);
	CHECK_EQ_INT(v, 5);
	CHECK_EQ_INT(cfg_int(c, "b", true, 0, LLONG_MAX, &v), 0);
	CHECK_EQ_INT(v, 5000000000LL);
	CHECK_EQ_INT(cfg_int(c, "c", false, 0, 100, &v), 0);
	CHECK_EQ_INT(v, 16);
	CHECK_EQ_INT(cfg_int(c, "d", false, LLONG_MIN, 0, &v), 0);
	CHECK_EQ_INT(v, LLONG_MIN);
	CHECK_EQ_INT(cfg_int(c, "e", false, INT_MIN, 0, &v), 0);
	CHECK_EQ_INT(v, INT_MIN);
	/* Missing and optional: untouched, no error. */
	v = 42;
	CHECK_EQ_INT(cfg_int(c, "zz", false, 0, 10, &v), 0);
	CHECK_EQ_INT(v, 42);
	CHECK_EQ_INT(cfg_finish(c), 0);
	CHECK_EQ_STR(cfg_error(c), NULL);
	cfg_free(c);

	EXPECT("a = 11;\n", cfg_int(ec, "a", true, 0, 10, &v), -EINVAL,
	       "t.conf:1: a: expected an integer between 0 and 10");
	EXPECT("x = 1;\na = -1;\n", cfg_int(ec, "a", true, 0, 10, &v), -EINVAL,
	       "t.conf:2: a: expected an integer between 0 and 10");
	EXPECT("\n\na = \"5\";\n", cfg_int(ec, "a", true, 0, 10, &v), -EINVAL,
	       "t.conf:3: a: expected an integer between 0 and 10");
	EXPECT("a = 1.5;\n", cfg_int(ec, "a", true, -5, 5, &v), -EINVAL,
	       "t.conf:1: a: expected an integer between -5 and 5");
	EXPECT("a = true;\n", cfg_int(ec, "a", true, 0, 1, &v), -EINVAL,
	       "t.conf:1: a: expected an integer between 0 and 1");
	EXPECT("a = 5000000000L;\n", cfg_int(ec, "a", true, 0, INT_MAX, &v), -EINVAL,
	       "t.conf:1: a: expected an integer between 0 and 2147483647");
	/* An error leaves the output untouched. */
	v = 7;
	EXPECT("a = 11;\n", cfg_int(ec, "a", true, 0, 10, &v), -EINVAL,
	       "t.conf:1: a: expected an integer between 0 and 10");
	CHECK_EQ_INT(v, 7);
}

static void test_bool_string_enum(void)
{
	static const char text[] = "t = true;\n"
				   "f = FALSE;\n"
				   "s = \"hello\" \" world\";\n"
				   "m = \"safe\";\n";
	static const char *const modes[] = { "none", "fast", "safe", NULL };
	struct cfg *c = NULL;
	const char *s = NULL;
	bool b = false;
	int m = -1;

	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", text), 0);
	CHECK_EQ_INT(cfg_bool(c, "t", true, &b), 0);
	CHECK(b);
	CHECK_EQ_INT(cfg_bool(c, "f", true, &b), 0);
	CHECK(!b);
	CHECK_EQ_INT(cfg_string(c, "s", true, &s), 0);
	CHECK_EQ_STR(s, "hello world");
	CHECK_EQ_INT(cfg_enum(c, "m", true, modes, &m), 0);
	CHECK_EQ_INT(m, 2);
	m = 9;
	CHECK_EQ_INT(cfg_enum(c, "nomode", false, modes, &m), 0);
	CHECK_EQ_INT(m, 9);
	CHECK_EQ_INT(cfg_finish(c), 0);
	cfg_free(c);

	EXPECT("a = 1;\nb = 1;\n", cfg_bool(ec, "b", true, &b), -EINVAL,
	       "t.conf:2: b: expected true or false");
	EXPECT("b = \"yes\";\n", cfg_bool(ec, "b", true, &b), -EINVAL, "t.conf:1: b: expected true or false");
	EXPECT("s = 1;\n", cfg_string(ec, "s", true, &s), -EINVAL, "t.conf:1: s: expected a string");
	EXPECT("s = [\"a\"];\n", cfg_string(ec, "s", true, &s), -EINVAL, "t.conf:1: s: expected a string");
	EXPECT("m = \"SAFE\";\n", cfg_enum(ec, "m", true, modes, &m), -EINVAL,
	       "t.conf:1: m: expected one of \"none\", \"fast\", \"safe\"");
	EXPECT("\nm = 2;\n", cfg_enum(ec, "m", true, modes, &m), -EINVAL,
	       "t.conf:2: m: expected one of \"none\", \"fast\", \"safe\"");
}

static void check_size(const char *text, unsigned long long want)
{
	struct cfg *c = NULL;
	unsigned long long v = 0;

	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", text), 0);
	CHECK_EQ_INT(cfg_size(c, "s", true, 0, ULLONG_MAX, &v), 0);
	CHECK_EQ_INT(v, want);
	if (v != want)
		fprintf(stderr, "  (input: %s)\n", text);
	CHECK_EQ_STR(cfg_error(c), NULL);
	cfg_free(c);
}

static void test_size(void)
{
	static const char *const bad[] = {
		"s = \"64X\";",	      "s = \"\";",    "s = \"M\";",    "s = \"64 M\";",
		"s = \"-1\";",	      "s = -1;",      "s = 1.5;",      "s = true;",
		"s = \"1k\";",	      "s = \"+1K\";", "s = \"1KB5\";", "s = \"99999999999999999999\";",
		"s = \"16777216T\";", "s = \"1Ki\";", "s = \" 1K\";",
	};
	unsigned long long v = 0;

	check_size("s = \"64M\";", 67108864);
	check_size("s = \"1G\";", 1073741824);
	check_size("s = \"4096\";", 4096);
	check_size("s = 4096;", 4096);
	check_size("s = \"1KiB\";", 1024);
	check_size("s = \"2MB\";", 2097152);
	check_size("s = \"1T\";", 1099511627776ULL);
	check_size("s = \"10B\";", 10);
	check_size("s = 5000000000L;", 5000000000ULL);
	check_size("s = \"16777215T\";", 16777215ULL << 40);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg *c = NULL;

		CHECK_EQ_INT(cfg_load_string(&c, "t.conf", bad[i]), 0);
		if (cfg_size(c, "s", true, 0, ULLONG_MAX, &v) != -EINVAL)
			fprintf(stderr, "  (accepted: %s)\n", bad[i]);
		CHECK_EQ_STR(cfg_error(c), "t.conf:1: s: expected a size such as 64M (between 0 and "
					   "18446744073709551615 bytes)");
		cfg_free(c);
	}
	EXPECT("\ns = \"1K\";\n", cfg_size(ec, "s", true, 4096, 1ULL << 40, &v), -EINVAL,
	       "t.conf:2: s: expected a size such as 64M (between 4096 and 1099511627776 bytes)");
	EXPECT("s = \"2T\";\n", cfg_size(ec, "s", true, 4096, 1ULL << 40, &v), -EINVAL,
	       "t.conf:1: s: expected a size such as 64M (between 4096 and 1099511627776 bytes)");
}

static void check_duration(const char *text, unsigned long long want)
{
	struct cfg *c = NULL;
	unsigned long long v = 1;

	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", text), 0);
	CHECK_EQ_INT(cfg_duration_ms(c, "d", true, 0, ULLONG_MAX, &v), 0);
	CHECK_EQ_INT(v, want);
	if (v != want)
		fprintf(stderr, "  (input: %s)\n", text);
	CHECK_EQ_STR(cfg_error(c), NULL);
	cfg_free(c);
}

static void test_duration(void)
{
	static const char *const bad[] = {
		"d = \"5x\";",
		"d = \"\";",
		"d = \"-5s\";",
		"d = \"1.5h\";",
		"d = -1;",
		"d = \"s\";",
		"d = \"5 s\";",
		"d = \"1h30\";",
		"d = 1.5;",
		"d = \"99999999999999999999ms\";",
		"d = 9223372036854775807L;",
		"d = \"5S\";",
		"d = \"213503982335d\";",
	};
	unsigned long long v = 0;

	check_duration("d = \"500ms\";", 500);
	check_duration("d = \"30s\";", 30000);
	check_duration("d = \"5min\";", 300000);
	check_duration("d = \"5m\";", 300000);
	check_duration("d = \"1h\";", 3600000);
	check_duration("d = \"2d\";", 172800000);
	check_duration("d = 30;", 30000);
	check_duration("d = 0;", 0);
	check_duration("d = 86400L;", 86400000);
	check_duration("d = \"45\";", 45000);
	check_duration("d = \"1h30min\";", 5400000);
	check_duration("d = \"1m30s250ms\";", 90250);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg *c = NULL;

		CHECK_EQ_INT(cfg_load_string(&c, "t.conf", bad[i]), 0);
		if (cfg_duration_ms(c, "d", true, 0, 86400000, &v) != -EINVAL)
			fprintf(stderr, "  (accepted: %s)\n", bad[i]);
		CHECK_EQ_STR(cfg_error(c),
			     "t.conf:1: d: expected a duration such as 30s or 5min (between 0s and 1d)");
		cfg_free(c);
	}
	EXPECT("\n\nd = \"100ms\";\n", cfg_duration_ms(ec, "d", true, 500, 90000, &v), -EINVAL,
	       "t.conf:3: d: expected a duration such as 30s or 5min (between 500ms and 90s)");
	EXPECT("d = \"2min\";\n", cfg_duration_ms(ec, "d", true, 1000, 60000, &v), -EINVAL,
	       "t.conf:1: d: expected a duration such as 30s or 5min (between 1s and 1min)");
}

static void test_missing_and_paths(void)
{
	static const char text[] = "a = 1;\n"	      /* 1 */
				   "g = {\n"	      /* 2 */
				   "  x = 1;\n"	      /* 3 */
				   "};\n"	      /* 4 */
				   "l = ( 1, 2 );\n"; /* 5 */
	long long v = 0;
	const char *s = NULL;

	EXPECT(text, cfg_int(ec, "top", true, 0, 1, &v), -ENOENT, "t.conf: top: missing required setting");
	EXPECT(text, cfg_int(ec, "g.y", true, 0, 1, &v), -ENOENT, "t.conf:2: g.y: missing required setting");
	EXPECT(text, cfg_string(ec, "no.deep", true, &s), -ENOENT,
	       "t.conf: no.deep: missing required setting");
	EXPECT(text, cfg_int(ec, "l.[2]", true, 0, 1, &v), -ENOENT,
	       "t.conf:5: l.[2]: missing required setting");
	EXPECT(text, cfg_int(ec, "l.[1]", true, 0, 2, &v), 0, NULL);
	EXPECT(text, cfg_int(ec, "a.b", false, 0, 1, &v), -EINVAL, "t.conf:1: a: expected a group");
	EXPECT(text, cfg_int(ec, "a.[0]", false, 0, 1, &v), -EINVAL, "t.conf:1: a: expected a list");
	EXPECT(text, cfg_int(ec, "l.x", false, 0, 1, &v), -EINVAL, "t.conf:5: l: expected a group");
	EXPECT(text, cfg_int(ec, "g.x.[0]", false, 0, 1, &v), -EINVAL, "t.conf:3: g.x: expected a list");
	EXPECT(text, cfg_int(ec, "g..x", false, 0, 1, &v), -EINVAL, "t.conf: g..x: invalid setting path");
	EXPECT(text, cfg_int(ec, "l.[x]", false, 0, 1, &v), -EINVAL, "t.conf: l.[x]: invalid setting path");
	EXPECT(text, cfg_int(ec, "l.[0]x", false, 0, 1, &v), -EINVAL, "t.conf: l.[0]x: invalid setting path");
	EXPECT(text, cfg_int(ec, "", false, 0, 1, &v), -EINVAL, "t.conf: : invalid setting path");
	EXPECT(text, cfg_int(ec, "a.", false, 0, 1, &v), -EINVAL, "t.conf: a.: invalid setting path");

	EXPECT(text, cfg_count(ec, "l"), 2, NULL);
	EXPECT(text, cfg_count(ec, "g"), 1, NULL);
	EXPECT(text, cfg_count(ec, "nope"), 0, NULL);
	EXPECT(text, cfg_count(ec, "a"), -EINVAL, "t.conf:1: a: expected a list");
	EXPECT(text, cfg_exists(ec, "g.x") && !cfg_exists(ec, "g.y") && cfg_exists(ec, "l.[1]"), true, NULL);
}

/* Settings of unknown_text looked up unless the bit is in skip. */
enum {
	SKIP_A = 1,
	SKIP_GY = 2,
	SKIP_EXTRA = 4,
	SKIP_ARR1 = 8,
	SKIP_G = 16,
	EXISTS_A = 32,
};

static const char unknown_text[] = "a = 1;\n"				  /* 1 */
				   "g = {\n"				  /* 2 */
				   "  x = 1;\n"				  /* 3 */
				   "  y = 2;\n"				  /* 4 */
				   "};\n"				  /* 5 */
				   "l = ( { name = \"n\"; port = 1; },\n" /* 6 */
				   "      { name = \"m\";\n"		  /* 7 */
				   "        extra = true; } );\n"	  /* 8 */
				   "arr = [1,\n"			  /* 9 */
				   "       2];\n";			  /* 10 */

static const char *unknown_run(unsigned skip, int *ret)
{
	static char msg[256];
	struct cfg *c = NULL;
	long long v;
	const char *s;
	bool b;

	if (cfg_load_string(&c, "u.conf", unknown_text) != 0)
		abort();
	if (skip & EXISTS_A)
		CHECK(cfg_exists(c, "a"));
	else if (!(skip & SKIP_A))
		CHECK_EQ_INT(cfg_int(c, "a", true, 0, 9, &v), 0);
	if (!(skip & SKIP_G)) {
		CHECK_EQ_INT(cfg_int(c, "g.x", true, 0, 9, &v), 0);
		if (!(skip & SKIP_GY))
			CHECK_EQ_INT(cfg_int(c, "g.y", true, 0, 9, &v), 0);
	}
	CHECK_EQ_INT(cfg_count(c, "l"), 2);
	CHECK_EQ_INT(cfg_string(c, "l.[0].name", true, &s), 0);
	CHECK_EQ_INT(cfg_int(c, "l.[0].port", true, 0, 9, &v), 0);
	CHECK_EQ_INT(cfg_string(c, "l.[1].name", true, &s), 0);
	CHECK_EQ_INT(cfg_int(c, "l.[1].port", false, 0, 9, &v), 0);
	if (!(skip & SKIP_EXTRA))
		CHECK_EQ_INT(cfg_bool(c, "l.[1].extra", true, &b), 0);
	CHECK_EQ_INT(cfg_count(c, "arr"), 2);
	CHECK_EQ_INT(cfg_int(c, "arr.[0]", true, 0, 9, &v), 0);
	if (!(skip & SKIP_ARR1))
		CHECK_EQ_INT(cfg_int(c, "arr.[1]", true, 0, 9, &v), 0);
	*ret = cfg_finish(c);
	snprintf(msg, sizeof(msg), "%s", cfg_error(c) ? cfg_error(c) : "(none)");
	cfg_free(c);
	return msg;
}

static void test_unknown(void)
{
	struct cfg *c = NULL;
	long long v;
	int r = 1;

	CHECK_EQ_STR(unknown_run(0, &r), "(none)");
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_STR(unknown_run(SKIP_A, &r), "u.conf:1: unknown setting 'a'");
	CHECK_EQ_INT(r, -EINVAL);
	CHECK_EQ_STR(unknown_run(EXISTS_A, &r), "u.conf:1: unknown setting 'a'");
	CHECK_EQ_STR(unknown_run(SKIP_GY, &r), "u.conf:4: unknown setting 'g.y'");
	CHECK_EQ_STR(unknown_run(SKIP_G, &r), "u.conf:2: unknown setting 'g'");
	CHECK_EQ_STR(unknown_run(SKIP_EXTRA, &r), "u.conf:8: unknown setting 'l.[1].extra'");
	CHECK_EQ_STR(unknown_run(SKIP_ARR1, &r), "u.conf:10: unknown setting 'arr.[1]'");
	/* The first in file order wins. */
	CHECK_EQ_STR(unknown_run(SKIP_EXTRA | SKIP_GY, &r), "u.conf:4: unknown setting 'g.y'");

	/* An error recorded earlier makes cfg_finish fail too, and stays first. */
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 1;\nb = 2;\n"), 0);
	CHECK_EQ_INT(cfg_int(c, "a", true, 5, 9, &v), -EINVAL);
	CHECK_EQ_INT(cfg_finish(c), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:1: a: expected an integer between 5 and 9");
	cfg_free(c);
	/* An empty file is fine. */
	EXPECT("# nothing\n", cfg_finish(ec), 0, NULL);
}

static void test_first_error(void)
{
	struct cfg *c = NULL;
	long long v = 0;
	bool b = false;

	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = \"x\";\nb = \"y\";\n"), 0);
	CHECK_EQ_INT(cfg_int(c, "a", true, 0, 1, &v), -EINVAL);
	CHECK_EQ_INT(cfg_bool(c, "b", true, &b), -EINVAL);
	CHECK_EQ_INT(cfg_int(c, "zz", true, 0, 1, &v), -ENOENT);
	CHECK_EQ_INT(cfg_fail(c, "b", "custom"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:1: a: expected an integer between 0 and 1");
	cfg_free(c);

	EXPECT("a = 1;\nb = 2;\n", cfg_fail(ec, "b", "must be less than %s", "a"), -EINVAL,
	       "t.conf:2: b: must be less than a");
	EXPECT("a = 1;\ng = {\n};\n", cfg_fail(ec, "g.zz", "needs %d", 3), -EINVAL,
	       "t.conf:2: g.zz: needs 3");
	EXPECT("a = 1;\n", cfg_fail(ec, "zz", "bad"), -EINVAL, "t.conf: zz: bad");
	EXPECT("a = 1;\n", cfg_fail(ec, NULL, "no %s at all", "collector"), -EINVAL,
	       "t.conf: no collector at all");
}

static void test_syntax(void)
{
	struct cfg *c = NULL;

	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 1;\nb = ;\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:2: syntax error");
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 1;\n\na = 2;\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:3: syntax error: duplicate setting name");
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = [1, \"x\"];\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:1: syntax error: mismatched element type in array");
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 1;\nb = \"x\\\"y;\n# c\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:2: syntax error: unterminated string");
	cfg_free(c);
	c = NULL;
	/* Unterminated at end of input: libconfig reports the line after the last newline. */
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 1;\ng = {\n  x = 1;\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:4: syntax error");
	cfg_free(c);
}

/* libconfig 1.5 would store these wrapped or saturated. */
static void test_integer_range(void)
{
	static const char ok[] =
		"a = 2147483647;\n"
		"b = -2147483648;\n"
		"c = 0xFFFFFFFF;\n"
		"d = 9223372036854775807L;\n"
		"e = -9223372036854775808L;\n"
		"f = \"5000000000 \\\" 5000000000\"; # 5000000000\n"
		"/* 5000000000\n 5000000000 */ g = 1e300; h-1 = 0x7FFFFFFFFFFFFFFFL; // 5000000000\n"
		"i = [1.5e+10, -2.5E-3, .5, 5.];\n"
		"j = 0xFFFFFFFFFFFFFFFFL;\n";
	struct cfg *c = NULL;
	long long v = 0;

	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", ok), 0);
	CHECK_EQ_STR(cfg_error(c), NULL);
	CHECK_EQ_INT(cfg_int(c, "c", true, LLONG_MIN, LLONG_MAX, &v), 0);
	CHECK_EQ_INT(v, -1);
	cfg_free(c);
	c = NULL;

	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 1;\nb = 5000000000;\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c),
		     "t.conf:2: integer 5000000000 out of range (append L for a 64-bit integer)");
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = [1,\n -2147483649];\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c),
		     "t.conf:2: integer -2147483649 out of range (append L for a 64-bit integer)");
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 0x1FFFFFFFF;\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c),
		     "t.conf:1: integer 0x1FFFFFFFF out of range (append L for a 64-bit integer)");
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 9223372036854775808L;\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:1: integer 9223372036854775808L out of range (64 bits at most)");
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = 0x10000000000000000LL;\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:1: integer 0x10000000000000000LL out of range (64 bits at most)");
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load_string(&c, "t.conf", "a = \"x\";\nb = \"ab\\x00cd\";\n"), -EINVAL);
	CHECK_EQ_STR(cfg_error(c), "t.conf:2: NUL character (\\x00) in string");
	cfg_free(c);
}

static void test_files(void)
{
	static const char good[] = "a = 1;\n"
				   "b = \"x\";\n";
	static const char nul[] = "a = 1;\nb = 2;\0\n";
	struct cfg *c = NULL;
	char *path, *sub, *inc, *want;
	long long v = 0;

	path = write_file("good.conf", good, sizeof(good) - 1);
	CHECK_EQ_INT(cfg_load(&c, path), 0);
	CHECK_EQ_INT(cfg_int(c, "a", true, 0, 1, &v), 0);
	CHECK_EQ_INT(v, 1);
	CHECK_EQ_INT(cfg_int(c, "b", true, 0, 1, &v), -EINVAL);
	if (asprintf(&want, "%s:2: b: expected an integer between 0 and 1", path) < 0)
		abort();
	CHECK_EQ_STR(cfg_error(c), want);
	free(want);
	cfg_free(c);
	free(path);

	path = write_file("bad.conf", "a = 1;\nb = 2\nc = = 3;\n", strlen("a = 1;\nb = 2\nc = = 3;\n"));
	c = NULL;
	CHECK_EQ_INT(cfg_load(&c, path), -EINVAL);
	if (asprintf(&want, "%s:3: syntax error", path) < 0)
		abort();
	CHECK_EQ_STR(cfg_error(c), want);
	free(want);
	cfg_free(c);
	free(path);

	path = write_file("nul.conf", nul, sizeof(nul) - 1);
	c = NULL;
	CHECK_EQ_INT(cfg_load(&c, path), -EINVAL);
	if (asprintf(&want, "%s:2: syntax error: NUL byte", path) < 0)
		abort();
	CHECK_EQ_STR(cfg_error(c), want);
	free(want);
	cfg_free(c);
	free(path);

	path = write_file("empty.conf", "", 0);
	c = NULL;
	CHECK_EQ_INT(cfg_load(&c, path), 0);
	CHECK_EQ_INT(cfg_finish(c), 0);
	cfg_free(c);
	free(path);

	if (asprintf(&path, "%s/missing.conf", tmpdir) < 0 ||
	    asprintf(&want, "%s: cannot open: %s", path, strerror(ENOENT)) < 0)
		abort();
	c = NULL;
	CHECK_EQ_INT(cfg_load(&c, path), -ENOENT);
	CHECK_EQ_STR(cfg_error(c), want);
	free(want);
	cfg_free(c);
	free(path);

	/* libconfig's own reader would exit() here. */
	c = NULL;
	CHECK_EQ_INT(cfg_load(&c, tmpdir), -EISDIR);
	if (asprintf(&want, "%s: cannot read: %s", tmpdir, strerror(EISDIR)) < 0)
		abort();
	CHECK_EQ_STR(cfg_error(c), want);
	free(want);
	cfg_free(c);

	/* Settings from an included file are reported with its name. */
	sub = write_file("sub.conf", "# sub\nx = \"s\";\ny = 1;\n", strlen("# sub\nx = \"s\";\ny = 1;\n"));
	if (asprintf(&inc, "a = 1;\n@include \"%s\"\n", sub) < 0)
		abort();
	path = write_file("inc.conf", inc, strlen(inc));
	c = NULL;
	CHECK_EQ_INT(cfg_load(&c, path), 0);
	CHECK_EQ_INT(cfg_int(c, "a", true, 0, 1, &v), 0);
	CHECK_EQ_INT(cfg_int(c, "x", true, 0, 1, &v), -EINVAL);
	if (asprintf(&want, "%s:2: x: expected an integer between 0 and 1", sub) < 0)
		abort();
	CHECK_EQ_STR(cfg_error(c), want);
	free(want);
	cfg_free(c);
	c = NULL;
	CHECK_EQ_INT(cfg_load(&c, path), 0);
	CHECK_EQ_INT(cfg_int(c, "a", true, 0, 1, &v), 0);
	CHECK_EQ_INT(cfg_int(c, "y", true, 0, 1, &v), 0);
	CHECK_EQ_INT(cfg_finish(c), -EINVAL);
	if (asprintf(&want, "%s:2: unknown setting 'x'", sub) < 0)
		abort();
	CHECK_EQ_STR(cfg_error(c), want);
	free(want);
	cfg_free(c);
	unlink(path);
	unlink(sub);
	free(path);
	free(sub);
	free(inc);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_int();
	test_bool_string_enum();
	test_size();
	test_duration();
	test_missing_and_paths();
	test_unknown();
	test_first_error();
	test_syntax();
	test_integer_range();
	test_files();

	static const char *const files[] = { "good.conf", "bad.conf", "nul.conf", "empty.conf" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *p;

		if (asprintf(&p, "%s/%s", tmpdir, files[i]) >= 0) {
			unlink(p);
			free(p);
		}
	}
	rmdir(tmpdir);
	return CHECK_DONE();
}
