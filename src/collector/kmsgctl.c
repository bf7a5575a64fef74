/* SPDX-License-Identifier: ISC */
/*
 * kmsgctl: read the collector's per-host journals, journalctl style.
 * This is the first cut: host selection and the output formats; filters,
 * follow and the reports come with the query issue.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "record.h"
#include "store.h"

enum output { OUT_SHORT, OUT_SHORT_ISO, OUT_SHORT_PRECISE, OUT_CAT, OUT_JSON };

struct host_reader {
	char name[STORE_NAME_MAX + 1];
	struct journal_reader *jr;
	struct journal_entry e;
	bool has; /* e holds the next entry to print */
};

static enum output output = OUT_SHORT;
static bool utc;

static void usage(FILE *f)
{
	fprintf(f, "usage: kmsgctl [OPTIONS]\n"
		   "  -D, --directory DIR   the collector's state directory (default " KS_STATE_DIR ")\n"
		   "  -H, --host NAME       show this host (repeatable; default: all, merged by time)\n"
		   "  -o, --output FORMAT   short, short-iso, short-precise, cat, json\n"
		   "      --utc             show times in UTC\n"
		   "  -h, --help            this help\n"
		   "      --version         print the version\n");
}

static const char *identifier(const struct record *r)
{
	switch (r->source) {
	case RECORD_SRC_KMSG:
	case RECORD_SRC_PSTORE:
		return "kernel";
	case RECORD_SRC_COLLECTOR:
		return "kmsg-collector";
	default:
		return "kmsg-shipper";
	}
}

/* The message, with each line after the first indented under the first
 * one's start, as journalctl does. */
static void put_message(const struct record *r, size_t indent)
{
	for (uint32_t i = 0; i < r->msg_len; i++) {
		uint8_t ch = r->msg[i];
		if (ch == '\n') {
			printf("\n%*s", (int)indent, "");
		} else if (ch < 0x20 && ch != '\t') {
			printf("\\x%02x", ch);
		} else {
			putchar(ch);
		}
	}
	putchar('\n');
}

static void print_short(const char *host, const struct record *r)
{
	time_t secs = (time_t)(r->real_usec / 1000000);
	struct tm tm;
	if (utc)
		gmtime_r(&secs, &tm);
	else
		localtime_r(&secs, &tm);
	char ts[64];
	switch (output) {
	case OUT_SHORT_ISO:
		strftime(ts, sizeof(ts), utc ? "%Y-%m-%dT%H:%M:%S+00:00" : "%Y-%m-%dT%H:%M:%S%z", &tm);
		if (!utc && strlen(ts) == 24) { /* +0100 -> +01:00 */
			memmove(ts + 23, ts + 22, 2);
			ts[22] = ':';
		}
		break;
	case OUT_SHORT_PRECISE: {
		char b[48];
		strftime(b, sizeof(b), "%b %d %H:%M:%S", &tm);
		snprintf(ts, sizeof(ts), "%s.%06u", b, (unsigned)(r->real_usec % 1000000));
		break;
	}
	default:
		strftime(ts, sizeof(ts), "%b %d %H:%M:%S", &tm);
		break;
	}
	int n = printf("%s %s %s: ", ts, host, identifier(r));
	put_message(r, n > 0 ? (size_t)n : 0);
}

/* journalctl prints a value as a JSON string when it is printable UTF-8,
 * else as an array of byte values. We use the array for any byte outside
 * printable ASCII, tab and newline: stricter, never ambiguous. */
static void json_value(const uint8_t *v, size_t len)
{
	bool plain = true;
	for (size_t i = 0; i < len && plain; i++)
		plain = (v[i] >= 0x20 && v[i] < 0x7f) || v[i] == '\n' || v[i] == '\t';
	if (!plain) {
		putchar('[');
		for (size_t i = 0; i < len; i++)
			printf("%s%u", i ? "," : "", v[i]);
		putchar(']');
		return;
	}
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '"' || v[i] == '\\')
			printf("\\%c", v[i]);
		else if (v[i] == '\n')
			fputs("\\n", stdout);
		else if (v[i] == '\t')
			fputs("\\t", stdout);
		else
			putchar(v[i]);
	}
	putchar('"');
}

static void json_field(const char *key, const void *v, size_t len)
{
	printf(", \"%s\" : ", key);
	json_value(v, len);
}

static void json_fieldf(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_fieldf(const char *key, const char *fmt, ...)
{
	char b[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	json_field(key, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

static void print_json(const char *host, const struct journal_entry *e)
{
	const struct record *r = &e->rec;
	char boot[33];
	for (int i = 0; i < 16; i++)
		snprintf(boot + 2 * i, 3, "%02x", r->boot_id[i]);
	printf("{ \"__REALTIME_TIMESTAMP\" : \"%" PRIu64 "\"", r->real_usec);
	json_fieldf("__MONOTONIC_TIMESTAMP", "%" PRIu64, r->mono_usec);
	json_field("_BOOT_ID", boot, 32);
	json_field("_HOSTNAME", host, strlen(host));
	json_fieldf("PRIORITY", "%u", r->level);
	json_fieldf("SYSLOG_FACILITY", "%u", r->facility);
	json_field("SYSLOG_IDENTIFIER", identifier(r), strlen(identifier(r)));
	if (r->source == RECORD_SRC_KMSG) {
		json_field("_TRANSPORT", "kernel", 6);
		json_fieldf("KMSG_SEQ", "%" PRIu64, r->kmsg_seq);
	}
	json_fieldf("KMSG_STREAM_SEQ", "%" PRIu64, r->stream_seq);
	char sid[33];
	for (int i = 0; i < 16; i++)
		snprintf(sid + 2 * i, 3, "%02x", e->stream_id[i]);
	json_field("KMSG_STREAM_ID", sid, 32);
	json_fieldf("KMSG_RECEIVED_TIMESTAMP", "%" PRIu64, e->recv_usec);
	size_t off = 0;
	const uint8_t *f;
	size_t flen;
	while (record_field_next(r, &off, &f, &flen) == 1) {
		const uint8_t *eq = memchr(f, '=', flen);
		if (!eq || eq == f)
			continue; /* kept raw by the parser; no name to give it */
		char key[80];
		size_t klen = (size_t)(eq - f);
		if (klen >= 64)
			continue;
		/* SUBSYSTEM and DEVICE become journald's trusted kernel fields. */
		snprintf(key, sizeof(key), "%s%.*s",
			 (klen == 9 && !memcmp(f, "SUBSYSTEM", 9)) || (klen == 6 && !memcmp(f, "DEVICE", 6))
				 ? "_KERNEL_"
				 : "",
			 (int)klen, (const char *)f);
		json_field(key, eq + 1, flen - klen - 1);
	}
	json_field("MESSAGE", r->msg, r->msg_len);
	fputs(" }\n", stdout);
}

static void print_entry(const char *host, const struct journal_entry *e)
{
	switch (output) {
	case OUT_CAT:
		put_message(&e->rec, 0);
		break;
	case OUT_JSON:
		print_json(host, e);
		break;
	default:
		print_short(host, &e->rec);
		break;
	}
}

static int advance(struct host_reader *h)
{
	int r = journal_reader_next(h->jr, &h->e);
	h->has = r == 1;
	if (r == -EBADMSG)
		fprintf(stderr, "kmsgctl: host %s: damaged entry at offset %lld; stopping this host there\n",
			h->name, (long long)h->e.offset);
	else if (r < 0)
		fprintf(stderr, "kmsgctl: host %s: read: %s\n", h->name, strerror(-r));
	return r < 0 ? r : 0;
}

static int open_host(struct host_reader *h, const char *dir, const char *name)
{
	char path[PATH_MAX];
	if (!store_name_valid(name)) {
		fprintf(stderr, "kmsgctl: '%s' is not a valid host name\n", name);
		return -EINVAL;
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	if ((size_t)snprintf(path, sizeof(path), "%s/hosts/%s/journal", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	int r = journal_reader_open(&h->jr, path);
	if (r < 0) {
		fprintf(stderr, "kmsgctl: host %s: %s: %s\n", name, path,
			r == -ENOENT ? "no journal (unknown host?)" : strerror(-r));
		return r;
	}
	return advance(h);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every host directory under DIR/hosts, sorted. */
static int list_hosts(const char *dir, char ***ret, size_t *ret_n)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/hosts", dir);
	DIR *d = opendir(path);
	if (!d) {
		int r = -errno;
		fprintf(stderr, "kmsgctl: %s: %s\n", path, strerror(-r));
		return r;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!store_name_valid(de->d_name))
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn || !(nn[n] = strdup(de->d_name))) {
			free(nn ? nn : names);
			closedir(d);
			return -ENOMEM;
		}
		names = nn;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	*ret = names;
	*ret_n = n;
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = KS_STATE_DIR;
	char **hosts = NULL;
	size_t nhosts = 0;
	static const struct option opts[] = {
		{ "directory", required_argument, NULL, 'D' },
		{ "host", required_argument, NULL, 'H' },
		{ "output", required_argument, NULL, 'o' },
		{ "utc", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static const char *const formats[] = { "short", "short-iso", "short-precise", "cat", "json" };
	int c, r;
	while ((c = getopt_long(argc, argv, "D:H:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			dir = optarg;
			break;
		case 'H': {
			char **nh = realloc(hosts, (nhosts + 1) * sizeof(*nh));
			if (!nh)
				return 1;
			hosts = nh;
			hosts[nhosts++] = optarg;
			break;
		}
		case 'o': {
			size_t i;
			for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
				if (strcmp(optarg, formats[i]) == 0)
					break;
			if (i == sizeof(formats) / sizeof(formats[0])) {
				fprintf(stderr,
					"kmsgctl: unknown output format '%s' (expected short, short-iso, "
					"short-precise, cat or json)\n",
					optarg);
				return 1;
			}
			output = (enum output)i;
			break;
		}
		case 'u':
			utc = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("kmsgctl %s\n", KS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "kmsgctl: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	bool owned = false;
	if (nhosts == 0) {
		free(hosts);
		if ((r = list_hosts(dir, &hosts, &nhosts)) < 0)
			return 1;
		owned = true;
	}
	struct host_reader *hr = calloc(nhosts ? nhosts : 1, sizeof(*hr));
	int ret = hr ? 0 : 1;
	for (size_t i = 0; hr && i < nhosts; i++)
		if (open_host(&hr[i], dir, hosts[i]) < 0)
			ret = 1;
	/* Merge by wall-clock time; ties keep host order. A handful of hosts
	 * makes the linear scan cheaper than a heap. */
	for (;;) {
		struct host_reader *best = NULL;
		for (size_t i = 0; hr && i < nhosts; i++)
			if (hr[i].has && (!best || hr[i].e.rec.real_usec < best->e.rec.real_usec))
				best = &hr[i];
		if (!best)
			break;
		print_entry(best->name, &best->e);
		if (advance(best) < 0)
			ret = 1;
	}
	for (size_t i = 0; hr && i < nhosts; i++)
		journal_reader_free(hr[i].jr);
	free(hr);
	if (owned)
		for (size_t i = 0; i < nhosts; i++)
			free(hosts[i]);
	free(hosts);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kmsgctl: write: %s\n", strerror(errno));
		return 1;
	}
	return ret;
}
