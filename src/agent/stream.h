/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The agent's stream identity and handshake counter, kept in
 * STATE_DIR/stream (docs/PROTOCOL.md "Replay protection"):
 *   off len
 *     0   8  magic "KSSTRM01"
 *     8  16  stream id (random, created with the stream)
 *    24   8  last handshake counter used (big-endian)
 * Written with durable_replace before every handshake, so a counter is
 * never used twice, whatever crashes.
 */

#include <stdint.h>

struct stream {
	char path[4096];
	uint8_t id[16];
	uint64_t counter;
};

/*
 * Load STATE_DIR/stream, or create a new stream when the file is missing or
 * fresh is set (the in-memory queue cannot resume an old stream).
 * Returns 0 or -errno (-EBADMSG for a damaged file).
 */
__attribute__((warn_unused_result)) int stream_open(struct stream *s, const char *state_dir, int fresh);

/* Increment the counter and persist it (fsync). Returns 0 or -errno; on
 * failure the caller must not handshake. */
__attribute__((warn_unused_result)) int stream_next_counter(struct stream *s, uint64_t *ret);
