/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "forbidden.h"
#include "landlock.h"
#include "log.h"
#include "notify.h"
#include "privdrop.h"
#include "sandbox.h"
#include "seccomp.h"

/*
 * What the running agent calls, from strace of every path (kmsg, journal,
 * spool growth, overflow and acks, connect with a host name, failover,
 * syslog, sd_notify, SIGTERM drain) on x86_64 and the same calls' names on
 * aarch64. A call missing here kills the agent, so a new code path that
 * needs one must add it (and say why).
 */
static const int agent_calls[] = {
	/* files: the spool, the stream and cursor files, journal files */
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
	/* ioctl: isatty() of stdio, sd_journal's FS_IOC_GETFLAGS probe */
	SYS_ioctl,
	/* memory: malloc, sd_journal's mmap of journal files */
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
	/* the event loop (epoll, timers, signals), the journal's inotify */
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
	SYS_inotify_init1,
	SYS_inotify_add_watch,
	SYS_inotify_rm_watch,
	SYS_rt_sigaction,
	SYS_rt_sigprocmask,
	SYS_rt_sigreturn,
	SYS_sigaltstack,
	/* process: libc locks, exit, abort() (tgkill itself), ids read by libc and libsystemd */
	SYS_futex,
	/* the kmsg reader thread (kreader.h): created after the drop
	 * (clone with CLONE_THREAD only: seccomp_policy.threads); glibc sets
	 * up a new thread with these; the loop's thread leaves the reader's
	 * SCHED_FIFO after creating it (kmsg.reader_priority) */
	SYS_set_robust_list,
	SYS_rseq,
	SYS_sched_setscheduler,
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
	/* libsodium's randombytes (Noise ephemerals, backoff jitter) */
	SYS_getrandom,
	SYS_sysinfo, /* glibc's qsort, also inside libsystemd (SANDBOX.md) */
	/* network: the collector (TCP), DNS (UDP), syslog and sd_notify (AF_UNIX) */
	SYS_connect,
	SYS_sendto,
	SYS_sendmsg,
	SYS_sendmmsg,
	SYS_recvfrom,
	SYS_recvmsg,
	SYS_getsockopt,
	SYS_setsockopt,
	SYS_getsockname,
	SYS_getpeername,
	SYS_shutdown,
	SYS_bind,
#ifdef __x86_64__
	/* the legacy names glibc still uses on x86_64 */
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
#endif
#ifdef KS_SANITIZE_BUILD
	/* ASan, UBSan, LSan: their runtime at exit and in reports (LSan stops
	 * the world with a ptrace-ing clone; reports read /proc/self/maps) */
	SYS_clone,
	SYS_ptrace,
	SYS_wait4,
	SYS_prctl,
	SYS_sched_yield,
	SYS_getppid,
	SYS_sched_getaffinity,
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

static const int agent_families[] = { AF_UNIX, AF_INET, AF_INET6 };

/* Files the agent reaches after the drop besides its own (read only):
 * host identity (sent in each handshake), name resolution of collector
 * host names (glibc NSS: its files and modules), the time zone of log
 * lines. /etc as a whole, not its files one by one: a rule on a file
 * holds its inode, and /etc/hosts, /etc/resolv.conf (resolvconf, DHCP
 * clients, configuration management) and the rest are replaced by
 * rename, after which name resolution failed until a restart (issue 16,
 * item 3). What /etc holds that is secret is root's only (shadow, keys):
 * the agent's user cannot read it anyway. */
static const char *const agent_read_paths[] = {
	"/etc",
	"/usr/share/zoneinfo",
	"/usr/lib",
	"/lib",
};

/* The system journal's directories (sd_journal_open with LOCAL_ONLY|SYSTEM). */
static const char *const journal_dirs[] = { "/var/log/journal", "/run/log/journal" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int enter_landlock(const struct agent_conf *c)
{
	/* state, kmsg, journal dirs, the read paths, the config's
	 * directory, /proc (sanitizers) */
	struct landlock_path p[2 + NELEM(journal_dirs) + NELEM(agent_read_paths) + 2];
	size_t n = 0, missing = 0;
	/* The configuration's directory, for SIGHUP (a directory, as editors
	 * replace the file; the key files in it are the owner's only). */
	static char confdir[4096];
	const char *slash = c->path ? strrchr(c->path, '/') : NULL;
	if (!slash)
		snprintf(confdir, sizeof(confdir), ".");
	else if (slash == c->path)
		snprintf(confdir, sizeof(confdir), "/");
	else
		snprintf(confdir, sizeof(confdir), "%.*s", (int)(slash - c->path), c->path);
	p[n++] = (struct landlock_path){ c->state_dir, LANDLOCK_RW };
	p[n++] = (struct landlock_path){ c->kmsg_path, LANDLOCK_R };
	if (c->journal_enable && c->journal_directory) {
		p[n++] = (struct landlock_path){ c->journal_directory, LANDLOCK_R };
	} else if (c->journal_enable) {
		for (size_t i = 0; i < NELEM(journal_dirs); i++)
			p[n++] = (struct landlock_path){ journal_dirs[i], LANDLOCK_R };
	}
	for (size_t i = 0; i < NELEM(agent_read_paths); i++)
		p[n++] = (struct landlock_path){ agent_read_paths[i], LANDLOCK_R };
	p[n++] = (struct landlock_path){ confdir, LANDLOCK_R };
#ifdef KS_SANITIZE_BUILD
	p[n++] = (struct landlock_path){ "/proc", LANDLOCK_R };
#endif
	int r = landlock_restrict(p, n, &missing);
	if (r == -EOPNOTSUPP && c->landlock_required) {
		log_err("sandbox: Landlock unavailable (%s) and landlock = \"required\" in %s",
			landlock_unavailable_why(), c->path);
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
	log_debug("sandbox: landlock ABI %d, %zu paths (%zu absent)", r, n - missing, missing);
	return r;
}

int agent_sandbox_enter(const struct agent_conf *c)
{
	struct privdrop_user u;
	bool root = geteuid() == 0;
	int r;
	/* The service manager's socket is connected while privileged. */
	if ((r = notify_open()) < 0)
		log_warn("NOTIFY_SOCKET: %s; not notifying the service manager", strerror(-r));
	if (root) {
		if ((r = privdrop_lookup(c->user, &u)) < 0) {
			if (r == -ESRCH)
				log_err("user %s: no such user (create it: systemd-sysusers, or set user in "
					"the configuration)",
					c->user);
			else if (r == -EPERM)
				log_err("user %s: is root; the agent must run as an unprivileged user",
					c->user);
			else
				log_err("user %s: %s", c->user, strerror(-r));
			return r;
		}
		/* The journal input follows journald's new files, which
		 * are readable by group systemd-journal: keep that group. */
		struct group *jg = c->journal_enable ? getgrnam("systemd-journal") : NULL;
		if (jg && u.ngroups < PRIVDROP_GROUPS_MAX)
			u.groups[u.ngroups++] = jg->gr_gid;
		else if (c->journal_enable)
			log_notice("journal: no group systemd-journal; journal files created after the "
				   "start may be unreadable to %s",
				   u.name);
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
	int ll = enter_landlock(c);
	if (ll < 0)
		return ll;
	struct seccomp_policy pol = {
		.allow = agent_calls,
		.nallow = NELEM(agent_calls),
		.families = agent_families,
		.nfamilies = NELEM(agent_families),
		.default_action = SECCOMP_RET_KILL_PROCESS,
		.threads = 1, /* the kmsg reader thread (kreader.h), started after this */
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
		 r == 0 ? "on" : "off", NELEM(agent_calls));
#ifdef KS_TEST_HOOKS
	if (forbidden_try() < 0)
		log_err("KS_TEST_FORBIDDEN: unknown name");
#endif
	return 0;
}
