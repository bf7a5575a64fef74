/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"

/* Rights newer than the headers of the build host (Debian 12: Linux 6.1). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_EXEC LANDLOCK_ACCESS_FS_EXECUTE
#define FS_WRITE                                                                                          \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REFER |           \
	 LANDLOCK_ACCESS_FS_TRUNCATE)
/* Rights that apply to a file itself (a rule on a file may only name these). */
#define FS_FILE                                                                                      \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
	 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* Everything the process gives up, by ABI: all the rights that version knows. */
static uint64_t handled_for(int abi)
{
	uint64_t h = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return h;
}

static const char *unavailable_why;

const char *landlock_unavailable_why(void)
{
	return unavailable_why;
}

int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	unavailable_why = NULL;
	if (v >= 0)
		return (int)v;
	if (errno == ENOSYS || errno == EOPNOTSUPP) {
		unavailable_why = "this kernel has no Landlock or has it disabled";
		return -EOPNOTSUPP;
	}
	/* The version query needs no privilege: EPERM can only come from a
	 * system-call filter (a container manager's), which forbids the
	 * other Landlock calls as well. */
	if (errno == EPERM) {
		unavailable_why = "Landlock refused by a system-call filter (a container's?)";
		return -EOPNOTSUPP;
	}
	return -errno;
}

int landlock_restrict(const struct landlock_path *paths, size_t n, size_t *ret_missing)
{
	int abi = landlock_abi();
	if (abi < 0)
		return abi;
	uint64_t handled = handled_for(abi);
	struct landlock_ruleset_attr ra = { .handled_access_fs = handled };
	int rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra), 0);
	if (rs < 0)
		return -errno;
	int r = 0;
	size_t missing = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		int fd = open(paths[i].path, O_PATH | O_CLOEXEC);
		struct stat st;
		if (fd < 0) {
			if (errno == ENOENT) {
				missing++;
				continue;
			}
			r = -errno;
			break;
		}
		uint64_t acc = 0;
		if (paths[i].access & LANDLOCK_R)
			acc |= FS_READ;
		if (paths[i].access & LANDLOCK_W)
			acc |= FS_WRITE;
		if (paths[i].access & LANDLOCK_X)
			acc |= FS_EXEC;
		if (fstat(fd, &st) < 0)
			r = -errno;
		else if (!S_ISDIR(st.st_mode))
			acc &= FS_FILE;
		/* A device's ioctls: none of ours needs one. */
		acc &= handled & ~(uint64_t)LANDLOCK_ACCESS_FS_IOCTL_DEV;
		struct landlock_path_beneath_attr pb = { .allowed_access = acc, .parent_fd = fd };
		if (r == 0 && acc &&
		    syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			r = -errno;
		close(fd);
	}
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = -errno;
	if (r == 0 && syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		r = -errno;
	close(rs);
	if (r < 0)
		return r;
	if (ret_missing)
		*ret_missing = missing;
	return abi;
}
