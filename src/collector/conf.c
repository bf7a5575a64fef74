/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cfg.h"
#include "conf.h"
#include "key.h"
#include "log.h"
#include "proto.h"

static int load_listen(struct collector_conf *c)
{
	struct cfg *g = c->cfg;
	int n = cfg_count(g, "listen");
	if (n < 0)
		return n;
	if (n == 0) {
		/* Default: every address, the protocol's port. */
		c->listen[0].address = NULL;
		snprintf(c->listen[0].port, sizeof(c->listen[0].port), "%d", PROTO_DEFAULT_PORT);
		c->nlisten = 1;
		return 0;
	}
	if (n > COLLECTOR_MAX_LISTEN)
		return cfg_fail(g, "listen", "at most %d entries", COLLECTOR_MAX_LISTEN);
	for (int i = 0; i < n; i++) {
		char p[64];
		long long port = PROTO_DEFAULT_PORT;
		snprintf(p, sizeof(p), "listen.[%d].address", i);
		int r = cfg_string(g, p, false, &c->listen[i].address);
		snprintf(p, sizeof(p), "listen.[%d].port", i);
		r |= cfg_int(g, p, false, 1, 65535, &port);
		if (r)
			return -EINVAL;
		snprintf(c->listen[i].port, sizeof(c->listen[i].port), "%lld", port);
	}
	c->nlisten = (size_t)n;
	return 0;
}

static int load_clients(struct collector_conf *c)
{
	struct cfg *g = c->cfg;
	int n = cfg_count(g, "clients");
	if (n < 0)
		return n;
	c->clients = calloc((size_t)n + 1, sizeof(*c->clients));
	if (!c->clients)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		char p[64], q[64];
		const char *name = NULL, *pub = NULL;
		snprintf(p, sizeof(p), "clients.[%d].name", i);
		snprintf(q, sizeof(q), "clients.[%d].public_key", i);
		if (cfg_string(g, p, true, &name) | cfg_string(g, q, true, &pub))
			return -EINVAL;
		if (!store_name_valid(name))
			return cfg_fail(g, p,
					"expected a host name of 1 to %d characters from A-Z a-z 0-9 . _ - "
					"not starting with '.'",
					STORE_NAME_MAX);
		struct collector_client *cl = &c->clients[i];
		if (key_parse_text(cl->pub, pub, strlen(pub)) < 0)
			return cfg_fail(g, q,
					"expected a base64 public key of 44 characters (kmsg-keygen pubkey)");
		for (int j = 0; j < i; j++) {
			if (strcmp(c->clients[j].name, name) == 0)
				return cfg_fail(g, p, "host name '%s' is already used by clients.[%d]", name,
						j);
			if (sodium_memcmp(c->clients[j].pub, cl->pub, 32) == 0)
				return cfg_fail(g, q, "public key is already used by clients.[%d]", j);
		}
		snprintf(cl->name, sizeof(cl->name), "%s", name);
	}
	c->nclients = (size_t)n;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * clients_dir: every "HOST.pub" file is a client named HOST. Other files
 * are ignored (editors' backups, README). Errors name the file; a client
 * in both places, or a key used twice, is an error like in the list.
 */
static int load_clients_dir(struct collector_conf *c, bool is_default)
{
	static char err[4096 + 256];
	struct cfg *g = c->cfg;
	DIR *d = opendir(c->clients_dir);
	/* The default directory may be absent: no keys there yet. */
	if (!d && errno == ENOENT && is_default)
		return 0;
	if (!d && errno == EACCES)
		return cfg_fail(g, "clients_dir",
				"cannot open directory %s: %s; expected a directory the collector's user may "
				"read (one outside the configuration's directory that was not set at start "
				"is readable only after a restart: Landlock)",
				c->clients_dir, strerror(errno));
	if (!d)
		return cfg_fail(g, "clients_dir", "cannot open directory %s: %s", c->clients_dir,
				strerror(errno));
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".pub") != 0 || de->d_name[0] == '.')
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn || !(nn[n] = strndup(de->d_name, len - 4))) {
			free(nn ? nn : names);
			closedir(d);
			return -ENOMEM;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str); /* stable order: same config, same result */
	struct collector_client *cl = realloc(c->clients, (c->nclients + n + 1) * sizeof(*cl));
	if (!cl)
		r = -ENOMEM;
	else
		c->clients = cl;
	for (size_t i = 0; r == 0 && i < n; i++) {
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s.pub", c->clients_dir, names[i]);
		struct collector_client *nc = &c->clients[c->nclients];
		memset(nc, 0, sizeof(*nc));
		int k;
		if (!store_name_valid(names[i])) {
			snprintf(err, sizeof(err),
				 "%s: expected a host name of 1 to %d characters from A-Z a-z 0-9 . _ - not "
				 "starting with '.' before .pub",
				 path, STORE_NAME_MAX);
			r = -EINVAL;
		} else if ((k = key_read_public_file(path, nc->pub)) < 0) {
			snprintf(err, sizeof(err), "%s: %s", path,
				 k == -EINVAL ? "expected one base64 public key of 44 characters "
						"(kmsg-keygen pubkey)"
					      : key_file_strerror(k));
			r = -EINVAL;
		} else {
			for (size_t j = 0; j < c->nclients && r == 0; j++) {
				if (strcmp(c->clients[j].name, names[i]) == 0 ||
				    sodium_memcmp(c->clients[j].pub, nc->pub, 32) == 0) {
					snprintf(err, sizeof(err), "%s: %s already used by client '%s'", path,
						 strcmp(c->clients[j].name, names[i]) == 0 ? "host name"
											   : "public key",
						 c->clients[j].name);
					r = -EINVAL;
				}
			}
		}
		if (r == 0) {
			snprintf(nc->name, sizeof(nc->name), "%s", names[i]);
			c->nclients++;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r == -EINVAL)
		return cfg_fail(g, NULL, "%s", err);
	return r;
}

/* forward { ... } (kmsg-collector.conf(5) FORWARDING). */
static int load_forward(struct collector_conf *c)
{
	struct cfg *g = c->cfg;
	struct collector_forward *f = &c->forward;
	f->stream = "KMSG";
	f->subject_prefix = "kmsg";
	f->window = 1024;
	f->ack_timeout_ms = 10000;
	if (!cfg_exists(g, "forward"))
		return 0;
	/* The group present: on, unless enabled = false. */
	f->enabled = true;
	if (cfg_bool(g, "forward.enabled", false, &f->enabled))
		return -EINVAL;
	int n = cfg_count(g, "forward.servers");
	if (n < 0)
		return -EINVAL;
	if (n == 0 && f->enabled)
		return cfg_fail(g, "forward", "servers: at least one NATS URL (nats://HOST:PORT) is needed");
	if (n > COLLECTOR_MAX_NATS_SERVERS)
		return cfg_fail(g, "forward.servers", "at most %d entries", COLLECTOR_MAX_NATS_SERVERS);
	int r = 0;
	for (int i = 0; i < n; i++) {
		/* (elem_path: not a setting of its own for test-conf-examples.sh) */
		char elem_path[64];
		snprintf(elem_path, sizeof(elem_path), "forward.servers.[%d]", i);
		r |= cfg_string(g, elem_path, true, &f->servers[i]);
	}
	f->nservers = (size_t)n;
	r |= cfg_string(g, "forward.stream", false, &f->stream);
	r |= cfg_string(g, "forward.subject_prefix", false, &f->subject_prefix);
	r |= cfg_string(g, "forward.origin", false, &f->origin);
	r |= cfg_string(g, "forward.creds_file", false, &f->creds_file);
	r |= cfg_string(g, "forward.nkey_seed_file", false, &f->nkey_seed_file);
	r |= cfg_string(g, "forward.user", false, &f->user);
	r |= cfg_string(g, "forward.password", false, &f->password);
	r |= cfg_bool(g, "forward.tls", false, &f->tls);
	r |= cfg_string(g, "forward.tls_ca_file", false, &f->tls_ca_file);
	r |= cfg_string(g, "forward.tls_cert_file", false, &f->tls_cert_file);
	r |= cfg_string(g, "forward.tls_key_file", false, &f->tls_key_file);
	r |= cfg_int(g, "forward.window", false, 1, 65536, &f->window);
	r |= cfg_duration_ms(g, "forward.ack_timeout", false, 1000, 3600000, &f->ack_timeout_ms);
	if (r)
		return -EINVAL;
	/* Stream and subject tokens: no wildcards, blanks or empty tokens. */
	if (!f->stream[0] || strpbrk(f->stream, " \t.*>/\\"))
		return cfg_fail(g, "forward.stream",
				"expected a stream name without blanks, '.', '*', '>', '/'");
	if (!f->subject_prefix[0] || strpbrk(f->subject_prefix, " \t*>") || f->subject_prefix[0] == '.' ||
	    f->subject_prefix[strlen(f->subject_prefix) - 1] == '.' || strstr(f->subject_prefix, ".."))
		return cfg_fail(g, "forward.subject_prefix",
				"expected subject tokens separated by '.', without blanks, '*', '>'");
	if (f->origin && !store_name_valid(f->origin))
		return cfg_fail(g, "forward.origin",
				"expected a name of 1 to %d characters from A-Z a-z 0-9 . _ -",
				STORE_NAME_MAX);
	if (f->creds_file && f->nkey_seed_file)
		return cfg_fail(g, "forward.nkey_seed_file",
				"creds_file and nkey_seed_file exclude each other");
	if (!f->user != !f->password)
		return cfg_fail(g, f->user ? "forward.user" : "forward.password",
				"user and password go together");
	if (!f->tls_cert_file != !f->tls_key_file)
		return cfg_fail(g, f->tls_cert_file ? "forward.tls_cert_file" : "forward.tls_key_file",
				"tls_cert_file and tls_key_file go together");
	if (f->tls_ca_file || f->tls_cert_file)
		f->tls = true;
#ifndef KS_HAVE_NATS
	if (f->enabled)
		return cfg_fail(g, "forward",
				"this kmsg-collector was built without NATS support (meson -Dnats=enabled)");
#endif
	return 0;
}

bool collector_forward_differs(const struct collector_forward *a, const struct collector_forward *b)
{
	bool d = a->enabled != b->enabled || a->nservers != b->nservers || a->tls != b->tls ||
		 a->window != b->window || a->ack_timeout_ms != b->ack_timeout_ms;
	for (size_t i = 0; !d && i < a->nservers; i++)
		d = strcmp(a->servers[i], b->servers[i]) != 0;
	const char *const sa[] = { a->stream,	      a->subject_prefix, a->origin,   a->creds_file,
				   a->nkey_seed_file, a->user,		 a->password, a->tls_ca_file,
				   a->tls_cert_file,  a->tls_key_file };
	const char *const sb[] = { b->stream,	      b->subject_prefix, b->origin,   b->creds_file,
				   b->nkey_seed_file, b->user,		 b->password, b->tls_ca_file,
				   b->tls_cert_file,  b->tls_key_file };
	for (size_t i = 0; !d && i < sizeof(sa) / sizeof(sa[0]); i++)
		d = cfg_str_differs(sa[i], sb[i]);
	return d;
}

int collector_conf_load(struct collector_conf *c, const char *path, const char **err)
{
	static char oom[] = "out of memory";
	memset(c, 0, sizeof(*c));
	c->private_key_file = KS_SYSCONFDIR "/collector.key";
	c->state_dir = KS_STATE_DIR;
	c->user = "kmsg-collector";
	/* On by default (issue 16, item 5): dropping HOST.pub there and a
	 * reload is all it takes to add a host; "" turns it off. */
	c->clients_dir = KS_SYSCONFDIR "/clients.d";
	c->handshake_timeout_ms = 5000;
	c->idle_timeout_ms = 120000;
	c->max_connections = 16384;
	c->max_handshaking = 1024;
	c->addr_connections = 64;
	c->addr_handshake_rate = 20;
	c->addr_handshake_burst = 40;
	c->addr_handshaking = 8;
	c->prefix_handshaking = 32;
	c->addr_table = 65536;
	c->store.segment_size = STORE_SEGMENT_SIZE_DEFAULT;
	unsigned long long seg = c->store.segment_size, max_size = 0, host_max = 0, max_age_ms = 0;
	int level = 3;

	int r = cfg_load(&c->cfg, path);
	if (r == -ENOMEM && !c->cfg) {
		*err = oom;
		return r;
	}
	if (r == 0) {
		struct cfg *g = c->cfg;
		r |= cfg_string(g, "private_key_file", false, &c->private_key_file);
		r |= cfg_string(g, "state_dir", false, &c->state_dir);
		r |= cfg_string(g, "user", false, &c->user);
		/* "auto": Landlock where available, a warning where not. */
		static const char *const landlocks[] = { "auto", "required", NULL };
		int ll = 0;
		r |= cfg_enum(g, "landlock", false, landlocks, &ll);
		c->landlock_required = ll == 1;
		r |= cfg_enum(g, "log_level", false, log_level_names, &level);
		r |= cfg_duration_ms(g, "network.handshake_timeout", false, 100, 60000,
				     &c->handshake_timeout_ms);
		r |= cfg_duration_ms(g, "network.idle_timeout", false, 1000, 86400000, &c->idle_timeout_ms);
		r |= cfg_int(g, "limits.max_connections", false, 1, 1 << 20, &c->max_connections);
		r |= cfg_int(g, "limits.max_handshaking", false, 1, 1 << 20, &c->max_handshaking);
		r |= cfg_int(g, "limits.address_connections", false, 1, 1 << 20, &c->addr_connections);
		r |= cfg_int(g, "limits.address_handshake_rate", false, 1, 1000000, &c->addr_handshake_rate);
		r |= cfg_int(g, "limits.address_handshake_burst", false, 1, 1000000,
			     &c->addr_handshake_burst);
		r |= cfg_int(g, "limits.address_handshaking", false, 1, 1 << 20, &c->addr_handshaking);
		r |= cfg_int(g, "limits.prefix_handshaking", false, 1, 1 << 20, &c->prefix_handshaking);
		r |= cfg_int(g, "limits.address_table", false, 64, 1 << 24, &c->addr_table);
		r |= cfg_string(g, "clients_dir", false, &c->clients_dir);
		/* Retention is off unless configured; 0 also means no limit. */
		r |= cfg_size(g, "store.segment_size", false, 64ULL << 10, 1ULL << 40, &seg);
		r |= cfg_size(g, "store.max_size", false, 0, 1ULL << 60, &max_size);
		r |= cfg_size(g, "store.host_max_size", false, 0, 1ULL << 60, &host_max);
		r |= cfg_duration_ms(g, "store.max_age", false, 60000, 3650ULL * 86400000, &max_age_ms);
		c->store.segment_size = seg;
		c->store.max_size = max_size;
		c->store.host_max_size = host_max;
		c->store.max_age_usec = max_age_ms * 1000;
		if (r == 0)
			r = load_listen(c);
		if (r == 0)
			r = load_clients(c);
		bool clients_dir_default = strcmp(c->clients_dir, KS_SYSCONFDIR "/clients.d") == 0;
		if (!c->clients_dir[0])
			c->clients_dir = NULL;
		if (r == 0 && c->clients_dir)
			r = load_clients_dir(c, clients_dir_default);
		if (r == 0)
			r = load_forward(c);
		if (r == 0)
			r = cfg_finish(g);
	}
	c->log_level = log_level_from_index(level);
	if (r != 0) {
		*err = r == -ENOMEM ? oom : cfg_error(c->cfg);
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}

void collector_conf_free(struct collector_conf *c)
{
	free(c->clients);
	c->clients = NULL;
	cfg_free(c->cfg);
	c->cfg = NULL;
}

const struct collector_client *collector_conf_client(const struct collector_conf *c, const uint8_t pub[32])
{
	const struct collector_client *found = NULL;
	for (size_t i = 0; i < c->nclients; i++)
		if (sodium_memcmp(c->clients[i].pub, pub, 32) == 0)
			found = &c->clients[i];
	return found;
}
