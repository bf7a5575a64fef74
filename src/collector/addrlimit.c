/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "addrlimit.h"

/* Tokens are kept in thousandths so a rate below one per ms stays exact. */
#define MILLI 1000u
#define PROBES 16

struct entry {
	uint8_t key[16]; /* IPv4-mapped form, or the IPv6 /64 with the rest zero */
	bool used;
	uint32_t conns;
	uint32_t hs;	 /* of them not yet key-confirmed */
	uint64_t tokens; /* milli-tokens */
	uint64_t stamp_ms;
};

struct addrlimit {
	struct addrlimit_conf c;
	struct entry *tab;
	uint32_t count;
	uint8_t hkey[crypto_shorthash_KEYBYTES]; /* keyed hash: no chosen collisions */
};

int addrlimit_new(struct addrlimit **ret, const struct addrlimit_conf *c)
{
	if (c->table_size < PROBES || c->burst == 0 || c->rate == 0 || c->max_conns == 0 || c->max_hs == 0 ||
	    c->max_hs_prefix == 0)
		return -EINVAL;
	struct addrlimit *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->tab = calloc(c->table_size, sizeof(*a->tab));
	if (!a->tab) {
		free(a);
		return -ENOMEM;
	}
	a->c = *c;
	randombytes_buf(a->hkey, sizeof(a->hkey));
	*ret = a;
	return 0;
}

void addrlimit_free(struct addrlimit *a)
{
	if (!a)
		return;
	free(a->tab);
	free(a);
}

void addrlimit_reconf(struct addrlimit *a, const struct addrlimit_conf *c)
{
	if (c->rate && c->burst && c->max_conns && c->max_hs && c->max_hs_prefix) {
		a->c.rate = c->rate;
		a->c.burst = c->burst;
		a->c.max_conns = c->max_conns;
		a->c.max_hs = c->max_hs;
		a->c.max_hs_prefix = c->max_hs_prefix;
	}
}

uint32_t addrlimit_count(const struct addrlimit *a)
{
	return a->count;
}

static void key_of(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		memcpy(key, b, memcmp(b, mapped, 12) == 0 ? 16 : 8);
	}
}

static void refill(const struct addrlimit *a, struct entry *e, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)a->c.burst * MILLI;
	if (now_ms > e->stamp_ms) {
		uint64_t add = (now_ms - e->stamp_ms) * a->c.rate; /* milli-tokens: rate/s * ms */
		e->tokens = e->tokens + add > cap ? cap : e->tokens + add;
	}
	e->stamp_ms = now_ms;
}

/* An entry nobody needs: no connection, bucket full again. */
static bool idle(const struct addrlimit *a, struct entry *e, uint64_t now_ms)
{
	refill(a, e, now_ms);
	return e->conns == 0 && e->hs == 0 && e->tokens >= (uint64_t)a->c.burst * MILLI;
}

/* Find key; with create, take a free or idle slot among the probes. */
static struct entry *lookup(struct addrlimit *a, const uint8_t key[16], bool create, uint64_t now_ms)
{
	uint64_t h;
	crypto_shorthash((uint8_t *)&h, key, 16, a->hkey);
	struct entry *spare = NULL;
	for (uint32_t i = 0; i < PROBES; i++) {
		struct entry *e = &a->tab[(h + i) % a->c.table_size];
		if (e->used && memcmp(e->key, key, 16) == 0)
			return e;
		if (create && !spare && (!e->used || idle(a, e, now_ms)))
			spare = e;
	}
	if (!create || !spare)
		return NULL;
	if (!spare->used)
		a->count++;
	memset(spare, 0, sizeof(*spare));
	spare->used = true;
	memcpy(spare->key, key, 16);
	spare->tokens = (uint64_t)a->c.burst * MILLI;
	spare->stamp_ms = now_ms;
	return spare;
}

int addrlimit_conn_add(struct addrlimit *a, const struct sockaddr *sa, uint64_t now_ms)
{
	uint8_t key[16];
	key_of(sa, key);
	struct entry *e = lookup(a, key, true, now_ms);
	if (!e)
		return -ENOSPC;
	if (e->conns >= a->c.max_conns)
		return -EMFILE;
	e->conns++;
	return 0;
}

void addrlimit_conn_del(struct addrlimit *a, const struct sockaddr *sa)
{
	uint8_t key[16];
	key_of(sa, key);
	struct entry *e = lookup(a, key, false, 0);
	if (e && e->conns > 0)
		e->conns--;
}

int addrlimit_handshake(struct addrlimit *a, const struct sockaddr *sa, uint64_t now_ms)
{
	uint8_t key[16];
	key_of(sa, key);
	struct entry *e = lookup(a, key, true, now_ms);
	if (!e)
		return -EAGAIN;
	refill(a, e, now_ms);
	if (e->tokens < MILLI)
		return -EAGAIN;
	e->tokens -= MILLI;
	return 0;
}

/* The IPv6 /56 of sa as a table key, distinct from every /64 key (byte 15
 * set, where a /64 key is zero); false for IPv4 and IPv4-mapped. */
static bool key56_of(const struct sockaddr *sa, uint8_t key[16])
{
	uint8_t k[16];
	key_of(sa, k);
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (sa->sa_family != AF_INET6 || memcmp(k, mapped, 12) == 0)
		return false;
	memset(key, 0, 16);
	memcpy(key, k, 7);
	key[15] = 0x56;
	return true;
}

int addrlimit_hs_add(struct addrlimit *a, const struct sockaddr *sa, uint64_t now_ms)
{
	uint8_t key[16], k56[16];
	key_of(sa, key);
	struct entry *e = lookup(a, key, true, now_ms), *p = NULL;
	if (!e)
		return -ENOSPC;
	if (e->hs >= a->c.max_hs)
		return -EMFILE;
	if (key56_of(sa, k56)) {
		if (!(p = lookup(a, k56, true, now_ms)))
			return -ENOSPC;
		if (p->hs >= a->c.max_hs_prefix)
			return -EUSERS;
		p->hs++;
	}
	e->hs++;
	return 0;
}

void addrlimit_hs_del(struct addrlimit *a, const struct sockaddr *sa)
{
	uint8_t key[16];
	key_of(sa, key);
	struct entry *e = lookup(a, key, false, 0);
	if (e && e->hs > 0)
		e->hs--;
	if (key56_of(sa, key) && (e = lookup(a, key, false, 0)) && e->hs > 0)
		e->hs--;
}

bool addrlimit_same(const struct sockaddr *x, const struct sockaddr *y, bool prefix)
{
	uint8_t kx[16], ky[16];
	if (prefix) {
		if (!key56_of(x, kx) || !key56_of(y, ky))
			return false;
	} else {
		key_of(x, kx);
		key_of(y, ky);
	}
	return memcmp(kx, ky, 16) == 0;
}
