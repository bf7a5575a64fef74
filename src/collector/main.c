/* SPDX-License-Identifier: ISC */
/*
 * kmsg-collector: accepts agents, authenticates them by static key, stores
 * each host's records durably in its own journal, then acks.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "conf.h"
#include "key.h"
#include "log.h"
#include "loop.h"
#include "server.h"
#include "store.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: kmsg-collector [-dn] [-c FILE]\n"
		   "  -c FILE   configuration file (default " KS_COLLECTOR_CONF ")\n"
		   "  -d        debug: log to stderr, verbosely\n"
		   "  -n        check the configuration and the key, then exit\n"
		   "  -h        this help\n"
		   "  --version print the version\n");
}

struct collector {
	const char *conf_path;
	struct collector_conf conf[2]; /* the live one and the one a reload fills */
	int cur;
	struct server *sv;
	uint64_t last_records, last_ms;
};

static void on_signal(struct loop *l, int signo, void *data)
{
	log_info("%s received, stopping", strsignal(signo));
	sd_notify(0, "STOPPING=1");
	loop_stop(l);
}

/* SIGHUP: a new client list and limits, or the old ones if the file is bad. */
static void on_reload(struct loop *l, int signo, void *data)
{
	struct collector *co = data;
	struct collector_conf *next = &co->conf[!co->cur];
	const char *err = NULL;
	sd_notify(0, "RELOADING=1");
	int r = collector_conf_load(next, co->conf_path, &err);
	if (r < 0) {
		log_err("reload: %s; keeping the previous configuration", err ? err : strerror(-r));
		collector_conf_free(next);
	} else {
		server_set_conf(co->sv, next);
		log_set_level(next->log_level);
		collector_conf_free(&co->conf[co->cur]);
		co->cur = !co->cur;
		log_info("reloaded %s: %zu client(s)", co->conf_path, next->nclients);
	}
	sd_notify(0, "READY=1");
}

/* Once a second: live figures for systemctl status. */
static void on_status(struct loop *l, struct loop_timer *t, void *data)
{
	struct collector *co = data;
	struct server_stats st;
	char rej[256];
	size_t off = 0;
	server_get_stats(co->sv, &st);
	uint64_t now = loop_now_ms(l), dt = now - co->last_ms;
	uint64_t rate = dt ? (st.records - co->last_records) * 1000 / dt : 0;
	co->last_records = st.records;
	co->last_ms = now;
	for (int i = 0; i < REJECT_KINDS && off < sizeof(rej); i++)
		off += (size_t)snprintf(rej + off, sizeof(rej) - off, " %s=%llu", server_reject_name(i),
					(unsigned long long)st.rejected[i]);
	sd_notifyf(0,
		   "STATUS=%llu sessions (%llu since start), %llu records (%llu/s), %llu duplicates, %llu "
		   "commits, %llu DH; rejected:%s",
		   (unsigned long long)st.live, (unsigned long long)st.sessions,
		   (unsigned long long)st.records, (unsigned long long)rate,
		   (unsigned long long)st.duplicates, (unsigned long long)st.commits,
		   (unsigned long long)st.x25519_ops, rej);
	if (loop_timer_add(l, 1000, on_status, co, NULL) < 0)
		log_warn("status timer: out of memory; STATUS stops updating");
}

int main(int argc, char **argv)
{
	const char *conf_path = KS_COLLECTOR_CONF;
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
			printf("kmsg-collector %s\n", KS_VERSION);
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
	log_open("kmsg-collector", debug || check);
	if (sodium_init() < 0) {
		log_err("libsodium: initialisation failed");
		return 1;
	}

	static struct collector co;
	co.conf_path = conf_path;
	struct collector_conf *conf = &co.conf[0];
	const char *err = NULL;
	int r = collector_conf_load(conf, conf_path, &err);
	if (r < 0) {
		log_err("%s", err ? err : strerror(-r));
		collector_conf_free(&co.conf[co.cur]);
		return 1;
	}
	log_set_level(debug ? LOG_DEBUG : conf->log_level);

	uint8_t priv[KEY_LEN];
	r = key_read_private_file(conf->private_key_file, priv);
	if (r < 0) {
		log_err("private key %s: %s", conf->private_key_file, key_file_strerror(r));
		collector_conf_free(&co.conf[co.cur]);
		return 1;
	}
	if (check) {
		sodium_memzero(priv, sizeof(priv));
		printf("%s: configuration OK, %zu client(s)\n", conf_path, conf->nclients);
		collector_conf_free(&co.conf[co.cur]);
		return 0;
	}
	if (conf->nclients == 0)
		log_warn("%s: no clients configured; every agent will be refused", conf_path);

	int ret = 1;
	struct loop *loop = NULL;
	struct store *store = NULL;
	struct server *sv = NULL;
	if ((r = store_open(&store, conf->state_dir)) < 0) {
		log_err("state directory %s: %s", conf->state_dir, strerror(-r));
		goto out;
	}
	if ((r = loop_new(&loop)) < 0 || (r = server_new(&sv, loop, conf, store, priv)) < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	sodium_memzero(priv, sizeof(priv));
	if ((r = server_listen(sv)) < 0)
		goto out;
	co.sv = sv;
	co.last_ms = loop_now_ms(loop);
	if ((r = loop_signal(loop, SIGTERM, on_signal, NULL)) < 0 ||
	    (r = loop_signal(loop, SIGINT, on_signal, NULL)) < 0 ||
	    (r = loop_signal(loop, SIGHUP, on_reload, &co)) < 0 ||
	    (r = loop_timer_add(loop, 1000, on_status, &co, NULL)) < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	log_info("started: %zu client(s), state in %s", conf->nclients, conf->state_dir);
	sd_notify(0, "READY=1");
	r = loop_run(loop);
	if (r < 0)
		log_err("event loop: %s", strerror(-r));
	else
		ret = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	server_free(sv);
	store_free(store);
	loop_free(loop);
	collector_conf_free(&co.conf[co.cur]);
	return ret;
}
