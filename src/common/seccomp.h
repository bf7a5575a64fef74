/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * A seccomp-BPF allowlist, written by hand (linux/filter.h and
 * linux/seccomp.h, no libseccomp). The filter checks the architecture
 * first (a call through another ABI, x32 included, gets default_action),
 * then the system call number against the lists. socket() is filtered on
 * its address family: a family not listed fails with EAFNOSUPPORT, as
 * systemd's RestrictAddressFamilies= does, so that glibc's probes (netlink
 * for AI_ADDRCONFIG) fall back instead of killing the process.
 *
 * WARNING: installing is for good and for the whole process (every
 * thread: SECCOMP_FILTER_FLAG_TSYNC); call it after everything that needs
 * a call the list does not have. It needs PR_SET_NO_NEW_PRIVS (set here)
 * or CAP_SYS_ADMIN.
 */

#include <stddef.h>
#include <stdint.h>

/* A system call that fails with an errno instead of the default action:
 * a call the process never needs but a library probes and copes with. */
struct seccomp_errno {
	int nr;
	int err;
};

struct seccomp_policy {
	const int *allow; /* system call numbers allowed as they are */
	size_t nallow;
	const struct seccomp_errno *fail;
	size_t nfail;
	/* socket(): the families allowed; none: socket() gets default_action */
	const int *families;
	size_t nfamilies;
	/* Non-zero: threads may be created, nothing else cloned. clone(2)
	 * is allowed when its flags (argument 0) include CLONE_THREAD, and
	 * gets default_action otherwise (a fork); clone3(2) fails with
	 * ENOSYS, as its flags are behind a pointer the filter cannot read,
	 * and glibc's pthread_create then falls back to clone(2). */
	int threads;
	/* For everything else: SECCOMP_RET_KILL_PROCESS, or
	 * SECCOMP_RET_ERRNO | errno. */
	uint32_t default_action;
};

/* Whether this build knows the architecture's audit number. */
int seccomp_supported(void);

/*
 * Set PR_SET_NO_NEW_PRIVS and install the filter. Returns 0, -EOPNOTSUPP
 * on an architecture this file does not know, -E2BIG if the program would
 * be too long, or -errno from prctl/seccomp.
 */
__attribute__((warn_unused_result)) int seccomp_install(const struct seccomp_policy *p);
