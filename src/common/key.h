/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * X25519 keys: base64 text form (44 characters, standard alphabet, one '='),
 * encoded and decoded in constant time, and key files.
 *
 * A key file holds one base64 key, optionally followed by a newline.
 * Private key files must not be readable or writable by group or others.
 */

#include <stddef.h>
#include <stdint.h>

#define KEY_LEN 32
#define KEY_B64_LEN 44

/* out gets KEY_B64_LEN characters and a NUL. */
void key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN]);

/* Exactly KEY_B64_LEN characters (surrounding whitespace is the caller's
 * business). Returns 0 or -EINVAL; out untouched on failure. Constant time
 * in the key's content. */
__attribute__((warn_unused_result)) int key_from_base64(uint8_t out[KEY_LEN], const char *in, size_t len);

/* New random private key (clamped as X25519 expects). */
void key_generate(uint8_t priv[KEY_LEN]);

/* Returns 0 or -EINVAL (the private key maps to an invalid point). */
__attribute__((warn_unused_result)) int key_public(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN]);

/*
 * Read a key file. Private: -EPERM when the mode grants any group/other
 * access (the caller says "chmod 600"), -ELOOP for a symbolic link (not
 * followed), -EISDIR for a directory, -EBADFD for another non-regular
 * file, -EINVAL when the content is not one base64 key, or the open/read
 * -errno. Trailing whitespace is accepted. The read buffer is wiped.
 */
__attribute__((warn_unused_result)) int key_read_private_file(const char *path, uint8_t priv[KEY_LEN]);
__attribute__((warn_unused_result)) int key_read_public_file(const char *path, uint8_t pub[KEY_LEN]);
/* key_read_private_file, and *st gets the open file's fstat (owner and
 * mode of the very file read) whenever the open succeeded, also when the
 * key is then refused (-EPERM: its mode, -EISDIR ...); all zero (st_nlink
 * 0) when it was not opened. */
struct stat;
__attribute__((warn_unused_result)) int key_read_private_file_stat(const char *path, uint8_t priv[KEY_LEN],
								   struct stat *st);

/* What to tell the user about a key_read_*_file error. */
const char *key_file_strerror(int err);

/* Parse text that holds one key and optional surrounding whitespace. */
__attribute__((warn_unused_result)) int key_parse_text(uint8_t out[KEY_LEN], const char *text, size_t len);
