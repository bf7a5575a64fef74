/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "forbidden.h"
#include "landlock.h"
#include "log.h"
#include "privdrop.h"
#include "sandbox.h"
#include "seccomp.h"

/*
 * What the running collector calls, from strace (accepts, handshakes,
 * batches, group commits, new hosts, retention, SIGHUP reload with
 * clients_dir, syslog, sd_notify, SIGTERM). A call missing here kills the
 * collector: a new code path that needs one must add it (and say why).
 */
static const int collector_calls[] = {
	/* files: journals, indexes, replay counters, the config on reload */
	SYS_read,
	SYS_write,
	SYS_readv,
	SYS_writev,
	SYS_pread64,
	SYS_pwrite64,
	SYS_lseek,
	SYS_close,
	SYS_openat,
	SYS_fstat,
	SYS_newfstatat,
	SYS_statx,
	SYS_fstatfs,
	SYS_fsync,
	SYS_fdatasync,
	SYS_sync_file_range,
	SYS_ftruncate,
	SYS_fallocate,
	SYS_fchmod,
	SYS_renameat,
	SYS_renameat2,
	SYS_unlinkat,
	SYS_mkdirat,
	SYS_getdents64,
	SYS_fcntl,
	SYS_dup,
	SYS_dup3,
	SYS_readlinkat,
	SYS_faccessat,
	SYS_faccessat2,
	SYS_flock,
	/* ioctl: isatty() of stdio */
	SYS_ioctl,
	/* memory */
	SYS_mmap,
	SYS_munmap,
	SYS_mremap,
	SYS_mprotect,
	SYS_brk,
	SYS_madvise,
	/* time */
	SYS_clock_gettime,
	SYS_clock_getres,
	SYS_gettimeofday,
	SYS_nanosleep,
	SYS_clock_nanosleep,
	/* the event loop */
	SYS_epoll_create1,
	SYS_epoll_ctl,
	SYS_epoll_pwait,
	SYS_epoll_pwait2,
	SYS_timerfd_create,
	SYS_timerfd_settime,
	SYS_timerfd_gettime,
	SYS_signalfd4,
	SYS_eventfd2,
	SYS_ppoll,
	SYS_rt_sigaction,
	SYS_rt_sigprocmask,
	SYS_rt_sigreturn,
	SYS_sigaltstack,
	/* process */
	SYS_futex,
	SYS_exit,
	SYS_exit_group,
	SYS_restart_syscall,
	SYS_getpid,
	SYS_gettid,
	SYS_tgkill,
	SYS_getuid,
	SYS_geteuid,
	SYS_getgid,
	SYS_getegid,
	SYS_getresuid,
	SYS_getresgid,
	SYS_uname,
	/* libsodium's randombytes (Noise ephemerals) */
	SYS_getrandom,
	/* glibc's qsort asks for the memory size (sysconf(_SC_PHYS_PAGES))
	 * the first time it sorts more than 1 KiB: the segments of a host
	 * with more than 42 of them, when it is opened after the sandbox is
	 * in place (tests/integration/test-many-segments.sh) */
	SYS_sysinfo,
	/* network: agents (accept4, TCP), syslog and sd_notify (AF_UNIX) */
	SYS_accept4,
	SYS_connect,
	SYS_sendto,
	SYS_sendmsg,
	SYS_recvfrom,
	SYS_recvmsg,
	SYS_getsockopt,
	SYS_setsockopt,
	SYS_getsockname,
	SYS_getpeername,
	SYS_shutdown,
#ifdef __x86_64__
	SYS_open,
	SYS_stat,
	SYS_lstat,
	SYS_poll,
	SYS_epoll_wait,
	SYS_rename,
	SYS_unlink,
	SYS_mkdir,
	SYS_access,
	SYS_readlink,
	SYS_dup2,
	SYS_arch_prctl,
	SYS_time,
	SYS_accept,
#endif
#ifdef KS_SANITIZE_BUILD
	/* ASan, UBSan, LSan at exit and in reports (see src/agent/sandbox.c) */
	SYS_clone,
	SYS_ptrace,
	SYS_wait4,
	SYS_prctl,
	SYS_sched_yield,
	SYS_getppid,
	SYS_sched_getaffinity,
	SYS_set_robust_list,
	SYS_rt_sigtimedwait,
	SYS_getrlimit,
	SYS_prlimit64,
	SYS_kill,
	SYS_pipe2,
#ifdef __x86_64__
	SYS_pipe,
	SYS_getdents,
#endif
#endif
};

/* AF_UNIX only for syslog(3): its listening sockets exist already and an
 * accepted socket is not created by socket(2). */
static const int collector_families[] = { AF_UNIX };

/* Forwarding to NATS (forward.h, when configured): libnats's threads
 * (clone3, or clone where it is missing), its TCP connections to the
 * servers, made again after a disconnection (socket, connect, poll), and
 * name lookups of their URLs. */
static const int nats_calls[] = {
	SYS_clone, SYS_clone3,	 SYS_set_robust_list, SYS_rseq,	 SYS_sched_yield,
	SYS_bind,  SYS_sendmmsg, SYS_pipe2,	      SYS_prctl,
};
static const int nats_families[] = { AF_UNIX, AF_INET, AF_INET6 };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int enter_landlock(const struct collector_conf *c, const char *conf_path)
{
	/* The configuration's directory, not the file: a rule on a file
	 * holds its inode, and configuration management replaces the file
	 * (rename, sed -i, cp then mv) before SIGHUP (issue 16, item 3). The
	 * default clients_dir is beneath it, so enabling it or adding a key
	 * there works on reload too. */
	static char confdir[4096];
	const char *slash = strrchr(conf_path, '/');
	if (!slash)
		snprintf(confdir, sizeof(confdir), ".");
	else if (slash == conf_path)
		snprintf(confdir, sizeof(confdir), "/");
	else
		snprintf(confdir, sizeof(confdir), "%.*s", (int)(slash - conf_path), conf_path);
	struct landlock_path p[] = {
		{ c->state_dir, LANDLOCK_RW },
		{ confdir, LANDLOCK_R },
		{ c->clients_dir ? c->clients_dir : confdir, LANDLOCK_R },
		{ "/etc/localtime", LANDLOCK_R },
		{ "/usr/share/zoneinfo", LANDLOCK_R },
		/* forwarding: name lookups of the NATS servers, its key files */
		{ c->forward.enabled ? "/etc/hosts" : conf_path, LANDLOCK_R },
		{ c->forward.enabled ? "/etc/resolv.conf" : conf_path, LANDLOCK_R },
		{ c->forward.enabled ? "/etc/nsswitch.conf" : conf_path, LANDLOCK_R },
		{ c->forward.enabled ? "/etc/gai.conf" : conf_path, LANDLOCK_R },
		{ c->forward.enabled ? "/etc/host.conf" : conf_path, LANDLOCK_R },
		{ c->forward.enabled ? "/usr/lib/ssl" : conf_path, LANDLOCK_R }, /* OpenSSL's defaults */
		{ c->forward.creds_file ? c->forward.creds_file : conf_path, LANDLOCK_R },
		{ c->forward.nkey_seed_file ? c->forward.nkey_seed_file : conf_path, LANDLOCK_R },
		{ c->forward.tls_ca_file ? c->forward.tls_ca_file : conf_path, LANDLOCK_R },
		{ c->forward.tls_cert_file ? c->forward.tls_cert_file : conf_path, LANDLOCK_R },
		{ c->forward.tls_key_file ? c->forward.tls_key_file : conf_path, LANDLOCK_R },
#ifdef KS_SANITIZE_BUILD
		{ "/proc", LANDLOCK_R },
#endif
	};
	size_t missing = 0;
	int r = landlock_restrict(p, NELEM(p), &missing);
	if (r == -EOPNOTSUPP && c->landlock_required) {
		log_err("sandbox: Landlock unavailable (%s) and landlock = \"required\" in %s",
			landlock_unavailable_why(), conf_path);
		return r;
	}
	if (r == -EOPNOTSUPP) {
		log_warn("sandbox: Landlock unavailable (%s); files are limited by the user only",
			 landlock_unavailable_why());
		return 0;
	}
	if (r < 0) {
		log_err("sandbox: landlock: %s", strerror(-r));
		return r;
	}
	log_debug("sandbox: landlock ABI %d, %zu paths (%zu absent)", r, NELEM(p) - missing, missing);
	return r;
}

int collector_sandbox_enter(const struct collector_conf *c, const char *conf_path)
{
	struct privdrop_user u;
	bool root = geteuid() == 0;
	int r;
	if (root) {
		if ((r = privdrop_lookup(c->user, &u)) < 0) {
			if (r == -ESRCH)
				log_err("user %s: no such user (create it: systemd-sysusers, or set user in "
					"the configuration)",
					c->user);
			else if (r == -EPERM)
				log_err("user %s: is root; the collector must run as an unprivileged user",
					c->user);
			else
				log_err("user %s: %s", c->user, strerror(-r));
			return r;
		}
		if ((r = privdrop_chown_tree(c->state_dir, &u)) < 0) {
			log_err("state directory %s: giving it to %s: %s", c->state_dir, u.name,
				strerror(-r));
			return r;
		}
	} else {
		log_debug("sandbox: not started as root (uid %u): no user switch, dropping capabilities only",
			  (unsigned)getuid());
	}
	if ((r = privdrop_apply(root ? &u : NULL)) < 0) {
		log_err("drop privileges%s%s: %s", root ? " to " : "", root ? u.name : "", strerror(-r));
		return r;
	}
	int ll = enter_landlock(c, conf_path);
	if (ll < 0)
		return ll;
	int calls[NELEM(collector_calls) + NELEM(nats_calls)];
	size_t ncalls = NELEM(collector_calls);
	memcpy(calls, collector_calls, sizeof(collector_calls));
	if (c->forward.enabled) {
		memcpy(calls + ncalls, nats_calls, sizeof(nats_calls));
		ncalls += NELEM(nats_calls);
	}
	struct seccomp_policy pol = {
		.allow = calls,
		.nallow = ncalls,
		.families = c->forward.enabled ? nats_families : collector_families,
		.nfamilies = c->forward.enabled ? NELEM(nats_families) : NELEM(collector_families),
		.default_action = SECCOMP_RET_KILL_PROCESS,
	};
	r = seccomp_install(&pol);
	if (r == -EOPNOTSUPP) {
		log_warn("sandbox: no seccomp filter for this architecture");
	} else if (r < 0) {
		log_err("sandbox: seccomp: %s", strerror(-r));
		return r;
	}
	log_info("sandbox: running as %s (uid %u), no capabilities, %s, seccomp %s (%zu calls)",
		 root ? u.name : "the starting user", (unsigned)getuid(), ll > 0 ? "landlock" : "no landlock",
		 r == 0 ? "on" : "off", ncalls);
#ifdef KS_TEST_HOOKS
	if (forbidden_try() < 0)
		log_err("KS_TEST_FORBIDDEN: unknown name");
#endif
	return 0;
}
