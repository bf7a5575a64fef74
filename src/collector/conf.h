/* SPDX-License-Identifier: ISC */
#pragma once

/* The collector's configuration (collector.conf, man kmsg-collector.conf(5)). */

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define COLLECTOR_MAX_LISTEN 8

struct collector_client {
	const char *name; /* host name: names its journal directory */
	uint8_t pub[32];
};

struct collector_listen {
	const char *address; /* NULL: every address */
	char port[8];
};

struct collector_conf {
	struct cfg *cfg; /* owns the strings below */
	const char *private_key_file;
	const char *state_dir;
	int log_level;
	struct collector_listen listen[COLLECTOR_MAX_LISTEN];
	size_t nlisten;
	struct collector_client *clients;
	size_t nclients;
	unsigned long long handshake_timeout_ms;
	unsigned long long idle_timeout_ms;
};

/*
 * Load and check path. On failure returns -errno and *err points to a
 * message "FILE:LINE: ..." (print it before collector_conf_free).
 */
__attribute__((warn_unused_result)) int collector_conf_load(struct collector_conf *c, const char *path,
							    const char **err);
void collector_conf_free(struct collector_conf *c);

/* The client with this public key, or NULL (constant time in the key). */
const struct collector_client *collector_conf_client(const struct collector_conf *c, const uint8_t pub[32]);
