/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The collector's network side: listening sockets, the responder half of
 * the handshake, and sessions that feed batches into the store and ack
 * after each group commit.
 *
 * Before a peer has proven it holds an authorized key (msg1 decrypted, key
 * on the allow list, counter fresh), the server writes nothing to it: every
 * failure closes the connection silently and is counted by kind.
 */

#include <stdint.h>

#include "conf.h"
#include "loop.h"
#include "store.h"

enum server_reject {
	REJECT_FRAME,	  /* first frame of the wrong size, malformed framing, or EOF before confirmation */
	REJECT_MAC1,	  /* mac1 mismatch: no DH was done */
	REJECT_HANDSHAKE, /* msg1 did not decrypt or its payload is malformed, or the first
			     transport message did not (no key confirmation) */
	REJECT_UNKNOWN,	  /* static key not in the clients list */
	REJECT_REPLAY,	  /* handshake counter not above the stored one */
	REJECT_TIMEOUT,	  /* no complete msg1, or no key confirmation after msg2, in time */
	REJECT_STORE,	  /* the host's store could not be opened or written, or its stream table is full */
	REJECT_BUSY,	  /* global connection limit (max_connections) reached */
	REJECT_ADDRESS,	  /* per-address connection limit, or address table full */
	REJECT_RATE,	  /* per-address handshake rate exceeded: no DH was done */
	REJECT_EVICTED,	  /* not key-confirmed, the oldest of its full group: made room for a newer one */
	REJECT_KINDS,
};

/* What became of the records of URGENT messages (docs/PROTOCOL.md 5.9). */
enum server_urgent {
	SERVER_URGENT_STORED, /* stored, ahead of their place or at it */
	SERVER_URGENT_DUP,    /* already stored: dropped */
	SERVER_URGENT_LATER,  /* not held (ahead sets full): the agent sends them again in order */
	SERVER_URGENT_KINDS,
};

struct server_stats {
	uint64_t rejected[REJECT_KINDS];
	uint64_t sessions;		      /* handshakes completed (msg2 sent) */
	uint64_t live;			      /* sessions open now that passed key confirmation */
	uint64_t records;		      /* records stored */
	uint64_t duplicates;		      /* records dropped as already stored */
	uint64_t urgent[SERVER_URGENT_KINDS]; /* records of URGENT messages, by fate */
	uint64_t commits;		      /* group commits (one fsync per dirty host each) */
	uint64_t x25519_ops;		      /* handshakes that reached the DH stage */
};

struct server;

/* priv is copied. The server keeps pointers to conf and store. */
__attribute__((warn_unused_result)) int server_new(struct server **ret, struct loop *l,
						   const struct collector_conf *conf, struct store *store,
						   const uint8_t priv[32]);
/* Bind and listen on every configured address. Returns 0 or -errno
 * (logged, naming the address). */
__attribute__((warn_unused_result)) int server_listen(struct server *sv);
/* Accept on fd, a listening TCP socket made elsewhere (systemd's socket
 * activation); the server owns it from now on. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int server_listen_fd(struct server *sv, int fd);
void server_get_stats(const struct server *sv, struct server_stats *st);
/* Names of the reject kinds, for logs and STATUS ("frame", "mac1", ...). */
const char *server_reject_name(enum server_reject r);

/*
 * A reloaded configuration (SIGHUP): clients and limits take effect at
 * once; sessions whose key is no longer listed, or now maps to another
 * host name, are closed. Listening addresses are not changed (restart for
 * that). conf must outlive the server or the next reload.
 */
void server_set_conf(struct server *sv, const struct collector_conf *conf);

/* fn(data, host) after each group commit, for every host a session had
 * records (or a heartbeat) committed for: the forwarding's cue (forward.h). */
void server_set_commit_hook(struct server *sv, void (*fn)(void *data, const char *host), void *data);

/* Close every connection and listener, commit what is pending, free. */
void server_free(struct server *sv);
