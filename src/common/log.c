/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Longest line written, prefix and newline included; longer ones are cut. */
#define LOG_LINE_MAX 2048
#define LOG_TRUNC_MARK "..."

/*
 * openlog(3) keeps the ident pointer, so it lives here. Before log_open the
 * ident is the program name and output goes to stderr.
 */
static char log_ident[64];
static bool log_to_stderr = true;
/* In syslog mode, errors are written to stderr as well (issue 16, item 6):
 * a daemon that stops at start must say why where the admin who started
 * it looks, even with no /dev/log (syslog(3) drops silently then). Not
 * when stderr is the journal (systemd's JOURNAL_STREAM names it): the
 * line would be there twice. */
static bool log_err_to_stderr;
static int log_level = LOG_INFO;

static const char *ident(void)
{
	return log_ident[0] ? log_ident : program_invocation_short_name;
}

/* Whether stderr is the journal stream systemd connected: $JOURNAL_STREAM
 * is "DEVICE:INODE" of that stream (systemd.exec(5)). */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(const char *id, bool to_stderr)
{
	if (!log_to_stderr)
		closelog();
	snprintf(log_ident, sizeof(log_ident), "%s", id ? id : "");
	log_to_stderr = to_stderr;
	log_err_to_stderr = !to_stderr && !stderr_is_journal();
	if (!to_stderr)
		openlog(ident(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int max_level)
{
	if (max_level < LOG_EMERG)
		max_level = LOG_EMERG;
	if (max_level > LOG_DEBUG)
		max_level = LOG_DEBUG;
	log_level = max_level;
}

int log_get_level(void)
{
	return log_level;
}

/*
 * Messages often quote peer data (host names, paths, kmsg text): control
 * bytes are replaced by '?' so that one message is always one line and
 * cannot forge another.
 */
static void sanitize(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = '?';
	}
}

void log_msg(int level, const char *fmt, ...)
{
	int saved_errno = errno;
	char line[LOG_LINE_MAX];
	size_t off = 0, room, len;
	bool also_stderr = log_err_to_stderr && level <= LOG_ERR;
	va_list ap;
	int n;

	if (level > log_level) {
		errno = saved_errno;
		return;
	}
	if (log_to_stderr || also_stderr) {
		n = snprintf(line, sizeof(line), "%s: ", ident());
		off = n < 0 ? 0 : (size_t)n;
		if (off > sizeof(line) / 2)
			off = sizeof(line) / 2;
	}
	/* One byte kept for the newline. */
	room = sizeof(line) - off - 1;
	va_start(ap, fmt);
	errno = saved_errno; /* for %m */
	n = vsnprintf(line + off, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(line + off, room, "(bad log format: %s)", fmt);
		len = strlen(line + off);
	} else if ((size_t)n >= room) {
		len = room - 1;
		memcpy(line + off + len - strlen(LOG_TRUNC_MARK), LOG_TRUNC_MARK, strlen(LOG_TRUNC_MARK));
	} else {
		len = (size_t)n;
	}
	sanitize(line + off, len);

	if (log_to_stderr) {
		line[off + len] = '\n';
		len += off + 1;
		/* One write(2) per line, so concurrent writers do not interleave. */
		while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR)
			;
	} else {
		line[off + len] = '\0';
		syslog(level, "%s", line + off);
		if (also_stderr) {
			line[off + len] = '\n';
			while (write(STDERR_FILENO, line, off + len + 1) < 0 && errno == EINTR)
				;
		}
	}
	errno = saved_errno;
}

const char *const log_level_names[] = { "err", "warning", "notice", "info", "debug", NULL };

int log_level_from_index(int i)
{
	static const int values[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };
	return i >= 0 && i < (int)(sizeof(values) / sizeof(values[0])) ? values[i] : LOG_INFO;
}
