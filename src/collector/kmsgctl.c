/* SPDX-License-Identifier: ISC */
/*
 * kmsgctl: read the collector's per-host journals, journalctl style.
 * Options and the five things it does: print records (query.h, then
 * output.h), list hosts or boots (summary.h), list the hosts gone silent
 * (summary.h), report completeness (gaps.h), verify integrity (verify.h).
 * The store is opened read-only; nothing here writes to it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cursor.h"
#include "filter.h"
#include "output.h"
#include "pager.h"
#include "query.h"
#include "summary.h"
#include "timestamp.h"
#include "verify.h"

#define TIME_HELP \
	"expected YYYY-MM-DD [HH:MM[:SS]], today, yesterday, now, @SECONDS or a relative time such as -1h"

enum command { CMD_RECORDS, CMD_LIST_BOOTS, CMD_LIST_HOSTS, CMD_SILENT, CMD_GAPS, CMD_VERIFY };

struct options {
	const char *dir;
	char **hosts;
	size_t nhosts;
	enum command cmd;
	bool has_boot;
	struct boot_spec boot;
	struct filter filter;
	long lines; /* -1: all */
	bool lines_given;
	bool reverse, follow, utc, no_pager, quiet, show_cursor;
	const char *cursor;
	bool after_cursor;
	enum output_mode output;
	uint64_t silent_usec; /* --silent */
	bool gaps_full;	      /* --gaps=full: every missing range on its own line */
};

static void usage(FILE *f)
{
	fputs("usage: kmsgctl [OPTIONS] [FIELD=VALUE ...]\n"
	      "  -D, --directory DIR      the collector's state directory (default " KS_STATE_DIR ")\n"
	      "  -H, --host NAME          show this host (repeatable; default: all, merged by time)\n"
	      "  -b, --boot [ID|N|all]    show one boot of each host: 0 the last, 1 the first\n"
	      "      --list-boots         list the boots of each host\n"
	      "      --list-hosts         list the hosts: records, last seen, lag, session, gaps\n"
	      "      --silent SECONDS     list the hosts with no record received for longer (exit 1: "
	      "some)\n"
	      "      --gaps[=full]        completeness report per host and boot, summarised (full: every\n"
	      "                           range); exit 1: something missing after the agent's start\n"
	      "      --verify             check checksums, hash chain, indexes and checkpoints (exit 1: "
	      "damage)\n"
	      "  -p, --priority LEVEL     show levels up to LEVEL, or FROM..TO (emerg..debug, 0..7)\n"
	      "      --facility LIST      show these facilities (names or numbers, comma-separated; help)\n"
	      "  -S, --since TIME         show records from TIME on\n"
	      "  -U, --until TIME         show records up to TIME\n"
	      "  -n, --lines [N]          show the last N records (10 if N is not given; all)\n"
	      "  -r, --reverse            show the newest records first\n"
	      "  -f, --follow             show new records as they are stored\n"
	      "  -g, --grep REGEX         show records whose message matches REGEX (POSIX extended)\n"
	      "      --case-sensitive[=BOOL]  for --grep (default: when REGEX has upper-case letters)\n"
	      "      --cursor CURSOR      start at the record of CURSOR\n"
	      "      --after-cursor CURSOR  start after the record of CURSOR\n"
	      "      --show-cursor        print the cursor of the last record shown\n"
	      "  -o, --output FORMAT      " OUTPUT_NAMES "\n"
	      "      --utc                show times in UTC\n"
	      "      --no-pager           do not pipe the output into a pager\n"
	      "  -q, --quiet              no informational lines (no entries, boot changes)\n"
	      "  -h, --help               this help\n"
	      "      --version            print the version\n"
	      "TIME: YYYY-MM-DD [HH:MM[:SS]], today, yesterday, now, @SECONDS, or relative as +10s or 2h "
	      "ago.\n",
	      f);
}

/* -n's argument: a count or "all". */
static int parse_lines(const char *s, long *ret)
{
	if (strcmp(s, "all") == 0) {
		*ret = -1;
		return 0;
	}
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* --silent's argument: whole seconds, as usec. */
static int parse_seconds(const char *s, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v > UINT64_MAX / 1000000)
		return -EINVAL;
	*ret = (uint64_t)v * 1000000;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on")) {
		*ret = true;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

enum {
	OPT_LIST_BOOTS = 256,
	OPT_LIST_HOSTS,
	OPT_SILENT,
	OPT_GAPS,
	OPT_VERIFY,
	OPT_FACILITY,
	OPT_CASE,
	OPT_CURSOR,
	OPT_AFTER_CURSOR,
	OPT_SHOW_CURSOR,
	OPT_UTC,
	OPT_NO_PAGER,
	OPT_VERSION,
};

/* 0 to go on, 1 to exit 0 (help, version), -1 to exit 1 (reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const char shortopts[] = ":D:H:b::p:S:U:n::rfg:o:qh";
	static const struct option opts[] = {
		{ "directory", required_argument, NULL, 'D' },
		{ "host", required_argument, NULL, 'H' },
		{ "boot", optional_argument, NULL, 'b' },
		{ "list-boots", no_argument, NULL, OPT_LIST_BOOTS },
		{ "list-hosts", no_argument, NULL, OPT_LIST_HOSTS },
		{ "silent", required_argument, NULL, OPT_SILENT },
		{ "gaps", optional_argument, NULL, OPT_GAPS },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "priority", required_argument, NULL, 'p' },
		{ "facility", required_argument, NULL, OPT_FACILITY },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "lines", optional_argument, NULL, 'n' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "follow", no_argument, NULL, 'f' },
		{ "grep", required_argument, NULL, 'g' },
		{ "case-sensitive", optional_argument, NULL, OPT_CASE },
		{ "cursor", required_argument, NULL, OPT_CURSOR },
		{ "after-cursor", required_argument, NULL, OPT_AFTER_CURSOR },
		{ "show-cursor", no_argument, NULL, OPT_SHOW_CURSOR },
		{ "output", required_argument, NULL, 'o' },
		{ "utc", no_argument, NULL, OPT_UTC },
		{ "no-pager", no_argument, NULL, OPT_NO_PAGER },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	const char *grep = NULL;
	int case_sensitive = -1;
	uint64_t now = timestamp_now();
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			o->dir = optarg;
			break;
		case 'H': {
			char **nh = realloc(o->hosts, (o->nhosts + 1) * sizeof(*nh));
			if (!nh) {
				fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
				return -1;
			}
			o->hosts = nh;
			o->hosts[o->nhosts++] = optarg;
			break;
		}
		case 'b': {
			/* As journalctl: "-b -1" takes the next word when it is a boot. */
			const char *arg = optarg;
			struct boot_spec b;
			if (!arg && optind < argc && !strchr(argv[optind], '=') &&
			    boot_spec_parse(argv[optind], &b) == 0)
				arg = argv[optind++];
			if (boot_spec_parse(arg ? arg : "", &o->boot) < 0) {
				fprintf(stderr,
					"kmsgctl: bad boot '%s' (expected a boot id, an offset or all)\n",
					arg);
				return -1;
			}
			o->has_boot = true;
			break;
		}
		case OPT_SILENT:
			if (parse_seconds(optarg, &o->silent_usec) < 0) {
				fprintf(stderr,
					"kmsgctl: bad number of seconds '%s' for --silent (expected a "
					"whole number, 0 or more)\n",
					optarg);
				return -1;
			}
			/* fall through */
		case OPT_LIST_BOOTS:
		case OPT_LIST_HOSTS:
		case OPT_GAPS:
			if (c == OPT_GAPS && optarg) {
				if (strcmp(optarg, "full") != 0 && strcmp(optarg, "summary") != 0) {
					fprintf(stderr,
						"kmsgctl: bad --gaps '%s' (expected summary or full)\n",
						optarg);
					return -1;
				}
				o->gaps_full = strcmp(optarg, "full") == 0;
			}
			/* fall through */
		case OPT_VERIFY: {
			enum command cmd = c == OPT_LIST_BOOTS	 ? CMD_LIST_BOOTS
					   : c == OPT_LIST_HOSTS ? CMD_LIST_HOSTS
					   : c == OPT_SILENT	 ? CMD_SILENT
					   : c == OPT_GAPS	 ? CMD_GAPS
								 : CMD_VERIFY;
			if (o->cmd != CMD_RECORDS && o->cmd != cmd) {
				fprintf(stderr, "kmsgctl: --list-boots, --list-hosts, --silent, --gaps and "
						"--verify exclude each other\n");
				return -1;
			}
			o->cmd = cmd;
			break;
		}
		case 'p':
			if (filter_priority(&o->filter, optarg) < 0) {
				fprintf(stderr,
					"kmsgctl: bad priority '%s' (expected emerg, alert, crit, err, "
					"warning, notice, "
					"info, debug, 0..7, or FROM..TO)\n",
					optarg);
				return -1;
			}
			break;
		case OPT_FACILITY:
			if (strcmp(optarg, "help") == 0) {
				filter_facility_help();
				return 1;
			}
			if (filter_facility(&o->filter, optarg) < 0) {
				fprintf(stderr,
					"kmsgctl: bad facility in '%s' (--facility=help lists the names)\n",
					optarg);
				return -1;
			}
			break;
		case 'S':
		case 'U': {
			uint64_t t;
			if (timestamp_parse(optarg, now, &t) < 0) {
				fprintf(stderr, "kmsgctl: bad time '%s' for %s (" TIME_HELP ")\n", optarg,
					c == 'S' ? "--since" : "--until");
				return -1;
			}
			if (c == 'S') {
				o->filter.has_since = true;
				o->filter.since = t;
			} else {
				o->filter.has_until = true;
				o->filter.until = t;
			}
			break;
		}
		case 'n': {
			const char *arg = optarg;
			long v;
			if (!arg && optind < argc && parse_lines(argv[optind], &v) == 0)
				arg = argv[optind++];
			if (!arg) {
				o->lines = 10;
			} else if (parse_lines(arg, &o->lines) < 0) {
				fprintf(stderr, "kmsgctl: bad number of lines '%s' (expected N or all)\n",
					arg);
				return -1;
			}
			o->lines_given = true;
			break;
		}
		case 'r':
			o->reverse = true;
			break;
		case 'f':
			o->follow = true;
			break;
		case 'g':
			grep = optarg;
			break;
		case OPT_CASE: {
			bool b = true;
			if (optarg && parse_bool(optarg, &b) < 0) {
				fprintf(stderr,
					"kmsgctl: bad value '%s' for --case-sensitive (expected yes or no)\n",
					optarg);
				return -1;
			}
			case_sensitive = b;
			break;
		}
		case OPT_CURSOR:
		case OPT_AFTER_CURSOR:
			if (o->cursor) {
				fprintf(stderr, "kmsgctl: --cursor and --after-cursor exclude each other\n");
				return -1;
			}
			o->cursor = optarg;
			o->after_cursor = c == OPT_AFTER_CURSOR;
			break;
		case OPT_SHOW_CURSOR:
			o->show_cursor = true;
			break;
		case 'o':
			if (output_mode_parse(optarg, &o->output) < 0) {
				fprintf(stderr, "kmsgctl: unknown output format '%s' (expected %s)\n", optarg,
					OUTPUT_NAMES);
				return -1;
			}
			break;
		case OPT_UTC:
			o->utc = true;
			break;
		case OPT_NO_PAGER:
			o->no_pager = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("kmsgctl %s\n", KS_VERSION);
			return 1;
		case ':':
			if (optopt > 0 && optopt < 256 && strncmp(argv[optind - 1], "--", 2) != 0)
				fprintf(stderr, "kmsgctl: option '-%c' needs an argument\n", optopt);
			else
				fprintf(stderr, "kmsgctl: option '%s' needs an argument\n", argv[optind - 1]);
			return -1;
		default:
			if (optopt > 0 && optopt < 256 && strncmp(argv[optind - 1], "--", 2) != 0)
				fprintf(stderr, "kmsgctl: unknown option '-%c' (see kmsgctl -h)\n", optopt);
			else
				fprintf(stderr, "kmsgctl: unknown option '%s' (see kmsgctl -h)\n",
					argv[optind - 1]);
			return -1;
		}
	}
	for (int i = optind; i < argc; i++) {
		int r = filter_match(&o->filter, argv[i]);
		if (r == -EINVAL) {
			fprintf(stderr, "kmsgctl: '%s' is not a match (expected FIELD=VALUE or +)\n",
				argv[i]);
			return -1;
		}
		if (r < 0) {
			fprintf(stderr, "kmsgctl: %s\n", strerror(-r));
			return -1;
		}
	}
	if (grep) {
		char err[256];
		if (filter_grep(&o->filter, grep, case_sensitive, err, sizeof(err)) < 0) {
			fprintf(stderr, "kmsgctl: bad regular expression '%s': %s\n", grep, err);
			return -1;
		}
	}
	if (o->filter.has_since && o->filter.has_until && o->filter.since > o->filter.until) {
		fprintf(stderr, "kmsgctl: --since is after --until\n");
		return -1;
	}
	if (o->follow && o->reverse) {
		fprintf(stderr, "kmsgctl: --follow and --reverse exclude each other\n");
		return -1;
	}
	if (o->follow && o->cmd != CMD_RECORDS) {
		fprintf(stderr,
			"kmsgctl: --follow shows records; it does not go with --list-boots, --list-hosts, "
			"--silent, --gaps or --verify\n");
		return -1;
	}
	return 0;
}

struct ref {
	size_t host;
	off_t offset;
};

/* -n and -r: remember where the records are (not the records), then print them from there. */
static int print_refs(struct query *q, struct output *out, const struct options *o)
{
	size_t cap = o->lines >= 0 ? (size_t)o->lines : 1024, n = 0, head = 0;
	bool ring = o->lines >= 0;
	struct ref *refs = malloc((cap ? cap : 1) * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	struct query_item it;
	int r;
	/* The last N of one host: start near the end by the index, and
	 * further back (4 times as far each round) until N were found or the
	 * whole journal was read. */
	bool tail = ring && cap > 0 && !o->cursor;
	uint64_t back = cap < 64 ? 256 : 4 * (uint64_t)cap;
	for (;;) {
		bool whole = true;
		if (tail) {
			int w = query_tail(q, back);
			if (w < 0) {
				free(refs);
				return 0; /* reported */
			}
			whole = w == 1;
		}
		n = head = 0;
		while ((r = query_next(q, &it)) == 1) {
			struct ref x = { it.host, it.e->offset };
			if (ring) {
				if (cap == 0)
					continue;
				refs[(head + n) % cap] = x;
				if (n < cap)
					n++;
				else
					head = (head + 1) % cap;
				continue;
			}
			if (n == cap) {
				struct ref *nr = realloc(refs, 2 * cap * sizeof(*nr));
				if (!nr) {
					free(refs);
					return -ENOMEM;
				}
				refs = nr;
				cap *= 2;
			}
			refs[n++] = x;
		}
		if (r != 0 || whole || n >= cap || back > UINT64_MAX / 4)
			break;
		back *= 4;
	}
	for (size_t k = 0; r == 0 && k < n; k++) {
		size_t i = o->reverse ? n - 1 - k : k;
		const struct ref *x = &refs[ring ? (head + i) % cap : i];
		struct journal_entry e;
		if (query_read_at(q, x->host, x->offset, &e) < 0)
			continue; /* reported */
		r = output_entry(out, query_host_name(q, x->host), &e);
	}
	free(refs);
	return r;
}

static int drain(struct query *q, struct output *out)
{
	struct query_item it;
	int r;
	while ((r = query_next(q, &it)) == 1)
		if ((r = output_entry(out, query_host_name(q, it.host), it.e)) < 0)
			return r;
	return r;
}

static int show_records(struct options *o)
{
	struct query *q = NULL;
	struct output *out = NULL;
	int ret = 1, r;
	if (query_open(&q, o->dir, o->hosts, o->nhosts, &o->filter) < 0)
		goto done;
	if (o->has_boot && query_set_boot(q, &o->boot) < 0)
		goto done;
	if (o->cursor) {
		struct cursor c;
		if (cursor_parse(o->cursor, &c) < 0) {
			fprintf(stderr,
				"kmsgctl: bad cursor '%s' (expected h=HOST;o=OFFSET;s=STREAM_ID;q=SEQ)\n",
				o->cursor);
			goto done;
		}
		if (query_seek_cursor(q, &c, o->after_cursor) < 0)
			goto done;
	}
	bool color = pager_color() && (output_mode_short(o->output) || o->output == OUTPUT_CAT);
	struct output_conf oc = {
		.mode = o->output,
		.utc = o->utc,
		.color = color,
		.boot_separators = !o->quiet && query_nhosts(q) == 1,
		.keep_cursor = o->show_cursor,
		.grep = o->filter.has_grep ? &o->filter : NULL,
	};
	if ((r = output_new(&out, &oc)) < 0) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(-r));
		goto done;
	}
	/* As journalctl: follow starts with the last 10 unless told where to start. */
	if (o->follow && !o->lines_given && !o->filter.has_since && !o->cursor) {
		o->lines = 10;
		o->lines_given = true;
	}
	if (!o->no_pager && !o->follow && (r = pager_open()) < 0)
		fprintf(stderr, "kmsgctl: pager: %s\n", strerror(-r));
	r = o->reverse || o->lines_given ? print_refs(q, out, o) : drain(q, out);
	if (r == 0 && o->follow) {
		for (;;) {
			fflush(stdout);
			if (ferror(stdout))
				break;
			query_wait(q, -1);
			if ((r = drain(q, out)) < 0)
				break;
		}
	}
	if (r < 0) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(-r));
		goto done;
	}
	if (output_count(out) == 0 && !o->quiet && output_mode_short(o->output))
		puts("-- No entries --");
	if (o->show_cursor && output_count(out) > 0)
		printf("-- cursor: %s\n", output_last_cursor(out));
	/* As journalctl: nothing matched the pattern is a failure. */
	ret = query_failed(q) || (o->filter.has_grep && output_count(out) == 0) ? 1 : 0;
done:
	output_free(out);
	query_free(q);
	return ret;
}

/*
 * --silent -H NAME: a host without a journal directory was never heard
 * from, which makes it silent, not unknown. Splits the names into those
 * with a directory (or a problem query_open reports) and those without.
 */
static void split_absent(const struct options *o, char **present, size_t *npresent, char **absent,
			 size_t *nabsent)
{
	*npresent = *nabsent = 0;
	for (size_t i = 0; i < o->nhosts; i++) {
		char path[PATH_MAX];
		struct stat st;
		bool dup = false;
		for (size_t k = 0; k < *nabsent && !dup; k++)
			dup = strcmp(absent[k], o->hosts[i]) == 0;
		if (dup)
			continue;
		if (store_name_valid(o->hosts[i]) &&
		    (size_t)snprintf(path, sizeof(path), "%s/hosts/%s", o->dir, o->hosts[i]) < sizeof(path) &&
		    stat(path, &st) < 0 && errno == ENOENT)
			absent[(*nabsent)++] = o->hosts[i];
		else
			present[(*npresent)++] = o->hosts[i];
	}
}

static int show_report(struct options *o)
{
	struct query *q = NULL;
	struct host_summary *hs = NULL;
	size_t n = 0, nabsent = 0;
	int ret = 1;
	uint64_t now = timestamp_now();
	char **names = o->hosts, **absent = NULL;
	size_t nnames = o->nhosts;
	if (o->cmd == CMD_SILENT && o->nhosts > 0) {
		names = calloc(o->nhosts, sizeof(*names));
		absent = calloc(o->nhosts, sizeof(*absent));
		if (!names || !absent) {
			fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
			goto done;
		}
		split_absent(o, names, &nnames, absent, &nabsent);
	}
	/* The query resolves and checks the host names; the report reads on its own. */
	if (query_open(&q, o->dir, names, nnames, &o->filter) < 0)
		goto done;
	n = query_nhosts(q);
	hs = calloc(n + nabsent ? n + nabsent : 1, sizeof(*hs));
	if (!hs) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
		goto done;
	}
	bool failed = false;
	for (size_t i = 0; i < n; i++) {
		int r = summary_scan(query_host_name(q, i), query_host_path(q, i),
				     o->cmd == CMD_LIST_HOSTS || o->cmd == CMD_GAPS, &hs[i]);
		if (r == -EBADMSG) {
			fprintf(stderr,
				"kmsgctl: host %s: damaged entry at offset %lld; reporting what is before "
				"it\n",
				hs[i].name, (long long)hs[i].damaged_at);
			failed = true;
		} else if (r < 0) {
			fprintf(stderr, "kmsgctl: host %s: %s: %s\n", query_host_name(q, i),
				query_host_path(q, i), strerror(-r));
			goto done;
		}
	}
	enum summary_format fmt = o->output == OUTPUT_JSON	    ? SUMMARY_JSON
				  : o->output == OUTPUT_JSON_PRETTY ? SUMMARY_JSON_PRETTY
								    : SUMMARY_TEXT;
	if (!o->no_pager) {
		int r = pager_open();
		if (r < 0)
			fprintf(stderr, "kmsgctl: pager: %s\n", strerror(-r));
	}
	if (o->cmd == CMD_LIST_BOOTS) {
		summary_print_boots(hs, n, fmt, o->utc, stdout);
	} else if (o->cmd == CMD_LIST_HOSTS) {
		summary_print_hosts(hs, n, fmt, o->utc, stdout);
	} else if (o->cmd == CMD_SILENT) {
		/* Named hosts without a journal: nothing known but the name. */
		for (size_t i = 0; i < nabsent; i++)
			snprintf(hs[n + i].name, sizeof(hs[n + i].name), "%s", absent[i]);
		n += nabsent;
		bool any = false;
		for (size_t i = 0; i < n; i++)
			any |= summary_silent(&hs[i], now, o->silent_usec);
		int r = summary_print_silent(hs, n, now, o->silent_usec, fmt, o->utc, stdout);
		if (r < 0) {
			fprintf(stderr, "kmsgctl: %s\n", strerror(-r));
			failed = true;
		}
		/* For alerting: exit 1 when some host is silent. */
		failed |= any;
	} else {
		bool missing = false, any = false;
		for (size_t i = 0; i < n; i++) {
			uint8_t boot[16];
			bool sel = o->has_boot && !o->boot.all;
			if (sel && summary_find_boot(&hs[i], &o->boot, boot) < 0)
				continue;
			any = true;
			struct gaps_report_opts go = {
				.boots = sel ? (const uint8_t(*)[16])boot : NULL,
				.nboots = 1,
				.json = fmt != SUMMARY_TEXT,
				.pretty = fmt == SUMMARY_JSON_PRETTY,
				.full = o->gaps_full,
				.utc = o->utc,
			};
			if (gaps_report(hs[i].gaps, hs[i].name, &go, stdout) > 0)
				missing = true;
		}
		if (!any && o->has_boot && !o->boot.all) {
			fprintf(stderr, "kmsgctl: no such boot in the selected hosts\n");
			goto done;
		}
		failed |= missing;
	}
	ret = failed ? 1 : 0;
done:
	for (size_t i = 0; hs && i < n; i++)
		summary_free(&hs[i]);
	free(hs);
	query_free(q);
	if (names != o->hosts)
		free(names);
	free(absent);
	return ret;
}

/* --verify: one line per host, OK or the first bad place; exit 1 on any damage. */
static int show_verify(struct options *o)
{
	struct query *q = NULL;
	int ret = 1;
	if (query_open(&q, o->dir, o->hosts, o->nhosts, &o->filter) < 0)
		goto done;
	bool bad = query_failed(q);
	for (size_t i = 0; i < query_nhosts(q); i++) {
		const char *name = query_host_name(q, i);
		struct verify_result v;
		int r = verify_host(query_host_path(q, i), &v);
		if (r < 0) {
			printf("%s: FAILED: cannot read: %s\n", name, v.what);
			bad = true;
			continue;
		}
		if (v.problem == VERIFY_OK) {
			printf("%s: OK: %llu records in %llu segment(s), %llu checkpoint(s) matched", name,
			       (unsigned long long)v.records, (unsigned long long)v.segments,
			       (unsigned long long)v.checkpoints);
			if (v.tail_bytes)
				printf("; %llu bytes of an incomplete last entry (a write in progress or a "
				       "torn "
				       "tail)",
				       (unsigned long long)v.tail_bytes);
			putchar('\n');
			continue;
		}
		bad = true;
		printf("%s: FAILED: %s at %s offset %llu", name, verify_problem_name(v.problem), v.file,
		       (unsigned long long)v.offset);
		if (v.has_recno)
			printf(" (position %llu, record %llu)", (unsigned long long)v.position,
			       (unsigned long long)v.recno);
		printf(": %s\n", v.what);
	}
	ret = bad ? 1 : 0;
done:
	query_free(q);
	return ret;
}

int main(int argc, char **argv)
{
	struct options o = { .dir = KS_STATE_DIR, .lines = -1, .output = OUTPUT_SHORT };
	setlocale(LC_ALL, "");
	/* One thread: no stdio locking per call, and bigger writes. */
	__fsetlocking(stdout, FSETLOCKING_BYCALLER);
	static char outbuf[1 << 16];
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	filter_init(&o.filter);
	int r = parse_options(argc, argv, &o);
	int ret;
	if (r != 0)
		ret = r > 0 ? 0 : 1;
	else
		ret = o.cmd == CMD_RECORDS  ? show_records(&o)
		      : o.cmd == CMD_VERIFY ? show_verify(&o)
					    : show_report(&o);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kmsgctl: write: %s\n", strerror(errno));
		ret = 1;
	}
	pager_close();
	filter_free(&o.filter);
	free(o.hosts);
	return ret;
}
