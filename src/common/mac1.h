/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * mac1: cheap rejection of handshakes before any DH (see proto.h).
 *   key  = BLAKE2b-256("mac1" || collector static public key)
 *   mac1 = BLAKE2b-128 keyed with key, over the Noise msg1 bytes
 */

#include <stddef.h>
#include <stdint.h>

#define MAC1_KEY_LEN 32
#define MAC1_LEN 16

void mac1_key(uint8_t key[MAC1_KEY_LEN], const uint8_t collector_pub[32]);
void mac1_compute(uint8_t out[MAC1_LEN], const uint8_t key[MAC1_KEY_LEN], const uint8_t *msg, size_t len);
/* Constant time. Returns 0 on match, -EBADMSG otherwise. */
__attribute__((warn_unused_result)) int mac1_verify(const uint8_t mac[MAC1_LEN],
						    const uint8_t key[MAC1_KEY_LEN], const uint8_t *msg,
						    size_t len);
