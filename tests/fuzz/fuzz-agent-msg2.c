/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the agent's handling of handshake message 2
 * (session_read_msg2, src/agent/session.c): the first bytes a collector,
 * or whoever answers in its place, sends back.
 *
 * Input: byte 0 mode, bytes 1..8 the agent's next stream seq (u64 BE),
 * the rest:
 *   mode & 1 == 0  raw: the msg2 frame body, read after a real msg1 made
 *                  with fixed keys and a fixed ephemeral (so a valid msg2
 *                  is a stable seed and mutations of it reach the AEAD
 *                  and the welcome checks).
 *   mode & 1 == 1  crafted: the welcome plaintext. The agent's msg1 comes
 *                  from session_write_msg1 (hostname length from the
 *                  mode's upper bits, sel = mode >> 1: sel % 72; for sel of
 *                  72 and more the hello also offers the flags sel & 3,
 *                  with a presented commitment when sel & 4), an honest
 *                  collector reads it (mac1, Noise, hello layout checked)
 *                  and answers with this plaintext, so every welcome
 *                  parse is reachable.
 *
 * Invariants: success only for a welcome of version 1 whose mark is not
 * above next seq, of 9 bytes without flags offered, of 10 with flags and
 * then accepting none that was not offered (returned as accepted); then
 * both sides' keys agree; any failure leaves the handshake wiped and the
 * ciphers without keys.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "mac1.h"
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

/* The same fixed keys as fuzz-handshake and fuzz-agent-transport. */
static uint8_t agent_s[32], agent_e[32], agent_pub[32], coll_s[32], coll_e[32], coll_pub[32],
	coll_mac1_key[MAC1_KEY_LEN];
static const uint8_t agent_hello[PROTO_HELLO_FIXED] = { PROTO_VERSION };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		__builtin_trap();
	for (size_t i = 0; i < 32; i++) {
		agent_s[i] = (uint8_t)(0x11 * i + 1);
		agent_e[i] = (uint8_t)(0x23 * i + 2);
		coll_s[i] = (uint8_t)(0x35 * i + 3);
		coll_e[i] = (uint8_t)(0x47 * i + 4);
	}
	if (crypto_scalarmult_base(coll_pub, coll_s) != 0 || crypto_scalarmult_base(agent_pub, agent_s) != 0)
		__builtin_trap();
	mac1_key(coll_mac1_key, coll_pub);
	return 0;
}

static bool hs_wiped(const struct noise_handshake *hs)
{
	return hs->state == NOISE_HS_NONE && sodium_is_zero((const unsigned char *)hs, sizeof *hs);
}

static bool no_key(const struct noise_cipher *c)
{
	return !c->has_key;
}

/* Agent tx must open with collector rx, and collector tx with agent rx. */
static void check_keys(struct noise_cipher *atx, struct noise_cipher *arx, struct noise_cipher *ctx,
		       struct noise_cipher *crx)
{
	static const uint8_t ping[] = { PROTO_MSG_HEARTBEAT };
	uint8_t ct[64], pt[64];
	int n = noise_encrypt(atx, ping, sizeof ping, ct, sizeof ct);
	TRAP_IF(n != (int)sizeof ping + NOISE_TAG_LEN);
	TRAP_IF(noise_decrypt(crx, ct, (size_t)n, pt, sizeof pt) != (int)sizeof ping || pt[0] != ping[0]);
	n = noise_encrypt(ctx, ping, sizeof ping, ct, sizeof ct);
	TRAP_IF(noise_decrypt(arx, ct, (size_t)n, pt, sizeof pt) != (int)sizeof ping);
}

static void fuzz_raw(uint64_t next, const uint8_t *msg, size_t len)
{
	uint8_t msg1[NOISE_MSG1_OVERHEAD + sizeof agent_hello];
	struct noise_handshake hs;
	struct noise_cipher tx = { 0 }, rx = { 0 };
	uint64_t hwm = 0xdeadbeef;

	if (noise_handshake_init(&hs, true, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, agent_s,
				 coll_pub) < 0)
		__builtin_trap();
	noise_handshake_set_ephemeral(&hs, agent_e);
	TRAP_IF(noise_write_msg1(&hs, agent_hello, sizeof agent_hello, msg1, sizeof msg1) !=
		(int)sizeof msg1);
	int r = session_read_msg2(&hs, msg, len, next, &tx, &rx, &hwm);
	TRAP_IF(!hs_wiped(&hs));
	if (r < 0) {
		TRAP_IF(r != -EPROTO && r != -EBADMSG && r != -EMSGSIZE);
		TRAP_IF(!no_key(&tx) || !no_key(&rx) || hwm != 0xdeadbeef);
		TRAP_IF(len != PROTO_MSG2_LEN && r != -EPROTO);
		return;
	}
	TRAP_IF(r != 0 || len != PROTO_MSG2_LEN || hwm > next || no_key(&tx) || no_key(&rx));
	noise_cipher_wipe(&tx);
	noise_cipher_wipe(&rx);
}

static void fuzz_crafted(uint8_t mode, uint64_t next, const uint8_t *welcome, size_t wlen)
{
	uint8_t msg1[PROTO_MSG1_MAX + 1], hello[PROTO_HELLO_MAX], msg2[NOISE_MSG_MAX];
	char host[PROTO_HOSTNAME_MAX + 8];
	struct session_hello h = { .counter = next ^ 0x5555, .hostname = host };
	struct noise_handshake ahs, chs;
	struct noise_cipher atx = { 0 }, arx = { 0 }, ctx, crx;
	uint64_t hwm = 0xdeadbeef;

	/* A hostname of 0..71 bytes (from the mode byte): longer ones are cut to 64. */
	uint8_t sel = mode >> 1;
	size_t hl = (size_t)sel % (sizeof host);
	uint8_t offered = sel >= sizeof host ? (sel & PROTO_HELLO_F_KNOWN) : 0, accepted = 0xee;
	struct commitment pc = { .records = next, .end = next ^ 1 };
	memset(pc.chain, 0x77, sizeof pc.chain);
	h.flags = offered;
	h.presented = (offered & PROTO_HELLO_F_COMMIT) && (sel & 4) ? &pc : NULL;
	size_t ext = offered & PROTO_HELLO_F_COMMIT ? PROTO_HELLO_COMMIT_LEN : 0;
	memset(host, 'h', hl);
	host[hl] = 0;
	memset(h.stream_id, 0x5a, sizeof h.stream_id);
	memset(h.machine_id, 0xa5, sizeof h.machine_id);
	int n = session_write_msg1(&ahs, agent_s, coll_pub, &h, msg1, sizeof msg1);
	size_t want_hl = hl > PROTO_HOSTNAME_MAX ? PROTO_HOSTNAME_MAX : hl;
	TRAP_IF(n != (int)(PROTO_MSG1_MIN + want_hl + ext));
	/* The collector's view of it. */
	size_t nlen = (size_t)n - MAC1_LEN;
	TRAP_IF(mac1_verify(msg1 + nlen, coll_mac1_key, msg1, nlen) != 0);
	if (noise_handshake_init(&chs, false, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, coll_s,
				 NULL) < 0)
		__builtin_trap();
	noise_handshake_set_ephemeral(&chs, coll_e);
	int hn = noise_read_msg1(&chs, msg1, nlen, hello, sizeof hello);
	TRAP_IF(hn != (int)(PROTO_HELLO_FIXED + want_hl + ext));
	if (ext) {
		const uint8_t *x = hello + PROTO_HELLO_FIXED + want_hl;
		uint8_t zero[PROTO_HELLO_COMMIT_LEN] = { 0 };
		TRAP_IF(h.presented ? get_be64(x) != pc.records || get_be64(x + 8) != pc.end ||
					      memcmp(x + 16, pc.chain, 32) != 0
				    : memcmp(x, zero, sizeof zero) != 0);
	}
	TRAP_IF(hello[0] != PROTO_VERSION || hello[1] != offered || get_be64(hello + 2) != h.counter ||
		hello[42] != want_hl || memcmp(hello + 10, h.stream_id, 16) != 0 ||
		memcmp(hello + 26, h.machine_id, 16) != 0 || memcmp(hello + 43, host, want_hl) != 0);
	TRAP_IF(sodium_memcmp(noise_remote_static(&chs), agent_pub, 32) != 0);

	if (wlen > NOISE_MSG_MAX - NOISE_MSG2_OVERHEAD)
		wlen = NOISE_MSG_MAX - NOISE_MSG2_OVERHEAD;
	int m = noise_write_msg2(&chs, welcome, wlen, msg2, sizeof msg2);
	TRAP_IF(m != (int)(wlen + NOISE_MSG2_OVERHEAD));
	TRAP_IF(noise_split(&chs, &ctx, &crx) != 0);

	int r = session_read_msg2_ext(&ahs, msg2, (size_t)m, next, offered, &atx, &arx, &hwm, &accepted);
	TRAP_IF(!hs_wiped(&ahs));
	bool valid = wlen == (offered ? PROTO_WELCOME_EXT_LEN : PROTO_WELCOME_LEN) &&
		     welcome[0] == PROTO_VERSION && get_be64(welcome + 1) <= next &&
		     (!offered || (welcome[9] & ~offered) == 0);
	if (!valid) {
		TRAP_IF(r != -EPROTO || !no_key(&atx) || !no_key(&arx) || hwm != 0xdeadbeef);
	} else {
		TRAP_IF(r != 0 || hwm != get_be64(welcome + 1) || accepted != (offered ? welcome[9] : 0));
		check_keys(&atx, &arx, &ctx, &crx);
	}
	noise_cipher_wipe(&atx);
	noise_cipher_wipe(&arx);
	noise_cipher_wipe(&ctx);
	noise_cipher_wipe(&crx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9 || size > 9 + NOISE_MSG_MAX)
		return 0;
	uint64_t next = get_be64(data + 1);
	if (data[0] & 1)
		fuzz_crafted(data[0], next, data + 9, size - 9);
	else
		fuzz_raw(next, data + 9, size - 9);
	return 0;
}
