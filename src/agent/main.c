/* SPDX-License-Identifier: ISC */
/*
 * kmsg-shipper: the agent. Reads the kernel log, queues every record and
 * ships it to a collector; frees records only when the collector acks.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "conf.h"
#include "durable.h"
#include "hostinfo.h"
#include "key.h"
#include "log.h"
#include "loop.h"
#include "queue.h"
#include "source.h"
#include "stream.h"
#include "uplink.h"

struct agent {
	struct agent_conf conf;
	struct loop *loop;
	struct source *src;
	struct queue *q;
	struct uplink *up;
	struct stream st;
	uint8_t boot_id[16];
	int queue_errors;
};

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
	int r = queue_append(a->q, rec);
	if (r < 0 && a->queue_errors++ == 0)
		log_err("queue record: %s", strerror(-r));
	return 0;
}

static void on_flush(void *data)
{
	struct agent *a = data;
	uplink_pump(a->up);
}

static void on_signal(struct loop *l, int signo, void *data)
{
	log_info("%s received, stopping", strsignal(signo));
	loop_stop(l);
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
		if (r == -EPERM)
			log_err("private key %s: readable or writable by group or others; chmod 600 it",
				a.conf.private_key_file);
		else if (r == -EINVAL)
			log_err("private key %s: expected one base64 key of 44 characters (kmsg-keygen "
				"genkey)",
				a.conf.private_key_file);
		else
			log_err("private key %s: %s", a.conf.private_key_file, strerror(-r));
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
	/* The in-memory queue cannot resume a stream: every start is a new
	 * stream. The on-disk spool will keep streams across restarts. */
	if ((r = stream_open(&a.st, a.conf.state_dir, 1)) < 0) {
		log_err("stream state in %s: %s", a.conf.state_dir, strerror(-r));
		goto out;
	}
	if ((r = queue_new(&a.q, a.conf.queue_max, a.boot_id)) < 0 || (r = loop_new(&a.loop)) < 0) {
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
	if ((r = loop_signal(a.loop, SIGTERM, on_signal, &a)) < 0 ||
	    (r = loop_signal(a.loop, SIGINT, on_signal, &a)) < 0 ||
	    (r = source_start(a.src, a.loop, on_record, on_flush, &a)) < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
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
	queue_free(a.q);
	loop_free(a.loop);
	agent_conf_free(&a.conf);
	return ret;
}
