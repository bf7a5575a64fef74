/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * A collector's commitment to a host's journal (docs/STORE.md,
 * "Commitments"; docs/PROTOCOL.md 5.4): "the journal of HOST held RECORDS
 * records, the last one ending at position END with chain value CHAIN,
 * and every record of stream STREAM below HWM". The collector gives one
 * to the agent with every ACK; the agent keeps the newest and presents it
 * at its next handshake, prints it (kmsg-shipper --print-commitment), and
 * kmsgctl --verify --commitments checks a journal against such lines. The
 * same 160 bytes (or the text line) are what a publisher puts elsewhere.
 *
 * Binary form, 160 bytes, integers big-endian:
 *    0   8  magic "KSCMT001"
 *    8   8  records
 *   16   8  end: logical position just after record records-1
 *   24   8  written: usec since the epoch, collector clock
 *   32  32  chain value of record records-1
 *   64  16  stream id
 *   80   8  hwm: every agent record of the stream below it is stored
 *   88   1  n: length of the host name, 1..64
 *   89   7  reserved, 0
 *   96  64  host name (the collector's name for the host), zero-padded
 *
 * Text form, one line (no newline in the buffer):
 *   kmsg-commitment/1 host=NAME stream=HEX32 hwm=N records=N end=N
 *   time=USEC chain=HEX64
 * in this order, single spaces; a parser also takes a trailing
 * " collector=BASE64KEY" (which collector gave it, added by the agent).
 */

#include <stddef.h>
#include <stdint.h>

#define COMMITMENT_MAGIC "KSCMT001"
#define COMMITMENT_LEN 160
#define COMMITMENT_NAME_MAX 64
#define COMMITMENT_TEXT_MAX 400

struct commitment {
	char host[COMMITMENT_NAME_MAX + 1];
	uint8_t stream_id[16];
	uint64_t hwm;
	uint64_t records;
	uint64_t end;
	uint64_t written_usec;
	uint8_t chain[32];
	/* Text form only: the collector's public key, when has_collector. */
	int has_collector;
	uint8_t collector[32];
};

/* Host names are those of the collector's store: 1..64 of A-Z a-z 0-9 . _ -, not starting with '.'. */
int commitment_name_valid(const char *name);

void commitment_encode(uint8_t out[COMMITMENT_LEN], const struct commitment *c);
/* 0, or -EBADMSG (length, magic, name, reserved bytes). */
__attribute__((warn_unused_result)) int commitment_decode(const uint8_t *in, size_t len,
							  struct commitment *ret);
/* The text form into out (COMMITMENT_TEXT_MAX is enough); its length or -ENOSPC. */
__attribute__((warn_unused_result)) int commitment_format(char *out, size_t cap, const struct commitment *c);
/* One line (a trailing newline is allowed); 0 or -EINVAL. */
__attribute__((warn_unused_result)) int commitment_parse(const char *line, struct commitment *ret);
