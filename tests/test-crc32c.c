/* SPDX-License-Identifier: ISC */

/*
 * CRC-32C: the published check values (RFC 3720 B.4 and the catalogue's
 * "123456789"), and the CPU's instruction path agreeing with the table
 * for every length up to 300 at every alignment of 8.
 */

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crc32c.h"

int main(void)
{
	CHECK_EQ_INT(crc32c("123456789", 9), 0xe3069283u);
	CHECK_EQ_INT(crc32c_portable("123456789", 9), 0xe3069283u);
	CHECK_EQ_INT(crc32c("", 0), 0);

	/* RFC 3720 B.4: 32 bytes of zeros, of 0xff, ascending, descending. */
	uint8_t b[32];
	memset(b, 0, sizeof(b));
	CHECK_EQ_INT(crc32c(b, sizeof(b)), 0x8a9136aau);
	memset(b, 0xff, sizeof(b));
	CHECK_EQ_INT(crc32c(b, sizeof(b)), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	CHECK_EQ_INT(crc32c(b, sizeof(b)), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	CHECK_EQ_INT(crc32c(b, sizeof(b)), 0x113fdb5cu);

	uint8_t buf[300 + 8];
	randombytes_buf(buf, sizeof(buf));
	for (size_t align = 0; align < 8; align++)
		for (size_t len = 0; len + align <= sizeof(buf) && len <= 300; len++)
			CHECK_EQ_INT(crc32c(buf + align, len), crc32c_portable(buf + align, len));
	return CHECK_DONE();
}
