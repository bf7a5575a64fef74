/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Forwarding to NATS JetStream (docs/FLEET.md): every record the
 * collector has stored and fsynced is published, read back from the
 * host's journal, to the subject PREFIX.HOST as the JSON object of
 * kmsgctl -o json (view.h), with the headers
 *
 *   Nats-Msg-Id      STREAM_ID:STREAM_SEQ, 32 and 16 lower-case hex
 *                    digits: JetStream drops a record any collector has
 *                    published already (within the stream's
 *                    duplicate window)
 *   Kmsg-Host        the host (the collector's name for it)
 *   Kmsg-Origin      the collector that received it (forward.origin)
 *   Kmsg-Stream-Id   32 hex digits
 *   Kmsg-Stream-Seq  decimal
 *   Kmsg-Record      the record's encoding (docs/PROTOCOL.md), base64
 *
 * Records only: the collector's own events (source collector: sessions,
 * gaps) describe that collector and are not published. The host's
 * checkpoints (its chain heads, checkpoint.h) go to
 * PREFIX.$checkpoint.ORIGIN.HOST (forward.c, host_checkpoints).
 *
 * Publishing is asynchronous, at most forward.window messages awaiting
 * JetStream's ack; acks come on libnats's threads and are handed to the
 * event loop through an eventfd, so nothing here waits for NATS. Per host
 * a cursor (STATE_DIR/hosts/NAME/forward, FORWARD_CURSOR_*) moves only over
 * records JetStream acked; it is written at most once a second (and at
 * exit), fsynced, then renamed. Without an ack for forward.ack_timeout (a
 * NATS outage, a lost connection), or on a publish error, everything not
 * acked is published again from the cursors: the message ids make that
 * harmless. A restart of either side resumes from the cursors.
 */

#include <stdint.h>

#include "conf.h"
#include "loop.h"

/* STATE_DIR/hosts/NAME/forward: magic, then u64 BE each: position just
 * after the last record acked (0: none yet), the journal record number
 * after it (records before it are forwarded or not to be), the time of
 * the last move (usec), the checkpoints acked (the first N entries of
 * the host's checkpoint file). */
#define FORWARD_CURSOR_FILE "forward"
#define FORWARD_CURSOR_MAGIC "KSFWD001"
#define FORWARD_CURSOR_LEN 40

struct forward;

struct forward_stats {
	uint64_t published;    /* messages handed to libnats */
	uint64_t acked;	       /* acks from JetStream (duplicates included) */
	uint64_t duplicates;   /* acks saying the stream had it already */
	uint64_t errors;       /* publish errors and negative acks */
	uint64_t rewinds;      /* times everything unacked was published again */
	uint64_t inflight;     /* awaiting an ack now */
	uint64_t hosts_behind; /* hosts with stored records not acked yet */
	uint64_t oldest_ms;    /* age of the oldest unacked publish (0: none) */
	int connected;	       /* 1 when connected to a NATS server */
};

/*
 * Start forwarding for conf->forward (enabled). Connects in the
 * background (a NATS that is down only delays). What it needs of conf is
 * copied. Returns 0 or -errno (logged).
 */
__attribute__((warn_unused_result)) int forward_new(struct forward **ret, struct loop *l,
						    const struct collector_conf *conf);
/* Host name's records were committed: publish them soon. */
void forward_committed(struct forward *fw, const char *host);
/* A reloaded configuration: new clients are forwarded too; the forward
 * settings take effect at the next restart (main.c says which changed). */
void forward_set_conf(struct forward *fw, const struct collector_conf *conf);
void forward_get_stats(const struct forward *fw, struct forward_stats *st);
/* Write the cursors, close the connection, free. */
void forward_free(struct forward *fw);
