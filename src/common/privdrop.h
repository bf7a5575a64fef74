/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Dropping root for good: the user to become, the state directory handed
 * over to it, then setgroups, setresgid, setresuid and every capability
 * cleared (bounding and ambient sets included), with PR_SET_NO_NEW_PRIVS.
 * Nothing here logs above debug; the daemons say what happened.
 */

#include <stdbool.h>
#include <sys/types.h>

#define PRIVDROP_GROUPS_MAX 64

struct privdrop_user {
	char name[64];
	uid_t uid;
	gid_t gid;
	gid_t groups[PRIVDROP_GROUPS_MAX]; /* supplementary groups (as initgroups) */
	int ngroups;
};

/*
 * Look the user up (passwd and group databases: call before any sandbox).
 * Returns 0, -ESRCH when there is no such user, -EPERM when it is root
 * (uid 0: nothing would be dropped), -ENAMETOOLONG, or -errno.
 */
__attribute__((warn_unused_result)) int privdrop_lookup(const char *name, struct privdrop_user *ret);

/*
 * Whether a file owned by owner may be used by, or handed over to, u: it
 * is root's (made by the admin, tmpfiles.d or an earlier start) or u's
 * already. Anything else belongs to another user and is never taken over.
 */
bool privdrop_owner_ok(uid_t owner, const struct privdrop_user *u);

/*
 * Give dir and what is beneath it to the user, as tmpfiles.d's "Z" does:
 * directories and regular files change owner (user and its group), mode
 * untouched. Never follows a symbolic link, never leaves the file system
 * of dir, and leaves alone regular files with more than one link (a hard
 * link planted by the user could otherwise hand it any file of that file
 * system). Returns the number of entries changed, or -errno (the first
 * failure; the walk goes on). -ENOTDIR if dir is not a directory; -EPERM,
 * nothing changed, if dir belongs to another user (privdrop_owner_ok).
 */
__attribute__((warn_unused_result)) int privdrop_chown_tree(const char *dir, const struct privdrop_user *u);

/*
 * Become u for good: bounding set emptied (needs CAP_SETPCAP), ambient set
 * cleared, setgroups, setresgid, setresuid, then permitted, effective and
 * inheritable sets cleared and PR_SET_NO_NEW_PRIVS. With u NULL (not
 * started as root) the identity stays and the rest is done as far as the
 * process may (the bounding set only with CAP_SETPCAP). Verifies the
 * result (ids, capabilities, and that setuid(0) fails). Returns 0 or
 * -errno; on failure the process must exit, its state is unknown.
 */
__attribute__((warn_unused_result)) int privdrop_apply(const struct privdrop_user *u);
