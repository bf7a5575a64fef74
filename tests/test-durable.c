/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "check.h"
#include "durable.h"

static char tmpdir[64];

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

/* Number of entries in dir other than "." and ".."; -1 if it cannot be read. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int no_temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp."))
			found++;
	closedir(d);
	return found == 0;
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

static void test_replace(void)
{
	char path[128], buf[64];

	path_in(path, sizeof(path), "state");
	CHECK_EQ_INT(durable_replace(path, "hello", 5, 0600), 0);
	CHECK_EQ_INT(read_file(path, buf, sizeof(buf)), 5);
	CHECK_EQ_MEM(buf, "hello", 5);
	CHECK_EQ_INT(file_mode(path), 0600);

	CHECK_EQ_INT(durable_replace(path, "replaced!", 9, 0640), 0);
	CHECK_EQ_INT(read_file(path, buf, sizeof(buf)), 9);
	CHECK_EQ_MEM(buf, "replaced!", 9);
	CHECK_EQ_INT(file_mode(path), 0640);

	/* Shorter content: the old tail must not survive. */
	CHECK_EQ_INT(durable_replace(path, "ab", 2, 0600), 0);
	CHECK_EQ_INT(read_file(path, buf, sizeof(buf)), 2);
	CHECK_EQ_MEM(buf, "ab", 2);

	CHECK_EQ_INT(durable_replace(path, "", 0, 0600), 0);
	CHECK_EQ_INT(read_file(path, buf, sizeof(buf)), 0);

	CHECK(no_temp_files(tmpdir));
	CHECK_EQ_INT(count_entries(tmpdir), 1);
	CHECK_EQ_INT(unlink(path), 0);
}

static void test_replace_fail(void)
{
	char path[128], dir[128];

	path_in(path, sizeof(path), "missing/state");
	CHECK_EQ_INT(durable_replace(path, "x", 1, 0600), -ENOENT);
	CHECK_EQ_INT(count_entries(tmpdir), 0);

	/* The target is a non-empty directory: rename fails, the temp file must go. */
	path_in(dir, sizeof(dir), "isdir");
	CHECK_EQ_INT(mkdir(dir, 0700), 0);
	path_in(path, sizeof(path), "isdir/x");
	CHECK_EQ_INT(mkdir(path, 0700), 0);
	CHECK_EQ_INT(durable_replace(dir, "x", 1, 0600), -EISDIR);
	CHECK(no_temp_files(tmpdir));
	CHECK_EQ_INT(count_entries(tmpdir), 1);
	CHECK_EQ_INT(rmdir(path), 0);
	CHECK_EQ_INT(rmdir(dir), 0);
}

static void test_read_file(void)
{
	char path[128], buf[16];

	path_in(path, sizeof(path), "f");
	CHECK_EQ_INT(durable_replace(path, "0123456789", 10, 0600), 0);
	CHECK_EQ_INT(read_file(path, buf, 10), 10);
	CHECK_EQ_MEM(buf, "0123456789", 10);
	CHECK_EQ_INT(read_file(path, buf, 9), -EFBIG);
	CHECK_EQ_INT(read_file(path, buf, 0), -EFBIG);
	CHECK_EQ_INT(read_file(tmpdir, buf, sizeof(buf)), -EISDIR);
	path_in(path, sizeof(path), "nope");
	CHECK_EQ_INT(read_file(path, buf, sizeof(buf)), -ENOENT);
	path_in(path, sizeof(path), "f");
	CHECK_EQ_INT(unlink(path), 0);
}

static void test_pread_all(void)
{
	char path[128], buf[8];
	int fd;

	path_in(path, sizeof(path), "p");
	CHECK_EQ_INT(durable_replace(path, "abcdefgh", 8, 0600), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ_INT(pread_all(fd, buf, 3, 2), 0);
	CHECK_EQ_MEM(buf, "cde", 3);
	CHECK_EQ_INT(pread_all(fd, buf, 4, 6), -ENODATA);
	CHECK_EQ_INT(pread_all(-1, buf, 1, 0), -EBADF);
	close(fd);
	CHECK_EQ_INT(unlink(path), 0);
}

static void test_fsync(void)
{
	char path[128];

	CHECK_EQ_INT(fsync_dir(tmpdir), 0);
	path_in(path, sizeof(path), "g");
	CHECK_EQ_INT(durable_replace(path, "g", 1, 0600), 0);
	CHECK_EQ_INT(fsync_dir(path), -ENOTDIR);
	CHECK_EQ_INT(fsync_parent(path), 0);
	CHECK_EQ_INT(fsync_parent("relative-name"), 0);
	CHECK_EQ_INT(fsync_parent("/"), 0);
	CHECK_EQ_INT(unlink(path), 0);
	path_in(path, sizeof(path), "missing/x");
	CHECK_EQ_INT(fsync_parent(path), -ENOENT);
}

static void test_mkdir_p(void)
{
	char path[128], file[128];
	struct stat st;

	path_in(path, sizeof(path), "a/b//c/d");
	CHECK_EQ_INT(mkdir_p(path, 0700), 0);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	/* Existing directories are fine. */
	CHECK_EQ_INT(mkdir_p(path, 0700), 0);
	path_in(path, sizeof(path), "a/b/e/");
	CHECK_EQ_INT(mkdir_p(path, 0700), 0);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ_INT(mkdir_p("", 0700), -EINVAL);

	path_in(file, sizeof(file), "a/file");
	CHECK_EQ_INT(durable_replace(file, "x", 1, 0600), 0);
	CHECK_EQ_INT(mkdir_p(file, 0700), -ENOTDIR);
	path_in(path, sizeof(path), "a/file/sub");
	CHECK_EQ_INT(mkdir_p(path, 0700), -ENOTDIR);

	CHECK_EQ_INT(unlink(file), 0);
	for (const char *const *p = (const char *const[]){ "a/b/c/d", "a/b/c", "a/b/e", "a/b", "a", NULL };
	     *p; p++) {
		path_in(path, sizeof(path), *p);
		CHECK_EQ_INT(rmdir(path), 0);
	}
}

static volatile sig_atomic_t alarms;

/*
 * Interrupts are capped: under valgrind a signal can cost more than the
 * interval, and an endless stream of them would livelock the writer.
 */
static void on_alarm(int sig)
{
	static const struct itimerval off;

	if (++alarms >= 200)
		setitimer(ITIMER_REAL, &off, NULL);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 9));
}

/*
 * 4 MiB through a pipe (64 KiB buffer) to a child that starts late and
 * reads in small pieces, while an interval timer without SA_RESTART
 * interrupts the writes: short writes and EINTR both happen. The child
 * checks every byte.
 */
#define PIPE_BYTES (4u << 20)
static void test_write_all_pipe(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_interval = { 0, 2000 }, .it_value = { 0, 2000 } };
	struct itimerval off = { 0 };
	uint8_t *buf = malloc(PIPE_BYTES);
	int p[2], status = -1;
	pid_t pid;

	CHECK(buf != NULL);
	if (!buf)
		return;
	for (size_t i = 0; i < PIPE_BYTES; i++)
		buf[i] = pattern(i);
	CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		uint8_t in[3000];
		size_t got = 0;
		int bad = 0;

		close(p[1]);
		usleep(20000);
		for (;;) {
			ssize_t n = read(p[0], in, sizeof(in));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			for (ssize_t k = 0; k < n; k++)
				bad |= in[k] != pattern(got + (size_t)k);
			got += (size_t)n;
		}
		free(buf);
		_exit(bad || got != PIPE_BYTES ? 1 : 0);
	}
	close(p[0]);
	CHECK_EQ_INT(sigaction(SIGALRM, &sa, NULL), 0);
	CHECK_EQ_INT(setitimer(ITIMER_REAL, &it, NULL), 0);
	CHECK_EQ_INT(write_all(p[1], buf, PIPE_BYTES), 0);
	CHECK_EQ_INT(setitimer(ITIMER_REAL, &off, NULL), 0);
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	signal(SIGALRM, SIG_DFL);

	/* A closed reader: -EPIPE (SIGPIPE ignored), not a hang or a crash. */
	signal(SIGPIPE, SIG_IGN);
	CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	CHECK_EQ_INT(write_all(p[1], buf, 10), -EPIPE);
	close(p[1]);
	free(buf);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-durable.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_replace();
	test_replace_fail();
	test_read_file();
	test_pread_all();
	test_fsync();
	test_mkdir_p();
	test_write_all_pipe();
	CHECK_EQ_INT(count_entries(tmpdir), 0);
	CHECK_EQ_INT(rmdir(tmpdir), 0);
	return CHECK_DONE();
}
