/* SPDX-License-Identifier: ISC */
/*
 * Key text form and key files. Known encodings were computed with Python's
 * base64 module; public keys are the RFC 7748 §6.1 test vectors.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "key.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 7748 §6.1 */
static const char ALICE_PRIV[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char ALICE_PUB[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char BOB_PRIV[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char BOB_PUB[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
/* python3: base64.b64encode(bytes.fromhex(ALICE_PRIV / ALICE_PUB)) */
static const char ALICE_PRIV_B64[] = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
static const char ALICE_PUB_B64[] = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

static void unhex(uint8_t out[KEY_LEN], const char *hex)
{
	size_t binlen = 0;

	CHECK_EQ_INT(sodium_hex2bin(out, KEY_LEN, hex, strlen(hex), NULL, &binlen, NULL), 0);
	CHECK_EQ_INT(binlen, KEY_LEN);
}

/* Decoding must fail and leave out untouched. */
static void check_rejected(const char *text, size_t len, int line)
{
	uint8_t out[KEY_LEN];
	int r;

	memset(out, 0x77, sizeof out);
	r = key_from_base64(out, text, len);
	if (r != -EINVAL || out[0] != 0x77 || out[31] != 0x77) {
		fprintf(stderr, "%s:%d: accepted bad key text \"%.*s\" (r=%d)\n", __FILE__, line, (int)len,
			text, r);
		check_failures++;
	}
}
#define REJECT(s) check_rejected((s), strlen(s), __LINE__)

static void test_base64(void)
{
	char b64[KEY_B64_LEN + 1], ref[KEY_B64_LEN + 1], text[KEY_B64_LEN + 2];
	uint8_t key[KEY_LEN], back[KEY_LEN];
	size_t i, pos;
	int c;

	/* fixed keys (python3 base64.b64encode) */
	for (i = 0; i < KEY_LEN; i++)
		key[i] = (uint8_t)i;
	key_to_base64(b64, key);
	CHECK(strcmp(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=") == 0);
	memset(key, 0xff, sizeof key);
	key_to_base64(b64, key);
	CHECK(strcmp(b64, "//////////////////////////////////////////8=") == 0);
	unhex(key, ALICE_PRIV);
	key_to_base64(b64, key);
	CHECK(strcmp(b64, ALICE_PRIV_B64) == 0);
	CHECK_EQ_INT(key_from_base64(back, ALICE_PRIV_B64, KEY_B64_LEN), 0);
	CHECK_EQ_MEM(back, key, KEY_LEN);

	/* many random keys: same text as libsodium's encoder, and back again */
	for (i = 0; i < 5000; i++) {
		randombytes_buf(key, sizeof key);
		key_to_base64(b64, key);
		CHECK_EQ_INT(strlen(b64), KEY_B64_LEN);
		sodium_bin2base64(ref, sizeof ref, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
		CHECK(strcmp(b64, ref) == 0);
		memset(back, 0, sizeof back);
		CHECK_EQ_INT(key_from_base64(back, b64, KEY_B64_LEN), 0);
		CHECK_EQ_MEM(back, key, KEY_LEN);
	}

	/* every byte value at an inner position: accepted exactly when in the alphabet */
	memcpy(text, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", KEY_B64_LEN);
	for (pos = 0; pos < 42; pos += 13) {
		for (c = 0; c < 256; c++) {
			char t[KEY_B64_LEN];
			int want = c != 0 && strchr(ALPHABET, c) ? 0 : -EINVAL;

			memcpy(t, text, KEY_B64_LEN);
			t[pos] = (char)c;
			if (key_from_base64(back, t, KEY_B64_LEN) != want) {
				fprintf(stderr, "%s:%d: byte 0x%02x at %zu: expected %d\n", __FILE__,
					__LINE__, c, pos, want);
				check_failures++;
			}
		}
	}
	/* the last data character: only values with the 2 unused low bits zero */
	for (c = 0; c < 256; c++) {
		char t[KEY_B64_LEN];
		const char *at = c != 0 ? strchr(ALPHABET, c) : NULL;
		int want = at && ((at - ALPHABET) & 3) == 0 ? 0 : -EINVAL;

		memcpy(t, text, KEY_B64_LEN);
		t[42] = (char)c;
		CHECK_EQ_INT(key_from_base64(back, t, KEY_B64_LEN), want);
	}

	/* lengths */
	REJECT("");
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");	 /* 43, no '=' */
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=");	 /* 43 */
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=A"); /* 45 */
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==");
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= "); /* whitespace is key_parse_text's job */
	/* bad characters, padding in the wrong place */
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A");
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==");
	REJECT("AAEC=wQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	REJECT("=AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH-8="); /* base64url */
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH_8=");
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd Hh8=");
	/* non-zero unused bits: '9' (61) and 'B' (1) instead of '8' (60) and 'A' (0) */
	REJECT("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=");
	REJECT("//////////////////////////////////////////B=");
	REJECT("//////////////////////////////////////////9=");
	check_rejected("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\0h8=", KEY_B64_LEN, __LINE__);
	CHECK_EQ_INT(key_from_base64(back, NULL, 0), -EINVAL);

	/* key_parse_text: surrounding whitespace only */
	CHECK_EQ_INT(key_parse_text(back, "  \tdwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\r\n\n", 50), 0);
	unhex(key, ALICE_PRIV);
	CHECK_EQ_MEM(back, key, KEY_LEN);
	CHECK_EQ_INT(key_parse_text(back, ALICE_PRIV_B64, KEY_B64_LEN), 0);
	CHECK_EQ_INT(key_parse_text(back, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nx", 46), -EINVAL);
	CHECK_EQ_INT(key_parse_text(back, "dwdtCnMYpX08FsFyUbJmRd9ML4frw JkqsXf7pR25LCo=", 45), -EINVAL);
	CHECK_EQ_INT(key_parse_text(back, " \n ", 3), -EINVAL);
	CHECK_EQ_INT(key_parse_text(back, "", 0), -EINVAL);
}

static void test_public(void)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN], want[KEY_LEN], a[KEY_LEN];
	char b64[KEY_B64_LEN + 1];
	int i;

	unhex(priv, ALICE_PRIV);
	unhex(want, ALICE_PUB);
	CHECK_EQ_INT(key_public(pub, priv), 0);
	CHECK_EQ_MEM(pub, want, KEY_LEN);
	key_to_base64(b64, pub);
	CHECK(strcmp(b64, ALICE_PUB_B64) == 0);
	unhex(priv, BOB_PRIV);
	unhex(want, BOB_PUB);
	CHECK_EQ_INT(key_public(pub, priv), 0);
	CHECK_EQ_MEM(pub, want, KEY_LEN);

	/* generated keys are clamped and distinct */
	key_generate(a);
	for (i = 0; i < 100; i++) {
		key_generate(priv);
		CHECK_EQ_INT(priv[0] & 7, 0);
		CHECK_EQ_INT(priv[31] & 0xc0, 0x40);
		CHECK(memcmp(priv, a, KEY_LEN) != 0);
		CHECK_EQ_INT(key_public(pub, priv), 0);
	}
	sodium_memzero(priv, sizeof priv);
	sodium_memzero(a, sizeof a);
}

static char tmpdir[] = "/tmp/test-key.XXXXXX";

static void write_file(const char *name, const char *content, size_t len, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT(write(fd, content, len), (long long)len);
	CHECK_EQ_INT(fchmod(fd, mode), 0);
	close(fd);
}

static int read_priv(const char *name, uint8_t out[KEY_LEN])
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return key_read_private_file(path, out);
}

static int read_pub(const char *name, uint8_t out[KEY_LEN])
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return key_read_public_file(path, out);
}

static void test_files(void)
{
	uint8_t priv[KEY_LEN], want[KEY_LEN];
	char big[300], path[256], target[256];
	static const char *names[] = { "ok", "nl",	"ws",  "g",   "o",   "g2",
				       "x",  "garbage", "two", "big", "pub", "link" };
	size_t i;

	if (!mkdtemp(tmpdir)) {
		CHECK(!"mkdtemp");
		return;
	}
	unhex(want, ALICE_PRIV);

	write_file("ok", ALICE_PRIV_B64, KEY_B64_LEN, 0600);
	memset(priv, 0, sizeof priv);
	CHECK_EQ_INT(read_priv("ok", priv), 0);
	CHECK_EQ_MEM(priv, want, KEY_LEN);
	write_file("nl", "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", 45, 0400);
	memset(priv, 0, sizeof priv);
	CHECK_EQ_INT(read_priv("nl", priv), 0);
	CHECK_EQ_MEM(priv, want, KEY_LEN);
	write_file("ws", "  dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\r\n\n", 49, 0600);
	CHECK_EQ_INT(read_priv("ws", priv), 0);

	/* any group/other bit: refused, even though root could read it */
	write_file("g", ALICE_PRIV_B64, KEY_B64_LEN, 0640);
	CHECK_EQ_INT(read_priv("g", priv), -EPERM);
	write_file("o", ALICE_PRIV_B64, KEY_B64_LEN, 0604);
	CHECK_EQ_INT(read_priv("o", priv), -EPERM);
	write_file("g2", ALICE_PRIV_B64, KEY_B64_LEN, 0620);
	CHECK_EQ_INT(read_priv("g2", priv), -EPERM);
	write_file("x", ALICE_PRIV_B64, KEY_B64_LEN, 0601);
	CHECK_EQ_INT(read_priv("x", priv), -EPERM);
	CHECK_EQ_INT(read_priv("missing", priv), -ENOENT);
	write_file("garbage", "not a key at all\n", 17, 0600);
	memset(priv, 0x77, sizeof priv);
	CHECK_EQ_INT(read_priv("garbage", priv), -EINVAL);
	CHECK_EQ_INT(priv[0], 0x77);
	write_file("two",
		   "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
		   "\ndwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n",
		   90, 0600);
	CHECK_EQ_INT(read_priv("two", priv), -EINVAL);
	/* longer than 256 bytes, even if it is whitespace around a key */
	memset(big, ' ', sizeof big);
	memcpy(big, ALICE_PRIV_B64, KEY_B64_LEN);
	write_file("big", big, sizeof big, 0600);
	CHECK_EQ_INT(read_priv("big", priv), -EINVAL);
	write_file("big", big, 256, 0600);
	CHECK_EQ_INT(read_priv("big", priv), 0);
	/* symlinks are not followed for private keys */
	snprintf(path, sizeof path, "%s/link", tmpdir);
	snprintf(target, sizeof target, "%s/ok", tmpdir);
	CHECK_EQ_INT(symlink(target, path), 0);
	CHECK_EQ_INT(read_priv("link", priv), -ELOOP);
	/* a directory is not a key file, and says so */
	CHECK_EQ_INT(key_read_private_file(tmpdir, priv), -EISDIR);

	/* public key files may be world-readable */
	write_file("pub", "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n", 45, 0644);
	CHECK_EQ_INT(read_pub("pub", priv), 0);
	unhex(want, ALICE_PUB);
	CHECK_EQ_MEM(priv, want, KEY_LEN);
	CHECK_EQ_INT(read_pub("garbage", priv), -EINVAL);
	CHECK_EQ_INT(read_pub("missing", priv), -ENOENT);

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	CHECK_EQ_INT(rmdir(tmpdir), 0);
	sodium_memzero(priv, sizeof priv);
}

int main(void)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return 1;
	}
	test_base64();
	test_public();
	test_files();
	printf("test-key: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}
