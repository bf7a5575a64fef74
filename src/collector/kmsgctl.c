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
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cursor.h"
#include "filter.h"
#include "output.h"
#include "pager.h"
#include "query.h"
#include "summary.h"
#include "timestamp.h"
#include "text.h"
#include "verify.h"
#include "checkpoint.h"
#include "view.h"

#define TIME_HELP \
	"expected YYYY-MM-DD [HH:MM[:SS]], today, yesterday, now, @SECONDS or a relative time such as -1h"

enum command {
	CMD_RECORDS,
	CMD_LIST_BOOTS,
	CMD_LIST_HOSTS,
	CMD_SILENT,
	CMD_GAPS,
	CMD_VERIFY,
	CMD_FIELD,	/* -F */
	CMD_FIELDS,	/* -N */
	CMD_HEADER,	/* --header */
	CMD_DISK_USAGE, /* --disk-usage */
};

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
	const char *commitments[8]; /* --commitments FILE ("-": stdin) */
	size_t ncommitments;
	uint64_t silent_usec; /* --silent */
	/* journalctl's options (issue 18) */
	bool all, no_hostname, no_full, pager_end, no_tail, kernel;
	char **fields; /* --output-fields */
	size_t nfields;
	const char *field;	 /* -F */
	const char *cursor_file; /* --cursor-file */
	bool gaps_full;		 /* --gaps=full: every missing range on its own line */
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
	      "      --commitments FILE   with the above: also check the agents' commitments in FILE\n"
	      "                           (the lines kmsg-shipper prints; - for stdin)\n"
	      "  -p, --priority LEVEL     show levels up to LEVEL, or FROM..TO (emerg..debug, 0..7)\n"
	      "      --facility LIST      show these facilities (names or numbers, comma-separated; help)\n"
	      "  -S, --since TIME         show records from TIME on\n"
	      "  -U, --until TIME         show records up to TIME\n"
	      "  -n, --lines [N]          show the last N records (10 if N is not given; all)\n"
	      "  -r, --reverse            show the newest records first\n"
	      "  -f, --follow             show new records as they are stored\n"
	      "  -g, --grep REGEX         show records whose message matches REGEX (POSIX extended)\n"
	      "      --case-sensitive[=BOOL]  for --grep (default: when REGEX has upper-case letters)\n"
	      "  -c, --cursor CURSOR      start at the record of CURSOR\n"
	      "      --after-cursor CURSOR  start after the record of CURSOR\n"
	      "      --show-cursor        print the cursor of the last record shown\n"
	      "  -o, --output FORMAT      " OUTPUT_NAMES "\n"
	      "      --utc                show times in UTC\n"
	      "      --no-pager           do not pipe the output into a pager\n"
	      "  -q, --quiet              no informational lines (no entries, boot changes)\n",
	      f);
	/* Two strings: ISO C guarantees string literals of 4095 bytes only. */
	fputs("  -k, --dmesg              kernel records of the last boot of each host (-b 0)\n"
	      "  -t, --identifier ID      show records with this SYSLOG_IDENTIFIER (repeatable)\n"
	      "  -T, --exclude-identifier ID  hide records with this SYSLOG_IDENTIFIER (repeatable)\n"
	      "  -u, --unit UNIT          show journal records of this systemd unit\n"
	      "      --cursor-file FILE   start after the cursor in FILE; write the last one there\n"
	      "  -a, --all                show unprintable messages and values, escaped\n"
	      "  -l, --full               show whole lines (the default)\n"
	      "      --no-full            cut lines to the terminal's width\n"
	      "      --no-hostname        leave the host out of the short formats\n"
	      "      --output-fields LIST show only these fields (json, export, verbose)\n"
	      "  -e, --pager-end          start the pager at the end (and -n 1000, -b 0)\n"
	      "  -x, --catalog            accepted: no catalog texts for these records\n"
	      "  -m, --merge              accepted: all hosts are merged already\n"
	      "      --no-tail            show all records whatever -n says, with -f too\n"
	      "  -F, --field FIELD        list the values FIELD takes in the selected records\n"
	      "  -N, --fields             list the field names of the selected records\n"
	      "      --header             show each host's journal: path, segments, records, times\n"
	      "      --disk-usage         show the disk space the store takes\n"
	      "  -M, --machine NAME       not applicable: hosts are selected with -H\n"
	      "      --file, --root, --image, --namespace, --system, --user, --user-unit,\n"
	      "      --vacuum-size, --vacuum-files, --vacuum-time, --sync, --flush, --rotate,\n"
	      "      --relinquish-var, --smart-relinquish-var, --list-catalog, --dump-catalog,\n"
	      "      --update-catalog, --setup-keys, --interval, --verify-key, --force\n"
	      "                           journalctl's, refused with the reason they do not apply\n"
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
	OPT_COMMITMENTS,
	OPT_NO_FULL,
	OPT_NO_HOSTNAME,
	OPT_OUTPUT_FIELDS,
	OPT_HEADER,
	OPT_DISK_USAGE,
	OPT_CURSOR_FILE,
	OPT_NO_TAIL,
	OPT_NA,
};

/* Why a journalctl option that does not apply to the store is refused. */
static const char *na_reason(const char *opt)
{
	static const struct {
		const char *opt, *why;
	} reasons[] = {
		{ "file", "the store is a directory of hosts: give it with -D, hosts with -H" },
		{ "root", "give the store's directory with -D" },
		{ "image", "give the store's directory with -D" },
		{ "namespace", "the store has no namespaces; hosts are selected with -H" },
		{ "system", "the store holds what agents sent, not this system's journal" },
		{ "user", "the store holds what agents sent, not a user's journal" },
		{ "user-unit", "the agents' journal input reads the system journal: use -u" },
		{ "vacuum-size",
		  "retention is the collector's (collector.conf); kmsgctl never writes to the store" },
		{ "vacuum-files",
		  "retention is the collector's (collector.conf); kmsgctl never writes to the store" },
		{ "vacuum-time",
		  "retention is the collector's (collector.conf); kmsgctl never writes to the store" },
		{ "sync", "the collector syncs before it acknowledges; kmsgctl never writes to the store" },
		{ "flush", "kmsgctl never writes to the store" },
		{ "rotate", "the collector rotates segments itself; kmsgctl never writes to the store" },
		{ "relinquish-var", "kmsgctl never writes to the store" },
		{ "smart-relinquish-var", "kmsgctl never writes to the store" },
		{ "list-catalog", "there is no message catalog for these records" },
		{ "dump-catalog", "there is no message catalog for these records" },
		{ "update-catalog", "there is no message catalog for these records" },
		{ "setup-keys", "the store has its own hash chain and checkpoints (--verify), no FSS keys" },
		{ "interval", "the store has its own hash chain and checkpoints (--verify), no FSS keys" },
		{ "verify-key", "the store has its own hash chain and checkpoints (--verify), no FSS keys" },
		{ "force", "there is nothing for it to force here" },
	};
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reasons[i].opt, opt) == 0)
			return reasons[i].why;
	return "it has no meaning for the collector's store";
}

/* 0 to go on, 1 to exit 0 (help, version), -1 to exit 1 (reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const char shortopts[] = ":D:H:b::p:S:U:n::rfg:o:qhkexalt:T:F:Nmu:M:c:";
	static const struct option opts[] = {
		{ "directory", required_argument, NULL, 'D' },
		{ "host", required_argument, NULL, 'H' },
		{ "boot", optional_argument, NULL, 'b' },
		{ "list-boots", no_argument, NULL, OPT_LIST_BOOTS },
		{ "list-hosts", no_argument, NULL, OPT_LIST_HOSTS },
		{ "silent", required_argument, NULL, OPT_SILENT },
		{ "gaps", optional_argument, NULL, OPT_GAPS },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "commitments", required_argument, NULL, OPT_COMMITMENTS },
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
		/* journalctl's, issue 18 */
		{ "dmesg", no_argument, NULL, 'k' },
		{ "pager-end", no_argument, NULL, 'e' },
		{ "catalog", no_argument, NULL, 'x' },
		{ "all", no_argument, NULL, 'a' },
		{ "full", no_argument, NULL, 'l' },
		{ "no-full", no_argument, NULL, OPT_NO_FULL },
		{ "identifier", required_argument, NULL, 't' },
		{ "exclude-identifier", required_argument, NULL, 'T' },
		{ "no-hostname", no_argument, NULL, OPT_NO_HOSTNAME },
		{ "output-fields", required_argument, NULL, OPT_OUTPUT_FIELDS },
		{ "field", required_argument, NULL, 'F' },
		{ "fields", no_argument, NULL, 'N' },
		{ "header", no_argument, NULL, OPT_HEADER },
		{ "disk-usage", no_argument, NULL, OPT_DISK_USAGE },
		{ "cursor-file", required_argument, NULL, OPT_CURSOR_FILE },
		{ "merge", no_argument, NULL, 'm' },
		{ "unit", required_argument, NULL, 'u' },
		{ "machine", required_argument, NULL, 'M' },
		{ "no-tail", no_argument, NULL, OPT_NO_TAIL },
		/* journalctl's that do not apply: refused with the reason (na_reasons) */
		{ "file", required_argument, NULL, OPT_NA },
		{ "root", required_argument, NULL, OPT_NA },
		{ "image", required_argument, NULL, OPT_NA },
		{ "namespace", required_argument, NULL, OPT_NA },
		{ "system", no_argument, NULL, OPT_NA },
		{ "user", no_argument, NULL, OPT_NA },
		{ "user-unit", required_argument, NULL, OPT_NA },
		{ "vacuum-size", required_argument, NULL, OPT_NA },
		{ "vacuum-files", required_argument, NULL, OPT_NA },
		{ "vacuum-time", required_argument, NULL, OPT_NA },
		{ "sync", no_argument, NULL, OPT_NA },
		{ "flush", no_argument, NULL, OPT_NA },
		{ "rotate", no_argument, NULL, OPT_NA },
		{ "relinquish-var", no_argument, NULL, OPT_NA },
		{ "smart-relinquish-var", no_argument, NULL, OPT_NA },
		{ "list-catalog", no_argument, NULL, OPT_NA },
		{ "dump-catalog", no_argument, NULL, OPT_NA },
		{ "update-catalog", no_argument, NULL, OPT_NA },
		{ "setup-keys", no_argument, NULL, OPT_NA },
		{ "interval", required_argument, NULL, OPT_NA },
		{ "verify-key", required_argument, NULL, OPT_NA },
		{ "force", no_argument, NULL, OPT_NA },
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
		case OPT_COMMITMENTS:
			if (o->ncommitments == sizeof(o->commitments) / sizeof(o->commitments[0])) {
				fprintf(stderr, "kmsgctl: --commitments: at most 8 files\n");
				return -1;
			}
			o->commitments[o->ncommitments++] = optarg;
			break;
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
		case 'k':
			o->kernel = true;
			o->filter.kernel_only = true;
			break;
		case 'e':
			o->pager_end = true;
			break;
		case 'x': /* no catalog texts: journalctl adds none to these records either */
		case 'l': /* whole lines are the default */
		case 'm': /* all hosts are merged already */
			break;
		case 'a':
			o->all = true;
			break;
		case OPT_NO_FULL:
			o->no_full = true;
			break;
		case OPT_NO_HOSTNAME:
			o->no_hostname = true;
			break;
		case OPT_NO_TAIL:
			o->no_tail = true;
			break;
		case 't':
		case 'T':
			if (filter_identifier(&o->filter, optarg, c == 'T') < 0) {
				fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
				return -1;
			}
			break;
		case 'u':
			if (filter_unit(&o->filter, optarg) < 0) {
				fprintf(stderr, "kmsgctl: bad unit '%s'\n", optarg);
				return -1;
			}
			break;
		case 'M':
			fprintf(stderr, "kmsgctl: -M/--machine does not apply: the store holds hosts, not "
					"containers; select hosts with -H\n");
			return -1;
		case OPT_NA: {
			/* The option as given, without "--" and "=VALUE". */
			char name[64];
			const char *a = argv[optind - 1];
			if (optarg && a == optarg)
				a = argv[optind - 2];
			snprintf(name, sizeof(name), "%s", a + 2);
			name[strcspn(name, "=")] = '\0';
			fprintf(stderr, "kmsgctl: --%s does not apply: %s\n", name, na_reason(name));
			return -1;
		}
		case 'c':
			if (o->cursor) {
				fprintf(stderr, "kmsgctl: --cursor and --after-cursor exclude each other\n");
				return -1;
			}
			o->cursor = optarg;
			break;
		case OPT_CURSOR_FILE:
			o->cursor_file = optarg;
			break;
		case OPT_OUTPUT_FIELDS: {
			/* A comma-separated list, as journalctl's. */
			for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
				char **nf = realloc(o->fields, (o->nfields + 1) * sizeof(*nf));
				if (!nf) {
					fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
					return -1;
				}
				o->fields = nf;
				o->fields[o->nfields++] = tok;
			}
			break;
		}
		case 'F':
		case 'N':
		case OPT_HEADER:
		case OPT_DISK_USAGE: {
			enum command cmd = c == 'F'	     ? CMD_FIELD
					   : c == 'N'	     ? CMD_FIELDS
					   : c == OPT_HEADER ? CMD_HEADER
							     : CMD_DISK_USAGE;
			if (o->cmd != CMD_RECORDS && o->cmd != cmd) {
				fprintf(stderr,
					"kmsgctl: -F, -N, --header, --disk-usage, --list-boots, "
					"--list-hosts, --silent, --gaps and --verify exclude each other\n");
				return -1;
			}
			o->cmd = cmd;
			if (c == 'F')
				o->field = optarg;
			break;
		}
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
	/* -k and -e: the last boot of each host, unless -b says which (as
	 * journalctl 252 does for both). */
	if ((o->kernel || o->pager_end) && !o->has_boot) {
		if (boot_spec_parse("0", &o->boot) < 0)
			return -1;
		o->has_boot = true;
	}
	/* -e: as journalctl, the last 1000 unless -n says how many. */
	if (o->pager_end && !o->lines_given) {
		o->lines = 1000;
		o->lines_given = true;
	}
	/* --no-tail: all records, whatever -n said (journalctl 252). */
	if (o->no_tail) {
		o->lines = -1;
		o->lines_given = false;
	}
	if (o->cursor_file && o->cursor) {
		fprintf(stderr, "kmsgctl: --cursor-file and --cursor exclude each other\n");
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
	if (o->ncommitments && o->cmd != CMD_VERIFY) {
		fprintf(stderr, "kmsgctl: --commitments goes with --verify\n");
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

/* -S or a cursor with -n N: as journalctl 252, the first N from there. */
static int drain_head(struct query *q, struct output *out, long n)
{
	struct query_item it;
	int r = 0;
	for (long k = 0; k < n && (r = query_next(q, &it)) == 1; k++)
		if ((r = output_entry(out, query_host_name(q, it.host), it.e)) < 0)
			return r;
	return r < 0 ? r : 0;
}

/* --cursor-file: the cursor in FILE, or NULL (no file, or empty). */
static char *read_cursor_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char buf[CURSOR_MAX + 2];
	char *line = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!line)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] ? strdup(buf) : NULL;
}

/* --cursor-file: the last cursor shown into FILE, by a rename. 0 or -1 (reported). */
static int write_cursor_file(const char *path, const char *cursor)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		fprintf(stderr, "kmsgctl: %s: %s\n", path, strerror(ENAMETOOLONG));
		return -1;
	}
	FILE *f = fopen(tmp, "we");
	if (!f || fprintf(f, "%s", cursor) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "kmsgctl: --cursor-file %s: %s\n", path, strerror(errno));
		if (f)
			unlink(tmp);
		return -1;
	}
	return 0;
}

/* --no-full: the terminal's width ($COLUMNS first, as systemd), else 0. */
static unsigned terminal_columns(void)
{
	const char *e = getenv("COLUMNS");
	if (e && *e) {
		char *end;
		unsigned long v = strtoul(e, &end, 10);
		if (!*end && v > 0 && v < 100000)
			return (unsigned)v;
	}
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
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
	char *file_cursor = NULL;
	struct query *q = NULL;
	struct output *out = NULL;
	int ret = 1, r;
	if (query_open(&q, o->dir, o->hosts, o->nhosts, &o->filter) < 0)
		goto done;
	/* As journalctl on a directory without journals; the "-- No
	 * entries --" line follows. */
	if (query_empty(q) && !o->quiet)
		fputs("No journal files were found.\n", stderr);
	if (o->has_boot && query_set_boot(q, &o->boot) < 0)
		goto done;
	if (o->cursor_file && (file_cursor = read_cursor_file(o->cursor_file))) {
		/* As journalctl: after the cursor the file holds. */
		o->cursor = file_cursor;
		o->after_cursor = true;
	}
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
		/* Before the pager: it writes to the same terminal. */
		.tty = isatty(STDOUT_FILENO) == 1,
		.all = o->all,
		.no_hostname = o->no_hostname,
		.columns = o->no_full && isatty(STDOUT_FILENO) == 1 ? terminal_columns() : 0,
		.fields = o->fields,
		.nfields = o->nfields,
	};
	if (o->cursor_file)
		oc.keep_cursor = true;
	if ((r = output_new(&out, &oc)) < 0) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(-r));
		goto done;
	}
	/* As journalctl: follow starts with the last 10 unless told where to start. */
	if (o->follow && !o->no_tail && !o->lines_given && !o->filter.has_since && !o->cursor) {
		o->lines = 10;
		o->lines_given = true;
	}
	if (o->pager_end)
		pager_jump_to_end();
	if (!o->no_pager && !o->follow && (r = pager_open()) < 0)
		fprintf(stderr, "kmsgctl: pager: %s\n", strerror(-r));
	/* -n N from a starting point (-S, a cursor): the first N from there,
	 * as journalctl 252; else the last N. */
	bool head = o->lines_given && o->lines >= 0 && !o->reverse && !o->follow &&
		    (o->filter.has_since || o->cursor);
	if (head)
		r = drain_head(q, out, o->lines);
	else
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
	if (output_count(out) == 0 && !o->quiet && output_mode_says_empty(o->output))
		puts("-- No entries --");
	if (o->show_cursor && output_count(out) > 0)
		printf("-- cursor: %s\n", output_last_cursor(out));
	if (o->cursor_file && output_count(out) > 0 &&
	    write_cursor_file(o->cursor_file, output_last_cursor(out)) < 0)
		goto done;
	/* As journalctl: nothing matched the pattern is a failure. */
	ret = query_failed(q) || (o->filter.has_grep && output_count(out) == 0) ? 1 : 0;
done:
	free(file_cursor);
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
	struct acked *acks = NULL;
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
	/* --gaps: the collector's acked marks, read before the journal, so
	 * that a commit between the two cannot make present records look
	 * lost (the marks are written after the records). */
	acks = o->cmd == CMD_GAPS ? calloc(n ? n : 1, sizeof(*acks)) : NULL;
	if (o->cmd == CMD_GAPS && !acks) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		char apath[PATH_MAX];
		if (acks && (size_t)snprintf(apath, sizeof(apath), "%s/%s", query_host_path(q, i),
					     ACKED_FILE) < sizeof(apath))
			(void)!acked_load(apath, &acks[i]);
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
			/* What the collector acknowledged counts as known (acked-lost when gone). */
			for (size_t k = 0; hs[i].gaps && k < acks[i].nstreams; k++)
				(void)!gaps_acked(hs[i].gaps, acks[i].streams[k].id, acks[i].streams[k].hwm);
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
	for (size_t i = 0; acks && i < n; i++)
		acked_free(&acks[i]);
	free(acks);
	for (size_t i = 0; hs && i < n; i++)
		summary_free(&hs[i]);
	free(hs);
	query_free(q);
	if (names != o->hosts)
		free(names);
	free(absent);
	return ret;
}

/* --commitments: the lines of every file (blank lines and # comments
 * skipped). 0, or -1 reported. */
static int load_commitments(const struct options *o, struct commitment **ret, size_t *ret_n)
{
	struct commitment *cs = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < o->ncommitments; i++) {
		bool in = strcmp(o->commitments[i], "-") == 0;
		FILE *f = in ? stdin : fopen(o->commitments[i], "re");
		if (!f) {
			fprintf(stderr, "kmsgctl: %s: %s\n", o->commitments[i], strerror(errno));
			free(cs);
			return -1;
		}
		char line[COMMITMENT_TEXT_MAX + 2];
		for (unsigned no = 1; fgets(line, sizeof(line), f); no++) {
			if (line[0] == '\n' || line[0] == '#')
				continue;
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 16;
				struct commitment *x = realloc(cs, nc * sizeof(*x));
				if (!x) {
					fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
					goto fail;
				}
				cs = x;
				cap = nc;
			}
			if (commitment_parse(line, &cs[n]) < 0) {
				fprintf(stderr,
					"kmsgctl: %s line %u: not a commitment (kmsg-commitment/1 ...)\n",
					in ? "standard input" : o->commitments[i], no);
				goto fail;
			}
			n++;
		}
		if (!in)
			fclose(f);
		continue;
	fail:
		if (!in)
			fclose(f);
		free(cs);
		return -1;
	}
	*ret = cs;
	*ret_n = n;
	return 0;
}

/* --verify: one line per host, OK or the first bad place; exit 1 on any damage. */
static int show_verify(struct options *o)
{
	struct query *q = NULL;
	int ret = 1;
	struct commitment *cs = NULL, *mine = NULL;
	size_t ncs = 0;
	bool *used = NULL;
	if (load_commitments(o, &cs, &ncs) < 0)
		goto done;
	if (ncs && (!(mine = calloc(ncs, sizeof(*mine))) || !(used = calloc(ncs, sizeof(*used))))) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(ENOMEM));
		goto done;
	}
	if (query_open(&q, o->dir, o->hosts, o->nhosts, &o->filter) < 0)
		goto done;
	bool bad = query_failed(q);
	for (size_t i = 0; i < query_nhosts(q); i++) {
		const char *name = query_host_name(q, i);
		struct verify_result v;
		size_t nmine = 0;
		for (size_t k = 0; k < ncs; k++)
			if (strcmp(cs[k].host, name) == 0) {
				mine[nmine++] = cs[k];
				used[k] = true;
			}
		int r = verify_host_with(query_host_path(q, i), mine, nmine, &v);
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
			if (nmine)
				printf("; %llu of %zu commitment(s) matched (%llu of removed records)",
				       (unsigned long long)v.commitments, nmine,
				       (unsigned long long)v.commitments_skipped);
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
	/* A commitment of a host whose journal is gone altogether. */
	for (size_t k = 0; k < ncs; k++) {
		bool wanted = o->nhosts == 0;
		for (size_t h = 0; h < o->nhosts && !wanted; h++)
			wanted = strcmp(o->hosts[h], cs[k].host) == 0;
		if (used[k] || !wanted)
			continue;
		printf("%s: FAILED: commitment: the store holds no journal of this host, but a commitment "
		       "names %llu records (time %llu)\n",
		       cs[k].host, (unsigned long long)cs[k].records, (unsigned long long)cs[k].written_usec);
		used[k] = true;
		bad = true;
	}
	ret = bad ? 1 : 0;
done:
	query_free(q);
	free(cs);
	free(mine);
	free(used);
	return ret;
}

/* The distinct strings seen, in the order first seen (-F, -N). */
struct uniq {
	char **v;
	size_t *len;
	size_t n, cap;
	size_t *slot; /* open addressing: index + 1, 0 empty */
	size_t nslot;
};

static uint64_t uniq_hash(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * UINT64_C(1099511628211);
	return h;
}

/* Add p[0..len) unless there. 0 or -ENOMEM. */
static int uniq_add(struct uniq *u, const void *p, size_t len)
{
	if (2 * (u->n + 1) > u->nslot) {
		size_t ns = u->nslot ? 2 * u->nslot : 1024;
		size_t *slot = calloc(ns, sizeof(*slot));
		if (!slot)
			return -ENOMEM;
		for (size_t i = 0; i < u->n; i++) {
			size_t k = uniq_hash(u->v[i], u->len[i]) & (ns - 1);
			while (slot[k])
				k = (k + 1) & (ns - 1);
			slot[k] = i + 1;
		}
		free(u->slot);
		u->slot = slot;
		u->nslot = ns;
	}
	size_t k = uniq_hash(p, len) & (u->nslot - 1);
	for (; u->slot[k]; k = (k + 1) & (u->nslot - 1)) {
		size_t i = u->slot[k] - 1;
		if (u->len[i] == len && memcmp(u->v[i], p, len) == 0)
			return 0;
	}
	if (u->n == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 256;
		char **v = realloc(u->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		u->v = v;
		size_t *l = realloc(u->len, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		u->len = l;
		u->cap = cap;
	}
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, p, len);
	u->v[u->n] = copy;
	u->len[u->n] = len;
	u->slot[k] = ++u->n;
	return 0;
}

static void uniq_free(struct uniq *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->v[i]);
	free(u->v);
	free(u->len);
	free(u->slot);
}

/*
 * -F FIELD: the values FIELD takes in the selected records, each once, in
 * the order first seen; -N: the field names. On a terminal, a value that
 * is not printable is escaped (\xNN), as kmsgctl(1) Terminals says.
 */
static int show_fields(struct options *o)
{
	struct query *q = NULL;
	struct view *v = NULL;
	struct uniq u = { 0 };
	int ret = 1, r;
	if (query_open(&q, o->dir, o->hosts, o->nhosts, &o->filter) < 0)
		goto done;
	if (o->has_boot && query_set_boot(q, &o->boot) < 0)
		goto done;
	if ((r = view_new(&v)) < 0) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(-r));
		goto done;
	}
	struct query_item it;
	while ((r = query_next(q, &it)) == 1) {
		if ((r = view_build(v, query_host_name(q, it.host), it.e, true)) < 0)
			break;
		size_t n;
		const struct view_field *f = view_fields(v, &n);
		for (size_t i = 0; i < n && r >= 0; i++) {
			if (o->cmd == CMD_FIELDS)
				r = uniq_add(&u, f[i].name, strlen(f[i].name));
			else if (strcmp(f[i].name, o->field) == 0)
				r = uniq_add(&u, f[i].val, f[i].len);
		}
		if (r < 0)
			break;
	}
	if (r < 0) {
		fprintf(stderr, "kmsgctl: %s\n", strerror(-r));
		goto done;
	}
	bool tty = isatty(STDOUT_FILENO) == 1;
	if (!o->no_pager && (r = pager_open()) < 0)
		fprintf(stderr, "kmsgctl: pager: %s\n", strerror(-r));
	for (size_t i = 0; i < u.n; i++) {
		const uint8_t *p = (const uint8_t *)u.v[i];
		if (tty && !text_printable(p, u.len[i], false)) {
			char *e = malloc(4 * u.len[i] + 1);
			if (!e)
				break;
			fwrite(e, 1, text_escape(e, p, u.len[i], false), stdout);
			free(e);
		} else {
			fwrite(p, 1, u.len[i], stdout);
		}
		putchar('\n');
	}
	ret = query_failed(q) ? 1 : 0;
done:
	uniq_free(&u);
	view_free(v);
	query_free(q);
	return ret;
}

/* Bytes allocated to directory fd and everything under it (depth: the
 * store has two levels); closes fd. -errno when fd cannot be read. */
static int64_t usage_of(int fd, int depth)
{
	struct stat st;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	int64_t sum = fstat(fd, &st) == 0 ? (int64_t)st.st_blocks * 512 : 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth > 0) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			int64_t u = sub >= 0 ? usage_of(sub, depth - 1) : -errno;
			sum += u > 0 ? u : (int64_t)st.st_blocks * 512;
		} else {
			sum += (int64_t)st.st_blocks * 512;
		}
	}
	closedir(d);
	return sum;
}

static int64_t usage_path(const char *path, int depth)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : usage_of(fd, depth);
}

/* --disk-usage: journalctl's line for the store's hosts directory. */
static int show_disk_usage(struct options *o)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/hosts", o->dir);
	int64_t sum = usage_path(path, 2);
	if (sum < 0 && sum != -ENOENT) {
		fprintf(stderr, "kmsgctl: %s: %s%s\n", path, strerror((int)-sum),
			sum == -EACCES ? " (reading the store needs membership of group " QUERY_STORE_GROUP
					 ", or root)"
				       : "");
		return 1;
	}
	char size[32];
	text_bytes(size, sizeof(size), sum > 0 ? (uint64_t)sum : 0);
	printf("Archived and active journals take up %s in the file system.\n", size);
	return 0;
}

/* --header: per host, where its journal is and what it holds. */
static int show_header(struct options *o)
{
	struct query *q = NULL;
	int ret = 1;
	if (query_open(&q, o->dir, o->hosts, o->nhosts, &o->filter) < 0)
		goto done;
	bool failed = query_failed(q);
	for (size_t i = 0; i < query_nhosts(q); i++) {
		struct host_summary hs;
		const char *path = query_host_path(q, i);
		int r = summary_scan(query_host_name(q, i), path, false, &hs);
		if (r < 0 && r != -EBADMSG) {
			fprintf(stderr, "kmsgctl: host %s: %s: %s\n", query_host_name(q, i), path,
				strerror(-r));
			summary_free(&hs);
			failed = true;
			continue;
		}
		failed |= r < 0;
		int64_t usage = usage_path(path, 1);
		size_t segs = 0;
		DIR *d = opendir(path);
		for (struct dirent *de; d && (de = readdir(d));) {
			size_t l = strlen(de->d_name);
			segs += l > 4 && strcmp(de->d_name + l - 4, ".seg") == 0;
		}
		if (d)
			closedir(d);
		char size[32], first[64] = "-", last[64] = "-";
		text_bytes(size, sizeof(size), usage > 0 ? (uint64_t)usage : 0);
		if (hs.has_times) {
			timestamp_format(first, sizeof(first), hs.first, TS_FULL, o->utc);
			timestamp_format(last, sizeof(last), hs.last, TS_FULL, o->utc);
		}
		printf("%sHost: %s\nJournal: %s\nSegments: %zu\nDisk usage: %s\nRecords: %llu\n"
		       "Boots: %zu\nFirst entry: %s\nLast entry: %s\n",
		       i ? "\n" : "", hs.name, path, segs, size, (unsigned long long)hs.records, hs.nboots,
		       first, last);
		summary_free(&hs);
	}
	ret = failed ? 1 : 0;
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
		ret = o.cmd == CMD_RECORDS			  ? show_records(&o)
		      : o.cmd == CMD_VERIFY			  ? show_verify(&o)
		      : o.cmd == CMD_FIELD || o.cmd == CMD_FIELDS ? show_fields(&o)
		      : o.cmd == CMD_HEADER			  ? show_header(&o)
		      : o.cmd == CMD_DISK_USAGE			  ? show_disk_usage(&o)
								  : show_report(&o);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kmsgctl: write: %s\n", strerror(errno));
		ret = 1;
	}
	pager_close();
	filter_free(&o.filter);
	free(o.hosts);
	free(o.fields);
	return ret;
}
