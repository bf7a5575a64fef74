/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * What the agent tells the service manager (sd_notify protocol, notify.h):
 * READY=1 from the event loop's first turn, when the kernel log source
 * and the spool are open and the loop runs; then once a second a STATUS=
 * line with live figures (records read, spooled, acked, gaps, spool
 * bytes, the collector and whether it is connected); WATCHDOG=1 at half
 * of $WATCHDOG_USEC, from the loop, so that a stuck loop stops the pings;
 * STOPPING=1 when it starts to stop. Without $NOTIFY_SOCKET nothing is
 * sent (and no timer runs).
 */

#include "conf.h"
#include "jsource.h"
#include "loop.h"
#include "source.h"
#include "spool.h"
#include "uplink.h"

struct agent_status {
	struct loop *loop;
	const struct agent_conf *conf;
	struct source *src;
	struct jsource *js; /* NULL: journal input off */
	struct spool *q;
	struct uplink *up;
};

/* Copied; the objects must outlive the loop. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int agent_status_start(const struct agent_status *s);

/* Format the STATUS= text (without "STATUS="), for the log and tests. */
void agent_status_format(const struct agent_status *s, char *buf, size_t cap);

void agent_status_stopping(void);
