/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Every protocol constant and wire layout of kmsg-shipper/1 lives here.
 * docs/PROTOCOL.md is the prose version of this header; keep them equal.
 *
 * All integers on the wire are big-endian unless noted.
 */

#include <stdint.h>

#define PROTO_PROLOGUE "kmsg-shipper/1"
#define PROTO_PROLOGUE_LEN (sizeof(PROTO_PROLOGUE) - 1)
#define PROTO_NAME "Noise_IK_25519_ChaChaPoly_BLAKE2b"

/* TCP port the collector listens on unless configured otherwise. */
#define PROTO_DEFAULT_PORT 5140

/* Framing: u16 length, then that many bytes. Zero-length frames are invalid. */
#define PROTO_FRAME_HDR 2
#define PROTO_FRAME_MAX 65535
#define PROTO_TAG_LEN 16
/* Largest transport plaintext: one frame minus the AEAD tag. */
#define PROTO_PLAIN_MAX (PROTO_FRAME_MAX - PROTO_TAG_LEN)

/* mac1: BLAKE2b-128 keyed with BLAKE2b-256("mac1" || collector static pub). */
#define PROTO_MAC1_LABEL "mac1"
#define PROTO_MAC1_LEN 16

/*
 * Handshake message 1 plaintext payload (encrypted by Noise under the ss key).
 *   off len
 *     0   1  version            = PROTO_VERSION
 *     1   1  flags              PROTO_HELLO_F_* (0: none, as before them)
 *     2   8  handshake counter  (strictly increasing per stream)
 *    10  16  stream id
 *    26  16  machine id         (from /etc/machine-id, informational)
 *    42   1  hostname length H  (0..PROTO_HOSTNAME_MAX)
 *    43   H  hostname           (informational, not NUL-terminated)
 *  43+H      extension fields of the flags (below)
 * Frame = noise msg1 (96 + payload bytes) || mac1 (16 bytes).
 */
#define PROTO_VERSION 1
#define PROTO_STREAM_ID_LEN 16
#define PROTO_MACHINE_ID_LEN 16
#define PROTO_HOSTNAME_MAX 64
#define PROTO_HELLO_FIXED 43
/*
 * Hello flags: the extensions the agent offers (docs/PROTOCOL.md 3.3).
 * An agent that sets any flag gets an extended welcome (10 bytes, the
 * accepted flags last). After the hostname come the extension fields of
 * the flags set, in bit order; bytes after the fields of the flags the
 * collector knows are a newer agent's and ignored when it set a flag the
 * collector does not know. A collector before the flags rejects any
 * non-zero flags (silent close): the agent then falls back (7.1).
 *   PAD     transport messages padded to a few sizes (5.10); no field
 *   COMMIT  commitments in ACKs (5.4); field: the agent's newest
 *           commitment of this collector, u64 records, u64 end, 32 chain
 *           (all zero: none)
 */
#define PROTO_HELLO_F_PAD 0x01
#define PROTO_HELLO_F_COMMIT 0x02
#define PROTO_HELLO_F_KNOWN (PROTO_HELLO_F_PAD | PROTO_HELLO_F_COMMIT)
#define PROTO_HELLO_COMMIT_LEN 48
#define PROTO_HELLO_MAX (PROTO_HELLO_FIXED + PROTO_HOSTNAME_MAX + PROTO_HELLO_COMMIT_LEN)
#define PROTO_MSG1_OVERHEAD 96
#define PROTO_MSG1_MIN (PROTO_MSG1_OVERHEAD + PROTO_HELLO_FIXED + PROTO_MAC1_LEN)
#define PROTO_MSG1_MAX (PROTO_MSG1_OVERHEAD + PROTO_HELLO_MAX + PROTO_MAC1_LEN)

/*
 * Handshake message 2 plaintext payload (9 bytes; msg2 = 48 + 9 = 57 bytes,
 * always smaller than the smallest msg1 = 155 bytes):
 *     0   1  version            = PROTO_VERSION
 *     1   8  high-water mark: every record of this stream with
 *            stream seq < hwm is durably stored
 */
#define PROTO_WELCOME_LEN 9
#define PROTO_MSG2_OVERHEAD 48
#define PROTO_MSG2_LEN (PROTO_MSG2_OVERHEAD + PROTO_WELCOME_LEN)
/* The welcome to a hello with flags: version, hwm, accepted flags (a
 * subset of the offered ones). */
#define PROTO_WELCOME_EXT_LEN 10
#define PROTO_MSG2_EXT_LEN (PROTO_MSG2_OVERHEAD + PROTO_WELCOME_EXT_LEN)

/*
 * Transport plaintexts start with a type byte.
 *
 * BATCH (agent -> collector):
 *     0   1  PROTO_MSG_BATCH
 *     1   2  count N (>= 1)
 *     3      N times: u32 length L, then L bytes of record encoding
 *            (record.h); records in strictly increasing stream seq.
 *
 * URGENT (agent -> collector): the layout of BATCH with type
 *            PROTO_MSG_URGENT. Only records of level 0..3 (emerg..err),
 *            each with stream seq >= the connection's in-order position
 *            (the next seq a BATCH may carry) and above the previous
 *            URGENT record's of the connection. Sent while older records
 *            wait, so that these arrive first; the collector stores them
 *            ahead of their place (bounded; what it cannot hold it drops,
 *            the BATCH copy comes later anyway). ACKs stay cumulative:
 *            the agent keeps them until an ACK passes them and sends them
 *            again in order (a duplicate the collector drops). A
 *            collector that does not know the type closes the session as
 *            a protocol violation (docs/PROTOCOL.md 5.9).
 *
 * HEARTBEAT (agent -> collector): 1 byte PROTO_MSG_HEARTBEAT. The collector
 *            answers with an ACK after its next group commit.
 *
 * ACK (collector -> agent):
 *     0   1  PROTO_MSG_ACK
 *     1   8  hwm: every record with stream seq < hwm is fsynced; the
 *            collector sends min(its durable mark, the next seq this
 *            connection may carry), so never more than the agent sent
 *
 * CLOSE (agent -> collector): 1 byte PROTO_MSG_CLOSE, then 1 byte reason.
 *            Tells the collector the session ends on purpose (rekey by a
 *            new handshake, shutdown). The collector never sends CLOSE: it
 *            just closes (idle timeout, shutdown), and the agent
 *            reconnects; unacked records are resent either way.
 */
enum proto_msg_type {
	PROTO_MSG_BATCH = 0x01,
	PROTO_MSG_HEARTBEAT = 0x02,
	PROTO_MSG_CLOSE = 0x03,
	PROTO_MSG_URGENT = 0x04,
	PROTO_MSG_ACK = 0x81,
};
#define PROTO_BATCH_HDR 3 /* also URGENT */
/* The least important level an URGENT record may have (LOG_ERR). */
#define PROTO_URGENT_LEVEL_MAX 3
#define PROTO_BATCH_REC_HDR 4
#define PROTO_ACK_LEN 9
/* With COMMIT accepted: the ACK is followed by the collector's
 * commitment (commitment.h, 160 bytes). */
#define PROTO_ACK_COMMIT_LEN (PROTO_ACK_LEN + 160)
#define PROTO_CLOSE_LEN 2

enum proto_close_reason {
	PROTO_CLOSE_SHUTDOWN = 1, /* the agent stops */
	PROTO_CLOSE_LIFETIME = 2, /* session lifetime reached: a new handshake follows */
	PROTO_CLOSE_FAILBACK = 3, /* on a fallback collector: the agent tries the first again */
};

/* Sessions: a new handshake at least this often. It also bounds the
 * nonces: at the largest frame rate loopback allows (~10^6/s) an hour is
 * under 2^32 messages, far from the 2^64-1 limit. */
#define PROTO_SESSION_MAX_SECONDS 3600
