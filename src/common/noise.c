/* SPDX-License-Identifier: ISC */
/*
 * Noise_IK_25519_ChaChaPoly_BLAKE2b, Noise rev 34 (see NOISE-NOTES.md).
 *
 *   IK:  <- s
 *        ...
 *        -> e, es, s, ss
 *        <- e, ee, se
 *
 * Only IK with this one suite is implemented, so HASHLEN = 64, BLOCKLEN = 128,
 * DHLEN = 32, and every cipher key is the first 32 bytes of a 64-byte HKDF
 * output. libsodium 1.0.18 provides X25519, BLAKE2b and the IETF AEAD;
 * HMAC-BLAKE2b and HKDF are written here.
 *
 * Failure policy: every handshake function that fails wipes the whole
 * handshake (state NOISE_HS_NONE, all key material zero). Transport failures
 * leave the cipher as it was (n unchanged); the caller closes the connection.
 */

#include "noise.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "proto.h"

#define BLAKE2B_BLOCK_LEN 128
#define NONCE_LEN crypto_aead_chacha20poly1305_ietf_NPUBBYTES

/* The 33-byte protocol name fits in HASHLEN, so h = name padded, not hashed. */
_Static_assert(sizeof(PROTO_NAME) - 1 <= NOISE_HASH_LEN, "protocol name must be padded, not hashed");
_Static_assert(NOISE_KEY_LEN == crypto_scalarmult_BYTES, "DHLEN");
_Static_assert(NOISE_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "cipher key size");
_Static_assert(NOISE_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "AEAD tag size");
_Static_assert(NOISE_MSG1_OVERHEAD == 2 * NOISE_KEY_LEN + 2 * NOISE_TAG_LEN, "msg1 layout");
_Static_assert(NOISE_MSG2_OVERHEAD == NOISE_KEY_LEN + NOISE_TAG_LEN, "msg2 layout");

/* ---- HASH, HMAC-HASH, HKDF ---- */

/* BLAKE2b-512 over a || b (either may be empty). */
static void hash2(uint8_t out[NOISE_HASH_LEN], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
	if (alen > 0)
		crypto_generichash_blake2b_update(&st, a, alen);
	if (blen > 0)
		crypto_generichash_blake2b_update(&st, b, blen);
	crypto_generichash_blake2b_final(&st, out, NOISE_HASH_LEN);
	sodium_memzero(&st, sizeof st);
}

/*
 * RFC 2104 HMAC with BLAKE2b-512 and its 128-byte block, over d1 || d2.
 * Not BLAKE2b's keyed mode. Every key used here (ck, HKDF temp) is exactly
 * HASHLEN = 64 bytes, so it is only ever zero-padded, never hashed.
 */
static void hmac_blake2b(uint8_t out[NOISE_HASH_LEN], const uint8_t key[NOISE_HASH_LEN], const uint8_t *d1,
			 size_t l1, const uint8_t *d2, size_t l2)
{
	crypto_generichash_blake2b_state st;
	uint8_t pad[BLAKE2B_BLOCK_LEN];
	uint8_t inner[NOISE_HASH_LEN];
	size_t i;

	/* inner = H((K ^ ipad) || d1 || d2), K zero-padded to the 128-byte block */
	memset(pad, 0x36, sizeof pad);
	for (i = 0; i < NOISE_HASH_LEN; i++)
		pad[i] ^= key[i];
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof pad);
	if (l1 > 0)
		crypto_generichash_blake2b_update(&st, d1, l1);
	if (l2 > 0)
		crypto_generichash_blake2b_update(&st, d2, l2);
	crypto_generichash_blake2b_final(&st, inner, NOISE_HASH_LEN);

	/* out = H((K ^ opad) || inner) */
	memset(pad, 0x5c, sizeof pad);
	for (i = 0; i < NOISE_HASH_LEN; i++)
		pad[i] ^= key[i];
	hash2(out, pad, sizeof pad, inner, sizeof inner);

	sodium_memzero(&st, sizeof st);
	sodium_memzero(pad, sizeof pad);
	sodium_memzero(inner, sizeof inner);
}

/*
 * HKDF(ck, ikm, 2) = RFC 5869 with salt = ck and empty info:
 *   temp = HMAC(ck, ikm); o1 = HMAC(temp, 0x01); o2 = HMAC(temp, o1 || 0x02)
 * IK never needs the third output (that is MixKeyAndHash, PSK only).
 * o1/o2 must not alias ck.
 */
static void hkdf2(uint8_t o1[NOISE_HASH_LEN], uint8_t o2[NOISE_HASH_LEN], const uint8_t ck[NOISE_HASH_LEN],
		  const uint8_t *ikm, size_t ikm_len)
{
	static const uint8_t one = 0x01, two = 0x02;
	uint8_t temp[NOISE_HASH_LEN];

	hmac_blake2b(temp, ck, ikm, ikm_len, NULL, 0);
	hmac_blake2b(o1, temp, &one, 1, NULL, 0);
	hmac_blake2b(o2, temp, o1, NOISE_HASH_LEN, &two, 1);
	sodium_memzero(temp, sizeof temp);
}

/* ---- CipherState ---- */

/* IETF nonce: 32 zero bits, then n as 64-bit little-endian. */
static void nonce_bytes(uint8_t npub[NONCE_LEN], uint64_t n)
{
	size_t i;

	memset(npub, 0, 4);
	for (i = 0; i < 8; i++)
		npub[4 + i] = (uint8_t)(n >> (8 * i));
}

/* ENCRYPT(k, n, ad, p): writes plen + 16 bytes. out may equal p exactly. */
static void aead_seal(const uint8_t k[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad, size_t adlen,
		      const uint8_t *p, size_t plen, uint8_t *out)
{
	uint8_t npub[NONCE_LEN];

	nonce_bytes(npub, n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plen > 0 ? p : NULL, plen, ad, adlen, NULL, npub,
						  k);
}

/* DECRYPT(k, n, ad, c): writes clen - 16 bytes on success, zeroes them on failure. */
static int aead_open(const uint8_t k[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad, size_t adlen,
		     const uint8_t *c, size_t clen, uint8_t *out)
{
	uint8_t npub[NONCE_LEN];
	size_t mlen = clen - NOISE_TAG_LEN;

	nonce_bytes(npub, n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(mlen > 0 ? out : NULL, NULL, NULL, c, clen, ad, adlen,
						      npub, k) != 0) {
		if (mlen > 0)
			sodium_memzero(out, mlen);
		return -EBADMSG;
	}
	return 0;
}

static void cipher_init(struct noise_cipher *c, const uint8_t k[NOISE_KEY_LEN])
{
	sodium_memzero(c, sizeof *c);
	memcpy(c->k, k, NOISE_KEY_LEN);
	c->n = 0;
	c->has_key = true;
}

/*
 * Transport: out may be p itself (in place) but must not otherwise overlap it.
 * Checks in order: usable cipher, nonce, size, room.
 */
int noise_encrypt(struct noise_cipher *c, const uint8_t *p, size_t plen, uint8_t *out, size_t cap)
{
	if (!c || !c->has_key || !out || (!p && plen > 0))
		return -EINVAL;
	if (c->n == NOISE_NONCE_MAX)
		return -ERANGE;
	if (plen > NOISE_MSG_MAX - NOISE_TAG_LEN)
		return -EMSGSIZE;
	if (cap < plen + NOISE_TAG_LEN)
		return -ENOSPC;
	aead_seal(c->k, c->n, NULL, 0, p, plen, out);
	c->n++;
	return (int)(plen + NOISE_TAG_LEN);
}

/* out may be ct itself (in place). On -EBADMSG out[0..clen-16) is zeroed and n is kept. */
int noise_decrypt(struct noise_cipher *c, const uint8_t *ct, size_t clen, uint8_t *out, size_t cap)
{
	int r;

	if (!c || !c->has_key || !ct || (!out && cap > 0))
		return -EINVAL;
	if (c->n == NOISE_NONCE_MAX)
		return -ERANGE;
	if (clen < NOISE_TAG_LEN || clen > NOISE_MSG_MAX)
		return -EMSGSIZE;
	if (cap < clen - NOISE_TAG_LEN)
		return -ENOSPC;
	r = aead_open(c->k, c->n, NULL, 0, ct, clen, out);
	if (r < 0)
		return r;
	c->n++;
	return (int)(clen - NOISE_TAG_LEN);
}

/* REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes); n is kept. */
void noise_rekey(struct noise_cipher *c)
{
	static const uint8_t zeros[NOISE_KEY_LEN];
	uint8_t out[NOISE_KEY_LEN + NOISE_TAG_LEN];

	if (!c || !c->has_key)
		return;
	aead_seal(c->k, NOISE_NONCE_MAX, NULL, 0, zeros, sizeof zeros, out);
	memcpy(c->k, out, NOISE_KEY_LEN);
	sodium_memzero(out, sizeof out);
}

void noise_cipher_wipe(struct noise_cipher *c)
{
	if (c)
		sodium_memzero(c, sizeof *c);
}

/* ---- SymmetricState ---- */

/* h = HASH(h || data) */
static void mix_hash(struct noise_handshake *hs, const uint8_t *data, size_t len)
{
	uint8_t h[NOISE_HASH_LEN];

	hash2(h, hs->h, NOISE_HASH_LEN, data, len);
	memcpy(hs->h, h, NOISE_HASH_LEN);
	sodium_memzero(h, sizeof h);
}

/* ck, temp_k = HKDF(ck, ikm, 2); k = temp_k[0..32), n = 0. ck stays 64 bytes. */
static void mix_key(struct noise_handshake *hs, const uint8_t ikm[NOISE_KEY_LEN])
{
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t k[NOISE_HASH_LEN];

	hkdf2(ck, k, hs->ck, ikm, NOISE_KEY_LEN);
	memcpy(hs->ck, ck, NOISE_HASH_LEN);
	cipher_init(&hs->cs, k);
	sodium_memzero(ck, sizeof ck);
	sodium_memzero(k, sizeof k);
}

/*
 * MixKey(DH(priv, pub)). libsodium's crypto_scalarmult() fails on an
 * all-zero result (a low-order or otherwise invalid public key); the spec
 * allows treating that as an error, and we do.
 */
static int mix_dh(struct noise_handshake *hs, const uint8_t priv[NOISE_KEY_LEN],
		  const uint8_t pub[NOISE_KEY_LEN])
{
	uint8_t shared[NOISE_KEY_LEN];
	int r = 0;

	if (crypto_scalarmult(shared, priv, pub) != 0)
		r = -EBADMSG;
	else
		mix_key(hs, shared);
	sodium_memzero(shared, sizeof shared);
	return r;
}

/*
 * EncryptAndHash: c = ENCRYPT(k, n++, h, p); MixHash(c). In IK every call
 * comes after a MixKey, so k is always set; the no-key case is refused
 * rather than implemented. The handshake uses n = 0 only, never near the limit.
 */
static int encrypt_and_hash(struct noise_handshake *hs, const uint8_t *p, size_t plen, uint8_t *out)
{
	if (!hs->cs.has_key || hs->cs.n == NOISE_NONCE_MAX)
		return -EINVAL;
	aead_seal(hs->cs.k, hs->cs.n, hs->h, NOISE_HASH_LEN, p, plen, out);
	hs->cs.n++;
	mix_hash(hs, out, plen + NOISE_TAG_LEN);
	return 0;
}

/* DecryptAndHash: the ciphertext (not the plaintext) is hashed. out must not overlap c. */
static int decrypt_and_hash(struct noise_handshake *hs, const uint8_t *c, size_t clen, uint8_t *out)
{
	int r;

	if (!hs->cs.has_key || hs->cs.n == NOISE_NONCE_MAX)
		return -EINVAL;
	r = aead_open(hs->cs.k, hs->cs.n, hs->h, NOISE_HASH_LEN, c, clen, out);
	if (r < 0)
		return r;
	hs->cs.n++;
	mix_hash(hs, c, clen);
	return 0;
}

/* ---- HandshakeState ---- */

void noise_handshake_wipe(struct noise_handshake *hs)
{
	if (!hs)
		return;
	sodium_memzero(hs, sizeof *hs);
	hs->state = NOISE_HS_NONE;
}

static int fail(struct noise_handshake *hs, int err)
{
	noise_handshake_wipe(hs);
	return err;
}

/*
 * After the last handshake message only ck (for Split), h (channel binding)
 * and rs (the caller's allow-list check) are still needed: drop the private
 * keys and the handshake cipher key now rather than at Split.
 */
static void handshake_finish(struct noise_handshake *hs)
{
	sodium_memzero(hs->s_priv, sizeof hs->s_priv);
	sodium_memzero(hs->e_priv, sizeof hs->e_priv);
	sodium_memzero(&hs->cs, sizeof hs->cs);
	hs->state = NOISE_HS_DONE;
}

int noise_handshake_init(struct noise_handshake *hs, bool initiator, const uint8_t *prologue,
			 size_t prologue_len, const uint8_t s_priv[NOISE_KEY_LEN], const uint8_t *rs_pub)
{
	if (!hs)
		return -EINVAL;
	noise_handshake_wipe(hs);
	/* The initiator must know the responder's key (IK pre-message); the responder learns the initiator's.
	 */
	if (!s_priv || (!prologue && prologue_len > 0) || initiator != (rs_pub != NULL))
		return -EINVAL;

	hs->initiator = initiator;
	memcpy(hs->s_priv, s_priv, NOISE_KEY_LEN);
	if (crypto_scalarmult_base(hs->s_pub, hs->s_priv) != 0)
		return fail(hs, -EINVAL);

	/* InitializeSymmetric: h = ck = name || zero padding to HASHLEN (hs is zeroed). */
	memcpy(hs->h, PROTO_NAME, sizeof(PROTO_NAME) - 1);
	memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
	/* MixHash(prologue), even when empty. */
	mix_hash(hs, prologue, prologue_len);
	/* Pre-message "<- s": the responder's static key, on both sides. */
	if (initiator) {
		memcpy(hs->rs, rs_pub, NOISE_KEY_LEN);
		mix_hash(hs, hs->rs, NOISE_KEY_LEN);
	} else {
		mix_hash(hs, hs->s_pub, NOISE_KEY_LEN);
	}
	hs->state = NOISE_HS_INIT;
	return 0;
}

/* Accepted only before this side writes its ephemeral: initiator in INIT, responder in INIT or MSG1. */
void noise_handshake_set_ephemeral(struct noise_handshake *hs, const uint8_t e_priv[NOISE_KEY_LEN])
{
	if (!hs || !e_priv)
		return;
	if (hs->state != NOISE_HS_INIT && !(hs->state == NOISE_HS_MSG1 && !hs->initiator))
		return;
	memcpy(hs->e_priv, e_priv, NOISE_KEY_LEN);
	hs->e_injected = true;
}

/* Token "e" on the writing side: new (or injected) keypair, append e.pub, MixHash(e.pub). */
static int write_e(struct noise_handshake *hs, uint8_t out[NOISE_KEY_LEN])
{
	if (!hs->e_injected)
		randombytes_buf(hs->e_priv, NOISE_KEY_LEN);
	if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0)
		return -EINVAL;
	memcpy(out, hs->e_pub, NOISE_KEY_LEN);
	mix_hash(hs, hs->e_pub, NOISE_KEY_LEN);
	return 0;
}

/*
 * msg1 = e(32) || ENC(s)(48) || ENC(payload)(plen + 16).
 * On failure out[0..96+plen) is zeroed (when it fitted) and hs is wiped.
 */
int noise_write_msg1(struct noise_handshake *hs, const uint8_t *payload, size_t plen, uint8_t *out,
		     size_t cap)
{
	size_t len;
	int r;

	if (!hs)
		return -EINVAL;
	if (hs->state != NOISE_HS_INIT || !hs->initiator || !out || (!payload && plen > 0))
		return fail(hs, -EINVAL);
	if (plen > NOISE_MSG_MAX - NOISE_MSG1_OVERHEAD)
		return fail(hs, -EMSGSIZE);
	len = NOISE_MSG1_OVERHEAD + plen;
	if (cap < len)
		return fail(hs, -ENOSPC);

	r = write_e(hs, out);
	if (r == 0) /* es */
		r = mix_dh(hs, hs->e_priv, hs->rs);
	if (r == 0) /* s */
		r = encrypt_and_hash(hs, hs->s_pub, NOISE_KEY_LEN, out + NOISE_KEY_LEN);
	if (r == 0) /* ss */
		r = mix_dh(hs, hs->s_priv, hs->rs);
	if (r == 0)
		r = encrypt_and_hash(hs, payload, plen, out + 2 * NOISE_KEY_LEN + NOISE_TAG_LEN);
	if (r < 0) {
		sodium_memzero(out, len);
		return fail(hs, r);
	}
	hs->state = NOISE_HS_MSG1;
	return (int)len;
}

/* Responder. payload gets len - 96 bytes; on failure they are zeroed and hs is wiped. */
int noise_read_msg1(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload, size_t cap)
{
	size_t plen;
	int r;

	if (!hs)
		return -EINVAL;
	if (hs->state != NOISE_HS_INIT || hs->initiator || !msg || (!payload && cap > 0))
		return fail(hs, -EINVAL);
	if (len < NOISE_MSG1_OVERHEAD || len > NOISE_MSG_MAX)
		return fail(hs, -EMSGSIZE);
	plen = len - NOISE_MSG1_OVERHEAD;
	if (cap < plen)
		return fail(hs, -ENOSPC);

	/* e */
	memcpy(hs->re, msg, NOISE_KEY_LEN);
	mix_hash(hs, hs->re, NOISE_KEY_LEN);
	/* es (responder side: DH(s, re)) */
	r = mix_dh(hs, hs->s_priv, hs->re);
	if (r == 0) /* s: 32 + 16 bytes, since k is set */
		r = decrypt_and_hash(hs, msg + NOISE_KEY_LEN, NOISE_KEY_LEN + NOISE_TAG_LEN, hs->rs);
	if (r == 0) /* ss */
		r = mix_dh(hs, hs->s_priv, hs->rs);
	if (r == 0)
		r = decrypt_and_hash(hs, msg + 2 * NOISE_KEY_LEN + NOISE_TAG_LEN, plen + NOISE_TAG_LEN,
				     payload);
	if (r < 0) {
		if (plen > 0)
			sodium_memzero(payload, plen);
		return fail(hs, r);
	}
	hs->state = NOISE_HS_MSG1;
	return (int)plen;
}

/* msg2 = e(32) || ENC(payload)(plen + 16). */
int noise_write_msg2(struct noise_handshake *hs, const uint8_t *payload, size_t plen, uint8_t *out,
		     size_t cap)
{
	size_t len;
	int r;

	if (!hs)
		return -EINVAL;
	if (hs->state != NOISE_HS_MSG1 || hs->initiator || !out || (!payload && plen > 0))
		return fail(hs, -EINVAL);
	if (plen > NOISE_MSG_MAX - NOISE_MSG2_OVERHEAD)
		return fail(hs, -EMSGSIZE);
	len = NOISE_MSG2_OVERHEAD + plen;
	if (cap < len)
		return fail(hs, -ENOSPC);

	r = write_e(hs, out);
	if (r == 0) /* ee */
		r = mix_dh(hs, hs->e_priv, hs->re);
	if (r == 0) /* se (responder side: DH(e, rs)) */
		r = mix_dh(hs, hs->e_priv, hs->rs);
	if (r == 0)
		r = encrypt_and_hash(hs, payload, plen, out + NOISE_KEY_LEN);
	if (r < 0) {
		sodium_memzero(out, len);
		return fail(hs, r);
	}
	handshake_finish(hs);
	return (int)len;
}

int noise_read_msg2(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload, size_t cap)
{
	size_t plen;
	int r;

	if (!hs)
		return -EINVAL;
	if (hs->state != NOISE_HS_MSG1 || !hs->initiator || !msg || (!payload && cap > 0))
		return fail(hs, -EINVAL);
	if (len < NOISE_MSG2_OVERHEAD || len > NOISE_MSG_MAX)
		return fail(hs, -EMSGSIZE);
	plen = len - NOISE_MSG2_OVERHEAD;
	if (cap < plen)
		return fail(hs, -ENOSPC);

	/* e */
	memcpy(hs->re, msg, NOISE_KEY_LEN);
	mix_hash(hs, hs->re, NOISE_KEY_LEN);
	/* ee */
	r = mix_dh(hs, hs->e_priv, hs->re);
	if (r == 0) /* se (initiator side: DH(s, re)) */
		r = mix_dh(hs, hs->s_priv, hs->re);
	if (r == 0)
		r = decrypt_and_hash(hs, msg + NOISE_KEY_LEN, plen + NOISE_TAG_LEN, payload);
	if (r < 0) {
		if (plen > 0)
			sodium_memzero(payload, plen);
		return fail(hs, r);
	}
	handshake_finish(hs);
	return (int)plen;
}

const uint8_t *noise_remote_static(const struct noise_handshake *hs)
{
	return hs->rs;
}

/* Outside state DONE the hash is not final: hand out zeros rather than a partial h. */
void noise_handshake_hash(const struct noise_handshake *hs, uint8_t out[NOISE_HASH_LEN])
{
	if (hs->state == NOISE_HS_DONE)
		memcpy(out, hs->h, NOISE_HASH_LEN);
	else
		sodium_memzero(out, NOISE_HASH_LEN);
}

/* k1, k2 = HKDF(ck, "", 2), each truncated to 32 bytes; c1 is initiator->responder. */
int noise_split(struct noise_handshake *hs, struct noise_cipher *send, struct noise_cipher *recv)
{
	uint8_t k1[NOISE_HASH_LEN];
	uint8_t k2[NOISE_HASH_LEN];

	if (!hs)
		return -EINVAL;
	if (hs->state != NOISE_HS_DONE || !send || !recv || send == recv)
		return fail(hs, -EINVAL);
	hkdf2(k1, k2, hs->ck, NULL, 0);
	cipher_init(send, hs->initiator ? k1 : k2);
	cipher_init(recv, hs->initiator ? k2 : k1);
	sodium_memzero(k1, sizeof k1);
	sodium_memzero(k2, sizeof k2);
	noise_handshake_wipe(hs);
	return 0;
}
