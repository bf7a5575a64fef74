/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "bytes.h"
#include "mac1.h"
#include "pad.h"
#include "session.h"

int session_write_msg1(struct noise_handshake *hs, const uint8_t priv[32], const uint8_t collector_pub[32],
		       const struct session_hello *h, uint8_t *out, size_t cap)
{
	uint8_t hello[PROTO_HELLO_MAX];
	size_t hlen = h->hostname ? strnlen(h->hostname, PROTO_HOSTNAME_MAX) : 0;
	hello[0] = PROTO_VERSION;
	hello[1] = h->flags;
	put_be64(hello + 2, h->counter);
	memcpy(hello + 10, h->stream_id, PROTO_STREAM_ID_LEN);
	memcpy(hello + 26, h->machine_id, PROTO_MACHINE_ID_LEN);
	hello[42] = (uint8_t)hlen;
	if (hlen)
		memcpy(hello + PROTO_HELLO_FIXED, h->hostname, hlen);
	size_t plen = PROTO_HELLO_FIXED + hlen;
	if (h->flags & PROTO_HELLO_F_COMMIT) {
		uint8_t *x = hello + plen;
		memset(x, 0, PROTO_HELLO_COMMIT_LEN);
		if (h->presented) {
			put_be64(x, h->presented->records);
			put_be64(x + 8, h->presented->end);
			memcpy(x + 16, h->presented->chain, 32);
		}
		plen += PROTO_HELLO_COMMIT_LEN;
	}

	int r = noise_handshake_init(hs, true, (const uint8_t *)PROTO_PROLOGUE, PROTO_PROLOGUE_LEN, priv,
				     collector_pub);
	if (r < 0)
		return r;
	if (cap < PROTO_MSG1_OVERHEAD + plen + MAC1_LEN) {
		noise_handshake_wipe(hs);
		return -ENOSPC;
	}
	int n = noise_write_msg1(hs, hello, plen, out, cap - MAC1_LEN);
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
	uint8_t flags;
	return session_read_msg2_ext(hs, msg, len, next_seq, 0, tx, rx, ret_hwm, &flags);
}

int session_read_msg2_ext(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint64_t next_seq,
			  uint8_t offered, struct noise_cipher *tx, struct noise_cipher *rx,
			  uint64_t *ret_hwm, uint8_t *ret_flags)
{
	uint8_t welcome[PROTO_WELCOME_EXT_LEN];
	size_t wlen = offered ? PROTO_WELCOME_EXT_LEN : PROTO_WELCOME_LEN;
	/* Exactly one size is valid; anything else is not ours to decrypt. */
	if (len != PROTO_MSG2_OVERHEAD + wlen) {
		noise_handshake_wipe(hs);
		return -EPROTO;
	}
	int n = noise_read_msg2(hs, msg, len, welcome, sizeof(welcome));
	if (n < 0)
		return n;
	uint64_t hwm = get_be64(welcome + 1);
	uint8_t accepted = offered ? welcome[9] : 0;
	if ((size_t)n != wlen || welcome[0] != PROTO_VERSION || hwm > next_seq || (accepted & ~offered)) {
		noise_handshake_wipe(hs);
		return -EPROTO;
	}
	int r = noise_split(hs, tx, rx);
	if (r < 0)
		return r;
	*ret_hwm = hwm;
	*ret_flags = accepted;
	return 0;
}

int session_read_transport(struct noise_cipher *rx, const uint8_t *msg, size_t len, uint64_t acked,
			   uint64_t sent_next, uint8_t *plain, uint64_t *ret_hwm)
{
	return session_read_transport_ext(rx, msg, len, acked, sent_next, 0, NULL, plain, ret_hwm, NULL);
}

int session_read_transport_ext(struct noise_cipher *rx, const uint8_t *msg, size_t len, uint64_t acked,
			       uint64_t sent_next, uint8_t flags,
			       const uint8_t stream_id[PROTO_STREAM_ID_LEN], uint8_t *plain,
			       uint64_t *ret_hwm, struct commitment *ret_commit)
{
	int dn = noise_decrypt(rx, msg, len, plain, PROTO_PLAIN_MAX);
	if (dn < 0)
		return dn;
	const uint8_t *p = plain;
	size_t n = (size_t)dn;
	if ((flags & PROTO_HELLO_F_PAD) && pad_unwrap(plain, (size_t)dn, &p, &n) < 0)
		return -EPROTO;
	if (n < 1)
		return -EPROTO;
	switch (p[0]) {
	case PROTO_MSG_ACK: {
		bool commit = flags & PROTO_HELLO_F_COMMIT;
		if (n != (commit ? PROTO_ACK_COMMIT_LEN : PROTO_ACK_LEN))
			return -EPROTO;
		uint64_t hwm = get_be64(p + 1);
		if (hwm < acked || hwm > sent_next)
			return -EPROTO;
		/* The collector's word on this stream: of it, and never below what it acks. */
		if (commit && (commitment_decode(p + PROTO_ACK_LEN, COMMITMENT_LEN, ret_commit) < 0 ||
			       memcmp(ret_commit->stream_id, stream_id, PROTO_STREAM_ID_LEN) != 0 ||
			       ret_commit->hwm < hwm))
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
