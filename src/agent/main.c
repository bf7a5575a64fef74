/* SPDX-License-Identifier: ISC */
/*
 * kmsg-shipper: the agent. Reads the kernel log, spools every record and
 * ships it to a collector; frees records only when the collector acks.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <sodium.h>

#include "cfg.h"
#include "conf.h"
#include "hostinfo.h"
#include "jsource.h"
#include "key.h"
#include "log.h"
#include "notify.h"
#include "loop.h"
#include "pstore.h"
#include "sandbox.h"
#include "status.h"
#include "spool.h"
#include "startcheck.h"
#include "source.h"
#include "stream.h"
#include "uplink.h"
#include "witness.h"

struct agent {
	struct agent_conf conf; /* as started: what needs a restart comes from here */
	/* The newest configuration a SIGHUP loaded (NULL: none yet): the
	 * collector list, network timings and log level come from it. */
	struct agent_conf *live;
	const char *conf_path;
	bool debug;
	struct loop *loop;
	struct source *src;
	struct spool *q;
	struct loop_timer *sync_timer;
	struct uplink *up;
	struct witness *witness;
	struct jsource *js; /* NULL: journal input off */
	struct pstore *ps;  /* NULL: pstore input off */
	/* The journal cursor of the newest burst, saved once the spool has
	 * fsynced every record below js_pending_seq (so a restart never
	 * skips an entry the spool lost). */
	char *js_pending;
	uint64_t js_pending_seq;
	struct stream st;
	uint8_t boot_id[16];
	uint64_t spool_errors;
	int degraded;		   /* the spool's condition last logged (spool_degraded) */
	uint64_t stop_deadline_ms; /* stopping: wait for acks until then */
};

/* How long a stopping agent waits for the collector to ack what it holds. */
#define AGENT_STOP_DRAIN_MS 2000

static void usage(FILE *f)
{
	fprintf(f, "usage: kmsg-shipper [-dn] [-c FILE]\n"
		   "       kmsg-shipper [-c FILE] --spool-check[=DIR]\n"
		   "       kmsg-shipper [-c FILE] --print-commitment\n"
		   "  -c FILE   configuration file (default " KS_SHIPPER_CONF ")\n"
		   "  -d        debug: log to stderr, verbosely\n"
		   "  -n        check the configuration and exit\n"
		   "  --check-reload\n"
		   "            load the configuration as a reload (SIGHUP) would, then exit\n"
		   "  --spool-check[=DIR]\n"
		   "            report what the spool (default STATE_DIR/spool) holds and\n"
		   "            what is damaged, changing nothing; exit 0 clean, 1 damaged\n"
		   "  --print-commitment\n"
		   "            print the newest commitment of each collector to its\n"
		   "            journal (STATE_DIR/commitments), for kmsgctl to check;\n"
		   "            exit 1 when there is none\n"
		   "  -h        this help\n"
		   "  --version print the version\n");
}

/* --spool-check: 0 clean, 1 damaged, 2 unreadable. */
static int check_spool(const char *dir)
{
	int r = spool_check(dir, stdout);
	if (fflush(stdout) != 0 && r >= 0)
		r = -EIO;
	if (r < 0) {
		log_err("spool %s: %s", dir, strerror(-r));
		return 2;
	}
	return r;
}

/* Log the spool's disk condition when it changes (STATUS shows it too). */
static void check_degraded(struct agent *a)
{
	int d = spool_degraded(a->q);
	if (d == a->degraded)
		return;
	uint8_t boot[16];
	uint64_t kseq;
	/* Records accepted before are in the file or in the spool's write
	 * buffer (written again from there); later ones join the memory
	 * queue, whose bound drops the oldest of the least severe first. */
	if (d && spool_cursor(a->q, boot, &kseq) == 1)
		log_err("spool: cannot write (%s); keeping the kernel records after seq %llu in memory, "
			"retrying every second",
			strerror(-d), (unsigned long long)kseq);
	else if (d)
		log_err("spool: cannot write (%s); keeping the newest records in memory, retrying every "
			"second",
			strerror(-d));
	else
		log_notice("spool: writing to disk again");
	a->degraded = d;
}

static int on_record(struct record *rec, void *data)
{
	struct agent *a = data;
	int r = spool_append(a->q, rec);
	/* Not kept at all (never for a valid record): count, say it once. */
	if (r < 0 && a->spool_errors++ == 0)
		log_err("spool record: %s; such records are lost and counted", strerror(-r));
	check_degraded(a);
	return 0;
}

static void schedule_sync(struct agent *a);

static void save_journal_cursor(struct agent *a)
{
	if (!a->js_pending || spool_synced_seq(a->q) < a->js_pending_seq)
		return;
	int r = jsource_save_cursor(a->js, a->js_pending);
	if (r < 0)
		log_warn("journal cursor: %s; a restart may read entries again", strerror(-r));
	free(a->js_pending);
	a->js_pending = NULL;
}

/* The spool's sync policy (and degraded-disk retries) on a timer. */
static void on_sync(struct loop *l, struct loop_timer *t, void *data)
{
	struct agent *a = data;
	a->sync_timer = NULL;
	int r = spool_sync(a->q);
	if (r < 0 && !spool_degraded(a->q))
		log_warn("spool: sync: %s", strerror(-r));
	check_degraded(a);
	save_journal_cursor(a);
	uplink_pump(a->up); /* gap records the sync wrote */
	schedule_sync(a);
}

static void schedule_sync(struct agent *a)
{
	int due = spool_sync_due_ms(a->q);
	if (due < 0 || a->sync_timer)
		return;
	if (loop_timer_add(a->loop, (uint64_t)due, on_sync, a, &a->sync_timer) < 0)
		(void)spool_sync(a->q);
}

/* An agent event record (source AGENT), queued like any other record. */
static void agent_event(struct agent *a, uint16_t event, uint8_t level, const char *msg,
			const struct record_fields *fb)
{
	struct record rec = {
		.source = RECORD_SRC_AGENT,
		.level = level,
		.facility = RECORD_FACILITY_EVENT,
		.event = event,
		.mono_usec = clock_usec(CLOCK_MONOTONIC),
		.real_usec = clock_usec(CLOCK_REALTIME),
		.msg = (const uint8_t *)msg,
		.msg_len = (uint32_t)strlen(msg),
		.nfields = fb ? fb->count : 0,
		.fields = fb ? fb->buf : NULL,
		.fields_len = fb ? fb->len : 0,
	};
	memcpy(rec.boot_id, a->boot_id, 16);
	(void)on_record(&rec, a);
	/* No source can give it again: out of the write buffer at once, so
	 * that only a power loss, not a crash, can take it. */
	if (spool_flush(a->q) < 0)
		check_degraded(a);
}

/* Test builds: KS_TEST_KILL_AT=where dies by SIGKILL there (a crash). */
static void test_kill_at(const char *where)
{
#ifdef KS_TEST_HOOKS
	const char *at = getenv("KS_TEST_KILL_AT");
	if (at && strcmp(at, where) == 0)
		raise(SIGKILL);
#else
	(void)where;
#endif
}

static void start_events(struct agent *a, bool new_boot)
{
	uint8_t fbuf[512];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	(void)record_fields_add(&fb, "AGENT_VERSION", KS_VERSION, strlen(KS_VERSION));
	agent_event(a, RECORD_EV_START, LOG_INFO, "kmsg-shipper started", &fb);
	if (!new_boot)
		return;
	/* First start in this boot: say what booted. */
	struct utsname un;
	char host[256], mid[33];
	uint8_t m[16];
	fb = (struct record_fields){ .buf = fbuf, .cap = sizeof(fbuf) };
	hostinfo_machine_id(m);
	for (int i = 0; i < 16; i++)
		snprintf(mid + 2 * i, 3, "%02x", m[i]);
	size_t hl = hostinfo_hostname(host, sizeof(host));
	if (uname(&un) == 0)
		(void)record_fields_add(&fb, "KERNEL_RELEASE", un.release, strlen(un.release));
	(void)record_fields_add(&fb, "MACHINE_ID", mid, 32);
	(void)record_fields_add(&fb, "HOSTNAME", host, hl);
	test_kill_at("before-boot-event");
	/* Written with the spool's position (its cursor) saying "announced":
	 * one entry, so no crash leaves one without the other. */
	agent_event(a, RECORD_EV_BOOT, LOG_INFO, "boot", &fb);
	test_kill_at("after-boot-event");
}

/*
 * STATE_DIR/spool holds the stream: its stream id wins over the stream
 * file's (the stream file then follows it, counter included). Losses
 * found by recovery are logged here; the spool wrote them as gap records.
 */
static int open_spool(struct agent *a)
{
	char dir[4096];
	struct spool_conf sc;
	spool_conf_init(&sc);
	sc.max_bytes = a->conf.spool_max;
	sc.segment_bytes = a->conf.spool_segment;
	sc.mem_max = a->conf.spool_memory_max;
	sc.sync_level = a->conf.spool_sync_level;
	sc.sync_records = (uint32_t)a->conf.spool_sync_records;
	sc.sync_interval_ms = (uint32_t)a->conf.spool_sync_interval_ms;
	/* At least 8 segments, so overflow drops free space in small steps. */
	if (sc.segment_bytes > sc.max_bytes / 8)
		sc.segment_bytes = sc.max_bytes / 8;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/spool", a->conf.state_dir) >= sizeof(dir))
		return -ENAMETOOLONG;
	int r = spool_open(&a->q, dir, &sc, a->st.id, a->boot_id);
	if (r < 0) {
		log_err("spool %s: %s", dir, strerror(-r));
		return -EIO;
	}
	if (memcmp(spool_stream_id(a->q), a->st.id, 16) != 0) {
		log_warn("spool %s belongs to another stream than %s/stream; continuing the spool's", dir,
			 a->conf.state_dir);
		memcpy(a->st.id, spool_stream_id(a->q), 16);
	}
	size_t n;
	const struct spool_loss *loss = spool_recovery(a->q, &n);
	for (size_t i = 0; i < n; i++)
		log_warn("spool %s: %s: %s, %llu bytes at %llu, %llu records lost", dir, loss[i].segment,
			 loss[i].cause, (unsigned long long)loss[i].bytes, (unsigned long long)loss[i].offset,
			 (unsigned long long)loss[i].count);
	if ((r = spool_degraded(a->q)) < 0)
		log_err("spool %s: cannot write (%s); keeping records in memory", dir, strerror(-r));
	a->degraded = r;
	return 0;
}

/* Sync now, whatever the policy says: records are sent only once synced. */
static void sync_now(struct agent *a)
{
	if (spool_synced_seq(a->q) >= spool_next_seq(a->q))
		return;
	int r = spool_sync(a->q);
	if (r < 0 && !spool_degraded(a->q))
		log_warn("spool: sync: %s", strerror(-r));
	check_degraded(a);
	save_journal_cursor(a);
}

/*
 * After a burst of records. While a collector is connected the burst is
 * synced at once, so that it can be sent: the sync is the price of the
 * latency, and under load bursts grow, so fsyncs stay few (group commit).
 * Otherwise the burst is written (one write for the burst: a crash then
 * loses none of it) and the policy's timer decides when to fdatasync.
 */
static void on_flush(void *data)
{
	struct agent *a = data;
	struct uplink_stats us;
	uplink_get_stats(a->up, &us);
	if (us.connected)
		sync_now(a);
	else if (spool_flush(a->q) < 0)
		check_degraded(a);
	schedule_sync(a);
	uplink_pump(a->up);
}

static void on_journal_flush(void *data)
{
	struct agent *a = data;
	const char *cur = jsource_cursor(a->js);
	if (cur && (!a->js_pending || strcmp(cur, a->js_pending) != 0)) {
		char *c = strdup(cur);
		if (c) { /* else: the older pending cursor stays; a restart reads more again */
			free(a->js_pending);
			a->js_pending = c;
			a->js_pending_seq = spool_next_seq(a->q);
		}
	}
	save_journal_cursor(a);
	on_flush(a);
}

/*
 * Open the optional inputs while privileged. A pstore directory that does
 * not exist turns that input off; everything else that fails is an error.
 */
static int open_inputs(struct agent *a)
{
	const struct agent_conf *c = &a->conf;
	char path[4096];
	int r;
	if (c->pstore_enable) {
		if ((size_t)snprintf(path, sizeof(path), "%s/pstore.state", c->state_dir) >= sizeof(path))
			return -ENAMETOOLONG;
		r = pstore_open(&a->ps, c->pstore_path, path, c->pstore_remove);
		if (r == -ENOENT) {
			log_info("pstore %s: not there; pstore input off", c->pstore_path);
		} else if (r < 0) {
			log_err("pstore %s: %s", c->pstore_path, strerror(-r));
			return -EIO;
		} else {
			struct pstore_stats ps;
			pstore_get_stats(a->ps, &ps);
			if (ps.state_error)
				log_warn("pstore state %s: %s; files shipped before are shipped again", path,
					 ps.state_error == -EBADMSG ? "damaged" : strerror(-ps.state_error));
		}
	}
	if (c->journal_enable) {
		struct jsource_conf jc;
		jsource_conf_defaults(&jc);
		jc.directory = c->journal_directory;
		jc.matches = c->journal_matches;
		jc.nmatches = c->njournal_matches;
		jc.exclude_kernel = c->journal_exclude_kernel;
		jc.from_now = c->journal_from_now;
		jc.max_field_bytes = (size_t)c->journal_max_field;
		memcpy(jc.boot_id, a->boot_id, 16);
		if ((size_t)snprintf(path, sizeof(path), "%s/journal.cursor", c->state_dir) >= sizeof(path))
			return -ENAMETOOLONG;
		jc.cursor_file = path;
		r = jsource_open(&a->js, &jc);
		if (r < 0) {
			log_err("journal %s: %s", c->journal_directory ? c->journal_directory : "(system)",
				strerror(-r));
			return -EIO;
		}
	}
	return 0;
}

/*
 * Ship what a crashed boot left in pstore: scan, fsync the spool, then mark
 * the files shipped (and remove them, if so configured). Without the
 * fsync nothing is marked: the next start ships them again (a duplicate,
 * never a loss).
 */
static void ship_pstore(struct agent *a)
{
	if (!a->ps)
		return;
	int n = pstore_scan(a->ps, on_record, a);
	if (n < 0) {
		log_err("pstore %s: %s", a->conf.pstore_path, strerror(-n));
		return;
	}
	int r = spool_sync(a->q);
	if (r < 0 || spool_synced_seq(a->q) < spool_next_seq(a->q)) {
		log_warn("pstore: spool not synced (%s); the files will be shipped again on the next start",
			 r < 0 ? strerror(-r) : "degraded");
		return;
	}
	if ((r = pstore_commit(a->ps)) < 0) {
		log_warn("pstore: state: %s; the files will be shipped again on the next start",
			 strerror(-r));
		return;
	}
	struct pstore_stats st;
	pstore_get_stats(a->ps, &st);
	if (n > 0 || st.errors)
		log_notice("pstore %s: %d records from %llu files, %llu already shipped, %llu unreadable",
			   a->conf.pstore_path, n, (unsigned long long)st.shipped,
			   (unsigned long long)st.skipped, (unsigned long long)st.errors);
	if (st.remove_failed)
		log_warn("pstore: %llu files not removed: %s", (unsigned long long)st.remove_failed,
			 strerror(-st.remove_error));
}

/* uplink's view of a configuration. */
static struct uplink_conf uplink_conf_of(const struct agent_conf *c)
{
	return (struct uplink_conf){
		.targets = c->targets,
		.ntargets = c->ntargets,
		.backoff_max_ms = c->backoff_max_ms,
		.connect_timeout_ms = c->connect_timeout_ms,
		.heartbeat_ms = c->heartbeat_ms,
		.session_max_ms = c->session_max_ms,
		.padding = c->padding,
		.require_extensions = c->require_extensions,
	};
}

/* The settings a reload cannot apply: named once each, if they changed. */
static void report_restart_needed(const struct agent_conf *o, const struct agent_conf *n)
{
	bool matches = o->njournal_matches != n->njournal_matches;
	for (size_t i = 0; !matches && i < n->njournal_matches; i++)
		matches = strcmp(o->journal_matches[i], n->journal_matches[i]) != 0;
	const struct {
		const char *name;
		bool changed;
	} c[] = {
		{ "private_key_file", cfg_str_differs(o->private_key_file, n->private_key_file) },
		{ "state_dir", cfg_str_differs(o->state_dir, n->state_dir) },
		{ "user", cfg_str_differs(o->user, n->user) },
		{ "landlock", o->landlock_required != n->landlock_required },
		{ "kmsg.path", cfg_str_differs(o->kmsg_path, n->kmsg_path) },
		{ "kmsg.from", o->kmsg_from_now != n->kmsg_from_now },
		{ "kmsg.queue_size", o->kmsg_queue_size != n->kmsg_queue_size },
		{ "kmsg.reader_priority", o->kmsg_reader_priority != n->kmsg_reader_priority },
		{ "spool.*", o->spool_max != n->spool_max || o->spool_segment != n->spool_segment ||
				     o->spool_memory_max != n->spool_memory_max ||
				     o->spool_sync_level != n->spool_sync_level ||
				     o->spool_sync_records != n->spool_sync_records ||
				     o->spool_sync_interval_ms != n->spool_sync_interval_ms },
		{ "journal.*", o->journal_enable != n->journal_enable || matches ||
				       o->journal_exclude_kernel != n->journal_exclude_kernel ||
				       o->journal_from_now != n->journal_from_now ||
				       o->journal_max_field != n->journal_max_field ||
				       cfg_str_differs(o->journal_directory, n->journal_directory) },
		{ "pstore.*", o->pstore_enable != n->pstore_enable ||
				      cfg_str_differs(o->pstore_path, n->pstore_path) ||
				      o->pstore_remove != n->pstore_remove },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].changed)
			log_warn("reload: %s changed: takes effect at the next restart", c[i].name);
}

/*
 * SIGHUP: reload the configuration file. Applied at once: log_level, the
 * collector list and the network timings. Everything else is reported as
 * needing a restart. A file that does not load changes nothing.
 */
static void on_reload(struct loop *l, int signo, void *data)
{
	struct agent *a = data;
	notify_send("RELOADING=1");
	struct agent_conf *n = calloc(1, sizeof(*n));
	const char *err = NULL;
	int r = n ? agent_conf_load(n, a->conf_path, &err) : -ENOMEM;
	if (r < 0) {
		log_err("reload: %s; keeping the running configuration", err ? err : strerror(-r));
		/* Shown by systemctl status until a reload succeeds. */
		char note[256];
		snprintf(note, sizeof(note), "; reload failed, previous configuration kept: %s",
			 err ? err : strerror(-r));
		notify_status_note(note);
		if (n)
			agent_conf_free(n);
		free(n);
		notify_send("READY=1\nSTATUS=reload failed");
		return;
	}
	notify_status_note(NULL);
	report_restart_needed(&a->conf, n);
	log_set_level(a->debug ? LOG_DEBUG : n->log_level);
	struct uplink_conf uc = uplink_conf_of(n);
	uplink_set_conf(a->up, &uc);
	if (a->live) {
		agent_conf_free(a->live);
		free(a->live);
	}
	a->live = n;
	log_info("reloaded %s: %zu collector(s)", a->conf_path, n->ntargets);
	notify_send("READY=1");
}

/* Stopping: leave once the collector holds everything, or at the deadline. */
static void on_drain(struct loop *l, struct loop_timer *t, void *data)
{
	struct agent *a = data;
	struct uplink_stats us;
	uplink_get_stats(a->up, &us);
	if (us.acked_hwm >= spool_next_seq(a->q) || loop_now_ms(l) >= a->stop_deadline_ms) {
		loop_stop(l);
		return;
	}
	if (loop_timer_add(l, 20, on_drain, a, NULL) < 0)
		loop_stop(l);
}

static void on_signal(struct loop *l, int signo, void *data)
{
	struct agent *a = data;
	if (a->stop_deadline_ms) {
		loop_stop(l); /* a second signal: now */
		return;
	}
	log_info("%s received, stopping", strsignal(signo));
	agent_status_stopping();
	agent_event(a, RECORD_EV_STOP, LOG_INFO, "kmsg-shipper stopping", NULL);
	sync_now(a);
	uplink_pump(a->up);
	a->stop_deadline_ms = loop_now_ms(l) + AGENT_STOP_DRAIN_MS;
	on_drain(l, NULL, a);
}

/*
 * The start conditions (startcheck.h), before anything is opened: the user
 * (when started as root, and always with -n), the key, the state and spool
 * directories, and that the user can reach what the sandbox names (the
 * state directory, the configuration, the kernel log, the journal
 * directory); with -n also what
 * the start would open for reading. One line and -errno on the first
 * failure; priv holds the key on success.
 */
static int check_start(const struct agent_conf *c, bool check_only, uint8_t priv[KEY_LEN])
{
	struct startcheck s = { .conf_path = c->path };
	struct privdrop_user u;
	char spool[4096], confdir[4096];
	int r = 0;
	/* The sandbox names the configuration's directory (for SIGHUP). */
	const char *slash = strrchr(c->path, '/');
	snprintf(confdir, sizeof(confdir), "%.*s", slash ? (int)(slash - c->path) : 1, slash ? c->path : ".");
	if ((size_t)snprintf(spool, sizeof(spool), "%s/spool", c->state_dir) >= sizeof(spool)) {
		log_err("state directory %s: %s", c->state_dir, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if (check_only || geteuid() == 0)
		r = startcheck_user(&s, c->user, &u);
	if (r == 0)
		r = startcheck_private_key(&s, c->private_key_file, priv);
	if (r == 0)
		r = startcheck_dir(&s, "state directory", c->state_dir);
	if (r == 0)
		r = startcheck_dir(&s, "spool directory", spool);
	if (r == 0)
		r = startcheck_reach(&s, "state directory", c->state_dir);
	if (r == 0 && confdir[0])
		r = startcheck_reach(&s, "configuration directory", confdir);
	if (r == 0)
		r = startcheck_reach(&s, "kernel log", c->kmsg_path);
	if (r == 0 && c->journal_enable && c->journal_directory)
		r = startcheck_reach(&s, "journal directory", c->journal_directory);
	if (r == 0 && check_only)
		r = startcheck_readable(&s, "kernel log", c->kmsg_path, false);
	if (r == 0 && check_only && c->journal_enable && c->journal_directory)
		r = startcheck_readable(&s, "journal directory", c->journal_directory, true);
	if (r < 0) {
		sodium_memzero(priv, KEY_LEN);
		log_err("%s", s.err);
	}
	return r;
}

int main(int argc, char **argv)
{
	const char *conf_path = KS_SHIPPER_CONF;
	int debug = 0, check = 0;
	bool spool_check_opt = false, reload_check = false, print_commitment = false;
	const char *spool_check_dir = NULL;
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },		 { "help", no_argument, NULL, 'h' },
		{ "spool-check", optional_argument, NULL, 'S' }, { "check-reload", no_argument, NULL, 'R' },
		{ "print-commitment", no_argument, NULL, 'P' },	 { 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:dnh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'R':
			reload_check = true;
			break;
		case 'S':
			spool_check_opt = true;
			spool_check_dir = optarg;
			break;
		case 'P':
			print_commitment = true;
			break;
		case 'V':
			printf("kmsg-shipper %s\n", KS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	log_open("kmsg-shipper", debug || check || spool_check_opt || reload_check || print_commitment);
	if (sodium_init() < 0) {
		log_err("libsodium: initialisation failed");
		return 1;
	}
	if (spool_check_opt && spool_check_dir)
		return check_spool(spool_check_dir);

	struct agent a = { .conf_path = conf_path, .debug = debug };
	const char *err = NULL;
	int r = agent_conf_load(&a.conf, conf_path, &err);
	if (r < 0) {
		log_err("%s", err ? err : strerror(-r));
		agent_conf_free(&a.conf);
		return 1;
	}
	/* --check-reload: the file loads as a SIGHUP would load it (the
	 * unit's ExecReload= runs this before the signal, so that systemctl
	 * reload fails where the reload would). */
	if (reload_check) {
		agent_conf_free(&a.conf);
		return 0;
	}
	log_set_level(debug ? LOG_DEBUG : a.conf.log_level);
	if (print_commitment) {
		r = witness_print(a.conf.state_dir, stdout);
		if (r <= 0)
			log_err("%s/%s: %s", a.conf.state_dir, WITNESS_FILE,
				r == 0 || r == -ENOENT ? "no commitment yet" : strerror(-r));
		agent_conf_free(&a.conf);
		return r > 0 ? 0 : 1;
	}
	if (spool_check_opt) {
		char dir[4096];
		if ((size_t)snprintf(dir, sizeof(dir), "%s/spool", a.conf.state_dir) >= sizeof(dir))
			r = 2;
		else
			r = check_spool(dir);
		agent_conf_free(&a.conf);
		return r;
	}

	uint8_t priv[KEY_LEN];
	if (check_start(&a.conf, check, priv) < 0) {
		agent_conf_free(&a.conf);
		return 1;
	}
	if (check) {
		sodium_memzero(priv, sizeof(priv));
		printf("%s: configuration OK\n", conf_path);
		agent_conf_free(&a.conf);
		return 0;
	}

	int ret = 1;
	if ((r = hostinfo_boot_id(a.boot_id)) < 0) {
		log_err("read boot id: %s", strerror(-r));
		goto out;
	}
	if ((r = source_open(&a.src, a.conf.kmsg_path, a.boot_id)) < 0) {
		log_err("kernel log %s: cannot open: %s", a.conf.kmsg_path, strerror(-r));
		goto out;
	}
	if ((r = startcheck_make_dir(a.conf.state_dir, 0700)) < 0) {
		log_err("state directory %s: %s", a.conf.state_dir, strerror(-r));
		goto out;
	}
	if ((r = stream_open(&a.st, a.conf.state_dir, 0)) < 0) {
		log_err("stream state in %s: %s", a.conf.state_dir, strerror(-r));
		goto out;
	}
	if ((r = open_spool(&a)) < 0 || (r = open_inputs(&a)) < 0 || (r = loop_new(&a.loop)) < 0) {
		if (r != -EIO)
			log_err("start: %s", strerror(-r));
		goto out;
	}
	struct uplink_conf uc = uplink_conf_of(&a.conf);
	uc.priv = priv;
	r = uplink_new(&a.up, a.loop, &uc, a.q, &a.st);
	sodium_memzero(priv, sizeof(priv));
	if (r < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	/* Without it the agent still ships; it only keeps no commitments. */
	if ((r = witness_open(&a.witness, a.conf.state_dir)) < 0)
		log_err("%s/%s: %s; collectors' commitments are not kept", a.conf.state_dir, WITNESS_FILE,
			strerror(-r));
	else
		uplink_set_witness(a.up, a.witness);
	/* Resume after the last kernel record the spool holds. */
	struct source_position pos = { .from_now = a.conf.kmsg_from_now };
	pos.have_cursor = spool_cursor(a.q, pos.boot_id, &pos.kmsg_seq) == 1;
	/* Not "no kernel record of this boot yet": a crash between the boot
	 * event and the first kernel record would announce the boot twice. */
	bool new_boot = !spool_boot_announced(a.q, a.boot_id);
	source_set_position(a.src, &pos);
	source_set_reader(a.src, (size_t)a.conf.kmsg_queue_size, (int)a.conf.kmsg_reader_priority);
	if ((r = loop_signal(a.loop, SIGTERM, on_signal, &a)) < 0 ||
	    (r = loop_signal(a.loop, SIGINT, on_signal, &a)) < 0 ||
	    (r = loop_signal(a.loop, SIGHUP, on_reload, &a)) < 0 ||
	    (r = source_start(a.src, a.loop, on_record, on_flush, &a)) < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	start_events(&a, new_boot);
	ship_pstore(&a);
	/* Every privileged open (and pstore, whose files need root) is done:
	 * drop for good before the first kernel record is parsed (sandbox.h). */
	if ((r = agent_sandbox_enter(&a.conf)) < 0)
		goto out;
	if (a.js && (r = jsource_start(a.js, a.loop, on_record, on_journal_flush, &a)) < 0) {
		log_err("journal: start: %s", strerror(-r));
		goto out;
	}
	uplink_start(a.up);
	/* READY=1 from the loop's first turn, then STATUS and WATCHDOG. */
	struct agent_status as = { a.loop, &a.conf, a.src, a.js, a.q, a.up };
	if ((r = agent_status_start(&as)) < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	log_info("started: reading %s, stream %02x%02x%02x%02x..., %zu collector(s)", a.conf.kmsg_path,
		 a.st.id[0], a.st.id[1], a.st.id[2], a.st.id[3], a.conf.ntargets);
	r = loop_run(a.loop);
	struct source_stats ss;
	source_get_stats(a.src, &ss);
	if (r < 0)
		log_err("event loop: %s", strerror(-r));
	else if (ss.error)
		log_err("read %s: %s; stopping", a.conf.kmsg_path, strerror(-ss.error));
	else
		ret = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	uplink_free(a.up);
	witness_free(a.witness);
	source_free(a.src);
	if (a.sync_timer)
		loop_timer_cancel(a.loop, a.sync_timer);
	if (a.q && a.js_pending && spool_sync(a.q) == 0)
		save_journal_cursor(&a);
	free(a.js_pending);
	jsource_free(a.js);
	pstore_free(a.ps);
	if (a.q && (r = spool_close(a.q)) < 0)
		log_err("spool: close: %s", strerror(-r));
	loop_free(a.loop);
	if (a.live) {
		agent_conf_free(a.live);
		free(a.live);
	}
	agent_conf_free(&a.conf);
	return ret;
}
