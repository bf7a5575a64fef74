/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Noise_IK_25519_ChaChaPoly_BLAKE2b (Noise rev 34) on libsodium primitives.
 * HMAC-BLAKE2b and HKDF are written by hand (libsodium 1.0.18 has neither).
 *
 * Usage, initiator:  noise_handshake_init(hs, true, prologue, s, rs)
 *                    noise_write_msg1 -> send; recv -> noise_read_msg2
 *                    noise_split(hs, &send, &recv)
 * Usage, responder:  noise_handshake_init(hs, false, prologue, s, NULL)
 *                    recv -> noise_read_msg1; check noise_remote_static()
 *                    against the allow list; noise_write_msg2; noise_split
 *
 * Any failure (bad tag, all-zero DH, wrong length, wrong state) returns a
 * negative errno AND wipes the handshake state: it cannot be used again.
 *
 * WARNING: the msg1 payload has no forward secrecy and can be replayed;
 * never put records or secrets in it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOISE_KEY_LEN 32
#define NOISE_HASH_LEN 64
#define NOISE_TAG_LEN 16
#define NOISE_MSG_MAX 65535
#define NOISE_MSG1_OVERHEAD 96 /* e(32) + s(32+16) + payload tag(16) */
#define NOISE_MSG2_OVERHEAD 48 /* e(32) + payload tag(16) */
/* n = 2^64-1 is reserved; the cipher refuses to use it. */
#define NOISE_NONCE_MAX UINT64_MAX

struct noise_cipher {
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
	bool has_key;
};

enum noise_hs_state {
	NOISE_HS_NONE = 0, /* wiped or failed */
	NOISE_HS_INIT,	   /* initialised, nothing sent/received */
	NOISE_HS_MSG1,	   /* msg1 written (initiator) or read (responder) */
	NOISE_HS_DONE,	   /* msg2 processed: ready for noise_split */
};

/* Fields are private to noise.c; the struct is public so callers can embed it. */
struct noise_handshake {
	enum noise_hs_state state;
	bool initiator;
	bool e_injected;
	struct noise_cipher cs;
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t h[NOISE_HASH_LEN];
	uint8_t s_priv[NOISE_KEY_LEN];
	uint8_t s_pub[NOISE_KEY_LEN];
	uint8_t e_priv[NOISE_KEY_LEN];
	uint8_t e_pub[NOISE_KEY_LEN];
	uint8_t rs[NOISE_KEY_LEN];
	uint8_t re[NOISE_KEY_LEN];
};

/*
 * rs_pub: the responder's static public key (initiator: required; responder:
 * NULL, its own public key is derived from s_priv). Returns 0 or -EINVAL.
 */
__attribute__((warn_unused_result)) int noise_handshake_init(struct noise_handshake *hs, bool initiator,
							     const uint8_t *prologue, size_t prologue_len,
							     const uint8_t s_priv[NOISE_KEY_LEN],
							     const uint8_t *rs_pub);

/*
 * Test hook: use this ephemeral private key instead of a random one.
 * Call after noise_handshake_init and before the first message.
 */
void noise_handshake_set_ephemeral(struct noise_handshake *hs, const uint8_t e_priv[NOISE_KEY_LEN]);

/* Each returns the number of bytes written to out (or payload bytes read), or -errno:
 * -EINVAL wrong state, -ENOSPC out too small, -EMSGSIZE too long / too short,
 * -EBADMSG authentication failure or bad DH. */
__attribute__((warn_unused_result)) int noise_write_msg1(struct noise_handshake *hs, const uint8_t *payload,
							 size_t plen, uint8_t *out, size_t cap);
__attribute__((warn_unused_result)) int noise_read_msg1(struct noise_handshake *hs, const uint8_t *msg,
							size_t len, uint8_t *payload, size_t cap);
__attribute__((warn_unused_result)) int noise_write_msg2(struct noise_handshake *hs, const uint8_t *payload,
							 size_t plen, uint8_t *out, size_t cap);
__attribute__((warn_unused_result)) int noise_read_msg2(struct noise_handshake *hs, const uint8_t *msg,
							size_t len, uint8_t *payload, size_t cap);

/* The initiator's static key, learnt by the responder in noise_read_msg1. */
const uint8_t *noise_remote_static(const struct noise_handshake *hs);

/* Final handshake hash (channel binding); valid in state DONE. */
void noise_handshake_hash(const struct noise_handshake *hs, uint8_t out[NOISE_HASH_LEN]);

/*
 * Split into transport ciphers: for the initiator send = c1, recv = c2; for
 * the responder send = c2, recv = c1. Wipes hs. Returns 0 or -EINVAL.
 */
__attribute__((warn_unused_result)) int noise_split(struct noise_handshake *hs, struct noise_cipher *send,
						    struct noise_cipher *recv);

/* Transport: AD is empty. Return bytes written or -errno (-EBADMSG on a bad
 * tag, leaving n unchanged; -ERANGE when the nonce is exhausted). */
__attribute__((warn_unused_result)) int noise_encrypt(struct noise_cipher *c, const uint8_t *p, size_t plen,
						      uint8_t *out, size_t cap);
__attribute__((warn_unused_result)) int noise_decrypt(struct noise_cipher *c, const uint8_t *ct, size_t clen,
						      uint8_t *out, size_t cap);

/* REKEY(k) per spec §4.2; n is kept. */
void noise_rekey(struct noise_cipher *c);

void noise_handshake_wipe(struct noise_handshake *hs);
void noise_cipher_wipe(struct noise_cipher *c);
