/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <sodium.h>

#include "startcheck.h"

/* The longest path a check handles (the daemons' own limit). */
#define STARTCHECK_PATH_MAX 4096

static int fail(struct startcheck *s, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct startcheck *s, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return err;
}

/* "name (uid N)", or "uid N" for a uid without a passwd entry. */
static const char *uid_text(uid_t uid, char *buf, size_t len)
{
	char pwbuf[4096];
	struct passwd pw, *pwp = NULL;
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp)
		snprintf(buf, len, "%s (uid %u)", pw.pw_name, (unsigned)uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

/* The owners a key or a directory may have (startcheck.h). */
static bool owner_ok(const struct startcheck *s, uid_t owner)
{
	if (owner == geteuid())
		return true;
	return s->user ? privdrop_owner_ok(owner, s->user) : owner == 0;
}

/* "root or kmsg-shipper", "root, kmsg-shipper or alice (uid 1000)". */
static const char *owners_text(const struct startcheck *s, char *buf, size_t len)
{
	char me[128];
	uid_t euid = geteuid();
	bool other = euid != 0 && (!s->user || euid != s->user->uid);
	if (s->user && other)
		snprintf(buf, len, "root, %s or %s", s->user->name, uid_text(euid, me, sizeof(me)));
	else if (s->user)
		snprintf(buf, len, "root or %s", s->user->name);
	else if (other)
		snprintf(buf, len, "root or %s", uid_text(euid, me, sizeof(me)));
	else
		snprintf(buf, len, "root");
	return buf;
}

int startcheck_user(struct startcheck *s, const char *name, struct privdrop_user *u)
{
	const char *conf = s->conf_path ? s->conf_path : "the configuration";
	int r = privdrop_lookup(name, u);
	if (r == -ESRCH)
		return fail(s, r,
			    "user %s: no such user; expected an existing unprivileged user (create it: "
			    "systemd-sysusers, or set user in %s)",
			    name, conf);
	if (r == -EPERM)
		return fail(s, r, "user %s: is root; expected an unprivileged user (set user in %s)", name,
			    conf);
	if (r < 0)
		return fail(s, r, "user %s: %s", name, strerror(-r));
	s->user = u;
	return 0;
}

int startcheck_private_key(struct startcheck *s, const char *path, uint8_t priv[KEY_LEN])
{
	struct stat st;
	char who[128], owners[256];
	int r = key_read_private_file_stat(path, priv, &st);
	if (r == -EPERM)
		return fail(s, r, "private key %s: %s (mode %04o, expected 0600 or 0400)", path,
			    key_file_strerror(r), (unsigned)(st.st_mode & 07777));
	if (r < 0)
		return fail(s, r, "private key %s: %s", path, key_file_strerror(r));
	if (!owner_ok(s, st.st_uid)) {
		sodium_memzero(priv, KEY_LEN);
		return fail(s, -EPERM,
			    "private key %s: owned by %s, who could read or replace it; expected owner %s "
			    "(chown it)",
			    path, uid_text(st.st_uid, who, sizeof(who)),
			    owners_text(s, owners, sizeof(owners)));
	}
	return 0;
}

/* May this process write and search path (its effective ids)? */
static int writable(const char *path)
{
	return faccessat(AT_FDCWD, path, W_OK | X_OK, AT_EACCESS) < 0 ? -errno : 0;
}

/* path's nearest existing parent, into buf: its stat in *st. */
static int nearest_parent(const char *path, char *buf, size_t len, struct stat *st)
{
	if ((size_t)snprintf(buf, len, "%s", path) >= len)
		return -ENAMETOOLONG;
	for (;;) {
		size_t n = strlen(buf);
		while (n > 1 && buf[n - 1] == '/')
			buf[--n] = '\0';
		char *slash = strrchr(buf, '/');
		if (!slash)
			snprintf(buf, len, ".");
		else if (slash == buf)
			buf[1] = '\0';
		else
			*slash = '\0';
		if (stat(buf, st) == 0)
			return 0;
		if ((errno != ENOENT && errno != ENOTDIR) || strcmp(buf, "/") == 0 || strcmp(buf, ".") == 0)
			return -errno;
	}
}

int startcheck_dir(struct startcheck *s, const char *what, const char *path)
{
	struct stat st;
	char me[128], who[128], owners[256];
	int r;
	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fail(s, -ENOTDIR, "%s %s: not a directory; expected a directory", what, path);
		if (!owner_ok(s, st.st_uid))
			return fail(s, -EPERM,
				    "%s %s: owned by %s; expected owner %s (another user's files are "
				    "never taken over)",
				    what, path, uid_text(st.st_uid, who, sizeof(who)),
				    owners_text(s, owners, sizeof(owners)));
		if ((r = writable(path)) < 0)
			return fail(s, r, "%s %s: not writable by %s: %s; expected a directory it can write",
				    what, path, uid_text(geteuid(), me, sizeof(me)), strerror(-r));
		return 0;
	}
	if (errno != ENOENT && errno != ENOTDIR) {
		int e = errno;
		return fail(s, -e, "%s %s: %s", what, path, strerror(e));
	}
	/* Missing (or below a file): the start creates it, in its nearest
	 * existing parent. */
	char parent[STARTCHECK_PATH_MAX];
	if ((r = nearest_parent(path, parent, sizeof(parent), &st)) < 0)
		return fail(s, r, "%s %s: cannot be created: %s", what, path, strerror(-r));
	if (!S_ISDIR(st.st_mode))
		return fail(s, -ENOTDIR, "%s %s: cannot be created: %s is not a directory", what, path,
			    parent);
	if ((r = writable(parent)) < 0)
		return fail(s, r, "%s %s: cannot be created: %s not writable by %s: %s", what, path, parent,
			    uid_text(geteuid(), me, sizeof(me)), strerror(-r));
	return 0;
}

int startcheck_readable(struct startcheck *s, const char *what, const char *path, bool dir)
{
	struct stat st;
	char me[128];
	if (stat(path, &st) < 0) {
		int e = errno;
		return fail(s, -e, "%s %s: %s; expected %s to read", what, path, strerror(e),
			    dir ? "a directory" : "a device or a file");
	}
	if (dir && !S_ISDIR(st.st_mode))
		return fail(s, -ENOTDIR, "%s %s: not a directory; expected a directory", what, path);
	if (!dir && S_ISDIR(st.st_mode))
		return fail(s, -EISDIR, "%s %s: is a directory; expected a device or a file", what, path);
	if (faccessat(AT_FDCWD, path, dir ? R_OK | X_OK : R_OK, AT_EACCESS) < 0) {
		int e = errno;
		return fail(s, -e, "%s %s: not readable by %s: %s", what, path,
			    uid_text(geteuid(), me, sizeof(me)), strerror(e));
	}
	return 0;
}

/* May u search the directory at dir (stat st)? Mode bits; a directory
 * with an access ACL is trusted, as the ACL may grant what they do not. */
static bool user_can_search(const struct privdrop_user *u, const char *dir, const struct stat *st)
{
	if (getxattr(dir, "system.posix_acl_access", NULL, 0) >= 0)
		return true;
	if (st->st_uid == u->uid)
		return st->st_mode & S_IXUSR;
	bool member = st->st_gid == u->gid;
	for (int i = 0; !member && i < u->ngroups; i++)
		member = st->st_gid == u->groups[i];
	return st->st_mode & (member ? S_IXGRP : S_IXOTH);
}

int startcheck_reach(struct startcheck *s, const char *what, const char *path)
{
	char abs[STARTCHECK_PATH_MAX], who[128];
	if (!s->user)
		return 0;
	if (path[0] == '/') {
		if ((size_t)snprintf(abs, sizeof(abs), "%s", path) >= sizeof(abs))
			return fail(s, -ENAMETOOLONG, "%s %s: %s", what, path, strerror(ENAMETOOLONG));
	} else {
		char cwd[STARTCHECK_PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs))
			return fail(s, -ENAMETOOLONG, "%s %s: %s", what, path, strerror(ENAMETOOLONG));
	}
	/* Every directory above the last component, "/" first: abs[0..i)
	 * up to each separator ('//' counted once). */
	size_t end = strlen(abs);
	while (end > 1 && abs[end - 1] == '/')
		end--;
	for (size_t i = 0; i < end; i++) {
		if (abs[i] != '/' || (i > 0 && abs[i - 1] == '/'))
			continue;
		char dir[STARTCHECK_PATH_MAX];
		memcpy(dir, abs, i ? i : 1);
		dir[i ? i : 1] = '\0';
		struct stat st;
		if (stat(dir, &st) < 0) {
			int e = errno;
			if (e == ENOENT) /* from here on made by startcheck_make_dir, 0755 */
				return 0;
			return fail(s, -e, "%s %s: %s: %s", what, path, dir, strerror(e));
		}
		if (!user_can_search(s->user, dir, &st))
			return fail(s, -EACCES,
				    "%s %s: %s (mode %04o, owner uid %u) does not let %s search it; expected "
				    "search permission for that user (chmod o+x %s)",
				    what, path, dir, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
				    uid_text(s->user->uid, who, sizeof(who)), dir);
	}
	return 0;
}

int startcheck_make_dir(const char *path, mode_t mode)
{
	char buf[STARTCHECK_PATH_MAX];
	struct stat st;
	size_t n = strlen(path);
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (i < n && (buf[i] != '/' || buf[i - 1] == '/'))
			continue;
		bool leaf = i == n;
		buf[i] = '\0';
		if (mkdir(buf, leaf ? mode : 0755) == 0) {
			/* A parent: 0755 whatever the umask, so that the user
			 * the daemon becomes can reach what is beneath. */
			if (!leaf && chmod(buf, 0755) < 0)
				return -errno;
		} else {
			int e = errno;
			if (stat(buf, &st) < 0)
				return -e;
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
		}
		if (!leaf)
			buf[i] = '/';
	}
	return 0;
}
