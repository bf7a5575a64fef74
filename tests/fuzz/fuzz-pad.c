/* SPDX-License-Identifier: ISC */
/*
 * The bytes a peer controls in the extensions (docs/PROTOCOL.md 5.10,
 * 5.11): a decrypted padded plaintext (pad_unwrap), a commitment in an
 * ACK (commitment_decode) and a commitment line from a file
 * (commitment_parse). Whatever they accept must come back the same
 * through the encoder: a padded message re-wrapped is the input, a
 * decoded commitment re-encoded is the input, a parsed line formatted and
 * parsed again is the same commitment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commitment.h"
#include "pad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > PROTO_PLAIN_MAX)
		return 0;
	const uint8_t *msg;
	size_t len;
	if (pad_unwrap(data, size, &msg, &len) == 0) {
		uint8_t *again = malloc(PROTO_PLAIN_MAX);
		if (!again)
			return 0;
		int n = pad_wrap(again, PROTO_PLAIN_MAX, msg, len);
		if (n != (int)size || memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	struct commitment c, d;
	if (commitment_decode(data, size, &c) == 0) {
		uint8_t b[COMMITMENT_LEN];
		commitment_encode(b, &c);
		if (memcmp(b, data, COMMITMENT_LEN) != 0)
			abort();
	}
	char line[COMMITMENT_TEXT_MAX + 1];
	if (size < sizeof(line)) {
		memcpy(line, data, size);
		line[size] = 0;
		if (commitment_parse(line, &c) == 0) {
			char out[COMMITMENT_TEXT_MAX];
			if (commitment_format(out, sizeof(out), &c) < 0 || commitment_parse(out, &d) != 0 ||
			    strcmp(c.host, d.host) != 0 || c.hwm != d.hwm || c.records != d.records ||
			    c.end != d.end || c.written_usec != d.written_usec ||
			    memcmp(c.chain, d.chain, 32) != 0 || memcmp(c.stream_id, d.stream_id, 16) != 0 ||
			    c.has_collector != d.has_collector ||
			    (c.has_collector && memcmp(c.collector, d.collector, 32) != 0))
				abort();
		}
	}
	return 0;
}
