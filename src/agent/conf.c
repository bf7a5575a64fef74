/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "conf.h"
#include "key.h"
#include "log.h"
#include "proto.h"

static int load_collectors(struct agent_conf *c)
{
	struct cfg *g = c->cfg;
	int n = cfg_count(g, "collectors");
	if (n <= 0)
		return cfg_fail(g, "collectors",
				"expected a list of at least one { address; port; "
				"public_key; } group");
	if (n > AGENT_MAX_COLLECTORS)
		return cfg_fail(g, "collectors", "at most %d entries", AGENT_MAX_COLLECTORS);
	for (int i = 0; i < n; i++) {
		char p[64];
		const char *addr = NULL, *pub = NULL;
		long long port = PROTO_DEFAULT_PORT;
		snprintf(p, sizeof(p), "collectors.[%d].address", i);
		int r = cfg_string(g, p, true, &addr);
		snprintf(p, sizeof(p), "collectors.[%d].port", i);
		r |= cfg_int(g, p, false, 1, 65535, &port);
		snprintf(p, sizeof(p), "collectors.[%d].public_key", i);
		r |= cfg_string(g, p, true, &pub);
		if (r)
			return -EINVAL;
		struct uplink_target *t = &c->targets[i];
		if (key_parse_text(t->pub, pub, strlen(pub)) < 0)
			return cfg_fail(g, p,
					"expected a base64 public key of 44 characters (kmsg-keygen pubkey)");
		t->host = addr;
		snprintf(c->ports[i], sizeof(c->ports[i]), "%lld", port);
		t->port = c->ports[i];
	}
	c->ntargets = (size_t)n;
	return 0;
}

int agent_conf_load(struct agent_conf *c, const char *path, const char **err)
{
	static char oom[] = "out of memory";
	memset(c, 0, sizeof(*c));
	c->private_key_file = KS_SYSCONFDIR "/shipper.key";
	c->state_dir = KS_SPOOL_DIR;
	c->kmsg_path = "/dev/kmsg";
	c->queue_max = 64ull << 20;
	c->connect_timeout_ms = 10000;
	c->heartbeat_ms = 20000;
	c->backoff_max_ms = 60000;
	c->session_max_ms = PROTO_SESSION_MAX_SECONDS * 1000ull;
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
		r |= cfg_enum(g, "log_level", false, log_level_names, &level);
		r |= cfg_string(g, "kmsg.path", false, &c->kmsg_path);
		static const char *const froms[] = { "boot", "now", NULL };
		int from = 0;
		r |= cfg_enum(g, "kmsg.from", false, froms, &from);
		c->kmsg_from_now = from == 1;
		r |= cfg_size(g, "queue.max_size", false, 1ull << 20, 1ull << 40, &c->queue_max);
		r |= cfg_duration_ms(g, "network.connect_timeout", false, 100, 3600000,
				     &c->connect_timeout_ms);
		r |= cfg_duration_ms(g, "network.heartbeat", false, 1000, 3600000, &c->heartbeat_ms);
		r |= cfg_duration_ms(g, "network.backoff_max", false, 1000, 86400000, &c->backoff_max_ms);
		r |= cfg_duration_ms(g, "network.session_lifetime", false, 1000,
				     PROTO_SESSION_MAX_SECONDS * 1000ull, &c->session_max_ms);
		if (r == 0)
			r = load_collectors(c);
		if (r == 0)
			r = cfg_finish(g);
	}
	c->log_level = log_level_from_index(level);
	if (r != 0) {
		*err = cfg_error(c->cfg);
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}

void agent_conf_free(struct agent_conf *c)
{
	cfg_free(c->cfg);
	c->cfg = NULL;
}
