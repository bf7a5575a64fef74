/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the handshake, as the two peers see untrusted bytes.
 *
 * The first input byte picks the mode; the rest is the message:
 *   mode & 3 == 0  collector: the rest is a msg1 frame body (noise msg1 ||
 *                  mac1). Length bounds, mac1_verify with a fixed collector
 *                  key, then noise_read_msg1 and, if it passes, msg2 and
 *                  split. With bit 0x80 set the harness first replaces the
 *                  trailing 16 bytes with the correct mac1, so the fuzzer
 *                  gets past that gate to the Noise parser.
 *   mode & 3 == 1  agent: a real msg1 is written (fixed keys, fixed
 *                  ephemeral), then the rest is handed to noise_read_msg2.
 *   mode & 3 >= 2  round trip: the rest is used as msg1/msg2/transport
 *                  payloads between two honest peers; any mismatch traps.
 *
 * Everything is deterministic (ephemerals are injected) so that a valid
 * msg1 or msg2 makes a good seed: mutations of it reach the AEAD checks.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "mac1.h"
#include "noise.h"
#include "proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed test keys: agent static/ephemeral, collector static/ephemeral. */
static uint8_t agent_s[32], agent_e[32], coll_s[32], coll_e[32], coll_pub[32], coll_mac1_key[MAC1_KEY_LEN];
/* The msg1 payload the agent sends in mode 1: a zeroed hello of the fixed size. */
static const uint8_t agent_hello[PROTO_HELLO_FIXED];

#define TRAP_IF(cond)                     \
	do {                              \
		if (cond)                 \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	if (sodium_init() < 0)
		__builtin_trap();
	for (i = 0; i < 32; i++) {
		agent_s[i] = (uint8_t)(0x11 * i + 1);
		agent_e[i] = (uint8_t)(0x23 * i + 2);
		coll_s[i] = (uint8_t)(0x35 * i + 3);
		coll_e[i] = (uint8_t)(0x47 * i + 4);
	}
	if (crypto_scalarmult_base(coll_pub, coll_s) != 0)
		__builtin_trap();
	mac1_key(coll_mac1_key, coll_pub);
	return 0;
}

static bool hs_wiped(const struct noise_handshake *hs)
{
	return hs->state == NOISE_HS_NONE && sodium_is_zero((const unsigned char *)hs, sizeof *hs);
}

/* The collector's unauthenticated path. */
static void fuzz_collector(const uint8_t *body, size_t len, bool fix_mac1)
{
	uint8_t frame[PROTO_MSG1_MAX], payload[PROTO_MSG1_MAX], msg2[PROTO_MSG2_LEN + 64];
	struct noise_handshake hs;
	struct noise_cipher send, recv;
	size_t nlen;
	int r;

	if (len < PROTO_MSG1_MIN || len > PROTO_MSG1_MAX)
		return;
	memcpy(frame, body, len);
	nlen = len - MAC1_LEN;
	if (fix_mac1)
		mac1_compute(frame + nlen, coll_mac1_key, frame, nlen);
	if (mac1_verify(frame + nlen, coll_mac1_key, frame, nlen) != 0) {
		TRAP_IF(fix_mac1);
		return;
	}
	if (noise_handshake_init(&hs, false, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, coll_s,
				 NULL) < 0)
		__builtin_trap();
	noise_handshake_set_ephemeral(&hs, coll_e);
	r = noise_read_msg1(&hs, frame, nlen, payload, sizeof payload);
	if (r < 0) {
		TRAP_IF(!hs_wiped(&hs));
		return;
	}
	TRAP_IF((size_t)r != nlen - NOISE_MSG1_OVERHEAD || hs.state != NOISE_HS_MSG1);
	/* A collector would check noise_remote_static() against its allow list here. */
	(void)noise_remote_static(&hs);
	r = noise_write_msg2(&hs, payload, PROTO_WELCOME_LEN, msg2, sizeof msg2);
	TRAP_IF(r != PROTO_MSG2_LEN);
	TRAP_IF(noise_split(&hs, &send, &recv) != 0 || !hs_wiped(&hs));
	noise_cipher_wipe(&send);
	noise_cipher_wipe(&recv);
}

/* The agent reading msg2 after sending a real msg1. */
static void fuzz_agent(const uint8_t *msg, size_t len)
{
	uint8_t msg1[NOISE_MSG1_OVERHEAD + sizeof agent_hello], payload[NOISE_MSG_MAX], ct[32], pt[32];
	struct noise_handshake hs;
	struct noise_cipher send, recv;
	int r;

	if (noise_handshake_init(&hs, true, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, agent_s,
				 coll_pub) < 0)
		__builtin_trap();
	noise_handshake_set_ephemeral(&hs, agent_e);
	r = noise_write_msg1(&hs, agent_hello, sizeof agent_hello, msg1, sizeof msg1);
	TRAP_IF(r != (int)sizeof msg1);
	r = noise_read_msg2(&hs, msg, len, payload, sizeof payload);
	if (r < 0) {
		TRAP_IF(!hs_wiped(&hs));
		return;
	}
	TRAP_IF((size_t)r != len - NOISE_MSG2_OVERHEAD || hs.state != NOISE_HS_DONE);
	TRAP_IF(noise_split(&hs, &send, &recv) != 0 || !hs_wiped(&hs));
	TRAP_IF(noise_encrypt(&send, payload, r < 16 ? (size_t)r : 16, ct, sizeof ct) < 0);
	/* our own send key must not open with the receive key */
	TRAP_IF(noise_decrypt(&recv, ct, (size_t)(r < 16 ? r : 16) + NOISE_TAG_LEN, pt, sizeof pt) >= 0);
	noise_cipher_wipe(&send);
	noise_cipher_wipe(&recv);
}

/* Two honest peers with fuzz-chosen payloads: everything must round-trip. */
static void fuzz_roundtrip(const uint8_t *data, size_t len)
{
	static uint8_t buf[NOISE_MSG_MAX], pt[NOISE_MSG_MAX];
	struct noise_handshake ini, res;
	struct noise_cipher is, ir, rs, rr;
	size_t p1 = len / 2, p2 = len - p1;
	uint8_t prologue_len = len > 0 ? data[0] : 0;
	int r;

	if (prologue_len > len)
		prologue_len = (uint8_t)len;
	if (noise_handshake_init(&ini, true, data, prologue_len, agent_s, coll_pub) < 0 ||
	    noise_handshake_init(&res, false, data, prologue_len, coll_s, NULL) < 0)
		__builtin_trap();
	r = noise_write_msg1(&ini, data, p1, buf, sizeof buf);
	TRAP_IF(r != (int)(p1 + NOISE_MSG1_OVERHEAD));
	r = noise_read_msg1(&res, buf, (size_t)r, pt, sizeof pt);
	TRAP_IF(r != (int)p1 || (p1 > 0 && memcmp(pt, data, p1) != 0));
	r = noise_write_msg2(&res, data + p1, p2, buf, sizeof buf);
	TRAP_IF(r != (int)(p2 + NOISE_MSG2_OVERHEAD));
	r = noise_read_msg2(&ini, buf, (size_t)r, pt, sizeof pt);
	TRAP_IF(r != (int)p2 || (p2 > 0 && memcmp(pt, data + p1, p2) != 0));
	TRAP_IF(noise_split(&ini, &is, &ir) != 0 || noise_split(&res, &rs, &rr) != 0);
	r = noise_encrypt(&is, data, len, buf, sizeof buf);
	TRAP_IF(r != (int)(len + NOISE_TAG_LEN));
	r = noise_decrypt(&rr, buf, (size_t)r, pt, sizeof pt);
	TRAP_IF(r != (int)len || (len > 0 && memcmp(pt, data, len) != 0));
	noise_cipher_wipe(&is);
	noise_cipher_wipe(&ir);
	noise_cipher_wipe(&rs);
	noise_cipher_wipe(&rr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode;

	if (size < 1 || size > NOISE_MSG_MAX)
		return 0;
	mode = data[0];
	data++;
	size--;
	switch (mode & 3) {
	case 0:
		fuzz_collector(data, size, mode & 0x80);
		break;
	case 1:
		fuzz_agent(data, size);
		break;
	default:
		/* keep payloads within one transport message */
		if (size <= NOISE_MSG_MAX - NOISE_MSG1_OVERHEAD)
			fuzz_roundtrip(data, size);
		break;
	}
	return 0;
}
