/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * Durable file writes, redis aof style: a file is replaced by writing a
 * temporary file in the same directory, writing all of it, fsync, rename
 * over the target, fsync the directory. After durable_replace returns 0 the
 * new content survives a crash; before, the old content does.
 */

#include <stddef.h>
#include <sys/types.h>

/* write(2) until everything is written, retrying EINTR. 0 or -errno. */
__attribute__((warn_unused_result)) int write_all(int fd, const void *buf, size_t len);
/* pread(2) exactly len bytes. Returns 0, -ENODATA on a short file, or -errno. */
__attribute__((warn_unused_result)) int pread_all(int fd, void *buf, size_t len, off_t off);

__attribute__((warn_unused_result)) int durable_replace(const char *path, const void *data, size_t len,
							mode_t mode);
/* Read a whole small file (at most cap bytes). Returns length or -errno
 * (-EFBIG if larger than cap). */
__attribute__((warn_unused_result)) ssize_t read_file(const char *path, void *buf, size_t cap);

__attribute__((warn_unused_result)) int fsync_dir(const char *dir);
/* fsync the directory that contains path. */
__attribute__((warn_unused_result)) int fsync_parent(const char *path);
/* mkdir -p with mode for created components. 0 or -errno. */
__attribute__((warn_unused_result)) int mkdir_p(const char *path, mode_t mode);
