/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "mac1.h"
#include "session.h"

int session_write_msg1(struct noise_handshake *hs, const uint8_t priv[32], const uint8_t collector_pub[32],
		       const struct session_hello *h, uint8_t *out, size_t cap)
{
	uint8_t hello[PROTO_HELLO_MAX];
	size_t hlen = h->hostname ? strnlen(h->hostname, PROTO_HOSTNAME_MAX) : 0;
	hello[0] = PROTO_VERSION;
	hello[1] = 0;
	put_be64(hello + 2, h->counter);
	memcpy(hello + 10, h->stream_id, PROTO_STREAM_ID_LEN);
	memcpy(hello + 26, h->machine_id, PROTO_MACHINE_ID_LEN);
	hello[42] = (uint8_t)hlen;
	if (hlen)
		memcpy(hello + PROTO_HELLO_FIXED, h->hostname, hlen);

	int r = noise_handshake_init(hs, true, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, priv,
				     collector_pub);
	if (r < 0)
		return r;
	if (cap < PROTO_MSG1_OVERHEAD + PROTO_HELLO_FIXED + hlen + MAC1_LEN) {
		noise_handshake_wipe(hs);
		return -ENOSPC;
	}
	int n = noise_write_msg1(hs, hello, PROTO_HELLO_FIXED + hlen, out, cap - MAC1_LEN);
	if (n < 0)
		return n;
	uint8_t key[MAC1_KEY_LEN];
	mac1_key(key, collector_pub);
	mac1_compute(out + n, key, out, (size_t)n);
	return n + MAC1_LEN;
}

int session_read_msg2(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint64_t next_seq,
		      struct noise_cipher *tx, struct noise_cipher *rx, uint64_t *ret_hwm)
{
	uint8_t welcome[PROTO_WELCOME_LEN];
	/* Exactly one size is valid; anything else is not ours to decrypt. */
	if (len != PROTO_MSG2_LEN) {
		noise_handshake_wipe(hs);
		return -EPROTO;
	}
	int n = noise_read_msg2(hs, msg, len, welcome, sizeof(welcome));
	if (n < 0)
		return n;
	uint64_t hwm = get_be64(welcome + 1);
	if (n != PROTO_WELCOME_LEN || welcome[0] != PROTO_VERSION || hwm > next_seq) {
		noise_handshake_wipe(hs);
		return -EPROTO;
	}
	int r = noise_split(hs, tx, rx);
	if (r < 0)
		return r;
	*ret_hwm = hwm;
	return 0;
}

int session_read_transport(struct noise_cipher *rx, const uint8_t *msg, size_t len, uint64_t acked,
			   uint64_t sent_next, uint8_t *plain, uint64_t *ret_hwm)
{
	int n = noise_decrypt(rx, msg, len, plain, PROTO_PLAIN_MAX);
	if (n < 0)
		return n;
	if (n < 1)
		return -EPROTO;
	switch (plain[0]) {
	case PROTO_MSG_ACK: {
		if (n != PROTO_ACK_LEN)
			return -EPROTO;
		uint64_t hwm = get_be64(plain + 1);
		if (hwm < acked || hwm > sent_next)
			return -EPROTO;
		*ret_hwm = hwm;
		return PROTO_MSG_ACK;
	}
	case PROTO_MSG_CLOSE:
		return n == PROTO_CLOSE_LEN ? -ECONNRESET : -EPROTO;
	default:
		return -EPROTO;
	}
}
