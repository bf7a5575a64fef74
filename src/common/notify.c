/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

/* Longest message sent; STATUS lines are well under it. */
#define NOTIFY_MSG_MAX 1024

static int notify_fd = -1;
static uint64_t watchdog_usec;

/* $WATCHDOG_USEC applies to this process if $WATCHDOG_PID is unset or ours. */
static uint64_t watchdog_from_env(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	if (!us || !*us)
		return 0;
	errno = 0;
	unsigned long long v = strtoull(us, &end, 10);
	if (errno || *end || v == 0)
		return 0;
	if (pid && *pid) {
		unsigned long long p = strtoull(pid, &end, 10);
		if (*end || p != (unsigned long long)getpid())
			return 0;
	}
	return v;
}

int notify_open(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	notify_close();
	if (!e || !*e)
		return 0;
	struct sockaddr_un notify_addr;
	socklen_t notify_len;
	size_t len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len >= sizeof(notify_addr.sun_path))
		return -EAFNOSUPPORT;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, e, len);
	if (e[0] == '@')
		notify_addr.sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (e[0] == '/'));
	/* Connected now, while the daemon may still be root: the socket
	 * file's permission is checked here, not at each send, so the
	 * sandboxed daemon needs neither access to its path nor socket(). */
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0)
		return -errno;
	if (connect(notify_fd, (struct sockaddr *)&notify_addr, notify_len) < 0) {
		int r = -errno;
		notify_close();
		return r;
	}
	watchdog_usec = watchdog_from_env();
	log_debug("notify: socket %s, watchdog %llu us", e, (unsigned long long)watchdog_usec);
	return 1;
}

/* Appended to every STATUS= line until changed (notify_status_note). */
static char status_note[256];

void notify_status_note(const char *note)
{
	snprintf(status_note, sizeof(status_note), "%s", note ? note : "");
}

int notify_send(const char *msg)
{
	char buf[NOTIFY_MSG_MAX + sizeof(status_note)];
	if (notify_fd < 0)
		return 0;
	/* The note goes at the end of the STATUS= line, wherever it is. */
	const char *st = status_note[0] ? strstr(msg, "STATUS=") : NULL;
	if (st && (st == msg || st[-1] == '\n')) {
		const char *nl = strchr(st, '\n');
		size_t end = nl ? (size_t)(nl - msg) : strlen(msg);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)end, msg, status_note, msg + end);
		msg = buf;
	}
	ssize_t n;
	do
		n = send(notify_fd, msg, strlen(msg), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int r = -errno;
		log_debug("notify: %s", strerror(-r));
		return r;
	}
	return 0;
}

int notify_sendf(const char *fmt, ...)
{
	char buf[NOTIFY_MSG_MAX];
	va_list ap;
	if (notify_fd < 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return notify_send(buf);
}

bool notify_active(void)
{
	return notify_fd >= 0;
}

uint64_t notify_watchdog_usec(void)
{
	return notify_fd < 0 ? 0 : watchdog_usec;
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	watchdog_usec = 0;
}
