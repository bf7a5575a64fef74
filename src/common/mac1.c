/* SPDX-License-Identifier: ISC */
/*
 * mac1: lets the collector drop handshake junk before any X25519 work.
 * Anyone who knows the collector's public key can compute it, so it is a
 * cost filter, not authentication.
 */

#include "mac1.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "proto.h"

_Static_assert(MAC1_LEN == PROTO_MAC1_LEN, "mac1 length");
_Static_assert(MAC1_KEY_LEN >= crypto_generichash_KEYBYTES_MIN &&
		       MAC1_KEY_LEN <= crypto_generichash_KEYBYTES_MAX,
	       "mac1 key length");
_Static_assert(MAC1_LEN >= crypto_generichash_BYTES_MIN, "mac1 output length");

/* key = BLAKE2b-256("mac1" || collector static public key), unkeyed */
void mac1_key(uint8_t key[MAC1_KEY_LEN], const uint8_t collector_pub[32])
{
	uint8_t buf[sizeof(PROTO_MAC1_LABEL) - 1 + 32];

	memcpy(buf, PROTO_MAC1_LABEL, sizeof(PROTO_MAC1_LABEL) - 1);
	memcpy(buf + sizeof(PROTO_MAC1_LABEL) - 1, collector_pub, 32);
	crypto_generichash(key, MAC1_KEY_LEN, buf, sizeof buf, NULL, 0);
}

/* BLAKE2b with a 16-byte digest length parameter (not a truncated 64-byte digest), keyed */
void mac1_compute(uint8_t out[MAC1_LEN], const uint8_t key[MAC1_KEY_LEN], const uint8_t *msg, size_t len)
{
	crypto_generichash(out, MAC1_LEN, len > 0 ? msg : NULL, len, key, MAC1_KEY_LEN);
}

int mac1_verify(const uint8_t mac[MAC1_LEN], const uint8_t key[MAC1_KEY_LEN], const uint8_t *msg, size_t len)
{
	uint8_t want[MAC1_LEN];
	int r;

	mac1_compute(want, key, msg, len);
	r = sodium_memcmp(want, mac, MAC1_LEN) == 0 ? 0 : -EBADMSG;
	sodium_memzero(want, sizeof want);
	return r;
}
