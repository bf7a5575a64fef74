/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pager.h"

static pid_t pager_pid;
static int saved_stderr = -1;

static bool term_dumb(void)
{
	const char *t = getenv("TERM");
	return !t || strcmp(t, "dumb") == 0;
}

/* 1 true, 0 false, -1 not a boolean. */
static int parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on", "16", "256", "24bit" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}

bool pager_color(void)
{
	const char *e = getenv("SYSTEMD_COLORS");
	int b = e ? parse_bool(e) : -1;
	if (b >= 0)
		return b;
	if (getenv("NO_COLOR"))
		return false;
	return !term_dumb() && isatty(STDOUT_FILENO);
}

/* Split s into words in place (blanks separate; '' and "" quote). */
static size_t split_words(char *s, char **argv, size_t max)
{
	size_t n = 0;
	while (*s && n + 1 < max) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		argv[n++] = s;
		char *out = s;
		char quote = 0;
		while (*s && (quote || (*s != ' ' && *s != '\t'))) {
			if (!quote && (*s == '\'' || *s == '"')) {
				quote = *s++;
				continue;
			}
			if (quote && *s == quote) {
				quote = 0;
				s++;
				continue;
			}
			*out++ = *s++;
		}
		if (*s)
			s++;
		*out = '\0';
	}
	argv[n] = NULL;
	return n;
}

static bool jump_to_end;

void pager_jump_to_end(void)
{
	jump_to_end = true;
}

static void run_pager(const char *pager)
{
	const char *less = getenv("SYSTEMD_LESS");
	char opts[512];
	/* -e: as journalctl, less starts at the end (+G). */
	snprintf(opts, sizeof(opts), "%s%s", less ? less : "FRSXMK", jump_to_end ? " +G" : "");
	setenv("LESS", opts, 1);
	const char *cs = getenv("SYSTEMD_LESSCHARSET");
	if (cs)
		setenv("LESSCHARSET", cs, 1);
	else if (strcmp(nl_langinfo(CODESET), "UTF-8") == 0)
		setenv("LESSCHARSET", "utf-8", 1);
	if (pager) {
		char *copy = strdup(pager);
		char *argv[64];
		if (copy && split_words(copy, argv, 64) > 0)
			execvp(argv[0], argv);
	}
	execlp("pager", "pager", (char *)NULL);
	execlp("less", "less", (char *)NULL);
	execlp("more", "more", (char *)NULL);
	/* No pager at all: pass the output through. */
	char buf[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			break;
	_exit(0);
}

int pager_open(void)
{
	if (pager_pid > 0 || !isatty(STDOUT_FILENO) || term_dumb())
		return 0;
	const char *pager = getenv("SYSTEMD_PAGER");
	if (!pager)
		pager = getenv("PAGER");
	if (pager && (pager[strspn(pager, " \t")] == '\0' || strcmp(pager, "cat") == 0))
		return 0;
	int fd[2];
	if (pipe2(fd, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(fd[0]);
		close(fd[1]);
		return r;
	}
	if (pid == 0) {
		if (dup2(fd[0], STDIN_FILENO) < 0)
			_exit(1);
		run_pager(pager);
		_exit(1);
	}
	if (dup2(fd[1], STDOUT_FILENO) < 0) {
		int r = -errno;
		close(fd[0]);
		close(fd[1]);
		return r;
	}
	if (isatty(STDERR_FILENO)) {
		saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (saved_stderr >= 0)
			(void)dup2(fd[1], STDERR_FILENO);
	}
	close(fd[0]);
	close(fd[1]);
	pager_pid = pid;
	return 0;
}

void pager_close(void)
{
	if (pager_pid <= 0)
		return;
	fflush(stdout);
	fflush(stderr);
	close(STDOUT_FILENO);
	if (saved_stderr >= 0) {
		(void)dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		saved_stderr = -1;
	}
	while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
		;
	pager_pid = 0;
}
