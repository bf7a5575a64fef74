/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The agent's half of one session's messages (docs/PROTOCOL.md 3-5):
 * building msg1 with its hello and mac1, and judging every byte the
 * collector sends back (msg2 with its welcome, then ACK and CLOSE). No
 * sockets, no clock, no spool: uplink.c does the I/O and the fuzzers
 * drive these functions directly.
 *
 * Any failure wipes the handshake or leaves the ciphers as they were; the
 * caller then drops the connection (and with it the ciphers).
 */

#include <stddef.h>
#include <stdint.h>

#include "commitment.h"
#include "noise.h"
#include "proto.h"

/* What the agent says about itself in msg1 (informational for the collector). */
struct session_hello {
	uint64_t counter; /* handshake counter, already persisted */
	uint8_t stream_id[PROTO_STREAM_ID_LEN];
	uint8_t machine_id[PROTO_MACHINE_ID_LEN];
	const char *hostname; /* cut to PROTO_HOSTNAME_MAX bytes */
	uint8_t flags;	      /* PROTO_HELLO_F_* offered; 0: the hello of before the flags */
	/* With PROTO_HELLO_F_COMMIT: the newest commitment held of this
	 * collector (NULL: none, sent as zeros). */
	const struct commitment *presented;
};

/*
 * Initialise hs as initiator towards collector_pub and write the msg1
 * frame body (Noise msg1 || mac1) to out. Returns its length
 * (PROTO_MSG1_MIN .. PROTO_MSG1_MAX) or -errno (hs wiped).
 */
__attribute__((warn_unused_result)) int session_write_msg1(struct noise_handshake *hs, const uint8_t priv[32],
							   const uint8_t collector_pub[32],
							   const struct session_hello *h, uint8_t *out,
							   size_t cap);

/*
 * msg2, the collector's first frame body. On success splits hs into
 * tx/rx and sets *ret_hwm to the collector's high-water mark for this
 * stream. next_seq is the next stream seq the agent would assign: a mark
 * above it is a lie (-EPROTO). Returns 0, -EBADMSG (does not
 * authenticate: wrong collector key, tampered), -EPROTO (welcome
 * malformed), or another -errno; hs is wiped either way.
 */
__attribute__((warn_unused_result)) int session_read_msg2(struct noise_handshake *hs, const uint8_t *msg,
							  size_t len, uint64_t next_seq,
							  struct noise_cipher *tx, struct noise_cipher *rx,
							  uint64_t *ret_hwm);

/*
 * One transport frame body from the collector, decrypted with rx into
 * plain (PROTO_PLAIN_MAX bytes). acked is the mark already acknowledged,
 * sent_next the next stream seq not yet sent in this session: an ACK must
 * lie in [acked, sent_next]. Returns PROTO_MSG_ACK with *ret_hwm set,
 * -ECONNRESET for a well-formed CLOSE, -EBADMSG (does not authenticate),
 * -EPROTO (anything else, including a message type only the agent sends).
 */
__attribute__((warn_unused_result)) int session_read_transport(struct noise_cipher *rx, const uint8_t *msg,
							       size_t len, uint64_t acked, uint64_t sent_next,
							       uint8_t *plain, uint64_t *ret_hwm);

/*
 * session_read_msg2 for a hello that offered flags: the welcome must then
 * be the extended one (PROTO_WELCOME_EXT_LEN) whose accepted flags are a
 * subset of offered (set in *ret_flags); with offered 0, the same as
 * session_read_msg2 (*ret_flags = 0).
 */
__attribute__((warn_unused_result)) int session_read_msg2_ext(struct noise_handshake *hs, const uint8_t *msg,
							      size_t len, uint64_t next_seq, uint8_t offered,
							      struct noise_cipher *tx,
							      struct noise_cipher *rx, uint64_t *ret_hwm,
							      uint8_t *ret_flags);

/*
 * session_read_transport for a session with the accepted flags: with
 * PROTO_HELLO_F_PAD the message is unpadded first (pad.h; bad padding is
 * -EPROTO); with PROTO_HELLO_F_COMMIT an ACK must carry a commitment of
 * this stream (stream_id), decoded into *ret_commit.
 */
__attribute__((warn_unused_result)) int session_read_transport_ext(
	struct noise_cipher *rx, const uint8_t *msg, size_t len, uint64_t acked, uint64_t sent_next,
	uint8_t flags, const uint8_t stream_id[PROTO_STREAM_ID_LEN], uint8_t *plain, uint64_t *ret_hwm,
	struct commitment *ret_commit);
