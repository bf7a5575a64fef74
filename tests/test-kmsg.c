/* SPDX-License-Identifier: ISC */

/*
 * kmsg.c: records as /dev/kmsg gives them (samples from real kernels),
 * every header and dictionary form, escapes, malformed headers, scratch
 * bounds and kmsg_record_span on concatenated input.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kmsg.h"
#include "record.h"

#define SCRATCH_MAX (1 << 18)
static uint8_t scratch[SCRATCH_MAX];

/* A record pre-filled with a pattern, to see what the parser touched. */
static void poison(struct record *r)
{
	memset(r, 0x5a, sizeof(*r));
}

/* The input is copied to a buffer of exactly len bytes, so that ASan sees any read past it. */
static int parse_n(const char *s, size_t len, struct record *r)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	if (!copy)
		abort();
	memcpy(copy, s, len);
	ret = kmsg_parse(copy, len, r, scratch, sizeof(scratch));
	free(copy);
	return ret;
}

static int parse(const char *s, struct record *r)
{
	return parse_n(s, strlen(s), r);
}

/* Field idx of r is exactly want[0..wlen). */
static void check_field_n(const struct record *r, unsigned idx, const char *want, size_t wlen, int line)
{
	const uint8_t *f = NULL;
	size_t off = 0, flen = 0;
	unsigned i;

	for (i = 0; i <= idx; i++) {
		if (!record_field_next(r, &off, &f, &flen))
			break;
	}
	if (i <= idx) {
		fprintf(stderr, "%s:%d: field %u missing (want \"%s\")\n", __FILE__, line, idx, want);
		check_failures++;
	} else if (flen != wlen || memcmp(f, want, wlen) != 0) {
		fprintf(stderr, "%s:%d: field %u: \"%.*s\" != \"%s\"\n", __FILE__, line, idx, (int)flen,
			(const char *)f, want);
		check_failures++;
	}
}
#define CHECK_FIELD(r, idx, want) check_field_n((r), (idx), (want), strlen(want), __LINE__)
#define CHECK_FIELD_N(r, idx, want, n) check_field_n((r), (idx), (want), (n), __LINE__)

static void check_msg_n(const struct record *r, const char *want, size_t wlen, int line)
{
	if (r->msg_len != wlen || memcmp(r->msg, want, wlen) != 0) {
		fprintf(stderr, "%s:%d: msg \"%.*s\" != \"%s\"\n", __FILE__, line, (int)r->msg_len,
			(const char *)r->msg, want);
		check_hex("msg ", r->msg, r->msg_len);
		check_hex("want", want, wlen);
		check_failures++;
	}
}
#define CHECK_MSG(r, want) check_msg_n((r), (want), strlen(want), __LINE__)
#define CHECK_MSG_N(r, want, n) check_msg_n((r), (want), (n), __LINE__)

/* Malformed: -EBADMSG and rec untouched. */
static void check_bad_n(const char *s, size_t len, int line)
{
	struct record r, before;
	int ret;

	poison(&r);
	before = r;
	ret = parse_n(s, len, &r);
	if (ret != -EBADMSG || memcmp(&r, &before, sizeof(r)) != 0) {
		fprintf(stderr, "%s:%d: \"%.*s\": want -EBADMSG and rec untouched, got %d\n", __FILE__, line,
			(int)len, s, ret);
		check_failures++;
	}
}
#define CHECK_BAD(s) check_bad_n((s), strlen(s), __LINE__)

static void test_real(void)
{
	struct record r;
	uint8_t boot[RECORD_BOOT_ID_LEN];

	/* USB hotplug, as a 5.x/6.x kernel prints it. */
	poison(&r);
	memset(boot, 0x5a, sizeof(boot));
	CHECK_EQ_INT(parse("6,1234,5678901,-;usb 1-1: new high-speed USB device number 2 using xhci_hcd\n"
			   " SUBSYSTEM=usb\n"
			   " DEVICE=c189:1\n",
			   &r),
		     0);
	CHECK_EQ_INT(r.source, RECORD_SRC_KMSG);
	CHECK_EQ_INT(r.level, 6);
	CHECK_EQ_INT(r.facility, 0);
	CHECK_EQ_INT(r.flags, 0);
	CHECK_EQ_INT(r.event, RECORD_EV_NONE);
	CHECK(r.kmsg_seq == 1234);
	CHECK(r.mono_usec == 5678901);
	CHECK_MSG(&r, "usb 1-1: new high-speed USB device number 2 using xhci_hcd");
	CHECK_EQ_INT(r.nfields, 2);
	CHECK_FIELD(&r, 0, "SUBSYSTEM=usb");
	CHECK_FIELD(&r, 1, "DEVICE=c189:1");
	CHECK_EQ_INT(r.fields_len, 2 + 13 + 2 + 13);
	/* Left for the caller. */
	CHECK(r.stream_seq == UINT64_C(0x5a5a5a5a5a5a5a5a));
	CHECK(r.real_usec == UINT64_C(0x5a5a5a5a5a5a5a5a));
	CHECK_EQ_MEM(r.boot_id, boot, sizeof(boot));

	/* From a 6.18 kernel: ACPI device dictionary. */
	CHECK_EQ_INT(parse("6,196,164840,-;acpi PNP0A08:00: _OSC: OS supports [ExtendedConfig ASPM ClockPM "
			   "Segments MSI HPX-Type3]\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n",
			   &r),
		     0);
	CHECK(r.kmsg_seq == 196);
	CHECK(r.mono_usec == 164840);
	CHECK_MSG(&r,
		  "acpi PNP0A08:00: _OSC: OS supports [ExtendedConfig ASPM ClockPM Segments MSI HPX-Type3]");
	CHECK_EQ_INT(r.nfields, 2);
	CHECK_FIELD(&r, 0, "SUBSYSTEM=acpi");
	CHECK_FIELD(&r, 1, "DEVICE=+acpi:PNP0A08:00");

	/* The first record of a boot: seq 0, timestamp 0, level 5. */
	CHECK_EQ_INT(
		parse("5,0,0,-;Linux version 6.18.44-fc-v857 (builder@sandboxing) #1 SMP PREEMPT_DYNAMIC\n",
		      &r),
		0);
	CHECK_EQ_INT(r.level, 5);
	CHECK(r.kmsg_seq == 0);
	CHECK(r.mono_usec == 0);
	CHECK_EQ_INT(r.nfields, 0);
	CHECK_EQ_INT(r.fields_len, 0);

	/* A tab, escaped by the kernel. */
	CHECK_EQ_INT(
		parse("6,89,106133,-;rcu: \\x09RCU restricting CPUs from NR_CPUS=256 to nr_cpu_ids=2.\n", &r),
		0);
	CHECK_MSG(&r, "rcu: \tRCU restricting CPUs from NR_CPUS=256 to nr_cpu_ids=2.");

	/* Network device dictionary, debug level, caller id (CONFIG_PRINTK_CALLER). */
	CHECK_EQ_INT(
		parse("7,2210,81234567,-,caller=T1543;e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps\n"
		      " SUBSYSTEM=net\n DEVICE=n2\n",
		      &r),
		0);
	CHECK_EQ_INT(r.level, 7);
	CHECK_EQ_INT(r.nfields, 3);
	CHECK_FIELD(&r, 0, "KMSG_HDR_CALLER=T1543");
	CHECK_FIELD(&r, 1, "SUBSYSTEM=net");
	CHECK_FIELD(&r, 2, "DEVICE=n2");
}

static void test_header_fields(void)
{
	struct record r;
	const uint8_t *v;
	size_t vlen;

	/* caller=, no trailing newline. */
	CHECK_EQ_INT(parse("6,339,5140900,-,caller=T1;text", &r), 0);
	CHECK(r.kmsg_seq == 339);
	CHECK_MSG(&r, "text");
	CHECK_EQ_INT(r.nfields, 1);
	CHECK_FIELD(&r, 0, "KMSG_HDR_CALLER=T1");
	CHECK_EQ_INT(record_field_get(&r, "KMSG_HDR_CALLER", &v, &vlen), 1);
	CHECK_EQ_INT(vlen, 2);
	CHECK_EQ_MEM(v, "T1", 2);

	/* CPU context caller. */
	CHECK_EQ_INT(parse("4,340,5140901,-,caller=C0;x\n", &r), 0);
	CHECK_EQ_INT(r.level, 4);
	CHECK_FIELD(&r, 0, "KMSG_HDR_CALLER=C0");

	/* Several: upper-cased names; '=' in values; bad names, no '=', empty kept raw. */
	CHECK_EQ_INT(parse("6,1,2,-,a=1,foo_Bar9=x=y,bad-name=v,novalue;t", &r), 0);
	CHECK_EQ_INT(r.nfields, 4);
	CHECK_FIELD(&r, 0, "KMSG_HDR_A=1");
	CHECK_FIELD(&r, 1, "KMSG_HDR_FOO_BAR9=x=y");
	CHECK_FIELD(&r, 2, "KMSG_HDR=bad-name=v");
	CHECK_FIELD(&r, 3, "KMSG_HDR=novalue");
	CHECK_MSG(&r, "t");

	CHECK_EQ_INT(parse("6,1,2,-,=v,b=,;t", &r), 0);
	CHECK_EQ_INT(r.nfields, 3);
	CHECK_FIELD(&r, 0, "KMSG_HDR==v");
	CHECK_FIELD(&r, 1, "KMSG_HDR_B=");
	CHECK_FIELD(&r, 2, "KMSG_HDR=");

	/* Header values are not unescaped (the kernel does not escape them). */
	CHECK_EQ_INT(parse("6,1,2,-,x=\\x41;t", &r), 0);
	CHECK_FIELD(&r, 0, "KMSG_HDR_X=\\x41");

	/* From the fifth extra field on, the rest of the header stays whole. */
	CHECK_EQ_INT(parse("6,1,2,-,a=1,b=2,c=3,d=4,e=5,f=6,,g;text", &r), 0);
	CHECK_EQ_INT(r.nfields, 5);
	CHECK_FIELD(&r, 3, "KMSG_HDR_D=4");
	CHECK_FIELD(&r, 4, "KMSG_HDR=e=5,f=6,,g");
	CHECK_MSG(&r, "text");
	CHECK_EQ_INT(parse("6,1,2,-,a=1,b=2,c=3,d=4,;x", &r), 0);
	CHECK_EQ_INT(r.nfields, 5);
	CHECK_FIELD(&r, 4, "KMSG_HDR=");

	/* Header fields come before dictionary fields. */
	CHECK_EQ_INT(parse("6,1,2,+,caller=T9;t\n SUBSYSTEM=usb\n", &r), 0);
	CHECK_EQ_INT(r.nfields, 3);
	CHECK_FIELD(&r, 0, "KMSG_FLAGS=+");
	CHECK_FIELD(&r, 1, "KMSG_HDR_CALLER=T9");
	CHECK_FIELD(&r, 2, "SUBSYSTEM=usb");
}

static void test_flags(void)
{
	struct record r;

	CHECK_EQ_INT(parse("6,1,2,-;t", &r), 0);
	CHECK_EQ_INT(r.flags, 0);
	CHECK_EQ_INT(r.nfields, 0);

	CHECK_EQ_INT(parse("4,10,20,c;fragment start", &r), 0);
	CHECK_EQ_INT(r.flags, RECORD_F_FRAGMENT);
	CHECK_EQ_INT(r.nfields, 0);
	CHECK_MSG(&r, "fragment start");

	/* '+' is a fragment too and keeps its difference from 'c' in a field. */
	CHECK_EQ_INT(parse("4,11,21,+; more\n", &r), 0);
	CHECK_EQ_INT(r.flags, RECORD_F_FRAGMENT);
	CHECK_EQ_INT(r.nfields, 1);
	CHECK_FIELD(&r, 0, "KMSG_FLAGS=+");
	CHECK_MSG(&r, " more");

	CHECK_EQ_INT(parse("4,12,22,c,caller=T5;x", &r), 0);
	CHECK_EQ_INT(r.flags, RECORD_F_FRAGMENT);
	CHECK_FIELD(&r, 0, "KMSG_HDR_CALLER=T5");

	/* No FLAGS field, or an empty one: a whole record. */
	CHECK_EQ_INT(parse("6,1,2;t", &r), 0);
	CHECK_EQ_INT(r.flags, 0);
	CHECK_EQ_INT(r.nfields, 0);
	CHECK(r.mono_usec == 2);
	CHECK_EQ_INT(parse("6,1,2,;t", &r), 0);
	CHECK_EQ_INT(r.flags, 0);
	CHECK_EQ_INT(r.nfields, 0);

	/* Unknown FLAGS: a whole record, the value kept. */
	CHECK_EQ_INT(parse("6,1,2,x;t", &r), 0);
	CHECK_EQ_INT(r.flags, 0);
	CHECK_EQ_INT(r.nfields, 1);
	CHECK_FIELD(&r, 0, "KMSG_FLAGS=x");
	CHECK_EQ_INT(parse("6,1,2,-c;t", &r), 0);
	CHECK_EQ_INT(r.flags, 0);
	CHECK_FIELD(&r, 0, "KMSG_FLAGS=-c");
}

static void test_pri(void)
{
	static const struct {
		const char *line;
		unsigned facility, level;
	} t[] = {
		{ "0,1,2,-;emerg", 0, 0 },
		{ "7,1,2,-;kern debug", 0, 7 },
		{ "14,1,2,-;user info", 1, 6 },	    /* LOG_USER | LOG_INFO, e.g. echo > /dev/kmsg */
		{ "30,1,2,-;daemon info", 3, 6 },   /* LOG_DAEMON */
		{ "190,1,2,-;local7 info", 23, 6 }, /* LOG_LOCAL7 */
		{ "1000,1,2,-;large", 125, 0 },
		{ "0000012,1,2,-;leading zeros", 1, 4 },
		{ "524287,1,2,-;largest", 65535, 7 },
	};
	struct record r;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		poison(&r);
		CHECK_EQ_INT(parse(t[i].line, &r), 0);
		CHECK_EQ_INT(r.facility, t[i].facility);
		CHECK_EQ_INT(r.level, t[i].level);
	}
	CHECK_BAD("524288,1,2,-;too large for a u16 facility");
	CHECK_BAD("18446744073709551615,1,2,-;t");
}

static void test_numbers(void)
{
	struct record r;

	CHECK_EQ_INT(parse("6,18446744073709551615,18446744073709551615,-;max", &r), 0);
	CHECK(r.kmsg_seq == UINT64_MAX);
	CHECK(r.mono_usec == UINT64_MAX);
	CHECK_EQ_INT(parse("6,0,0,-;", &r), 0);
	CHECK(r.kmsg_seq == 0);
	CHECK_EQ_INT(r.msg_len, 0);
	CHECK_BAD("6,18446744073709551616,2,-;seq overflow");
	CHECK_BAD("6,1,18446744073709551616,-;ts overflow");
	CHECK_BAD("6,1,99999999999999999999,-;ts overflow");
	CHECK_BAD("18446744073709551616,1,2,-;pri overflow");
}

static void test_escapes(void)
{
	struct record r;

	CHECK_EQ_INT(parse("6,1,2,-;a\\x0ab\\x5cc\\x7fd\\xffe\\x41\\x4Af\\x4a", &r), 0);
	CHECK_MSG_N(&r,
		    "a\nb\\c\x7f"
		    "d\xff"
		    "eAJfJ",
		    13);

	/* Upper- and lower-case hex are the same byte. */
	CHECK_EQ_INT(parse("6,1,2,-;\\xFF\\xff\\xAb\\x00", &r), 0);
	CHECK_MSG_N(&r, "\xff\xff\xab\x00", 4);

	/* A lone backslash stays; incomplete or invalid escapes stay as they are. */
	CHECK_EQ_INT(parse("6,1,2,-;a\\b\\", &r), 0);
	CHECK_MSG(&r, "a\\b\\");
	CHECK_EQ_INT(parse("6,1,2,-;end\\x4", &r), 0);
	CHECK_MSG(&r, "end\\x4");
	CHECK_EQ_INT(parse("6,1,2,-;end\\x", &r), 0);
	CHECK_MSG(&r, "end\\x");
	CHECK_EQ_INT(parse("6,1,2,-;\\x4g\\xg4\\X41\\\\x41", &r), 0);
	CHECK_MSG(&r, "\\x4g\\xg4\\X41\\A");
	/* Decoded once: an escaped backslash does not start another escape. */
	CHECK_EQ_INT(parse("6,1,2,-;\\x5cx41", &r), 0);
	CHECK_MSG(&r, "\\x41");

	/* A message with embedded newlines keeps them; the raw newline ends the text. */
	CHECK_EQ_INT(parse("4,5,6,-;line one\\x0aline two\\x0a\n SUBSYSTEM=x\n", &r), 0);
	CHECK_MSG(&r, "line one\nline two\n");
	CHECK_EQ_INT(r.nfields, 1);

	/* ';' and ',' in the text are text. */
	CHECK_EQ_INT(parse("6,1,2,-;a;b,c=d", &r), 0);
	CHECK_MSG(&r, "a;b,c=d");
	CHECK_EQ_INT(r.nfields, 0);
}

static void test_dictionary(void)
{
	struct record r;

	CHECK_EQ_INT(parse("6,1,2,-;t\n"
			   " DEVICE=+usb:1-1\\x0a\n"
			   " KEY=a\\x3db\\x5c\n"
			   " NOEQUALS\\x41\n"
			   " =lead\n"
			   " =\\x41\n"
			   " \n"
			   " K\\x41Y=v\n"
			   " EMPTY=\n"
			   " LAST=no newline",
			   &r),
		     0);
	CHECK_MSG(&r, "t");
	CHECK_EQ_INT(r.nfields, 9);
	CHECK_FIELD(&r, 0, "DEVICE=+usb:1-1\n");
	CHECK_FIELD(&r, 1, "KEY=a=b\\");
	CHECK_FIELD(&r, 2, "NOEQUALS\\x41");
	CHECK_FIELD(&r, 3, "=lead");
	CHECK_FIELD(&r, 4, "=\\x41");
	CHECK_FIELD(&r, 5, "");
	CHECK_FIELD(&r, 6, "K\\x41Y=v");
	CHECK_FIELD(&r, 7, "EMPTY=");
	CHECK_FIELD(&r, 8, "LAST=no newline");
	CHECK_EQ_INT(r.flags, 0);

	/* Binary values survive (a NUL byte escaped). */
	CHECK_EQ_INT(parse("6,1,2,-;t\n V=\\x00\\x01\n", &r), 0);
	CHECK_FIELD_N(&r, 0, "V=\x00\x01", 4);

	/* Trailing newline optional on the text line. */
	CHECK_EQ_INT(parse("6,1,2,-;t\n", &r), 0);
	CHECK_MSG(&r, "t");
	CHECK_EQ_INT(r.nfields, 0);
	CHECK_EQ_INT(parse("6,1,2,-;", &r), 0);
	CHECK_EQ_INT(r.msg_len, 0);
}

static void test_malformed(void)
{
	static const char nul_header[] = "6,1\0,2,-;t";

	CHECK_BAD("");
	CHECK_BAD("\n");
	CHECK_BAD(";text");
	CHECK_BAD("no comma or semicolon");
	CHECK_BAD("no comma;text");
	CHECK_BAD("6;text");
	CHECK_BAD("6,1;text");
	CHECK_BAD("6,1,;text");
	CHECK_BAD(",1,2,-;empty pri");
	CHECK_BAD("6,,2,-;empty seq");
	CHECK_BAD("6,1,,-;empty ts");
	CHECK_BAD("x,1,2,-;non-digit");
	CHECK_BAD("6,1a,2,-;non-digit");
	CHECK_BAD("6,1,2x,-;non-digit");
	CHECK_BAD("6,0x10,2,-;hex");
	CHECK_BAD("+6,1,2,-;sign");
	CHECK_BAD("-6,1,2,-;sign");
	CHECK_BAD(" 6,1,2,-;space");
	CHECK_BAD("6 ,1,2,-;space");
	CHECK_BAD("6,1,2,-");
	CHECK_BAD("6,1,2,-\n;semicolon on the next line");
	CHECK_BAD("6,1,2,-;t\nnot a dictionary line\n");
	CHECK_BAD("6,1,2,-;t\n SUBSYSTEM=usb\n6,2,3,-;next record\n");
	CHECK_BAD("6,1,2,-;t\n\n");
	check_bad_n(nul_header, sizeof(nul_header) - 1, __LINE__);
}

static void test_scratch(void)
{
	/* Growth of the worst kind: '+' flags and five KMSG_HDR fields from minimal input. */
	static const char *const worst[] = {
		"0,0,0,+,,,,,;",
		"0,0,0,+,,,,,",
		"0,0,0,+,,,,,,,,,,,,;",
		"0,0,0,xy,a=,b=,c=,d=,e;",
		"0,0,0,+;\n \n \n \n ",
		"0,0,0,+,=,=,=,=,=;\n X\n Y",
		"0,0,0,+,a,b,c,d,e;\\x41\n K=\\x41\n ",
	};
	static const char line[] = "6,1,2,c,caller=T1;hello\n SUBSYSTEM=usb\n";
	struct record r, before;

	for (size_t i = 0; i < sizeof(worst) / sizeof(worst[0]); i++) {
		size_t len = strlen(worst[i]);
		int ret;

		/* The promise of kmsg.h: len + 64 is always enough. */
		ret = kmsg_parse((const uint8_t *)worst[i], len, &r, scratch, len + 64);
		if (strchr(worst[i], ';') == NULL) {
			CHECK_EQ_INT(ret, -EBADMSG);
			continue;
		}
		CHECK_EQ_INT(ret, 0);
		if (ret == 0)
			CHECK(r.msg_len + r.fields_len <= len + 64);
	}

	/* Too small: -ENOSPC, rec untouched, at every size below what it needs. */
	CHECK_EQ_INT(parse(line, &r), 0);
	for (size_t cap = 0; cap < r.msg_len + r.fields_len; cap++) {
		struct record t;

		poison(&t);
		before = t;
		CHECK_EQ_INT(kmsg_parse((const uint8_t *)line, sizeof(line) - 1, &t, scratch, cap), -ENOSPC);
		CHECK(memcmp(&t, &before, sizeof(t)) == 0);
	}
	CHECK_EQ_INT(
		kmsg_parse((const uint8_t *)line, sizeof(line) - 1, &r, scratch, r.msg_len + r.fields_len),
		0);
	CHECK_FIELD(&r, 0, "KMSG_HDR_CALLER=T1");
	CHECK_FIELD(&r, 1, "SUBSYSTEM=usb");
}

/* Limits of the record encoding: cut and flagged, not rejected. */
static void test_truncation(void)
{
	static const char head[] = "6,1,2,-;long\n LONG=";
	size_t vlen = 70000, len = sizeof(head) - 1 + vlen + 1, n;
	char *in = malloc(200000);
	struct record r;

	CHECK(in != NULL);
	if (!in)
		return;
	memcpy(in, head, sizeof(head) - 1);
	memset(in + sizeof(head) - 1, 'v', vlen);
	in[len - 1] = '\n';
	CHECK_EQ_INT(parse_n(in, len, &r), 0);
	CHECK_EQ_INT(r.flags, RECORD_F_TRUNCATED);
	CHECK_EQ_INT(r.nfields, 1);
	CHECK_EQ_INT(r.fields_len, 2 + UINT16_MAX);
	CHECK_EQ_INT(get_be16(r.fields), UINT16_MAX);
	CHECK_EQ_MEM(r.fields + 2, "LONG=vvvv", 9);
	CHECK_EQ_INT(r.fields[2 + UINT16_MAX - 1], 'v');

	/* 70000 dictionary lines: 65535 fields kept. */
	n = (size_t)snprintf(in, 32, "6,1,2,-;many\n");
	for (size_t i = 0; i < 70000; i++) {
		in[n++] = ' ';
		in[n++] = '\n';
	}
	CHECK_EQ_INT(parse_n(in, n, &r), 0);
	CHECK_EQ_INT(r.flags, RECORD_F_TRUNCATED);
	CHECK_EQ_INT(r.nfields, UINT16_MAX);
	CHECK_EQ_INT(r.fields_len, 2 * UINT16_MAX);
	CHECK_MSG(&r, "many");

	/* A long text is not cut: the message length is 32 bits. */
	n = (size_t)snprintf(in, 32, "6,1,2,-;");
	memset(in + n, 'm', 100000);
	CHECK_EQ_INT(parse_n(in, n + 100000, &r), 0);
	CHECK_EQ_INT(r.flags, 0);
	CHECK_EQ_INT(r.msg_len, 100000);
	free(in);
}

/* A parsed record survives the binary encoding. */
static void test_encode(void)
{
	uint8_t enc[RECORD_MAX];
	struct record r, d;
	int n;

	CHECK_EQ_INT(parse("3,77,123,c,caller=T2;err\\x0a\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:01.0\n", &r),
		     0);
	r.stream_seq = 9;
	r.real_usec = 10;
	memset(r.boot_id, 0xb0, sizeof(r.boot_id));
	n = record_encode(&r, enc, sizeof(enc));
	CHECK(n > 0);
	CHECK_EQ_INT(record_decode(enc, (size_t)(n > 0 ? n : 0), &d), 0);
	CHECK_EQ_INT(d.level, 3);
	CHECK_EQ_INT(d.flags, RECORD_F_FRAGMENT);
	CHECK(d.kmsg_seq == 77);
	CHECK_MSG(&d, "err\n");
	CHECK_EQ_INT(d.nfields, 3);
	CHECK_FIELD(&d, 2, "DEVICE=+pci:0000:00:01.0");
}

static size_t span(const char *s, size_t avail, int at_eof)
{
	return kmsg_record_span((const uint8_t *)s, avail, at_eof);
}

static void test_span(void)
{
	static const char *const recs[] = {
		"6,1234,5678901,-;usb 1-1: new high-speed USB device\n SUBSYSTEM=usb\n DEVICE=c189:1\n",
		"6,1235,5678950,-,caller=T7;plain\n",
		"4,1236,5678999,c;frag\n",
		"6,1237,5679000,-;two dict\n A=1\n B=\\x0a\n",
		"6,1238,5679001,-;last",
	};
	char all[512];
	size_t off[6], total = 0, pos, k;
	struct record r;

	for (k = 0; k < 5; k++) {
		off[k] = total;
		memcpy(all + total, recs[k], strlen(recs[k]));
		total += strlen(recs[k]);
	}
	off[5] = total;

	/* Walk the concatenation as a file: each span is one record, which parses. */
	pos = 0;
	for (k = 0; k < 5 && pos < total; k++) {
		size_t n = span(all + pos, total - pos, 1);

		CHECK_EQ_INT(pos, off[k]);
		CHECK_EQ_INT(n, strlen(recs[k]));
		if (n == 0)
			break;
		CHECK_EQ_INT(parse_n(all + pos, n, &r), 0);
		CHECK(r.kmsg_seq == 1234 + k);
		pos += n;
	}
	CHECK_EQ_INT(k, 5);
	CHECK_EQ_INT(pos, total);

	/* Without EOF the last record, and any record ending the buffer, is undecided. */
	CHECK_EQ_INT(span(all + off[4], total - off[4], 0), 0);
	CHECK_EQ_INT(span(all, off[1], 0), 0);
	CHECK_EQ_INT(span(all, off[1], 1), off[1]);
	CHECK_EQ_INT(span(all, off[1] + 1, 0), off[1]);

	/* Every prefix: 0 or the right span, never more than avail; EOF settles it. */
	for (size_t avail = 0; avail <= total; avail++) {
		size_t n0 = span(all, avail, 0), n1 = span(all, avail, 1);
		size_t want_eof = avail > off[1] ? off[1] : avail;

		CHECK(n0 <= avail && n1 <= avail);
		CHECK_EQ_INT(n0, avail > off[1] ? off[1] : 0);
		/* At EOF the cut-off first record is whatever complete or final lines there are. */
		CHECK_EQ_INT(n1, want_eof);
	}

	/* Split header. */
	CHECK_EQ_INT(span("6,1,2,-;abc", 11, 0), 0);
	CHECK_EQ_INT(span("6,1,2,-;abc", 11, 1), 11);
	CHECK_EQ_INT(span("6,1,2", 5, 0), 0);
	/* Partial dictionary line. */
	CHECK_EQ_INT(span("6,1,2,-;a\n SUBSYSTEM=usb\n DEV", 29, 0), 0);
	CHECK_EQ_INT(span("6,1,2,-;a\n SUBSYSTEM=usb\n DEV", 29, 1), 29);
	/* A space just arrived: a dictionary line begins. */
	CHECK_EQ_INT(span("6,1,2,-;a\n ", 11, 0), 0);
	CHECK_EQ_INT(span("6,1,2,-;a\n ", 11, 1), 11);
	/* Complete dictionary line at the end of the buffer. */
	CHECK_EQ_INT(span("6,1,2,-;a\n SUBSYSTEM=usb\n", 25, 0), 0);
	CHECK_EQ_INT(span("6,1,2,-;a\n SUBSYSTEM=usb\n", 25, 1), 25);
	CHECK_EQ_INT(span("6,1,2,-;a\n SUBSYSTEM=usb\n6", 26, 0), 25);
	/* An empty line ends the record (and is a record of its own). */
	CHECK_EQ_INT(span("6,1,2,-;a\n\n6,2,3,-;b\n", 21, 0), 10);
	CHECK_EQ_INT(span("\n6,2,3,-;b\n", 11, 0), 1);
	/* Nothing. */
	CHECK_EQ_INT(span("", 0, 0), 0);
	CHECK_EQ_INT(span("", 0, 1), 0);
}

int main(void)
{
	test_real();
	test_header_fields();
	test_flags();
	test_pri();
	test_numbers();
	test_escapes();
	test_dictionary();
	test_malformed();
	test_scratch();
	test_truncation();
	test_encode();
	test_span();
	return CHECK_DONE();
}
