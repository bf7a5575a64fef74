/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF), the checksum of iSCSI, ext4 metadata and
 * RFC 3720: crc32c("123456789") = 0xE3069283. Used where a record only
 * needs protection from accidental damage (torn writes, bit rot) and a
 * reader checks every record: the hash chain (BLAKE2b) is what shows
 * deliberate change. On x86-64 with SSE 4.2 it uses the CPU's crc32
 * instruction (chosen once, at the first call); elsewhere a table.
 */

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(const void *buf, size_t len);
/* The table implementation, whatever the CPU has (for tests). */
uint32_t crc32c_portable(const void *buf, size_t len);
