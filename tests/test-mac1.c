/* SPDX-License-Identifier: ISC */
/*
 * mac1: known answers computed independently with Python's hashlib at
 * development time:
 *   pub  = 20 21 .. 3f
 *   key  = blake2b(b"mac1" + pub, digest_size=32)
 *   mac1 = blake2b(msg, digest_size=16, key=key)
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "mac1.h"

static const char MSG[] = "kmsg-shipper mac1 test message";
static const char KEY_HEX[] = "b121b2472703d44ef4b610c4be3aa4670ae4c877ea3270bda7ec10c9b55a2a62";
static const char MAC_HEX[] = "192913089bc4dd5054d3b7a3bef539ce";
static const char MAC_EMPTY_HEX[] = "e4c10eb4aaf7dea718cf6c2887840b87";

static void unhex(uint8_t *out, size_t outlen, const char *hex)
{
	size_t binlen = 0;

	CHECK_EQ_INT(sodium_hex2bin(out, outlen, hex, strlen(hex), NULL, &binlen, NULL), 0);
	CHECK_EQ_INT(binlen, outlen);
}

int main(void)
{
	uint8_t pub[32], other_pub[32], key[MAC1_KEY_LEN], other_key[MAC1_KEY_LEN], want_key[MAC1_KEY_LEN];
	uint8_t mac[MAC1_LEN], want[MAC1_LEN], bad[MAC1_LEN], msg[sizeof MSG - 1];
	size_t i, bit;

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return 1;
	}
	for (i = 0; i < 32; i++)
		pub[i] = (uint8_t)(0x20 + i);
	memcpy(msg, MSG, sizeof msg);

	/* known answers */
	mac1_key(key, pub);
	unhex(want_key, sizeof want_key, KEY_HEX);
	CHECK_EQ_MEM(key, want_key, sizeof key);
	mac1_compute(mac, key, msg, sizeof msg);
	unhex(want, sizeof want, MAC_HEX);
	CHECK_EQ_MEM(mac, want, sizeof mac);
	CHECK_EQ_INT(mac1_verify(want, key, msg, sizeof msg), 0);
	mac1_compute(mac, key, NULL, 0);
	unhex(want, sizeof want, MAC_EMPTY_HEX);
	CHECK_EQ_MEM(mac, want, sizeof mac);
	CHECK_EQ_INT(mac1_verify(want, key, NULL, 0), 0);

	/* any flipped bit in the message or in the mac is rejected */
	mac1_compute(mac, key, msg, sizeof msg);
	for (i = 0; i < sizeof msg; i++) {
		msg[i] ^= 0x04;
		CHECK_EQ_INT(mac1_verify(mac, key, msg, sizeof msg), -EBADMSG);
		msg[i] ^= 0x04;
	}
	for (i = 0; i < MAC1_LEN; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, mac, sizeof bad);
			bad[i] ^= (uint8_t)(1u << bit);
			CHECK_EQ_INT(mac1_verify(bad, key, msg, sizeof msg), -EBADMSG);
		}
	}
	/* truncated or extended message */
	CHECK_EQ_INT(mac1_verify(mac, key, msg, sizeof msg - 1), -EBADMSG);

	/* another collector's key */
	memcpy(other_pub, pub, sizeof pub);
	other_pub[31] ^= 0x01;
	mac1_key(other_key, other_pub);
	CHECK(memcmp(other_key, key, sizeof key) != 0);
	CHECK_EQ_INT(mac1_verify(mac, other_key, msg, sizeof msg), -EBADMSG);
	CHECK_EQ_INT(mac1_verify(mac, key, msg, sizeof msg), 0);

	printf("test-mac1: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}
