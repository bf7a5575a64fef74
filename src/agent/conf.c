/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "conf.h"
#include "jsource.h"
#include "key.h"
#include "kreader.h"
#include "log.h"
#include "proto.h"
#include "source.h"

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

static int load_journal(struct agent_conf *c)
{
	struct cfg *g = c->cfg;
	int r = cfg_bool(g, "journal.enable", false, &c->journal_enable);
	r |= cfg_bool(g, "journal.exclude_kernel", false, &c->journal_exclude_kernel);
	static const char *const froms[] = { "boot", "now", NULL };
	int from = 0;
	r |= cfg_enum(g, "journal.from", false, froms, &from);
	c->journal_from_now = from == 1;
	r |= cfg_size(g, "journal.max_field_size", false, JSOURCE_MAX_FIELD_MIN, JSOURCE_MAX_FIELD_MAX,
		      &c->journal_max_field);
	r |= cfg_string(g, "journal.directory", false, &c->journal_directory);
	if (r)
		return -EINVAL;
	int n = cfg_count(g, "journal.matches");
	if (n < 0)
		return cfg_fail(g, "journal.matches", "expected a list of \"FIELD=value\" strings");
	c->journal_matches = calloc((size_t)n + 1, sizeof(*c->journal_matches));
	if (!c->journal_matches)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		char p[64];
		snprintf(p, sizeof(p), "%s.[%d]", "journal.matches", i);
		if (cfg_string(g, p, true, &c->journal_matches[i]))
			return -EINVAL;
		if (!jsource_match_valid(c->journal_matches[i]))
			return cfg_fail(g, p,
					"expected \"FIELD=value\", FIELD of A-Z, 0-9 and _ "
					"(at most 64, not starting with a digit)");
	}
	c->njournal_matches = (size_t)n;
	return 0;
}

int agent_conf_load(struct agent_conf *c, const char *path, const char **err)
{
	static char oom[] = "out of memory";
	memset(c, 0, sizeof(*c));
	c->path = path;
	c->private_key_file = KS_SYSCONFDIR "/shipper.key";
	c->state_dir = KS_SPOOL_DIR;
	c->user = "kmsg-shipper";
	c->kmsg_path = "/dev/kmsg";
	c->kmsg_queue_size = SOURCE_QUEUE_DEFAULT;
	c->spool_max = 64ull << 20;
	c->spool_segment = 4ull << 20;
	c->spool_memory_max = 8ull << 20;
	c->spool_sync_level = 3;
	c->spool_sync_records = 256;
	c->spool_sync_interval_ms = 1000;
	c->journal_exclude_kernel = true;
	c->journal_max_field = JSOURCE_MAX_FIELD_DEFAULT;
	c->pstore_enable = true;
	c->pstore_path = "/sys/fs/pstore";
	c->connect_timeout_ms = 10000;
	c->heartbeat_ms = 20000;
	c->backoff_max_ms = 60000;
	c->session_max_ms = PROTO_SESSION_MAX_SECONDS * 1000ull;
	c->padding = true;
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
		r |= cfg_string(g, "kmsg.path", false, &c->kmsg_path);
		static const char *const froms[] = { "boot", "now", NULL };
		int from = 0;
		r |= cfg_enum(g, "kmsg.from", false, froms, &from);
		c->kmsg_from_now = from == 1;
		r |= cfg_size(g, "kmsg.queue_size", false, KREADER_QUEUE_MIN, 1ull << 30,
			      &c->kmsg_queue_size);
		r |= cfg_int(g, "kmsg.reader_priority", false, 0, 99, &c->kmsg_reader_priority);
		r |= cfg_size(g, "spool.max_size", false, 1ull << 20, 1ull << 40, &c->spool_max);
		r |= cfg_size(g, "spool.segment_size", false, 64ull << 10, 256ull << 20, &c->spool_segment);
		r |= cfg_size(g, "spool.memory_max", false, 128ull << 10, 1ull << 30, &c->spool_memory_max);
		/* "none": no record is synced at once for its level. */
		static const char *const levels[] = { "emerg",	"alert", "crit",  "err",  "warning",
						      "notice", "info",	 "debug", "none", NULL };
		r |= cfg_enum(g, "spool.sync_level", false, levels, &c->spool_sync_level);
		if (c->spool_sync_level == 8)
			c->spool_sync_level = -1;
		r |= cfg_int(g, "spool.sync_records", false, 1, 1000000, &c->spool_sync_records);
		r |= cfg_duration_ms(g, "spool.sync_interval", false, 0, 3600000, &c->spool_sync_interval_ms);
		r |= cfg_bool(g, "pstore.enable", false, &c->pstore_enable);
		r |= cfg_string(g, "pstore.path", false, &c->pstore_path);
		r |= cfg_bool(g, "pstore.remove", false, &c->pstore_remove);
		if (r == 0)
			r = load_journal(c);
		r |= cfg_duration_ms(g, "network.connect_timeout", false, 100, 3600000,
				     &c->connect_timeout_ms);
		r |= cfg_duration_ms(g, "network.heartbeat", false, 1000, 3600000, &c->heartbeat_ms);
		r |= cfg_duration_ms(g, "network.backoff_max", false, 1000, 86400000, &c->backoff_max_ms);
		r |= cfg_duration_ms(g, "network.session_lifetime", false, 1000,
				     PROTO_SESSION_MAX_SECONDS * 1000ull, &c->session_max_ms);
		r |= cfg_bool(g, "network.padding", false, &c->padding);
		r |= cfg_bool(g, "network.require_extensions", false, &c->require_extensions);
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
	free(c->journal_matches);
	c->journal_matches = NULL;
	cfg_free(c->cfg);
	c->cfg = NULL;
}
