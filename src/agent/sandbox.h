/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The agent's sandbox, entered once its privileged opens are done (the
 * kmsg device, the journal, pstore, the state directory, the key) and
 * before it parses a kernel record or opens a socket:
 *
 *   1. started as root: become conf->user (its state directory handed
 *      over to it first); otherwise keep the identity (debug log says so);
 *   2. no capability in any set, PR_SET_NO_NEW_PRIVS;
 *   3. Landlock: files only beneath the state directory (read, write),
 *      the kmsg path, the journal and what name resolution reads (read);
 *   4. a seccomp allowlist of the calls the running agent makes; any other
 *      kills the process (docs/SANDBOX.md has the list and the reasons).
 *
 * Logs what it did and every failure (once). Returns 0 or -errno; on
 * failure the agent must exit.
 */

#include "conf.h"

__attribute__((warn_unused_result)) int agent_sandbox_enter(const struct agent_conf *c);
