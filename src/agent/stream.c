/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "durable.h"
#include "stream.h"

#define STREAM_MAGIC "KSSTRM01"
#define STREAM_FILE_LEN 32
/* Counters reserved by one write of the file. Unused ones are skipped
 * after a restart, which costs nothing: the collector wants the counter
 * to grow, not to be dense. */
#define STREAM_LEASE 1024

static int save(const struct stream *s)
{
	uint8_t buf[STREAM_FILE_LEN];
	memcpy(buf, STREAM_MAGIC, 8);
	memcpy(buf + 8, s->id, 16);
	put_be64(buf + 24, s->reserved);
	return durable_replace(s->path, buf, sizeof(buf), 0600);
}

int stream_open(struct stream *s, const char *state_dir, int fresh)
{
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/stream", state_dir) >= sizeof(s->path))
		return -ENAMETOOLONG;
	uint8_t buf[STREAM_FILE_LEN + 1];
	ssize_t n = fresh ? -ENOENT : read_file(s->path, buf, sizeof(buf));
	if (n == -ENOENT) {
		randombytes_buf(s->id, sizeof(s->id));
		s->counter = s->reserved = 0;
		return save(s);
	}
	if (n < 0)
		return (int)n;
	if (n != STREAM_FILE_LEN || memcmp(buf, STREAM_MAGIC, 8) != 0)
		return -EBADMSG;
	memcpy(s->id, buf + 8, 16);
	s->counter = s->reserved = get_be64(buf + 24);
	return 0;
}

int stream_next_counter(struct stream *s, uint64_t *ret)
{
	if (s->counter == UINT64_MAX)
		return -EOVERFLOW;
	if (s->counter == s->reserved) {
		uint64_t old = s->reserved;
		s->reserved = s->counter > UINT64_MAX - STREAM_LEASE ? UINT64_MAX : s->counter + STREAM_LEASE;
		int r = save(s);
		if (r < 0) {
			s->reserved = old;
			return r;
		}
	}
	*ret = ++s->counter;
	return 0;
}
