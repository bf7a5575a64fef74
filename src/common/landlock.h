/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Landlock: after landlock_restrict, the process (and every child) can
 * reach files only beneath the paths listed, with the access listed.
 * Descriptors already open are not affected. Rights this kernel's Landlock
 * does not know (older ABI) are left out, as the kernel documentation
 * recommends ("best effort"); Landlock unavailable is -EOPNOTSUPP,
 * which the caller logs and lives with unless the admin required it.
 *
 * Not restricted by Landlock (any ABI): connect() to a UNIX socket by path
 * (/dev/log, NOTIFY_SOCKET), and TCP (not handled here).
 */

#include <stddef.h>

enum {
	LANDLOCK_R = 1,	 /* read files, list directories */
	LANDLOCK_W = 2,	 /* write, create, remove, rename, truncate files and directories */
	LANDLOCK_X = 4,	 /* execute (and map executable: shared objects) */
	LANDLOCK_RW = 3, /* both */
};

struct landlock_path {
	const char *path; /* a directory (rights beneath it) or a file */
	int access;	  /* LANDLOCK_R, LANDLOCK_W, LANDLOCK_X */
};

/*
 * The Landlock ABI version of this kernel, or -errno. -EOPNOTSUPP when
 * Landlock cannot be used here: the kernel has none or has it disabled
 * (ENOSYS, EOPNOTSUPP), or a system-call filter refuses it (EPERM: a
 * container's seccomp policy, such as systemd-nspawn's on systemd 252);
 * landlock_unavailable_why() then says which.
 */
int landlock_abi(void);

/* Why the last landlock_abi or landlock_restrict found Landlock
 * unavailable, in words for a log line and STATUS=; NULL when it was
 * available (or not asked). */
const char *landlock_unavailable_why(void);

/*
 * Restrict the calling process to paths. A path that does not exist is
 * left out (nothing there to reach); *ret_missing counts them if not NULL.
 * Sets PR_SET_NO_NEW_PRIVS. Returns the ABI version used (> 0),
 * -EOPNOTSUPP when Landlock is unavailable (landlock_abi), or -errno
 * (naming no path: the caller has the list).
 */
__attribute__((warn_unused_result)) int landlock_restrict(const struct landlock_path *paths, size_t n,
							  size_t *ret_missing);
