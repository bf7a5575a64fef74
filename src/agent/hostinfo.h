/* SPDX-License-Identifier: ISC */
#pragma once

/* Facts about this host the agent reports (never trusted by the collector). */

#include <stddef.h>
#include <stdint.h>

/* /proc/sys/kernel/random/boot_id as 16 raw bytes. 0 or -errno. */
__attribute__((warn_unused_result)) int hostinfo_boot_id(uint8_t out[16]);
/* /etc/machine-id as 16 raw bytes; all zero when missing. */
void hostinfo_machine_id(uint8_t out[16]);
/* gethostname, truncated to cap-1 and NUL-terminated. Returns the length. */
size_t hostinfo_hostname(char *out, size_t cap);
/* Parse 32 hex digits, with or without dashes (UUID form). 0 or -EINVAL. */
__attribute__((warn_unused_result)) int hostinfo_parse_id128(const char *s, size_t len, uint8_t out[16]);
