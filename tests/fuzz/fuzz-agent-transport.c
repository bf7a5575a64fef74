/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for what the agent does with the collector's bytes
 * once the session is up: the frame reader over a TCP byte stream cut
 * into arbitrary pieces, then session_read_transport (src/agent/session.c)
 * for every frame, as uplink.c does.
 *
 * Input: byte 0 mode, bytes 1..8 the mark already acked (u64 BE), bytes
 * 9..10 how many records were sent beyond it (u16 BE), then:
 *   mode & 1 == 0  raw: the byte stream as it comes off the socket.
 *   mode & 1 == 1  crafted: plaintexts, each "u16 BE length, bytes",
 *                  which an honest collector encrypts (in order, with its
 *                  real send key) and frames; so ACK and CLOSE parsing is
 *                  reachable and every result is predicted by a model.
 * The split of the stream into reads comes from a generator seeded by the
 * input, as in fuzz-frame.
 *
 * Invariants: an ACK is accepted only with acked <= mark <= sent, and the
 * acked mark never goes back; a failed decryption leaves the nonce alone;
 * after the first failure the agent reads nothing more (it drops the
 * connection); in crafted mode every result equals the model's.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "frame.h"
#include "noise.h"
#include "proto.h"
#include "session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TRAP_IF(cond)                     \
	do {                              \
		if (cond)                 \
			__builtin_trap(); \
	} while (0)

#define STREAM_MAX (4 * (FRAME_HDR + FRAME_MAX))
#define MAX_MSGS 4096

/* Session keys of one fixed handshake (the keys of fuzz-handshake). */
static struct noise_cipher agent_rx0, coll_tx0;
static uint8_t *stream, *plain;
/* Crafted mode: what the model expects of the i-th frame. */
static int expect[MAX_MSGS];
static uint64_t expect_hwm[MAX_MSGS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t as[32], ae[32], cs[32], ce[32], cpub[32], m1[NOISE_MSG1_OVERHEAD], m2[NOISE_MSG2_OVERHEAD],
		p[8];
	struct noise_handshake a, c;
	struct noise_cipher atx, ctx_rx;

	if (sodium_init() < 0)
		__builtin_trap();
	for (size_t i = 0; i < 32; i++) {
		as[i] = (uint8_t)(0x11 * i + 1);
		ae[i] = (uint8_t)(0x23 * i + 2);
		cs[i] = (uint8_t)(0x35 * i + 3);
		ce[i] = (uint8_t)(0x47 * i + 4);
	}
	if (crypto_scalarmult_base(cpub, cs) != 0 ||
	    noise_handshake_init(&a, true, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, as, cpub) <
		    0 ||
	    noise_handshake_init(&c, false, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, cs, NULL) <
		    0)
		__builtin_trap();
	noise_handshake_set_ephemeral(&a, ae);
	noise_handshake_set_ephemeral(&c, ce);
	if (noise_write_msg1(&a, NULL, 0, m1, sizeof m1) != (int)sizeof m1 ||
	    noise_read_msg1(&c, m1, sizeof m1, p, sizeof p) != 0 ||
	    noise_write_msg2(&c, NULL, 0, m2, sizeof m2) != (int)sizeof m2 ||
	    noise_read_msg2(&a, m2, sizeof m2, p, sizeof p) != 0 || noise_split(&a, &atx, &agent_rx0) != 0 ||
	    noise_split(&c, &coll_tx0, &ctx_rx) != 0)
		__builtin_trap();
	stream = malloc(STREAM_MAX);
	plain = malloc(PROTO_PLAIN_MAX);
	if (!stream || !plain)
		__builtin_trap();
	return 0;
}

/* The model of session_read_transport for an authentic plaintext. */
static int model(const uint8_t *p, size_t n, uint64_t acked, uint64_t sent, uint64_t *hwm)
{
	if (n < 1)
		return -EPROTO;
	if (p[0] == PROTO_MSG_ACK && n == PROTO_ACK_LEN) {
		*hwm = get_be64(p + 1);
		return *hwm >= acked && *hwm <= sent ? PROTO_MSG_ACK : -EPROTO;
	}
	if (p[0] == PROTO_MSG_CLOSE && n == PROTO_CLOSE_LEN)
		return -ECONNRESET;
	return -EPROTO;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* After each ACK the agent has sent a few more records. */
static uint64_t more_sent(uint64_t sent, uint64_t hwm)
{
	return sat_add(sent, hwm & 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 11)
		return 0;
	bool crafted = data[0] & 1;
	uint64_t acked = get_be64(data + 1);
	uint64_t sent = sat_add(acked, get_be16(data + 9));
	const uint8_t *in = data + 11;
	size_t inlen = size - 11, slen = 0, nexpect = 0;

	if (!crafted) {
		if (inlen > STREAM_MAX)
			return 0;
		memcpy(stream, in, inlen);
		slen = inlen;
	} else {
		/* Encrypt every plaintext with the collector's key, and run
		 * the model along (it needs the acked mark as it will be). */
		struct noise_cipher tx = coll_tx0;
		uint64_t m_acked = acked, m_sent = sent;
		bool dead = false;
		size_t off = 0;
		while (off + 2 <= inlen && nexpect < MAX_MSGS) {
			size_t n = get_be16(in + off);
			off += 2;
			if (n > inlen - off)
				n = inlen - off;
			if (n > PROTO_PLAIN_MAX)
				n = PROTO_PLAIN_MAX;
			if (slen + FRAME_HDR + n + NOISE_TAG_LEN > STREAM_MAX)
				break;
			int c = noise_encrypt(&tx, in + off, n, stream + slen + FRAME_HDR,
					      STREAM_MAX - slen - FRAME_HDR);
			TRAP_IF(c != (int)(n + NOISE_TAG_LEN));
			frame_put_header(stream + slen, (size_t)c);
			slen += FRAME_HDR + (size_t)c;
			if (!dead) {
				uint64_t h = 0;
				int e = model(in + off, n, m_acked, m_sent, &h);
				expect[nexpect] = e;
				expect_hwm[nexpect] = h;
				if (e == PROTO_MSG_ACK) {
					m_acked = h;
					m_sent = more_sent(m_sent, h);
				} else {
					dead = true;
				}
			}
			nexpect++;
			off += n;
		}
		noise_cipher_wipe(&tx);
	}

	/* The agent's side: pieces of the stream through the frame reader. */
	struct frame_reader fr;
	struct noise_cipher rx = agent_rx0;
	uint32_t seed = 2166136261u;
	size_t pushed = 0, frames = 0;
	bool dead = false;
	for (size_t i = 0; i < size && i < 16; i++)
		seed = (seed ^ data[i]) * 16777619u;
	if (!seed)
		seed = 1;
	frame_reader_init(&fr);
	while (pushed < slen && !dead) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		size_t limit = seed & 1 ? 3 : seed & 2 ? 200 : FRAME_HDR + FRAME_MAX;
		size_t chunk = 1 + (seed >> 2) % limit;
		if (chunk > slen - pushed)
			chunk = slen - pushed;
		TRAP_IF(frame_reader_push(&fr, stream + pushed, chunk) != 0);
		pushed += chunk;
		const uint8_t *msg;
		size_t len;
		int r = 0;
		while (!dead && (r = frame_reader_next(&fr, &msg, &len)) == 1) {
			uint64_t n_before = rx.n, hwm = 0xfeedface;
			r = session_read_transport(&rx, msg, len, acked, sent, plain, &hwm);
			if (crafted) {
				TRAP_IF(frames >= nexpect || r != expect[frames]);
				TRAP_IF(r == PROTO_MSG_ACK && hwm != expect_hwm[frames]);
			}
			if (r == PROTO_MSG_ACK) {
				TRAP_IF(hwm < acked || hwm > sent);
				acked = hwm;
				sent = more_sent(sent, hwm);
			} else {
				TRAP_IF(r != -EBADMSG && r != -EPROTO && r != -ECONNRESET && r != -EMSGSIZE);
				TRAP_IF(hwm != 0xfeedface);
				TRAP_IF(r == -EBADMSG && rx.n != n_before);
				dead = true; /* uplink drops the connection */
			}
			frames++;
		}
		if (!dead && r < 0) {
			TRAP_IF(crafted || r != -EPROTO); /* only a zero-length frame */
			dead = true;
		}
	}
	/* Crafted: the frames are complete, so every one was judged, up to
	 * and including the first failure. */
	if (crafted && nexpect > 0 && !dead)
		TRAP_IF(frames != nexpect);
	frame_reader_free(&fr);
	noise_cipher_wipe(&rx);
	return 0;
}
