/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Per source address limits of the collector: how many connections one
 * address may hold, and how many handshakes (DH operations) it may start
 * per second (a token bucket: `rate` per second, up to `burst` at once).
 * IPv6 addresses are grouped by their /64, as one host usually owns one.
 * Connections not yet key-confirmed are also counted per address and, for
 * IPv6, per /56 (which one site or customer usually gets): the server
 * evicts the oldest of the group to make room (server.c).
 *
 * A fixed-size open-addressing table: memory is bounded whatever the
 * number of addresses. When it is full, addresses with no connection and
 * a full bucket are forgotten first; if none can be, the newcomer is
 * refused (-ENOSPC), which under a flood of distinct addresses is the
 * only bounded answer.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct addrlimit;

struct addrlimit_conf {
	uint32_t max_conns;	/* per address */
	uint32_t rate;		/* handshakes per second per address */
	uint32_t burst;		/* handshakes at once per address */
	uint32_t table_size;	/* addresses tracked at most */
	uint32_t max_hs;	/* not key-confirmed, per address (IPv6 /64) */
	uint32_t max_hs_prefix; /* not key-confirmed, per IPv6 /56 */
};

__attribute__((warn_unused_result)) int addrlimit_new(struct addrlimit **ret, const struct addrlimit_conf *c);
void addrlimit_free(struct addrlimit *a);

/* New rate, burst and max_conns (table_size stays): for a reload. */
void addrlimit_reconf(struct addrlimit *a, const struct addrlimit_conf *c);

/* A new connection from sa: 0, or -EMFILE (over max_conns), -ENOSPC (table full). */
int addrlimit_conn_add(struct addrlimit *a, const struct sockaddr *sa, uint64_t now_ms);
/* The connection from sa closed (after a successful addrlimit_conn_add). */
void addrlimit_conn_del(struct addrlimit *a, const struct sockaddr *sa);
/* A handshake from sa wants a DH: 0, or -EAGAIN (over the rate). The
 * address must hold a connection (it does: the handshake comes on one). */
int addrlimit_handshake(struct addrlimit *a, const struct sockaddr *sa, uint64_t now_ms);
/* A connection from sa that is not key-confirmed (after a successful
 * addrlimit_conn_add): 0, -EMFILE (its address has max_hs), -EUSERS (its
 * IPv6 /56 has max_hs_prefix), -ENOSPC (table full). Nothing counted on
 * failure. */
int addrlimit_hs_add(struct addrlimit *a, const struct sockaddr *sa, uint64_t now_ms);
/* That connection was confirmed or closed. */
void addrlimit_hs_del(struct addrlimit *a, const struct sockaddr *sa);
/* Same address (IPv6: /64), or with prefix the same IPv6 /56? */
bool addrlimit_same(const struct sockaddr *x, const struct sockaddr *y, bool prefix);
/* Addresses tracked now. */
uint32_t addrlimit_count(const struct addrlimit *a);
