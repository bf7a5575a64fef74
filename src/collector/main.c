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
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "cfg.h"
#include "conf.h"
#ifdef KS_HAVE_NATS
#include "forward.h"
#endif
#include "key.h"
#include "landlock.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "privdrop.h"
#include "sandbox.h"
#include "server.h"
#include "startcheck.h"
#include "store.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: kmsg-collector [-dn] [-c FILE]\n"
		   "  -c FILE   configuration file (default " KS_COLLECTOR_CONF ")\n"
		   "  -d        debug: log to stderr, verbosely\n"
		   "  -n        check the configuration and the key, then exit\n"
		   "  --check-reload\n"
		   "            load the configuration as a reload (SIGHUP) would, then exit\n"
		   "  -h        this help\n"
		   "  --version print the version\n");
}

struct collector {
	const char *conf_path;
	struct collector_conf conf[2]; /* the live one and the one a reload fills */
	int cur;
	struct server *sv;
	uint64_t last_records, last_ms;
#ifdef KS_HAVE_NATS
	struct forward *fw; /* NULL: not forwarding */
#endif
};

#ifdef KS_HAVE_NATS
static void on_committed(void *data, const char *host)
{
	forward_committed(data, host);
}
#endif

static void on_signal(struct loop *l, int signo, void *data)
{
	log_info("%s received, stopping", strsignal(signo));
	notify_send("STOPPING=1");
	loop_stop(l);
}

/* What a reload does not apply: named once each, if it changed. */
static void report_restart_needed(const struct collector_conf *o, const struct collector_conf *n)
{
	bool listen = o->nlisten != n->nlisten;
	for (size_t i = 0; !listen && i < n->nlisten; i++)
		listen = cfg_str_differs(o->listen[i].address, n->listen[i].address) ||
			 strcmp(o->listen[i].port, n->listen[i].port) != 0;
	const struct {
		const char *name;
		bool changed;
	} c[] = {
		{ "private_key_file", cfg_str_differs(o->private_key_file, n->private_key_file) },
		{ "state_dir", cfg_str_differs(o->state_dir, n->state_dir) },
		{ "user", cfg_str_differs(o->user, n->user) },
		{ "landlock", o->landlock_required != n->landlock_required },
		{ "listen", listen },
		{ "forward", collector_forward_differs(&o->forward, &n->forward) },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].changed)
			log_warn("reload: %s changed: takes effect at the next restart", c[i].name);
}

/* SIGHUP: a new client list and limits, or the old ones if the file is bad. */
static void on_reload(struct loop *l, int signo, void *data)
{
	struct collector *co = data;
	struct collector_conf *next = &co->conf[!co->cur];
	const char *err = NULL;
	notify_send("RELOADING=1");
	int r = collector_conf_load(next, co->conf_path, &err);
	if (r < 0) {
		log_err("reload: %s; keeping the previous configuration", err ? err : strerror(-r));
		/* Shown by systemctl status until a reload succeeds. */
		char note[256];
		snprintf(note, sizeof(note), "; reload failed, previous configuration kept: %s",
			 err ? err : strerror(-r));
		notify_status_note(note);
		collector_conf_free(next);
		notify_send("READY=1\nSTATUS=reload failed");
		return;
	} else {
		notify_status_note(NULL);
		report_restart_needed(&co->conf[co->cur], next);
		server_set_conf(co->sv, next);
#ifdef KS_HAVE_NATS
		if (co->fw)
			forward_set_conf(co->fw, next);
#endif
		log_set_level(next->log_level);
		collector_conf_free(&co->conf[co->cur]);
		co->cur = !co->cur;
		log_info("reloaded %s: %zu client(s)", co->conf_path, next->nclients);
	}
	notify_send("READY=1");
}

/* WATCHDOG_USEC set: "WATCHDOG=1" at half of it, from the loop, so a
 * stuck loop stops the pings and systemd restarts the collector. */
static void on_watchdog(struct loop *l, struct loop_timer *t, void *data)
{
	notify_send("WATCHDOG=1");
	if (loop_timer_add(l, notify_watchdog_usec() / 2000, on_watchdog, NULL, NULL) < 0)
		log_warn("watchdog timer: out of memory; the service manager will restart the collector");
}

/*
 * systemd's listening sockets if it passed any (socket activation:
 * kmsg-collector.socket), else the addresses of the configuration.
 */
static int start_listening(struct server *sv, const char *conf_path)
{
	int n = sd_listen_fds(1);
	if (n < 0) {
		log_err("socket activation: %s", strerror(-n));
		return n;
	}
	if (n == 0)
		return server_listen(sv); /* logs its errors */
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i, r;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			log_err("socket activation: descriptor %d is not a listening stream socket", fd);
			return -EINVAL;
		}
		if ((r = server_listen_fd(sv, fd)) < 0) {
			log_err("socket activation: descriptor %d: %s", fd, strerror(-r));
			return r;
		}
	}
	log_info("listening on %d socket(s) from the service manager; listen in %s is not used", n,
		 conf_path);
	return 0;
}

/* Once a second: live figures for systemctl status. */
static void on_status(struct loop *l, struct loop_timer *t, void *data)
{
	struct collector *co = data;
	struct server_stats st;
	char rej[256];
	size_t off = 0;
	server_get_stats(co->sv, &st);
	char fwd[256] = "";
#ifdef KS_HAVE_NATS
	if (co->fw) {
		struct forward_stats fs;
		forward_get_stats(co->fw, &fs);
		snprintf(fwd, sizeof(fwd),
			 "; forward: %s, %llu acked (%llu duplicates), %llu in flight, oldest %llu ms, %llu "
			 "hosts behind, %llu errors, %llu rewinds",
			 fs.connected ? "connected" : "NOT CONNECTED", (unsigned long long)fs.acked,
			 (unsigned long long)fs.duplicates, (unsigned long long)fs.inflight,
			 (unsigned long long)fs.oldest_ms, (unsigned long long)fs.hosts_behind,
			 (unsigned long long)fs.errors, (unsigned long long)fs.rewinds);
	}
#endif
	uint64_t now = loop_now_ms(l), dt = now - co->last_ms;
	uint64_t rate = dt ? (st.records - co->last_records) * 1000 / dt : 0;
	co->last_records = st.records;
	co->last_ms = now;
	for (int i = 0; i < REJECT_KINDS && off < sizeof(rej); i++)
		off += (size_t)snprintf(rej + off, sizeof(rej) - off, " %s=%llu", server_reject_name(i),
					(unsigned long long)st.rejected[i]);
	notify_sendf("STATUS=%llu sessions (%llu since start), %zu hosts configured, %llu records (%llu/s), "
		     "%llu duplicates, %llu urgent (%llu already stored, %llu left for later), %llu commits, "
		     "%llu DH; rejected:%s%s%s%s",
		     (unsigned long long)st.live, (unsigned long long)st.sessions, co->conf[co->cur].nclients,
		     (unsigned long long)st.records, (unsigned long long)rate,
		     (unsigned long long)st.duplicates, (unsigned long long)st.urgent[SERVER_URGENT_STORED],
		     (unsigned long long)st.urgent[SERVER_URGENT_DUP],
		     (unsigned long long)st.urgent[SERVER_URGENT_LATER], (unsigned long long)st.commits,
		     (unsigned long long)st.x25519_ops, rej,
		     landlock_unavailable_why() ? "; sandbox without Landlock: " : "",
		     landlock_unavailable_why() ? landlock_unavailable_why() : "", fwd);
	if (loop_timer_add(l, 1000, on_status, co, NULL) < 0)
		log_warn("status timer: out of memory; STATUS stops updating");
}

/*
 * -n as root (issue 16, item 5): the shipped unit starts the collector as
 * its user (User=kmsg-collector), which reads the configuration, the
 * clients directory and the key itself. So -n reads them again as that
 * user, in a child that drops to it, and fails exactly where the service
 * would (a key still root's after INSTALL's genkey, a clients.d file
 * only root may read). One line, or 0.
 */
static int check_as_user(const struct privdrop_user *u, const struct collector_conf *c, const char *conf_path)
{
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		log_err("check as %s: fork: %s", u->name, strerror(e));
		return -e;
	}
	if (pid == 0) {
		int r = privdrop_apply(u);
		if (r < 0) {
			log_err("check as %s: %s", u->name, strerror(-r));
			_exit(1);
		}
		struct collector_conf again;
		const char *err = NULL;
		if ((r = collector_conf_load(&again, conf_path, &err)) < 0) {
			log_err("as %s (the user the service runs as): %s", u->name,
				err ? err : strerror(-r));
			_exit(1);
		}
		collector_conf_free(&again);
		uint8_t priv[KEY_LEN];
		if ((r = key_read_private_file(c->private_key_file, priv)) < 0) {
			log_err("private key %s: %s as %s, the user the service runs as; expected a key "
				"owned "
				"by that user (chown %s: %s)",
				c->private_key_file, key_file_strerror(r), u->name, u->name,
				c->private_key_file);
			_exit(1);
		}
		sodium_memzero(priv, sizeof(priv));
		_exit(0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EACCES;
}

/*
 * The start conditions (startcheck.h), before the store or a socket is
 * opened: the user (when started as root, and always with -n), the key,
 * the state directory, and that the user can reach what the sandbox names
 * (the state directory, the configuration, clients_dir). One line and
 * -errno on the first failure; priv holds the key on success. A listen
 * address in use is found by the bind (server_listen), still before
 * anything is said to the service manager.
 */
static int check_start(const struct collector_conf *c, const char *conf_path, bool check_only,
		       uint8_t priv[KEY_LEN])
{
	struct startcheck s = { .conf_path = conf_path };
	struct privdrop_user u;
	int r = 0;
	if (check_only || geteuid() == 0)
		r = startcheck_user(&s, c->user, &u);
	if (r == 0)
		r = startcheck_private_key(&s, c->private_key_file, priv);
	if (r == 0)
		r = startcheck_dir(&s, "state directory", c->state_dir);
	if (r == 0)
		r = startcheck_reach(&s, "state directory", c->state_dir);
	if (r == 0)
		r = startcheck_reach(&s, "configuration", conf_path);
	if (r == 0 && c->clients_dir)
		r = startcheck_reach(&s, "clients directory", c->clients_dir);
	/* Forwarding's files: libnats reads them at every connection. */
	const char *const fwd[][2] = {
		{ "forward.creds_file", c->forward.creds_file },
		{ "forward.nkey_seed_file", c->forward.nkey_seed_file },
		{ "forward.tls_ca_file", c->forward.tls_ca_file },
		{ "forward.tls_cert_file", c->forward.tls_cert_file },
		{ "forward.tls_key_file", c->forward.tls_key_file },
	};
	for (size_t i = 0; r == 0 && c->forward.enabled && i < sizeof(fwd) / sizeof(fwd[0]); i++)
		if (fwd[i][1] && (r = startcheck_readable(&s, fwd[i][0], fwd[i][1], false)) == 0)
			r = startcheck_reach(&s, fwd[i][0], fwd[i][1]);
	if (r < 0) {
		sodium_memzero(priv, KEY_LEN);
		log_err("%s", s.err);
		return r;
	}
	if (check_only && geteuid() == 0 && (r = check_as_user(&u, c, conf_path)) < 0)
		sodium_memzero(priv, KEY_LEN);
	return r;
}

/* Descriptors besides connections and journal files: listeners, epoll,
 * signals, timers, directories, the notify socket. */
#define NOFILE_RESERVE 64

/*
 * Every connection is a descriptor: raise the soft RLIMIT_NOFILE to the
 * hard one (no privilege needed; the unit sets LimitNOFILE=65536) and say
 * so when limits.max_connections cannot be reached under it. Host journal
 * files beyond what the limit leaves are closed and reopened on demand
 * (store_set_open_max), so the limit bounds connections only. Returns how
 * many hosts may keep their files open (0: no limit).
 */
static size_t raise_nofile(const struct collector_conf *c)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("RLIMIT_NOFILE: cannot raise %llu to %llu: %s", (unsigned long long)old,
				 (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = old;
		}
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return 0;
	rlim_t used = (rlim_t)c->max_connections + NOFILE_RESERVE;
	if (used > rl.rlim_cur)
		log_warn(
			"RLIMIT_NOFILE is %llu: at most about %llu connections, not limits.max_connections "
			"%lld (raise LimitNOFILE)",
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)(rl.rlim_cur > NOFILE_RESERVE ? rl.rlim_cur - NOFILE_RESERVE : 0),
			c->max_connections);
	/* Three descriptors per host; a few hosts at least. */
	size_t hosts = rl.rlim_cur > used ? (size_t)((rl.rlim_cur - used) / 3) : 0;
	return hosts < 16 ? 16 : hosts;
}

int main(int argc, char **argv)
{
	const char *conf_path = KS_COLLECTOR_CONF;
	int debug = 0, check = 0, reload_check = 0;
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "check-reload", no_argument, NULL, 'R' },
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
		case 'R':
			reload_check = 1;
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
	log_open("kmsg-collector", debug || check || reload_check);
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
	/* --check-reload: the file loads as a SIGHUP would load it (the
	 * unit's ExecReload= runs this before the signal, so that systemctl
	 * reload fails where the reload would). */
	if (reload_check) {
		collector_conf_free(&co.conf[co.cur]);
		return 0;
	}
	log_set_level(debug ? LOG_DEBUG : conf->log_level);

	uint8_t priv[KEY_LEN];
	if (check_start(conf, conf_path, check, priv) < 0) {
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

	size_t open_hosts = raise_nofile(conf);

	int ret = 1;
	struct loop *loop = NULL;
	struct store *store = NULL;
	struct server *sv = NULL;
	if ((r = startcheck_make_dir(conf->state_dir, 0750)) < 0 ||
	    (r = store_open(&store, conf->state_dir)) < 0) {
		log_err("state directory %s: %s", conf->state_dir, strerror(-r));
		goto out;
	}
	store_set_open_max(store, open_hosts);
	if ((r = loop_new(&loop)) < 0 || (r = server_new(&sv, loop, conf, store, priv)) < 0) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	sodium_memzero(priv, sizeof(priv));
	if ((r = start_listening(sv, conf_path)) < 0)
		goto out;
	/* Listening, key read, store open: drop for good (sandbox.h). */
	if ((r = notify_open()) < 0)
		log_warn("NOTIFY_SOCKET: %s; not notifying the service manager", strerror(-r));
	if ((r = collector_sandbox_enter(conf, conf_path)) < 0)
		goto out;
	co.sv = sv;
	co.last_ms = loop_now_ms(loop);
	if ((r = loop_signal(loop, SIGTERM, on_signal, NULL)) < 0 ||
	    (r = loop_signal(loop, SIGINT, on_signal, NULL)) < 0 ||
	    (r = loop_signal(loop, SIGHUP, on_reload, &co)) < 0 ||
	    (r = loop_timer_add(loop, 1000, on_status, &co, NULL)) < 0 ||
	    (notify_watchdog_usec() && (r = loop_timer_add(loop, 0, on_watchdog, NULL, NULL)) < 0)) {
		log_err("start: %s", strerror(-r));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
#ifdef KS_HAVE_NATS
	/* After the sandbox, so libnats's threads start inside it, and after
	 * loop_signal blocked the signals, so they inherit the mask and
	 * SIGTERM reaches the loop's signalfd instead of killing the process. */
	if (conf->forward.enabled) {
		if ((r = forward_new(&co.fw, loop, conf)) < 0)
			goto out;
		server_set_commit_hook(sv, on_committed, co.fw);
	}
#endif
	log_info("started: %zu client(s), state in %s", conf->nclients, conf->state_dir);
	notify_send("READY=1");
	r = loop_run(loop);
	if (r < 0)
		log_err("event loop: %s", strerror(-r));
	else
		ret = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	server_free(sv);
#ifdef KS_HAVE_NATS
	forward_free(co.fw);
#endif
	store_free(store);
	loop_free(loop);
	collector_conf_free(&co.conf[co.cur]);
	return ret;
}
