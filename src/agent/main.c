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

#include <sodium.h>

#include "conf.h"
#include "durable.h"
#include "hostinfo.h"
#include "key.h"
#include "log.h"
#include "loop.h"
#include "spool.h"
#include "source.h"
#include "stream.h"
#include "uplink.h"

struct agent {
	struct agent_conf conf;
	struct loop *loop;
	struct source *src;
	struct spool *q;
	struct loop_timer *sync_timer;
	struct uplink *up;
	struct stream st;
	uint8_t boot_id[16];
	uint64_t spool_errors;
	uint64_t stop_deadline_ms; /* stopping: wait for acks until then */
};

/* How long a stopping agent waits for the collector to ack what it holds. */
#define AGENT_STOP_DRAIN_MS 2000

static void usage(FILE *f)
{
	fprintf(f, "usage: kmsg-shipper [-dn] [-c FILE]\n"
		   "  -c FILE   configuration file (default " KS_SHIPPER_CONF ")\n"
		   "  -d        debug: log to stderr, verbosely\n"
		   "  -n        check the configuration and exit\n"
		   "  -h        this help\n"
		   "  --version print the version\n");
}

static int on_record(struct record *rec, void *data)
{
	struct agent *a = data;
	int r = spool_append(a->q, rec);
	/* Not kept at all (never for a valid record): count, say it once. */
	if (r < 0 && a->spool_errors++ == 0)
		log_err("spool record: %s; such records are lost and counted", strerror(-r));
	return 0;
}

static void schedule_sync(struct agent *a);

/* The spool's sync policy (and degraded-disk retries) on a timer. */
static void on_sync(struct loop *l, struct loop_timer *t, void *data)
{
	struct agent *a = data;
	a->sync_timer = NULL;
	int r = spool_sync(a->q);
	if (r < 0)
		log_warn("spool: sync: %s", strerror(-r));
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
	agent_event(a, RECORD_EV_BOOT, LOG_INFO, "boot", &fb);
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
	sc.max_bytes = a->conf.queue_max;
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
	return 0;
}

static void on_flush(void *data)
{
	struct agent *a = data;
	schedule_sync(a);
	uplink_pump(a->up);
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
	agent_event(a, RECORD_EV_STOP, LOG_INFO, "kmsg-shipper stopping", NULL);
	uplink_pump(a->up);
	a->stop_deadline_ms = loop_now_ms(l) + AGENT_STOP_DRAIN_MS;
	on_drain(l, NULL, a);
}

int main(int argc, char **argv)
{
	const char *conf_path = KS_SHIPPER_CONF;
	int debug = 0, check = 0;
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
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

	log_open("kmsg-shipper", debug || check);
	if (sodium_init() < 0) {
		log_err("libsodium: initialisation failed");
		return 1;
	}

	struct agent a = { 0 };
	const char *err = NULL;
	int r = agent_conf_load(&a.conf, conf_path, &err);
	if (r < 0) {
		log_err("%s", err ? err : strerror(-r));
		agent_conf_free(&a.conf);
		return 1;
	}
	log_set_level(debug ? LOG_DEBUG : a.conf.log_level);

	uint8_t priv[KEY_LEN];
	r = key_read_private_file(a.conf.private_key_file, priv);
	if (r < 0) {
		log_err("private key %s: %s", a.conf.private_key_file, key_file_strerror(r));
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
		log_err("open %s: %s", a.conf.kmsg_path, strerror(-r));
		goto out;
	}
	if ((r = mkdir_p(a.conf.state_dir, 0700)) < 0) {
		log_err("state directory %s: %s", a.conf.state_dir, strerror(-r));
		goto out;
	}
	if ((r = stream_open(&a.st, a.conf.state_dir, 0)) < 0) {
		log_err("stream state in %s: %s", a.conf.state_dir, strerror(-r));
		goto out;
	}
	if ((r = open_spool(&a)) < 0 || (r = loop_new(&a.loop)) < 0) {
		if (r != -EIO)
			log_err("start: %s", strerror(-r));
		goto out;
	}
	struct uplink_conf uc = {
		.targets = a.conf.targets,
		.ntargets = a.conf.ntargets,
		.priv = priv,
		.backoff_max_ms = a.conf.backoff_max_ms,
		.connect_timeout_ms = a.conf.connect_timeout_ms,
		.heartbeat_ms = a.conf.heartbeat_ms,
		.session_max_ms = a.conf.session_max_ms,
	};
	r = uplink_new(&a.up, a.loop, &uc, a.q, &a.st);
	sodium_memzero(priv, sizeof(priv));
	if (r < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	/* Resume after the last kernel record the spool holds. */
	struct source_position pos = { .from_now = a.conf.kmsg_from_now };
	pos.have_cursor = spool_cursor(a.q, pos.boot_id, &pos.kmsg_seq) == 1;
	bool new_boot = !pos.have_cursor || memcmp(pos.boot_id, a.boot_id, 16) != 0;
	source_set_position(a.src, &pos);
	if ((r = loop_signal(a.loop, SIGTERM, on_signal, &a)) < 0 ||
	    (r = loop_signal(a.loop, SIGINT, on_signal, &a)) < 0 ||
	    (r = source_start(a.src, a.loop, on_record, on_flush, &a)) < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	start_events(&a, new_boot);
	uplink_start(a.up);
	log_info("started: reading %s, stream %02x%02x%02x%02x..., %zu collector(s)", a.conf.kmsg_path,
		 a.st.id[0], a.st.id[1], a.st.id[2], a.st.id[3], a.conf.ntargets);
	r = loop_run(a.loop);
	if (r < 0)
		log_err("event loop: %s", strerror(-r));
	else
		ret = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	uplink_free(a.up);
	source_free(a.src);
	if (a.sync_timer)
		loop_timer_cancel(a.loop, a.sync_timer);
	if (a.q && (r = spool_close(a.q)) < 0)
		log_err("spool: close: %s", strerror(-r));
	loop_free(a.loop);
	agent_conf_free(&a.conf);
	return ret;
}
