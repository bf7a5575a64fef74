/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>

#include "forbidden.h"
#include "log.h"

#ifndef AF_PACKET
#define AF_PACKET 17
#endif

int forbidden_try(void)
{
	const char *what = getenv("KS_TEST_FORBIDDEN");
	int r = 0;
	if (!what || !*what)
		return 0;
	if (strcmp(what, "open_etc_shadow") == 0 || strcmp(what, "open_etc_passwd") == 0) {
		int fd = open(what[9] == 's' ? "/etc/shadow" : "/etc/passwd", O_RDONLY | O_CLOEXEC);
		r = fd < 0 ? -errno : 0;
		if (fd >= 0)
			close(fd);
	} else if (strcmp(what, "open_usr_bin_env") == 0) {
		int fd = open("/usr/bin/env", O_RDONLY | O_CLOEXEC);
		r = fd < 0 ? -errno : 0;
		if (fd >= 0)
			close(fd);
	} else if (strcmp(what, "socket_packet") == 0 || strcmp(what, "socket_netlink") == 0) {
		int fd = what[7] == 'p' ? socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)
					: socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
		r = fd < 0 ? -errno : 0;
		if (fd >= 0)
			close(fd);
	} else if (strcmp(what, "execve") == 0) {
		char *const argv[] = { (char *)"true", NULL };
		execve("/bin/true", argv, NULL);
		r = -errno;
	} else if (strcmp(what, "setuid") == 0) {
		r = setuid(0) < 0 ? -errno : 0;
	} else if (strcmp(what, "fork") == 0) {
		/* clone without CLONE_THREAD: only threads may be created. */
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		r = p < 0 ? -errno : 0;
	} else if (strcmp(what, "clone3") == 0) {
		/* Its flags are out of the filter's reach: ENOSYS. */
		struct clone_args ca = { .exit_signal = SIGCHLD };
		long p = syscall(SYS_clone3, &ca, sizeof(ca));
		if (p == 0)
			_exit(0);
		r = p < 0 ? -errno : 0;
	} else if (strcmp(what, "ptrace") == 0) {
		r = ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0 ? -errno : 0;
	} else {
		return -EINVAL;
	}
	log_debug("forbidden %s: %s", what, r == 0 ? "ok" : strerror(-r));
	return 0;
}
