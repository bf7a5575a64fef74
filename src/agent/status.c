/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "landlock.h"
#include "log.h"
#include "notify.h"
#include "status.h"

/* How often STATUS= is refreshed. */
#define STATUS_INTERVAL_MS 1000

static struct agent_status cur;

void agent_status_format(const struct agent_status *s, char *buf, size_t cap)
{
	struct source_stats ks;
	struct jsource_stats js = { 0 };
	struct spool_stats qs;
	struct uplink_stats us;
	source_get_stats(s->src, &ks);
	if (s->js)
		jsource_get_stats(s->js, &js);
	spool_get_stats(s->q, &qs);
	uplink_get_stats(s->up, &us);
	int n = snprintf(
		buf, cap,
		"%llu records read (kmsg %llu, journal %llu), %llu spooled, %llu acked, %llu gaps "
		"(%llu missing, %llu dropped), spool %llu bytes; collector %s port %s %s",
		(unsigned long long)(ks.records + js.entries), (unsigned long long)ks.records,
		(unsigned long long)js.entries, (unsigned long long)spool_next_seq(s->q),
		(unsigned long long)us.acked_hwm, (unsigned long long)(ks.gaps + js.gaps + qs.gap_records),
		(unsigned long long)ks.missing, (unsigned long long)qs.dropped_total,
		(unsigned long long)qs.bytes, us.host, us.port, us.connected ? "connected" : "not connected");
	/* The disk condition of docs/SPOOL.md: records wait in memory. */
	if (qs.degraded && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, "; spool cannot write (%s): %llu records in memory",
			      strerror(-qs.degraded), (unsigned long long)qs.mem_records);
	/* The sandbox's own degradation (issue 16, item 0). */
	if (landlock_unavailable_why() && n > 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, "; sandbox without Landlock: %s",
			 landlock_unavailable_why());
}

static void on_status(struct loop *l, struct loop_timer *t, void *data)
{
	char buf[512];
	agent_status_format(&cur, buf, sizeof(buf));
	notify_sendf("%sSTATUS=%s", data ? "READY=1\n" : "", buf);
	if (loop_timer_add(l, STATUS_INTERVAL_MS, on_status, NULL, NULL) < 0)
		log_warn("status timer: out of memory; STATUS stops updating");
}

static void on_watchdog(struct loop *l, struct loop_timer *t, void *data)
{
	notify_send("WATCHDOG=1");
	if (loop_timer_add(l, notify_watchdog_usec() / 2000, on_watchdog, NULL, NULL) < 0)
		log_warn("watchdog timer: out of memory; the service manager will restart the agent");
}

int agent_status_start(const struct agent_status *s)
{
	static char ready = 1;
	int r;
	cur = *s;
	if (!notify_active())
		return 0;
	/* data != NULL: the first turn, with READY=1. */
	if ((r = loop_timer_add(s->loop, 0, on_status, &ready, NULL)) < 0)
		return r;
	if (notify_watchdog_usec() && (r = loop_timer_add(s->loop, 0, on_watchdog, NULL, NULL)) < 0)
		return r;
	return 0;
}

void agent_status_stopping(void)
{
	notify_send("STOPPING=1");
}
