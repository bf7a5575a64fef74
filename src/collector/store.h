/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The collector's store: one directory per host under STATE_DIR/hosts/,
 * holding that host's journal (journal.h) and its stream table:
 *
 *   STATE_DIR/hosts/NAME/journal   records, append-only
 *   STATE_DIR/hosts/NAME/streams   handshake counters, replaced durably:
 *       magic "KSSTRS00", then per stream: 16 stream id, u64 counter
 *
 * NAME is the host name from the collector's config; store_name_valid()
 * is what keeps it inside STATE_DIR.
 *
 * Per stream the store knows two high-water marks: pending (records
 * appended to the host's buffer) and durable (fsynced). Records with a
 * stream seq below pending are duplicates and are dropped. store_commit
 * writes every host's buffer, fsyncs each journal once, then promotes
 * pending to durable: only durable marks may be acked.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define STORE_STREAM_ID_LEN 16
#define STORE_NAME_MAX 64

struct store;
struct store_host;

/* [A-Za-z0-9_-][A-Za-z0-9._-]{0,63}: no '/', no leading '.', so it can
 * neither escape the directory nor hide. */
bool store_name_valid(const char *name);

/* Create STATE_DIR/hosts if needed. */
__attribute__((warn_unused_result)) int store_open(struct store **ret, const char *state_dir);
void store_free(struct store *s);

/*
 * The host called name, opened (and recovered) on first use: a torn
 * journal tail is cut and its size logged by the caller from *ret_cut.
 * -EUCLEAN when the journal is damaged beyond a torn tail.
 */
__attribute__((warn_unused_result)) int store_host(struct store *s, const char *name, struct store_host **ret,
						   long long *ret_cut);
const char *store_host_name(const struct store_host *h);

/*
 * Handshake counter rule: counter must be higher than the highest seen
 * for (host, stream); it is then persisted before this returns 0.
 * -ESTALE for a replayed or old counter, other -errno when it could not
 * be persisted (the handshake must then fail).
 */
__attribute__((warn_unused_result)) int store_stream_counter(struct store_host *h,
							     const uint8_t sid[STORE_STREAM_ID_LEN],
							     uint64_t counter);

/* Durable high-water mark of a stream (0 for an unknown stream). */
uint64_t store_stream_hwm(struct store_host *h, const uint8_t sid[STORE_STREAM_ID_LEN]);

/*
 * Append one record (its encoding enc/len, decoded as rec) of stream sid.
 * Returns 1 if appended, 0 if dropped as a duplicate (seq below the
 * stream's pending mark), or -errno. A jump forward in seq first appends
 * a collector gap record (GAP_CAUSE=stream-jump, GAP_COUNT,
 * GAP_FIRST_STREAM_SEQ, GAP_LAST_STREAM_SEQ).
 */
__attribute__((warn_unused_result)) int store_append(struct store_host *h,
						     const uint8_t sid[STORE_STREAM_ID_LEN],
						     const struct record *rec, const uint8_t *enc, size_t len,
						     uint64_t recv_usec);

/* Largest message + fields of a collector event. */
#define STORE_EVENT_MAX 1024

/*
 * Append a collector event (source COLLECTOR, facility 5) of stream sid
 * to the host's buffer; committed with the records. boot_id may be NULL
 * (all zero). Collector events never move a high-water mark.
 * Returns 0 or -errno (-ENOSPC if message and fields exceed
 * STORE_EVENT_MAX).
 */
__attribute__((warn_unused_result)) int store_event(struct store_host *h,
						    const uint8_t sid[STORE_STREAM_ID_LEN], uint16_t event,
						    uint8_t level, uint64_t stream_seq,
						    const uint8_t boot_id[RECORD_BOOT_ID_LEN],
						    const char *msg, const struct record_fields *fb,
						    uint64_t recv_usec);

/* True when some host has appended records not yet committed. */
bool store_dirty(const struct store *s);

/*
 * Group commit: write and fsync every dirty host. Returns 0, or the first
 * -errno; a host whose write or fsync failed is rolled back to its last
 * durable state (file truncated, pending marks reset) and store_host_failed
 * reports it until the next commit.
 */
__attribute__((warn_unused_result)) int store_commit(struct store *s);
bool store_host_failed(const struct store_host *h);
