/* SPDX-License-Identifier: ISC */
/*
 * X25519 keys in text form and key files.
 *
 * Base64 is done with arithmetic masks (as in WireGuard's encoding.c and
 * libsodium's sodium_bin2base64), never with a table indexed by key bytes
 * and never branching on them, so the time taken does not depend on the key.
 * Unsigned arithmetic throughout: no shifts of negative values.
 */

#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* Largest key file we read: one key plus generous whitespace. */
#define KEY_FILE_MAX 256

_Static_assert(KEY_LEN == crypto_scalarmult_BYTES, "X25519 key size");
/* 32 bytes = 10 groups of 3, then 2 bytes -> 3 characters and one '='. */
_Static_assert(KEY_B64_LEN == (KEY_LEN / 3) * 4 + 4, "base64 length");

/* All ones when x > k, else 0 (x, k < 2^31). */
static inline uint32_t ct_gt(uint32_t x, uint32_t k)
{
	return 0U - ((k - x) >> 31);
}

/* All ones when lo <= c <= hi, else 0 (all < 2^31). */
static inline uint32_t ct_in(uint32_t c, uint32_t lo, uint32_t hi)
{
	return ((c - lo) >> 31 | (hi - c) >> 31) - 1U;
}

/* 6-bit value -> A-Z a-z 0-9 + / */
static char b64_char(uint32_t x)
{
	uint32_t c = x + 'A';

	c += ct_gt(x, 25) & 6;	/* 26.. -> 'a'.. */
	c -= ct_gt(x, 51) & 75; /* 52.. -> '0'.. */
	c -= ct_gt(x, 61) & 15; /* 62 -> '+' */
	c += ct_gt(x, 62) & 3;	/* 63 -> '/' */
	return (char)(c & 0xff);
}

/* Character -> 6-bit value; *bad gets 1 ORed in when c is not in the alphabet. */
static uint32_t b64_value(unsigned char ch, uint32_t *bad)
{
	uint32_t c = ch;
	uint32_t m_upper = ct_in(c, 'A', 'Z');
	uint32_t m_lower = ct_in(c, 'a', 'z');
	uint32_t m_digit = ct_in(c, '0', '9');
	uint32_t m_plus = ct_in(c, '+', '+');
	uint32_t m_slash = ct_in(c, '/', '/');
	uint32_t v;

	v = (m_upper & (c - 'A')) | (m_lower & (c - 'a' + 26)) | (m_digit & (c - '0' + 52)) | (m_plus & 62) |
	    (m_slash & 63);
	*bad |= ~(m_upper | m_lower | m_digit | m_plus | m_slash) & 1U;
	return v & 63;
}

void key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN])
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= KEY_LEN; i += 3) {
		v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
		out[o++] = b64_char(v >> 18 & 63);
		out[o++] = b64_char(v >> 12 & 63);
		out[o++] = b64_char(v >> 6 & 63);
		out[o++] = b64_char(v & 63);
	}
	/* last two bytes: 16 bits -> 3 characters (2 unused zero bits) and '=' */
	v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8;
	out[o++] = b64_char(v >> 18 & 63);
	out[o++] = b64_char(v >> 12 & 63);
	out[o++] = b64_char(v >> 6 & 63);
	out[o++] = '=';
	out[o] = '\0';
}

int key_from_base64(uint8_t out[KEY_LEN], const char *in, size_t len)
{
	uint8_t tmp[KEY_LEN];
	const unsigned char *s = (const unsigned char *)in;
	uint32_t bad = 0, v;
	size_t i, o = 0;

	/* Length and padding position are public (every valid key has them). */
	if (!in || len != KEY_B64_LEN || in[KEY_B64_LEN - 1] != '=')
		return -EINVAL;

	for (i = 0; i + 4 < KEY_B64_LEN; i += 4) {
		v = b64_value(s[i], &bad) << 18 | b64_value(s[i + 1], &bad) << 12 |
		    b64_value(s[i + 2], &bad) << 6 | b64_value(s[i + 3], &bad);
		tmp[o++] = (uint8_t)(v >> 16);
		tmp[o++] = (uint8_t)(v >> 8);
		tmp[o++] = (uint8_t)v;
	}
	v = b64_value(s[i], &bad) << 18 | b64_value(s[i + 1], &bad) << 12 | b64_value(s[i + 2], &bad) << 6;
	tmp[o++] = (uint8_t)(v >> 16);
	tmp[o++] = (uint8_t)(v >> 8);
	/* The third character's low 2 bits carry no data and must be zero (canonical form). */
	bad |= ((v >> 6 & 3) + 3) >> 2;

	if (bad) {
		sodium_memzero(tmp, sizeof tmp);
		return -EINVAL;
	}
	memcpy(out, tmp, KEY_LEN);
	sodium_memzero(tmp, sizeof tmp);
	return 0;
}

/* Whitespace test by comparison, not by the locale's table (isspace) indexed by key text. */
static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int key_parse_text(uint8_t out[KEY_LEN], const char *text, size_t len)
{
	if (!text)
		return -EINVAL;
	while (len > 0 && is_space(text[0])) {
		text++;
		len--;
	}
	while (len > 0 && is_space(text[len - 1]))
		len--;
	return key_from_base64(out, text, len);
}

/* X25519 clamping: multiple of the cofactor 8, top bit clear, bit 254 set. */
void key_generate(uint8_t priv[KEY_LEN])
{
	randombytes_buf(priv, KEY_LEN);
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
}

int key_public(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	uint8_t tmp[KEY_LEN];

	if (crypto_scalarmult_base(tmp, priv) != 0 || sodium_is_zero(tmp, sizeof tmp)) {
		sodium_memzero(tmp, sizeof tmp);
		return -EINVAL;
	}
	memcpy(pub, tmp, KEY_LEN);
	sodium_memzero(tmp, sizeof tmp);
	return 0;
}

/*
 * Read one key file (at most KEY_FILE_MAX bytes, regular file only) and
 * parse it. private_key: refuse symlinks (O_NOFOLLOW) and any group/other
 * permission bit. The read buffer is wiped either way.
 */
static int read_key_file(const char *path, bool private_key, uint8_t out[KEY_LEN], struct stat *st_out)
{
	char buf[KEY_FILE_MAX + 1];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, r;

	if (!path)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (private_key ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st_out)
		*st_out = st;
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
		goto out;
	}
	if (private_key && (st.st_mode & 077)) {
		r = -EPERM;
		goto out;
	}
	/* One byte more than allowed, to tell "exactly full" from "too long". */
	while (len < sizeof buf) {
		n = read(fd, buf + len, sizeof buf - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = len > KEY_FILE_MAX ? -EINVAL : key_parse_text(out, buf, len);
out:
	sodium_memzero(buf, sizeof buf);
	close(fd);
	return r;
}

int key_read_private_file(const char *path, uint8_t priv[KEY_LEN])
{
	return read_key_file(path, true, priv, NULL);
}

int key_read_private_file_stat(const char *path, uint8_t priv[KEY_LEN], struct stat *st)
{
	memset(st, 0, sizeof(*st));
	return read_key_file(path, true, priv, st);
}

int key_read_public_file(const char *path, uint8_t pub[KEY_LEN])
{
	return read_key_file(path, false, pub, NULL);
}

const char *key_file_strerror(int err)
{
	switch (err) {
	case -EPERM:
		return "readable or writable by group or others; chmod 600 it";
	case -EINVAL:
		return "expected one base64 key of 44 characters (kmsg-keygen genkey)";
	case -ELOOP:
		return "is a symbolic link; a private key must be a regular file (links are not followed)";
	case -EBADFD:
		return "not a regular file";
	default:
		return strerror(-err);
	}
}
