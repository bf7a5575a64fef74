/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "durable.h"

/* A blocking fd is assumed; on a non-blocking one -EAGAIN may be returned mid-way. */
int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* write(2) of a non-zero length never returns 0; do not spin if it does. */
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The temporary file "PATH.tmp.XXXXXX" sits next to the target so that the
 * rename stays within one file system. It is unlinked on every failure
 * before the rename; after the rename only fsync_parent can fail, and then
 * the new content is in place but its durability is unknown.
 */
int durable_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	static const char suffix[] = ".tmp.XXXXXX";
	size_t plen = strlen(path);
	char *tmp;
	int fd, r = 0;

	tmp = malloc(plen + sizeof(suffix));
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, suffix, sizeof(suffix));

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	if (fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0)
		r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	/* close can report a deferred write error (NFS): it counts. */
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	return fsync_parent(path);
}

/* buf's content is unspecified on failure. */
ssize_t read_file(const char *path, void *buf, size_t cap)
{
	char *p = buf;
	size_t got = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* Read until EOF rather than trusting st_size (/proc, /sys files). */
	for (;;) {
		char probe;
		ssize_t n;

		if (got < cap)
			n = read(fd, p + got, cap - got);
		else
			n = read(fd, &probe, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if (got == cap) {
			r = -EFBIG;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	return r < 0 ? r : (ssize_t)got;
}

int fsync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* "a/b/c" -> "a/b", "a/b/" -> "a", "c" -> ".", "/c" -> "/". */
int fsync_parent(const char *path)
{
	size_t n = strlen(path);
	char *dir;
	int r;

	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	/* n is now the length up to and including the last '/', or 0. */
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0)
		return fsync_dir(".");
	dir = strndup(path, n);
	if (!dir)
		return -ENOMEM;
	r = fsync_dir(dir);
	free(dir);
	return r;
}

/* A component that mkdir refuses but that exists as a directory is fine. */
static int mkdir_one(const char *path, mode_t mode)
{
	struct stat st;
	int saved;

	if (mkdir(path, mode) == 0)
		return 0;
	saved = errno;
	if (stat(path, &st) < 0)
		return -saved;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Created directories get mode (minus the umask); existing ones are left as they are. */
int mkdir_p(const char *path, mode_t mode)
{
	char *p;
	int r = 0;

	if (!path[0])
		return -EINVAL;
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s && r == 0; s++) {
		if (*s != '/' || s[-1] == '/')
			continue;
		*s = '\0';
		r = mkdir_one(p, mode);
		*s = '/';
	}
	if (r == 0)
		r = mkdir_one(p, mode);
	free(p);
	return r;
}
