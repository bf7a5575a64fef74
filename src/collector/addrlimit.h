/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Per source address limits of the collector: how many connections one
 * address may hold, and how many handshakes (DH operations) it may start
 * per second (a token bucket: `rate` per second, up to `burst` at once).
 * IPv6 addresses are grouped by their /64, as one host usually owns one.
 *
 * A fixed-size open-addressing table: memory is bounded whatever the
 * number of addresses. When it is full, addresses with no connection and
 * a full bucket are forgotten first; if none can be, the newcomer is
 * refused (-ENOSPC), which under a flood of distinct addresses is the
 * only bounded answer.
 */

#include <stdint.h>
#include <sys/socket.h>

struct addrlimit;

struct addrlimit_conf {
	uint32_t max_conns;  /* per address */
	uint32_t rate;	     /* handshakes per second per address */
	uint32_t burst;	     /* handshakes at once per address */
	uint32_t table_size; /* addresses tracked at most */
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
/* Addresses tracked now. */
uint32_t addrlimit_count(const struct addrlimit *a);
