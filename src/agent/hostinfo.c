/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "hostinfo.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hostinfo_parse_id128(const char *s, size_t len, uint8_t out[16])
{
	uint8_t tmp[16];
	size_t nd = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-')
			continue;
		if (s[i] == '\n' && i == len - 1)
			break;
		int v = hexval(s[i]);
		if (v < 0 || nd >= 32)
			return -EINVAL;
		if (nd % 2 == 0)
			tmp[nd / 2] = (uint8_t)(v << 4);
		else
			tmp[nd / 2] |= (uint8_t)v;
		nd++;
	}
	if (nd != 32)
		return -EINVAL;
	memcpy(out, tmp, 16);
	return 0;
}

int hostinfo_boot_id(uint8_t out[16])
{
	char buf[64];
	ssize_t n = read_file("/proc/sys/kernel/random/boot_id", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return hostinfo_parse_id128(buf, (size_t)n, out);
}

void hostinfo_machine_id(uint8_t out[16])
{
	char buf[64];
	ssize_t n = read_file("/etc/machine-id", buf, sizeof(buf));
	if (n < 0 || hostinfo_parse_id128(buf, (size_t)n, out) < 0)
		memset(out, 0, 16);
}

size_t hostinfo_hostname(char *out, size_t cap)
{
	if (gethostname(out, cap) < 0)
		out[0] = '\0';
	out[cap - 1] = '\0';
	return strlen(out);
}
