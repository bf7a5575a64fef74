/* SPDX-License-Identifier: ISC */
#pragma once

/* The collector's configuration (collector.conf, man kmsg-collector.conf(5)). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define COLLECTOR_MAX_LISTEN 8

struct collector_client {
	char name[STORE_NAME_MAX + 1]; /* host name: names its journal directory */
	uint8_t pub[32];
};

struct collector_listen {
	const char *address; /* NULL: every address */
	char port[8];
};

/* forward { ... }: publishing to NATS JetStream (forward.h, docs/FLEET.md) */
#define COLLECTOR_MAX_NATS_SERVERS 16
struct collector_forward {
	bool enabled; /* the group is present, enabled not false */
	const char *servers[COLLECTOR_MAX_NATS_SERVERS];
	size_t nservers;
	const char *stream;	    /* the JetStream stream (must exist; default KMSG) */
	const char *subject_prefix; /* records go to PREFIX.HOST (default kmsg) */
	const char *origin;	    /* this collector's name in the stream; NULL: the host name */
	const char *creds_file;	    /* NATS credentials (JWT and nkey seed) */
	const char *nkey_seed_file; /* or an nkey seed alone */
	const char *user, *password;
	const char *tls_ca_file, *tls_cert_file, *tls_key_file;
	bool tls;			   /* require TLS (implied by any tls_* file) */
	long long window;		   /* publishes awaiting JetStream's ack at most */
	unsigned long long ack_timeout_ms; /* no ack for the oldest this long: publish again */
};

struct collector_conf {
	struct cfg *cfg; /* owns the strings below */
	const char *private_key_file;
	const char *state_dir;
	const char *user;	/* started as root: the user to become once listening */
	bool landlock_required; /* landlock = "required": no start without Landlock */
	int log_level;
	struct collector_listen listen[COLLECTOR_MAX_LISTEN];
	size_t nlisten;
	struct collector_client *clients;
	size_t nclients;
	unsigned long long handshake_timeout_ms;
	unsigned long long idle_timeout_ms;
	/* limits { ... } */
	long long max_connections;     /* all connections */
	long long max_handshaking;     /* connections that have not completed a handshake */
	long long addr_connections;    /* per source address (IPv6: per /64) */
	long long addr_handshake_rate; /* handshakes (DH operations) per second per address */
	long long addr_handshake_burst;
	long long addr_handshaking;   /* not key-confirmed per address (IPv6 /64) */
	long long prefix_handshaking; /* not key-confirmed per IPv6 /56 */
	long long addr_table;	      /* source addresses tracked at most */
	const char *clients_dir;      /* one HOST.pub file per client; NULL: none ("") */
	/* store { ... }: segment size and retention (store.h) */
	struct store_limits store;
	struct collector_forward forward;
};

/*
 * Load and check path. On failure returns -errno and *err points to a
 * message "FILE:LINE: ..." (print it before collector_conf_free).
 */
__attribute__((warn_unused_result)) int collector_conf_load(struct collector_conf *c, const char *path,
							    const char **err);
void collector_conf_free(struct collector_conf *c);
/* Whether two forward groups differ in any setting (a reload names it). */
bool collector_forward_differs(const struct collector_forward *a, const struct collector_forward *b);

/* The client with this public key, or NULL (constant time in the key). */
const struct collector_client *collector_conf_client(const struct collector_conf *c, const uint8_t pub[32]);
