/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The collector's sandbox, entered once it listens (its own sockets or
 * systemd's) and has read its key and opened its store:
 *
 *   1. started as root: become conf->user (the state directory handed
 *      over to it first); otherwise keep the identity (the unit's User=);
 *   2. no capability in any set, PR_SET_NO_NEW_PRIVS;
 *   3. Landlock: files only beneath the state directory (read, write) and
 *      the configuration and clients_dir (read, for SIGHUP);
 *   4. a seccomp allowlist of the calls the running collector makes; any
 *      other kills the process (docs/SANDBOX.md).
 *
 * Logs what it did and every failure (once). Returns 0 or -errno; on
 * failure the collector must exit.
 */

#include "conf.h"

__attribute__((warn_unused_result)) int collector_sandbox_enter(const struct collector_conf *c,
								const char *conf_path);
