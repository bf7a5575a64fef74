/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Padding of transport messages (docs/PROTOCOL.md 5.10), when both peers
 * negotiated it in the handshake (PROTO_HELLO_F_PAD). The plaintext that
 * is encrypted is
 *
 *     u16 BE length L || the message (L bytes, 1..PAD_MSG_MAX) || zero bytes
 *
 * so that the frame body (plaintext + 16-byte tag) has one of the sizes
 * 512, 1024, 2048, 4096, 8192, 16384, 32768 or 65535: the smallest that
 * holds 2 + L + 16 bytes. The receiver checks the length field, that the
 * frame has exactly the size the length calls for, and that the padding
 * is zero; anything else is a protocol violation.
 */

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define PAD_HDR 2
#define PAD_BODY_MIN 512
/* Largest message inside a padded plaintext. */
#define PAD_MSG_MAX (PROTO_PLAIN_MAX - PAD_HDR)

/* Plaintext length (before the tag) of a padded message of len bytes (1..PAD_MSG_MAX). */
size_t pad_plain_len(size_t len);

/* Write the padded plaintext of msg to out (cap bytes); its length or -EMSGSIZE / -ENOSPC. */
__attribute__((warn_unused_result)) int pad_wrap(uint8_t *out, size_t cap, const uint8_t *msg, size_t len);

/* The message inside the decrypted padded plaintext p (n bytes): *msg
 * points into p. 0 or -EPROTO. */
__attribute__((warn_unused_result)) int pad_unwrap(const uint8_t *p, size_t n, const uint8_t **msg,
						   size_t *len);
