/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* Deepest directory the hand-over walks into (the spool is two levels). */
#define CHOWN_DEPTH_MAX 16

int privdrop_lookup(const char *name, struct privdrop_user *ret)
{
	struct privdrop_user u = { 0 };
	if (!name || !*name)
		return -EINVAL;
	if (strlen(name) >= sizeof(u.name))
		return -ENAMETOOLONG;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t bufsz = sz > 0 ? (size_t)sz : 16384;
	char *buf = malloc(bufsz);
	if (!buf)
		return -ENOMEM;
	struct passwd pw, *pwp = NULL;
	int e = getpwnam_r(name, &pw, buf, bufsz, &pwp);
	if (!pwp) {
		free(buf);
		/* Not found is 0 or one of the errnos POSIX allows for it. */
		return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM ? -ESRCH : -e;
	}
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.uid = pw.pw_uid;
	u.gid = pw.pw_gid;
	free(buf);
	if (u.uid == 0 || u.gid == 0)
		return -EPERM;
	u.ngroups = PRIVDROP_GROUPS_MAX;
	if (getgrouplist(name, u.gid, u.groups, &u.ngroups) < 0)
		return -E2BIG;
	*ret = u;
	return 0;
}

bool privdrop_owner_ok(uid_t owner, const struct privdrop_user *u)
{
	return owner == 0 || owner == u->uid;
}

static int chown_fd(int pfd, const struct stat *st, const struct privdrop_user *u)
{
	if (st->st_uid == u->uid && st->st_gid == u->gid)
		return 0;
	if (fchownat(pfd, "", u->uid, u->gid, AT_EMPTY_PATH) < 0)
		return -errno;
	return 1;
}

/* dfd: the directory, already handed over. Returns entries changed or
 * the first -errno; *first keeps the first error while the walk goes on. */
static int chown_below(int dfd, dev_t dev, int depth, const struct privdrop_user *u, int *first)
{
	int n = 0;
	if (depth > CHOWN_DEPTH_MAX) {
		if (!*first)
			*first = -ELOOP;
		return 0;
	}
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		if (!*first)
			*first = -errno;
		if (dup_fd >= 0)
			close(dup_fd);
		return 0;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int pfd = openat(dfd, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		int r = 0;
		if (pfd < 0 || fstat(pfd, &st) < 0) {
			r = errno == ENOENT ? 0 : -errno;
		} else if (S_ISREG(st.st_mode) && st.st_nlink == 1) {
			r = chown_fd(pfd, &st, u);
		} else if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
			/* Children first, then the directory: once it is the
			 * user's (mode 0700) root without CAP_DAC_READ_SEARCH
			 * (the agent's unit) could no longer look inside. */
			int sub = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub < 0) {
				r = -errno;
			} else {
				n += chown_below(sub, dev, depth + 1, u, first);
				close(sub);
				r = chown_fd(pfd, &st, u);
			}
		}
		/* Symbolic links, other file systems, devices, FIFOs, sockets
		 * and multiply linked files stay as they are. */
		if (pfd >= 0)
			close(pfd);
		if (r > 0)
			n += r;
		else if (r < 0 && !*first)
			*first = r;
	}
	closedir(d);
	return n;
}

int privdrop_chown_tree(const char *dir, const struct privdrop_user *u)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int first = 0, n = 0;
	if (fstat(fd, &st) < 0) {
		first = -errno;
	} else if (!privdrop_owner_ok(st.st_uid, u)) {
		/* Another user's data: the start checks refuse it first
		 * (startcheck.h); this is the last line of defence. */
		log_debug("privdrop: %s: owned by uid %u, not given to %s", dir, (unsigned)st.st_uid,
			  u->name);
		first = -EPERM;
	} else {
		/* Beneath first, the top last (see chown_below). */
		n = chown_below(fd, st.st_dev, 1, u, &first);
		int r = chown_fd(fd, &st, u);
		if (r < 0 && !first)
			first = r;
		else if (r > 0)
			n += r;
	}
	close(fd);
	log_debug("privdrop: %s: %d entries given to %s", dir, n, u->name);
	return first < 0 ? first : n;
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	if (syscall(SYS_capget, &h, data) < 0)
		return -errno;
	return 0;
}

static int caps_clear(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	int r = caps_get(data);
	if (r < 0)
		return r;
	/* Nothing held (an unprivileged start): no capset, which a unit's
	 * SystemCallFilter=~@privileged would refuse. */
	if (!(data[0].effective | data[0].permitted | data[0].inheritable | data[1].effective |
	      data[1].permitted | data[1].inheritable))
		return 0;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &h, data) < 0)
		return -errno;
	return 0;
}

static int bounding_clear(void)
{
	struct __user_cap_data_struct data[2];
	int r = caps_get(data);
	if (r < 0)
		return r;
	if (!(data[CAP_SETPCAP / 32].effective & (1u << (CAP_SETPCAP % 32)))) {
		log_debug("privdrop: no CAP_SETPCAP: bounding set left as it is");
		return 0;
	}
	/* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability. */
	for (unsigned long c = 0; c < 64; c++) {
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (in < 0)
			break;
		if (in == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

static int verify(const struct privdrop_user *u)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	struct __user_cap_data_struct data[2];
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (u &&
	    (ru != u->uid || eu != u->uid || su != u->uid || rg != u->gid || eg != u->gid || sg != u->gid))
		return -EPERM;
	int r = caps_get(data);
	if (r < 0)
		return r;
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return -EPERM;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return -EPERM;
	/* The saved ids are gone too: root cannot come back. */
	if (u && (setuid(0) == 0 || setgid(0) == 0))
		return -EPERM;
	return 0;
}

int privdrop_apply(const struct privdrop_user *u)
{
	int r = bounding_clear();
	if (r < 0)
		return r;
	/* EINVAL: a kernel before 4.3 has no ambient set. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (u) {
		if (setgroups((size_t)u->ngroups, u->groups) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
		    setresuid(u->uid, u->uid, u->uid) < 0)
			return -errno;
	}
	if ((r = caps_clear()) < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return verify(u);
}
