/* SPDX-License-Identifier: ISC */
/*
 * Noise IK: replay of every Noise_IK_25519_ChaChaPoly_BLAKE2b vector in
 * VECTORS_FILE in both roles, then negative cases (tampering, wrong keys,
 * low-order points, truncation, nonce limit, wrong state) and rekey.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "noise.h"
#include "proto.h"

#ifndef VECTORS_FILE
#error "VECTORS_FILE must name tests/data/noise-ik.json"
#endif

#define SUITE "Noise_IK_25519_ChaChaPoly_BLAKE2b"

/* ---- a small strict JSON reader (RFC 8259 minus \u escapes, which the vectors never use) ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	char *str;	    /* J_STR: decoded, NUL-terminated; J_NUM: the literal text */
	size_t len;	    /* J_STR/J_NUM: length of str */
	bool b;		    /* J_BOOL */
	struct jval *items; /* J_ARR elements, J_OBJ member values */
	char **keys;	    /* J_OBJ member names */
	size_t n;	    /* J_ARR/J_OBJ: number of items */
};

struct jparser {
	const char *p, *end;
	int depth;
};

#define JSON_MAX_DEPTH 32

static void jfree(struct jval *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		jfree(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof *v);
}

static void jskip_ws(struct jparser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static int jparse_value(struct jparser *jp, struct jval *v);

/* At the opening quote. Control characters and \u escapes are rejected. */
static int jparse_string(struct jparser *jp, char **out, size_t *outlen)
{
	const char *s = ++jp->p;
	size_t n = 0;
	char *buf;

	/* The decoded string is never longer than the raw one. */
	while (jp->p < jp->end && *jp->p != '"') {
		if (*jp->p == '\\')
			jp->p++;
		jp->p++;
	}
	if (jp->p >= jp->end)
		return -1;
	buf = malloc((size_t)(jp->p - s) + 1);
	if (!buf)
		return -1;
	for (; s < jp->p; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20)
			goto bad;
		if (c == '\\') {
			switch (*++s) {
			case '"':
			case '\\':
			case '/':
				buf[n++] = *s;
				break;
			case 'b':
				buf[n++] = '\b';
				break;
			case 'f':
				buf[n++] = '\f';
				break;
			case 'n':
				buf[n++] = '\n';
				break;
			case 'r':
				buf[n++] = '\r';
				break;
			case 't':
				buf[n++] = '\t';
				break;
			default:
				goto bad;
			}
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = '\0';
	jp->p++; /* closing quote */
	*out = buf;
	*outlen = n;
	return 0;
bad:
	free(buf);
	return -1;
}

static int jappend(struct jval *v, char *key)
{
	struct jval *items = realloc(v->items, (v->n + 1) * sizeof *items);

	if (!items)
		return -1;
	v->items = items;
	memset(&v->items[v->n], 0, sizeof v->items[v->n]);
	if (v->type == J_OBJ) {
		char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);

		if (!keys)
			return -1;
		v->keys = keys;
		v->keys[v->n] = key;
	}
	v->n++;
	return 0;
}

/* At '[' or '{'. */
static int jparse_container(struct jparser *jp, struct jval *v)
{
	char close = *jp->p == '[' ? ']' : '}';

	v->type = close == ']' ? J_ARR : J_OBJ;
	if (++jp->depth > JSON_MAX_DEPTH)
		return -1;
	jp->p++;
	jskip_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		jp->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		size_t keylen;

		jskip_ws(jp);
		if (v->type == J_OBJ) {
			if (jp->p >= jp->end || *jp->p != '"' || jparse_string(jp, &key, &keylen) < 0)
				return -1;
			jskip_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':') {
				free(key);
				return -1;
			}
			jp->p++;
		}
		if (jappend(v, key) < 0) {
			free(key);
			return -1;
		}
		if (jparse_value(jp, &v->items[v->n - 1]) < 0)
			return -1;
		jskip_ws(jp);
		if (jp->p >= jp->end)
			return -1;
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p != close)
			return -1;
		jp->p++;
		jp->depth--;
		return 0;
	}
}

static int jparse_value(struct jparser *jp, struct jval *v)
{
	const char *s;

	jskip_ws(jp);
	if (jp->p >= jp->end)
		return -1;
	switch (*jp->p) {
	case '{':
	case '[':
		return jparse_container(jp, v);
	case '"':
		v->type = J_STR;
		return jparse_string(jp, &v->str, &v->len);
	}
	if ((size_t)(jp->end - jp->p) >= 4 && !memcmp(jp->p, "null", 4)) {
		v->type = J_NULL;
		jp->p += 4;
		return 0;
	}
	if ((size_t)(jp->end - jp->p) >= 4 && !memcmp(jp->p, "true", 4)) {
		v->type = J_BOOL;
		v->b = true;
		jp->p += 4;
		return 0;
	}
	if ((size_t)(jp->end - jp->p) >= 5 && !memcmp(jp->p, "false", 5)) {
		v->type = J_BOOL;
		jp->p += 5;
		return 0;
	}
	/* Numbers are only kept as text: the vectors have none. */
	s = jp->p;
	while (jp->p < jp->end && strchr("+-0123456789.eE", *jp->p))
		jp->p++;
	if (jp->p == s)
		return -1;
	v->type = J_NUM;
	v->len = (size_t)(jp->p - s);
	v->str = malloc(v->len + 1);
	if (!v->str)
		return -1;
	memcpy(v->str, s, v->len);
	v->str[v->len] = '\0';
	return 0;
}

static int jparse(const char *text, size_t len, struct jval *root)
{
	struct jparser jp = { text, text + len, 0 };

	memset(root, 0, sizeof *root);
	if (jparse_value(&jp, root) < 0) {
		jfree(root);
		return -1;
	}
	jskip_ws(&jp);
	if (jp.p != jp.end) {
		jfree(root);
		return -1;
	}
	return 0;
}

static const struct jval *jget(const struct jval *obj, const char *key)
{
	size_t i;

	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key))
			return &obj->items[i];
	return NULL;
}

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

/* Hex string member -> malloc'd bytes (at least 1 byte allocated). NULL when missing or malformed. */
static uint8_t *jhex(const struct jval *obj, const char *key, size_t *outlen)
{
	const struct jval *v = jget(obj, key);
	uint8_t *buf;
	size_t i;

	if (!v || v->type != J_STR || v->len % 2 != 0)
		return NULL;
	buf = malloc(v->len / 2 + 1);
	if (!buf)
		return NULL;
	for (i = 0; i < v->len / 2; i++) {
		int hi = hexval(v->str[2 * i]), lo = hexval(v->str[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(buf);
			return NULL;
		}
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = v->len / 2;
	return buf;
}

/* Exactly 32 hex-encoded bytes. */
static bool jkey(const struct jval *obj, const char *key, uint8_t out[32])
{
	size_t len = 0;
	uint8_t *b = jhex(obj, key, &len);
	bool ok = b && len == 32;

	if (ok)
		memcpy(out, b, 32);
	free(b);
	return ok;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long sz;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)sz + 1);
		if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[sz] = '\0';
			*len = (size_t)sz;
		}
	}
	fclose(f);
	return buf;
}

/* ---- helpers ---- */

static bool all_zero(const void *p, size_t n)
{
	return sodium_is_zero(p, n) == 1;
}

/* A failed or split handshake: state NONE and every byte of key material zero. */
#define CHECK_WIPED(hs)                                                                 \
	do {                                                                            \
		CHECK_EQ_INT((hs)->state, NOISE_HS_NONE);                               \
		CHECK(all_zero((hs)->ck, sizeof(hs)->ck));                              \
		CHECK(all_zero((hs)->h, sizeof(hs)->h));                                \
		CHECK(all_zero((hs)->s_priv, sizeof(hs)->s_priv));                      \
		CHECK(all_zero((hs)->s_pub, sizeof(hs)->s_pub));                        \
		CHECK(all_zero((hs)->e_priv, sizeof(hs)->e_priv));                      \
		CHECK(all_zero((hs)->e_pub, sizeof(hs)->e_pub));                        \
		CHECK(all_zero((hs)->rs, sizeof(hs)->rs));                              \
		CHECK(all_zero((hs)->re, sizeof(hs)->re));                              \
		CHECK(all_zero((hs)->cs.k, sizeof(hs)->cs.k));                          \
		CHECK_EQ_INT((hs)->cs.n, 0);                                            \
		CHECK(!(hs)->cs.has_key && !(hs)->e_injected && !(hs)->initiator);      \
		CHECK(all_zero((hs), sizeof *(hs))); /* and nothing else left either */ \
	} while (0)

/* ---- vector replay ---- */

/* Returns true when the vector was complete enough to run (failures inside are CHECKs). */
static bool run_vector(const struct jval *v, size_t idx)
{
	uint8_t i_s[32], i_e[32], i_rs[32], r_s[32], r_e[32], i_pub[32];
	uint8_t *i_pro = NULL, *r_pro = NULL, *hh = NULL;
	size_t i_pro_len = 0, r_pro_len = 0, hh_len = 0, m;
	const struct jval *msgs = jget(v, "messages");
	struct noise_handshake ini, res;
	struct noise_cipher i_send, i_recv, r_send, r_recv;
	uint8_t buf[NOISE_MSG_MAX], pt[NOISE_MSG_MAX];
	uint8_t h_i[NOISE_HASH_LEN], h_r[NOISE_HASH_LEN];
	bool ok = false;
	int r;

	i_pro = jhex(v, "init_prologue", &i_pro_len);
	r_pro = jhex(v, "resp_prologue", &r_pro_len);
	if (!i_pro || !r_pro || !jkey(v, "init_static", i_s) || !jkey(v, "init_ephemeral", i_e) ||
	    !jkey(v, "init_remote_static", i_rs) || !jkey(v, "resp_static", r_s) ||
	    !jkey(v, "resp_ephemeral", r_e) || !msgs || msgs->type != J_ARR || msgs->n < 2) {
		fprintf(stderr, "vector %zu: malformed\n", idx);
		goto out;
	}
	if (jget(v, "handshake_hash")) {
		hh = jhex(v, "handshake_hash", &hh_len);
		if (!hh || hh_len != NOISE_HASH_LEN) {
			fprintf(stderr, "vector %zu: malformed handshake_hash\n", idx);
			goto out;
		}
	}
	/* Every message needs payload and ciphertext. */
	for (m = 0; m < msgs->n; m++) {
		size_t a, b;
		uint8_t *p = jhex(&msgs->items[m], "payload", &a),
			*c = jhex(&msgs->items[m], "ciphertext", &b);
		bool good = p && c && b <= NOISE_MSG_MAX;

		free(p);
		free(c);
		if (!good) {
			fprintf(stderr, "vector %zu: malformed message %zu\n", idx, m);
			goto out;
		}
	}

	r = noise_handshake_init(&ini, true, i_pro, i_pro_len, i_s, i_rs);
	CHECK_EQ_INT(r, 0);
	noise_handshake_set_ephemeral(&ini, i_e);
	r = noise_handshake_init(&res, false, r_pro, r_pro_len, r_s, NULL);
	CHECK_EQ_INT(r, 0);
	noise_handshake_set_ephemeral(&res, r_e);

	for (m = 0; m < msgs->n; m++) {
		size_t plen = 0, clen = 0;
		uint8_t *p = jhex(&msgs->items[m], "payload", &plen);
		uint8_t *c = jhex(&msgs->items[m], "ciphertext", &clen);
		bool from_initiator = m % 2 == 0;

		switch (m) {
		case 0:
			r = noise_write_msg1(&ini, p, plen, buf, sizeof buf);
			CHECK_EQ_INT(r, (int)clen);
			CHECK_EQ_INT(r, NOISE_MSG1_OVERHEAD + (int)plen);
			if (r == (int)clen)
				CHECK_EQ_MEM(buf, c, clen);
			CHECK_EQ_INT(ini.state, NOISE_HS_MSG1);
			r = noise_read_msg1(&res, c, clen, pt, sizeof pt);
			CHECK_EQ_INT(r, (int)plen);
			if (r == (int)plen)
				CHECK_EQ_MEM(pt, p, plen);
			CHECK_EQ_INT(res.state, NOISE_HS_MSG1);
			/* the responder learnt the initiator's static public key */
			CHECK_EQ_INT(crypto_scalarmult_base(i_pub, i_s), 0);
			CHECK_EQ_MEM(noise_remote_static(&res), i_pub, 32);
			break;
		case 1:
			r = noise_write_msg2(&res, p, plen, buf, sizeof buf);
			CHECK_EQ_INT(r, (int)clen);
			CHECK_EQ_INT(r, NOISE_MSG2_OVERHEAD + (int)plen);
			if (r == (int)clen)
				CHECK_EQ_MEM(buf, c, clen);
			r = noise_read_msg2(&ini, c, clen, pt, sizeof pt);
			CHECK_EQ_INT(r, (int)plen);
			if (r == (int)plen)
				CHECK_EQ_MEM(pt, p, plen);
			CHECK_EQ_INT(ini.state, NOISE_HS_DONE);
			CHECK_EQ_INT(res.state, NOISE_HS_DONE);
			noise_handshake_hash(&ini, h_i);
			noise_handshake_hash(&res, h_r);
			CHECK_EQ_MEM(h_i, h_r, NOISE_HASH_LEN);
			if (hh)
				CHECK_EQ_MEM(h_i, hh, NOISE_HASH_LEN);
			CHECK_EQ_INT(noise_split(&ini, &i_send, &i_recv), 0);
			CHECK_EQ_INT(noise_split(&res, &r_send, &r_recv), 0);
			CHECK_WIPED(&ini);
			CHECK_WIPED(&res);
			/* c1 = initiator->responder, c2 = responder->initiator */
			CHECK_EQ_MEM(i_send.k, r_recv.k, NOISE_KEY_LEN);
			CHECK_EQ_MEM(i_recv.k, r_send.k, NOISE_KEY_LEN);
			CHECK(sodium_memcmp(i_send.k, i_recv.k, NOISE_KEY_LEN) != 0);
			CHECK(i_send.n == 0 && i_recv.n == 0 && r_send.n == 0 && r_recv.n == 0);
			break;
		default: {
			struct noise_cipher *enc = from_initiator ? &i_send : &r_send;
			struct noise_cipher *dec = from_initiator ? &r_recv : &i_recv;
			uint64_t n_before = enc->n;

			r = noise_encrypt(enc, p, plen, buf, sizeof buf);
			CHECK_EQ_INT(r, (int)clen);
			CHECK_EQ_INT(r, (int)plen + NOISE_TAG_LEN);
			if (r == (int)clen)
				CHECK_EQ_MEM(buf, c, clen);
			CHECK_EQ_INT(enc->n, n_before + 1);
			r = noise_decrypt(dec, c, clen, pt, sizeof pt);
			CHECK_EQ_INT(r, (int)plen);
			if (r == (int)plen)
				CHECK_EQ_MEM(pt, p, plen);
			CHECK_EQ_INT(dec->n, enc->n);
			break;
		}
		}
		free(p);
		free(c);
	}
	noise_cipher_wipe(&i_send);
	noise_cipher_wipe(&i_recv);
	noise_cipher_wipe(&r_send);
	noise_cipher_wipe(&r_recv);
	ok = true;
out:
	free(i_pro);
	free(r_pro);
	free(hh);
	return ok;
}

static void test_vectors(void)
{
	size_t len = 0, i, total = 0, blake2b = 0, ran = 0, raw_count = 0;
	char *text = read_file(VECTORS_FILE, &len);
	const struct jval *vectors;
	struct jval root;
	const char *p;

	CHECK(text != NULL);
	if (!text) {
		fprintf(stderr, "cannot read %s\n", VECTORS_FILE);
		return;
	}
	/* Independent count of the suite's name in the raw text, so a parser bug cannot skip vectors
	 * silently. */
	for (p = text; (p = strstr(p, "\"" SUITE "\"")) != NULL; p++)
		raw_count++;

	CHECK_EQ_INT(jparse(text, len, &root), 0);
	vectors = jget(&root, "vectors");
	CHECK(vectors && vectors->type == J_ARR);
	if (vectors && vectors->type == J_ARR) {
		for (i = 0; i < vectors->n; i++) {
			const struct jval *name = jget(&vectors->items[i], "protocol_name");

			total++;
			CHECK(name && name->type == J_STR);
			if (!name || name->type != J_STR || strcmp(name->str, SUITE) != 0)
				continue;
			blake2b++;
			if (run_vector(&vectors->items[i], i))
				ran++;
		}
	}
	printf("test-noise: %zu vectors in file, %zu %s, %zu replayed in both roles\n", total, blake2b, SUITE,
	       ran);
	CHECK(blake2b > 0);
	CHECK_EQ_INT(ran, blake2b);
	CHECK_EQ_INT(blake2b, raw_count);
	jfree(&root);
	free(text);
}

/* ---- fixed keys for the negative tests ---- */

static uint8_t I_S[32], I_E[32], R_S[32], R_E[32], R_PUB[32], OTHER_PUB[32];
static const uint8_t PRO[] = PROTO_PROLOGUE;
static const uint8_t PAYLOAD1[] = "hello from the initiator";
static const uint8_t PAYLOAD2[] = "welcome";

static void make_keys(void)
{
	uint8_t other[32];
	size_t i;

	for (i = 0; i < 32; i++) {
		I_S[i] = (uint8_t)(0x10 + i);
		I_E[i] = (uint8_t)(0x30 + i);
		R_S[i] = (uint8_t)(0x50 + i);
		R_E[i] = (uint8_t)(0x70 + i);
		other[i] = (uint8_t)(0x90 + i);
	}
	CHECK_EQ_INT(crypto_scalarmult_base(R_PUB, R_S), 0);
	CHECK_EQ_INT(crypto_scalarmult_base(OTHER_PUB, other), 0);
}

/* Deterministic pair: same msg1/msg2 bytes every time. */
static void pair_init(struct noise_handshake *ini, struct noise_handshake *res)
{
	CHECK_EQ_INT(noise_handshake_init(ini, true, PRO, sizeof PRO - 1, I_S, R_PUB), 0);
	noise_handshake_set_ephemeral(ini, I_E);
	CHECK_EQ_INT(noise_handshake_init(res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
	noise_handshake_set_ephemeral(res, R_E);
}

/* Full deterministic handshake; returns msg1 and msg2 and the four ciphers. */
static void full_handshake(uint8_t *msg1, int *m1len, uint8_t *msg2, int *m2len, struct noise_cipher *i_send,
			   struct noise_cipher *i_recv, struct noise_cipher *r_send,
			   struct noise_cipher *r_recv)
{
	struct noise_handshake ini, res;
	uint8_t pt[256];

	pair_init(&ini, &res);
	*m1len = noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, msg1, 256);
	CHECK_EQ_INT(*m1len, NOISE_MSG1_OVERHEAD + (int)sizeof PAYLOAD1);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)*m1len, pt, sizeof pt), (int)sizeof PAYLOAD1);
	*m2len = noise_write_msg2(&res, PAYLOAD2, sizeof PAYLOAD2, msg2, 256);
	CHECK_EQ_INT(*m2len, NOISE_MSG2_OVERHEAD + (int)sizeof PAYLOAD2);
	CHECK_EQ_INT(noise_read_msg2(&ini, msg2, (size_t)*m2len, pt, sizeof pt), (int)sizeof PAYLOAD2);
	CHECK_EQ_INT(noise_split(&ini, i_send, i_recv), 0);
	CHECK_EQ_INT(noise_split(&res, r_send, r_recv), 0);
}

/* Random ephemerals (no injection), the project prologue, many transport messages both ways. */
static void test_random_roundtrip(void)
{
	struct noise_handshake ini, res;
	struct noise_cipher is, ir, rs, rr;
	uint8_t m1a[256], m1b[256], m2[256], pt[256], ct[256], hi[NOISE_HASH_LEN], hr[NOISE_HASH_LEN];
	uint8_t i_pub[32];
	int r, k;

	/* two handshakes from the same keys differ: the ephemeral is fresh each time */
	CHECK_EQ_INT(noise_handshake_init(&ini, true, PRO, sizeof PRO - 1, I_S, R_PUB), 0);
	CHECK_EQ_INT(noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, m1a, sizeof m1a),
		     NOISE_MSG1_OVERHEAD + (int)sizeof PAYLOAD1);
	noise_handshake_wipe(&ini);
	CHECK_EQ_INT(noise_handshake_init(&ini, true, PRO, sizeof PRO - 1, I_S, R_PUB), 0);
	CHECK_EQ_INT(noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, m1b, sizeof m1b),
		     NOISE_MSG1_OVERHEAD + (int)sizeof PAYLOAD1);
	CHECK(memcmp(m1a, m1b, 32) != 0);

	CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
	CHECK_EQ_INT(noise_read_msg1(&res, m1b, NOISE_MSG1_OVERHEAD + sizeof PAYLOAD1, pt, sizeof pt),
		     (int)sizeof PAYLOAD1);
	CHECK_EQ_MEM(pt, PAYLOAD1, sizeof PAYLOAD1);
	CHECK_EQ_INT(crypto_scalarmult_base(i_pub, I_S), 0);
	CHECK_EQ_MEM(noise_remote_static(&res), i_pub, 32);
	/* empty msg2 payload, NULL buffers allowed for it */
	r = noise_write_msg2(&res, NULL, 0, m2, sizeof m2);
	CHECK_EQ_INT(r, NOISE_MSG2_OVERHEAD);
	CHECK_EQ_INT(noise_read_msg2(&ini, m2, (size_t)r, NULL, 0), 0);
	noise_handshake_hash(&ini, hi);
	noise_handshake_hash(&res, hr);
	CHECK_EQ_MEM(hi, hr, sizeof hi);
	CHECK(!all_zero(hi, sizeof hi));
	CHECK_EQ_INT(noise_split(&ini, &is, &ir), 0);
	CHECK_EQ_INT(noise_split(&res, &rs, &rr), 0);

	for (k = 0; k < 200; k++) {
		uint8_t msg[64];
		struct noise_cipher *enc = k % 3 ? &is : &rs, *dec = k % 3 ? &rr : &ir;

		randombytes_buf(msg, sizeof msg);
		r = noise_encrypt(enc, msg, (size_t)k % sizeof msg, ct, sizeof ct);
		CHECK_EQ_INT(r, k % (int)sizeof msg + NOISE_TAG_LEN);
		CHECK_EQ_INT(noise_decrypt(dec, ct, (size_t)r, pt, sizeof pt), k % (int)sizeof msg);
		CHECK_EQ_MEM(pt, msg, (size_t)k % sizeof msg);
	}
	/* in place, both ways */
	memcpy(ct, "in place", 8);
	CHECK_EQ_INT(noise_encrypt(&is, ct, 8, ct, sizeof ct), 8 + NOISE_TAG_LEN);
	CHECK_EQ_INT(noise_decrypt(&rr, ct, 8 + NOISE_TAG_LEN, ct, sizeof ct), 8);
	CHECK_EQ_MEM(ct, "in place", 8);
	noise_cipher_wipe(&is);
	noise_cipher_wipe(&ir);
	noise_cipher_wipe(&rs);
	noise_cipher_wipe(&rr);
	CHECK(all_zero(&is, sizeof is));
}

static const size_t FLIP_POS_MSG1[] = { 0, 5, 31, 32, 47, 79, 80, 90, 95, 100, 119 };
static const size_t FLIP_POS_MSG2[] = { 0, 16, 31, 32, 40, 47, 48, 54 };

static void test_tamper_msg1(void)
{
	uint8_t msg1[256], msg2[256], pt[256], bad[256];
	struct noise_cipher a, b, c, d;
	int m1len, m2len;
	size_t i;
	unsigned bit;

	full_handshake(msg1, &m1len, msg2, &m2len, &a, &b, &c, &d);
	CHECK_EQ_INT(m1len, NOISE_MSG1_OVERHEAD + (int)sizeof PAYLOAD1);
	for (i = 0; i < sizeof FLIP_POS_MSG1 / sizeof FLIP_POS_MSG1[0]; i++) {
		for (bit = 0; bit < 8; bit += 7) {
			struct noise_handshake res;

			memcpy(bad, msg1, (size_t)m1len);
			/* bit 7 of byte 31 is ignored by X25519 but still hashed: must fail too */
			bad[FLIP_POS_MSG1[i]] ^= (uint8_t)(1u << bit);
			CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
			memset(pt, 0xaa, sizeof pt);
			CHECK_EQ_INT(noise_read_msg1(&res, bad, (size_t)m1len, pt, sizeof pt), -EBADMSG);
			CHECK_WIPED(&res);
			/* no unauthenticated plaintext handed out */
			CHECK(all_zero(pt, sizeof PAYLOAD1));
		}
	}
	noise_cipher_wipe(&a);
	noise_cipher_wipe(&b);
	noise_cipher_wipe(&c);
	noise_cipher_wipe(&d);
}

static void test_tamper_msg2(void)
{
	uint8_t msg1[256], msg2[256], pt[256], bad[256];
	struct noise_cipher a, b, c, d;
	int m1len, m2len;
	size_t i;

	full_handshake(msg1, &m1len, msg2, &m2len, &a, &b, &c, &d);
	for (i = 0; i < sizeof FLIP_POS_MSG2 / sizeof FLIP_POS_MSG2[0]; i++) {
		struct noise_handshake ini, res;
		uint8_t out1[256];

		pair_init(&ini, &res);
		CHECK_EQ_INT(noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, out1, sizeof out1), m1len);
		/* deterministic ephemerals: the very same msg1 */
		CHECK_EQ_MEM(out1, msg1, (size_t)m1len);
		memcpy(bad, msg2, (size_t)m2len);
		bad[FLIP_POS_MSG2[i]] ^= 0x01;
		CHECK_EQ_INT(noise_read_msg2(&ini, bad, (size_t)m2len, pt, sizeof pt), -EBADMSG);
		CHECK_WIPED(&ini);
		noise_handshake_wipe(&res);
	}
	noise_cipher_wipe(&a);
	noise_cipher_wipe(&b);
	noise_cipher_wipe(&c);
	noise_cipher_wipe(&d);
}

static void test_tamper_transport(void)
{
	uint8_t msg1[256], msg2[256], ct[64], bad[64], pt[64];
	static const uint8_t msg[] = "transport payload";
	struct noise_cipher is, ir, rs, rr;
	int m1len, m2len, clen;
	size_t pos;

	full_handshake(msg1, &m1len, msg2, &m2len, &is, &ir, &rs, &rr);
	clen = noise_encrypt(&is, msg, sizeof msg, ct, sizeof ct);
	CHECK_EQ_INT(clen, (int)sizeof msg + NOISE_TAG_LEN);
	for (pos = 0; pos < (size_t)clen; pos += 3) {
		memcpy(bad, ct, (size_t)clen);
		bad[pos] ^= 0x80;
		memset(pt, 0xaa, sizeof pt);
		CHECK_EQ_INT(noise_decrypt(&rr, bad, (size_t)clen, pt, sizeof pt), -EBADMSG);
		CHECK_EQ_INT(rr.n, 0);
		CHECK(rr.has_key);
		CHECK(all_zero(pt, sizeof msg));
	}
	/* wrong direction: the responder's send key cannot open the initiator's message */
	CHECK_EQ_INT(noise_decrypt(&ir, ct, (size_t)clen, pt, sizeof pt), -EBADMSG);
	CHECK_EQ_INT(ir.n, 0);
	/* the genuine message still opens: n was not consumed by the failures */
	CHECK_EQ_INT(noise_decrypt(&rr, ct, (size_t)clen, pt, sizeof pt), (int)sizeof msg);
	CHECK_EQ_MEM(pt, msg, sizeof msg);
	CHECK_EQ_INT(rr.n, 1);
	/* replay of the same message fails (n moved on) */
	CHECK_EQ_INT(noise_decrypt(&rr, ct, (size_t)clen, pt, sizeof pt), -EBADMSG);
	CHECK_EQ_INT(rr.n, 1);
	noise_cipher_wipe(&is);
	noise_cipher_wipe(&ir);
	noise_cipher_wipe(&rs);
	noise_cipher_wipe(&rr);
}

static void test_wrong_prologue_and_key(void)
{
	struct noise_handshake ini, res;
	uint8_t msg1[256], pt[256];
	static const uint8_t other_pro[] = "kmsg-shipper/2";
	int r;

	/* prologues differ: the first AEAD (the s field) fails */
	CHECK_EQ_INT(noise_handshake_init(&ini, true, PRO, sizeof PRO - 1, I_S, R_PUB), 0);
	CHECK_EQ_INT(noise_handshake_init(&res, false, other_pro, sizeof other_pro - 1, R_S, NULL), 0);
	r = noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, msg1, sizeof msg1);
	CHECK(r > 0);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)r, pt, sizeof pt), -EBADMSG);
	CHECK_WIPED(&res);
	noise_handshake_wipe(&ini);

	/* empty prologue on one side only */
	CHECK_EQ_INT(noise_handshake_init(&ini, true, NULL, 0, I_S, R_PUB), 0);
	CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
	r = noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, msg1, sizeof msg1);
	CHECK(r > 0);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)r, pt, sizeof pt), -EBADMSG);
	CHECK_WIPED(&res);
	noise_handshake_wipe(&ini);

	/* the initiator encrypts to another responder key */
	CHECK_EQ_INT(noise_handshake_init(&ini, true, PRO, sizeof PRO - 1, I_S, OTHER_PUB), 0);
	CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
	r = noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, msg1, sizeof msg1);
	CHECK(r > 0);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)r, pt, sizeof pt), -EBADMSG);
	CHECK_WIPED(&res);
	noise_handshake_wipe(&ini);
}

/* Points whose X25519 product with any clamped scalar is zero (libsodium's blocklist, RFC 7748 §6.1). */
static const uint8_t LOW_ORDER[][32] = {
	/* 0 */
	{ 0 },
	/* 1 */
	{ 1 },
	/* order 8 */
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
	  0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
	{ 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
	  0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 },
	/* p - 1 */
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	/* p (= 0, non-canonical) */
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	/* p + 1 (= 1, non-canonical) */
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
};

static void test_low_order(void)
{
	uint8_t msg1[256], msg2[256], pt[256], bad[256];
	struct noise_cipher a, b, c, d;
	int m1len, m2len;
	size_t i;

	full_handshake(msg1, &m1len, msg2, &m2len, &a, &b, &c, &d);
	for (i = 0; i < sizeof LOW_ORDER / sizeof LOW_ORDER[0]; i++) {
		struct noise_handshake ini, res;
		uint8_t out[256];

		/* responder: low-order e in msg1 (es = DH(s, re) is zero) */
		CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
		memcpy(bad, msg1, (size_t)m1len);
		memcpy(bad, LOW_ORDER[i], 32);
		CHECK_EQ_INT(noise_read_msg1(&res, bad, (size_t)m1len, pt, sizeof pt), -EBADMSG);
		CHECK_WIPED(&res);

		/* initiator: low-order responder static key (es = DH(e, rs) is zero before any AEAD) */
		CHECK_EQ_INT(noise_handshake_init(&ini, true, PRO, sizeof PRO - 1, I_S, LOW_ORDER[i]), 0);
		memset(out, 0xaa, sizeof out);
		CHECK_EQ_INT(noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, out, sizeof out), -EBADMSG);
		CHECK_WIPED(&ini);
		CHECK(all_zero(out, (size_t)m1len));

		/* initiator: low-order e in msg2 */
		pair_init(&ini, &res);
		CHECK_EQ_INT(noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, out, sizeof out), m1len);
		memcpy(bad, msg2, (size_t)m2len);
		memcpy(bad, LOW_ORDER[i], 32);
		CHECK_EQ_INT(noise_read_msg2(&ini, bad, (size_t)m2len, pt, sizeof pt), -EBADMSG);
		CHECK_WIPED(&ini);
		noise_handshake_wipe(&res);
	}
	noise_cipher_wipe(&a);
	noise_cipher_wipe(&b);
	noise_cipher_wipe(&c);
	noise_cipher_wipe(&d);
}

static void test_truncated(void)
{
	uint8_t msg1[256], msg2[256], pt[256], ct[64];
	static const size_t short1[] = { 0, 1, 31, 32, 80, 95 };
	static const size_t short2[] = { 0, 1, 31, 32, 47 };
	struct noise_cipher is, ir, rs, rr;
	struct noise_handshake ini, res;
	int m1len, m2len, clen;
	size_t i;

	full_handshake(msg1, &m1len, msg2, &m2len, &is, &ir, &rs, &rr);
	for (i = 0; i < sizeof short1 / sizeof short1[0]; i++) {
		CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
		CHECK_EQ_INT(noise_read_msg1(&res, msg1, short1[i], pt, sizeof pt), -EMSGSIZE);
		CHECK_WIPED(&res);
	}
	/* long enough to parse, but a byte short or long: the payload tag fails */
	CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)m1len - 1, pt, sizeof pt), -EBADMSG);
	CHECK_WIPED(&res);
	CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, NOISE_MSG1_OVERHEAD, pt, sizeof pt), -EBADMSG);
	CHECK_WIPED(&res);
	msg1[m1len] = 0;
	CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)m1len + 1, pt, sizeof pt), -EBADMSG);
	CHECK_WIPED(&res);

	for (i = 0; i < sizeof short2 / sizeof short2[0]; i++) {
		pair_init(&ini, &res);
		CHECK_EQ_INT(noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, pt, sizeof pt), m1len);
		CHECK_EQ_INT(noise_read_msg2(&ini, msg2, short2[i], pt, sizeof pt), -EMSGSIZE);
		CHECK_WIPED(&ini);
		noise_handshake_wipe(&res);
	}
	pair_init(&ini, &res);
	CHECK_EQ_INT(noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, pt, sizeof pt), m1len);
	CHECK_EQ_INT(noise_read_msg2(&ini, msg2, (size_t)m2len - 1, pt, sizeof pt), -EBADMSG);
	CHECK_WIPED(&ini);
	noise_handshake_wipe(&res);

	clen = noise_encrypt(&is, (const uint8_t *)"abc", 3, ct, sizeof ct);
	CHECK_EQ_INT(clen, 3 + NOISE_TAG_LEN);
	CHECK_EQ_INT(noise_decrypt(&rr, ct, 0, pt, sizeof pt), -EMSGSIZE);
	CHECK_EQ_INT(noise_decrypt(&rr, ct, NOISE_TAG_LEN - 1, pt, sizeof pt), -EMSGSIZE);
	CHECK_EQ_INT(noise_decrypt(&rr, ct, (size_t)clen - 1, pt, sizeof pt), -EBADMSG);
	CHECK_EQ_INT(rr.n, 0);
	CHECK_EQ_INT(noise_decrypt(&rr, ct, (size_t)clen, pt, sizeof pt), 3);
	noise_cipher_wipe(&is);
	noise_cipher_wipe(&ir);
	noise_cipher_wipe(&rs);
	noise_cipher_wipe(&rr);
}

/* Size limits and output room: -EMSGSIZE / -ENOSPC, the handshake wiped. */
static void test_sizes(void)
{
	uint8_t *big = calloc(1, NOISE_MSG_MAX + 2), *out = calloc(1, NOISE_MSG_MAX + 2);
	uint8_t msg1[256], small[8];
	struct noise_handshake ini, res;
	struct noise_cipher is, ir, rs, rr;
	int r;

	CHECK(big && out);
	if (!big || !out)
		goto done;

	/* largest msg1 payload fits exactly in 65535 bytes, one more does not */
	CHECK_EQ_INT(noise_handshake_init(&ini, true, PRO, sizeof PRO - 1, I_S, R_PUB), 0);
	CHECK_EQ_INT(
		noise_write_msg1(&ini, big, NOISE_MSG_MAX - NOISE_MSG1_OVERHEAD + 1, out, NOISE_MSG_MAX + 2),
		-EMSGSIZE);
	CHECK_WIPED(&ini);
	pair_init(&ini, &res);
	r = noise_write_msg1(&ini, big, NOISE_MSG_MAX - NOISE_MSG1_OVERHEAD, out, NOISE_MSG_MAX);
	CHECK_EQ_INT(r, NOISE_MSG_MAX);
	CHECK_EQ_INT(noise_read_msg1(&res, out, NOISE_MSG_MAX, big, NOISE_MSG_MAX),
		     NOISE_MSG_MAX - NOISE_MSG1_OVERHEAD);
	noise_handshake_wipe(&ini);
	noise_handshake_wipe(&res);
	/* a message over 65535 bytes is refused before any work */
	CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, NULL), 0);
	CHECK_EQ_INT(noise_read_msg1(&res, out, NOISE_MSG_MAX + 1, big, NOISE_MSG_MAX + 1), -EMSGSIZE);
	CHECK_WIPED(&res);

	/* output buffer one byte short */
	CHECK_EQ_INT(noise_handshake_init(&ini, true, PRO, sizeof PRO - 1, I_S, R_PUB), 0);
	CHECK_EQ_INT(noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, msg1,
				      NOISE_MSG1_OVERHEAD + sizeof PAYLOAD1 - 1),
		     -ENOSPC);
	CHECK_WIPED(&ini);
	/* payload buffer one byte short */
	pair_init(&ini, &res);
	r = noise_write_msg1(&ini, PAYLOAD1, sizeof PAYLOAD1, msg1, sizeof msg1);
	CHECK(r > 0);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)r, out, sizeof PAYLOAD1 - 1), -ENOSPC);
	CHECK_WIPED(&res);
	noise_handshake_wipe(&ini);

	/* transport: 65519-byte plaintext is the maximum */
	{
		uint8_t m1[256], m2[256];
		int l1, l2;

		full_handshake(m1, &l1, m2, &l2, &is, &ir, &rs, &rr);
	}
	CHECK_EQ_INT(noise_encrypt(&is, big, NOISE_MSG_MAX - NOISE_TAG_LEN + 1, out, NOISE_MSG_MAX + 2),
		     -EMSGSIZE);
	CHECK_EQ_INT(noise_encrypt(&is, big, 10, small, sizeof small), -ENOSPC);
	CHECK_EQ_INT(is.n, 0);
	CHECK_EQ_INT(noise_encrypt(&is, big, NOISE_MSG_MAX - NOISE_TAG_LEN, out, NOISE_MSG_MAX),
		     NOISE_MSG_MAX);
	CHECK_EQ_INT(noise_decrypt(&rr, out, NOISE_MSG_MAX + 1, big, NOISE_MSG_MAX + 1), -EMSGSIZE);
	CHECK_EQ_INT(noise_decrypt(&rr, out, NOISE_MSG_MAX, small, sizeof small), -ENOSPC);
	CHECK_EQ_INT(rr.n, 0);
	CHECK_EQ_INT(noise_decrypt(&rr, out, NOISE_MSG_MAX, big, NOISE_MSG_MAX),
		     NOISE_MSG_MAX - NOISE_TAG_LEN);
	noise_cipher_wipe(&is);
	noise_cipher_wipe(&ir);
	noise_cipher_wipe(&rs);
	noise_cipher_wipe(&rr);
done:
	free(big);
	free(out);
}

static void test_nonce_limit(void)
{
	uint8_t msg1[256], msg2[256], ct[64], pt[64];
	struct noise_cipher is, ir, rs, rr;
	int m1len, m2len, r;

	full_handshake(msg1, &m1len, msg2, &m2len, &is, &ir, &rs, &rr);
	is.n = UINT64_MAX - 1;
	rr.n = UINT64_MAX - 1;
	/* the last usable nonce works on both sides */
	r = noise_encrypt(&is, (const uint8_t *)"last", 4, ct, sizeof ct);
	CHECK_EQ_INT(r, 4 + NOISE_TAG_LEN);
	CHECK(is.n == UINT64_MAX);
	CHECK_EQ_INT(noise_decrypt(&rr, ct, (size_t)r, pt, sizeof pt), 4);
	CHECK_EQ_MEM(pt, "last", 4);
	CHECK(rr.n == UINT64_MAX);
	/* 2^64-1 is reserved: refused, counter does not wrap */
	CHECK_EQ_INT(noise_encrypt(&is, (const uint8_t *)"more", 4, ct, sizeof ct), -ERANGE);
	CHECK(is.n == UINT64_MAX);
	CHECK_EQ_INT(noise_decrypt(&rr, ct, (size_t)r, pt, sizeof pt), -ERANGE);
	CHECK(rr.n == UINT64_MAX);
	/* set directly to the reserved value */
	rs.n = NOISE_NONCE_MAX;
	CHECK_EQ_INT(noise_encrypt(&rs, NULL, 0, ct, sizeof ct), -ERANGE);
	noise_cipher_wipe(&is);
	noise_cipher_wipe(&ir);
	noise_cipher_wipe(&rs);
	noise_cipher_wipe(&rr);
}

static void test_wrong_state(void)
{
	struct noise_handshake ini, res, none;
	struct noise_cipher s1, s2, empty;
	uint8_t out[256], pt[256], msg1[256];
	int r;

	memset(&none, 0, sizeof none);
	memset(&empty, 0, sizeof empty);
	memset(&s1, 0x55, sizeof s1);
	memset(&s2, 0x55, sizeof s2);

	/* init arguments: initiator needs rs, responder must not get one */
	CHECK_EQ_INT(noise_handshake_init(&ini, true, PRO, sizeof PRO - 1, I_S, NULL), -EINVAL);
	CHECK_WIPED(&ini);
	CHECK_EQ_INT(noise_handshake_init(&res, false, PRO, sizeof PRO - 1, R_S, R_PUB), -EINVAL);
	CHECK_WIPED(&res);
	CHECK_EQ_INT(noise_handshake_init(&ini, true, NULL, 3, I_S, R_PUB), -EINVAL);
	CHECK_WIPED(&ini);
	CHECK_EQ_INT(noise_handshake_init(NULL, true, PRO, 3, I_S, R_PUB), -EINVAL);

	/* role mix-ups */
	pair_init(&ini, &res);
	CHECK_EQ_INT(noise_read_msg1(&ini, msg1, 120, pt, sizeof pt), -EINVAL);
	CHECK_WIPED(&ini);
	CHECK_EQ_INT(noise_write_msg1(&res, NULL, 0, out, sizeof out), -EINVAL);
	CHECK_WIPED(&res);

	/* out of order */
	pair_init(&ini, &res);
	CHECK_EQ_INT(noise_write_msg2(&res, NULL, 0, out, sizeof out), -EINVAL);
	CHECK_WIPED(&res);
	CHECK_EQ_INT(noise_read_msg2(&ini, out, 48, NULL, 0), -EINVAL);
	CHECK_WIPED(&ini);
	pair_init(&ini, &res);
	CHECK_EQ_INT(noise_split(&ini, &s1, &s2), -EINVAL);
	CHECK_WIPED(&ini);
	CHECK_EQ_INT(s1.n, 0x5555555555555555ULL); /* outputs untouched on failure */
	noise_handshake_wipe(&res);

	/* msg1 twice */
	pair_init(&ini, &res);
	r = noise_write_msg1(&ini, NULL, 0, msg1, sizeof msg1);
	CHECK_EQ_INT(r, NOISE_MSG1_OVERHEAD);
	CHECK_EQ_INT(noise_write_msg1(&ini, NULL, 0, out, sizeof out), -EINVAL);
	CHECK_WIPED(&ini);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)r, NULL, 0), 0);
	CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)r, NULL, 0), -EINVAL);
	CHECK_WIPED(&res);

	/* NULL payload with a non-zero length */
	pair_init(&ini, &res);
	CHECK_EQ_INT(noise_write_msg1(&ini, NULL, 5, out, sizeof out), -EINVAL);
	CHECK_WIPED(&ini);
	noise_handshake_wipe(&res);

	/* a wiped (NONE) handshake refuses everything */
	CHECK_EQ_INT(noise_write_msg1(&none, NULL, 0, out, sizeof out), -EINVAL);
	CHECK_EQ_INT(noise_read_msg1(&none, msg1, 96, NULL, 0), -EINVAL);
	CHECK_EQ_INT(noise_write_msg2(&none, NULL, 0, out, sizeof out), -EINVAL);
	CHECK_EQ_INT(noise_read_msg2(&none, msg1, 48, NULL, 0), -EINVAL);
	CHECK_EQ_INT(noise_split(&none, &s1, &s2), -EINVAL);
	CHECK_WIPED(&none);

	/* split twice: the first wiped the handshake */
	{
		struct noise_cipher a, b;

		pair_init(&ini, &res);
		r = noise_write_msg1(&ini, NULL, 0, msg1, sizeof msg1);
		CHECK_EQ_INT(noise_read_msg1(&res, msg1, (size_t)r, NULL, 0), 0);
		r = noise_write_msg2(&res, NULL, 0, out, sizeof out);
		CHECK_EQ_INT(noise_read_msg2(&ini, out, (size_t)r, NULL, 0), 0);
		CHECK_EQ_INT(noise_split(&ini, &a, &a), -EINVAL); /* same cipher twice */
		CHECK_WIPED(&ini);
		CHECK_EQ_INT(noise_split(&res, &a, &b), 0);
		CHECK_EQ_INT(noise_split(&res, &a, &b), -EINVAL);
		noise_cipher_wipe(&a);
		noise_cipher_wipe(&b);
	}

	/* a cipher without a key */
	CHECK_EQ_INT(noise_encrypt(&empty, NULL, 0, out, sizeof out), -EINVAL);
	CHECK_EQ_INT(noise_decrypt(&empty, out, 16, pt, sizeof pt), -EINVAL);
	noise_rekey(&empty);
	CHECK(all_zero(&empty, sizeof empty));
}

/* Known answers computed independently (Python "cryptography" ChaCha20Poly1305, at development time):
 *   k = 00 01 .. 1f
 *   REKEY(k) = ENCRYPT(k, 2^64-1, "", 0^32)[0..32)
 *   ENCRYPT(REKEY(k), n=5, "", "hello") and ENCRYPT(k, n=0x0102030405060708, "", "hello") */
static const char REKEY_KAT[] = "50835543a205b22c9323f2022bc4f67d838f90e61d5ccf33c4513e01f85b5042";
static const char CT_AFTER_REKEY_N5[] = "3aa9c4645705a8760ae99334cec49b55a2ef8e4a28";
static const char CT_N_0102030405060708[] = "982cc188c4c7aa0b60353523981e36e763e2b1d869";

static void unhex(uint8_t *out, const char *hex)
{
	size_t i, n = strlen(hex) / 2;

	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
}

static void test_rekey(void)
{
	struct noise_cipher c;
	uint8_t want[32], ct[64], pt[64], old[32];
	uint8_t msg1[256], msg2[256];
	struct noise_cipher is, ir, rs, rr;
	int m1len, m2len, i;
	size_t k;

	memset(&c, 0, sizeof c);
	for (k = 0; k < 32; k++)
		c.k[k] = (uint8_t)k;
	c.has_key = true;

	/* nonce encoding for a large n: 00000000 || LE64(n) */
	c.n = 0x0102030405060708ULL;
	unhex(want, CT_N_0102030405060708);
	CHECK_EQ_INT(noise_encrypt(&c, (const uint8_t *)"hello", 5, ct, sizeof ct), 5 + NOISE_TAG_LEN);
	CHECK_EQ_MEM(ct, want, 5 + NOISE_TAG_LEN);

	c.n = 5;
	noise_rekey(&c);
	unhex(want, REKEY_KAT);
	CHECK_EQ_MEM(c.k, want, 32);
	CHECK_EQ_INT(c.n, 5);
	CHECK(c.has_key);
	CHECK_EQ_INT(noise_encrypt(&c, (const uint8_t *)"hello", 5, ct, sizeof ct), 5 + NOISE_TAG_LEN);
	unhex(want, CT_AFTER_REKEY_N5);
	CHECK_EQ_MEM(ct, want, 5 + NOISE_TAG_LEN);
	noise_cipher_wipe(&c);

	/* both sides rekey at the same point and still agree; n is kept */
	full_handshake(msg1, &m1len, msg2, &m2len, &is, &ir, &rs, &rr);
	for (i = 0; i < 3; i++) {
		CHECK_EQ_INT(noise_encrypt(&is, (const uint8_t *)"x", 1, ct, sizeof ct), 17);
		CHECK_EQ_INT(noise_decrypt(&rr, ct, 17, pt, sizeof pt), 1);
	}
	memcpy(old, is.k, 32);
	noise_rekey(&is);
	CHECK(memcmp(old, is.k, 32) != 0);
	CHECK_EQ_INT(is.n, 3);
	CHECK_EQ_INT(noise_encrypt(&is, (const uint8_t *)"after", 5, ct, sizeof ct), 21);
	/* the peer has not rekeyed yet: fails, and n stays */
	CHECK_EQ_INT(noise_decrypt(&rr, ct, 21, pt, sizeof pt), -EBADMSG);
	CHECK_EQ_INT(rr.n, 3);
	noise_rekey(&rr);
	CHECK_EQ_MEM(rr.k, is.k, 32);
	CHECK_EQ_INT(noise_decrypt(&rr, ct, 21, pt, sizeof pt), 5);
	CHECK_EQ_MEM(pt, "after", 5);
	noise_cipher_wipe(&is);
	noise_cipher_wipe(&ir);
	noise_cipher_wipe(&rs);
	noise_cipher_wipe(&rr);
}

/* handshake_hash outside DONE gives zeros, not a partial h */
static void test_hash_state(void)
{
	struct noise_handshake ini, res;
	uint8_t h[NOISE_HASH_LEN];

	pair_init(&ini, &res);
	memset(h, 0xaa, sizeof h);
	noise_handshake_hash(&ini, h);
	CHECK(all_zero(h, sizeof h));
	noise_handshake_wipe(&ini);
	noise_handshake_wipe(&res);
}

int main(void)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return 1;
	}
	make_keys();
	test_vectors();
	test_random_roundtrip();
	test_tamper_msg1();
	test_tamper_msg2();
	test_tamper_transport();
	test_wrong_prologue_and_key();
	test_low_order();
	test_truncated();
	test_sizes();
	test_nonce_limit();
	test_wrong_state();
	test_rekey();
	test_hash_state();
	printf("test-noise: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}
