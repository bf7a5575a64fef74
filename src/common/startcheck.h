/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The start conditions both daemons check right after loading their
 * configuration, before they open a device, a store or a socket, and that
 * -n checks too: the user to become, the private key, the directories
 * they write, the files they read. A failed check leaves one line in
 * s->err naming the user or path and what was expected; the daemon logs
 * it and exits 1, so it never says READY=1 and never fails later, while
 * running, over a condition that was there at start. Nothing here changes
 * a file or logs.
 *
 * Owners: a private key and a directory a daemon writes must belong to
 * root (the admin, tmpfiles.d, an earlier start), to the user it becomes,
 * or to the user it runs as (privdrop_owner_ok). Anything else is another
 * user's: a key that user could read or replace, or data a start as root
 * would hand over to the daemon's user (privdrop_chown_tree).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "key.h"
#include "privdrop.h"

#define STARTCHECK_ERR_MAX 1024

struct startcheck {
	const char *conf_path;		  /* named in the advice about user */
	const struct privdrop_user *user; /* set by startcheck_user; NULL: no user to become */
	char err[STARTCHECK_ERR_MAX];	  /* the failed check's one line */
};

/* The user named in the configuration exists and is not root; *u gets it
 * and s->user points to u. Returns 0 or -errno (-ESRCH: no such user,
 * -EPERM: root). */
__attribute__((warn_unused_result)) int startcheck_user(struct startcheck *s, const char *name,
							struct privdrop_user *u);

/* Read the private key file (key_read_private_file: a regular file, no
 * group or other permission, one key) and check its owner. priv is wiped
 * on failure. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int startcheck_private_key(struct startcheck *s, const char *path,
							       uint8_t priv[KEY_LEN]);

/* A directory the daemon writes (what: "state directory", ...): if it
 * exists, a directory, owned as above, that this process may write and
 * search; if not, its nearest existing parent must be a directory this
 * process may write (so that the start can create it). Returns 0 or
 * -errno. */
__attribute__((warn_unused_result)) int startcheck_dir(struct startcheck *s, const char *what,
						       const char *path);

/* A file (dir false) or directory (dir true) the daemon reads: it exists,
 * has that type (a file: anything but a directory, such as a device or a
 * FIFO) and this process may read it. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int startcheck_readable(struct startcheck *s, const char *what,
							    const char *path, bool dir);

/* After the switch to s->user (set: a start as root, or -n) the daemon
 * reaches path by name (Landlock rules, SIGHUP): every existing directory
 * above path must let that user search it (mode bits; a directory with an
 * ACL is trusted). Missing ones are made by startcheck_make_dir. No user:
 * nothing to check. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int startcheck_reach(struct startcheck *s, const char *what,
							 const char *path);

/* Create the directory startcheck_dir approved, if missing: its missing
 * parents with mode 0755 (whatever the umask, so that startcheck_reach
 * holds for them), itself with mode (minus the umask). Existing ones are
 * left as they are. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int startcheck_make_dir(const char *path, mode_t mode);
