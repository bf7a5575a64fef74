/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The agent's connection to a collector: connect (failing over through the
 * configured list), Noise IK handshake with the handshake counter, then send
 * batches from the spool starting at the collector's high-water mark and
 * free spooled records on ack. While a backlog waits, its records of
 * level emerg..err go first in URGENT messages (docs/SPOOL.md, "Priority"). Reconnects with capped
 * exponential backoff and jitter; never gives up.
 */

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "spool.h"
#include "stream.h"

struct uplink_target {
	const char *host;
	const char *port;
	uint8_t pub[32];
};

struct uplink_conf {
	const struct uplink_target *targets;
	size_t ntargets;
	const uint8_t *priv; /* 32 bytes; copied */
	uint64_t backoff_max_ms;
	uint64_t connect_timeout_ms;
	uint64_t heartbeat_ms; /* idle time before a heartbeat; the peer is dead after 2x */
	uint64_t session_max_ms;
	bool padding; /* offer padded transport messages (network.padding) */
	/* Never fall back to a hello without extensions; a collector that
	 * does not accept all offered is a failed attempt. */
	bool require_extensions;
};

struct uplink;

struct uplink_stats {
	uint64_t sessions;
	uint64_t failures;
	uint64_t sent;	 /* records sent in BATCH messages */
	uint64_t urgent; /* records sent ahead in URGENT messages (sent again in order) */
	uint64_t acked_hwm;
	int connected;
	size_t target;
	/* The collector of the current (or next) attempt; valid until the next
	 * uplink_set_conf. */
	const char *host;
	const char *port;
};

__attribute__((warn_unused_result)) int uplink_new(struct uplink **ret, struct loop *l,
						   const struct uplink_conf *c, struct spool *q,
						   struct stream *st);
/* Start connecting. */
void uplink_start(struct uplink *u);
/* New records were spooled: send what the window allows. */
void uplink_pump(struct uplink *u);
void uplink_get_stats(const struct uplink *u, struct uplink_stats *st);
/*
 * A reloaded configuration: the collector list and the timings (priv is
 * ignored: a new key needs a restart). c->targets must stay valid until
 * the next uplink_set_conf or uplink_free. A session with a collector that
 * is still at the same place in the list goes on; otherwise the agent
 * starts over from the new list's first collector.
 */
void uplink_set_conf(struct uplink *u, const struct uplink_conf *c);
/* Send CLOSE if connected (best effort) and free. */
void uplink_free(struct uplink *u);

/* Keep the collectors' commitments in w (witness.h; not freed here, saved
 * at uplink_free). */
struct witness;
void uplink_set_witness(struct uplink *u, struct witness *w);
