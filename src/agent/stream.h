/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The agent's stream identity and handshake counter, kept in
 * STATE_DIR/stream (docs/PROTOCOL.md "Replay protection"):
 *   off len
 *     0   8  magic "KSSTRM01"
 *     8  16  stream id (random, created with the stream)
 *    24   8  highest handshake counter reserved (big-endian)
 * Counters are reserved in leases of STREAM_LEASE: the file is written
 * (durable_replace) before the first counter of a lease is used, so a
 * counter is never used twice, whatever crashes, and a full disk still
 * leaves the rest of the lease for handshakes (which free spool space).
 */

#include <stdint.h>

struct stream {
	char path[4096];
	uint8_t id[16];
	uint64_t counter;  /* last counter used */
	uint64_t reserved; /* counters up to this one may be used without a write */
};

/*
 * Load STATE_DIR/stream, or create a new stream when the file is missing or
 * fresh is set.
 * Returns 0 or -errno (-EBADMSG for a damaged file).
 */
__attribute__((warn_unused_result)) int stream_open(struct stream *s, const char *state_dir, int fresh);

/* The next counter, persisting a new lease first when the current one is
 * used up. Returns 0 or -errno; on failure the caller must not handshake. */
__attribute__((warn_unused_result)) int stream_next_counter(struct stream *s, uint64_t *ret);
