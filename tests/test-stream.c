/* SPDX-License-Identifier: ISC */
/* The agent's stream file: counters never repeat across restarts, leases
 * are written before use, a failed write refuses the handshake only at a
 * lease boundary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "check.h"
#include "durable.h"
#include "stream.h"

/* The reserved counter as the file holds it. */
static uint64_t file_reserved(const char *dir)
{
	char path[4200];
	uint8_t buf[40];
	snprintf(path, sizeof(path), "%s/stream", dir);
	ssize_t n = read_file(path, buf, sizeof(buf));
	CHECK_EQ_INT(n, 32);
	return n == 32 ? get_be64(buf + 24) : 0;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	char dir[] = "/tmp/test-stream.XXXXXX";
	if (!mkdtemp(dir))
		return 1;

	struct stream s;
	CHECK_EQ_INT(stream_open(&s, dir, 0), 0);
	CHECK_EQ_INT(file_reserved(dir), 0);
	uint64_t c = 0, last = 0;
	uint8_t id[16];
	memcpy(id, s.id, 16);
	/* A lease is on disk before its first counter is handed out. */
	for (int i = 0; i < 1500; i++) {
		CHECK_EQ_INT(stream_next_counter(&s, &c), 0);
		CHECK(c > last);
		CHECK(file_reserved(dir) >= c);
		last = c;
	}
	CHECK_EQ_INT(last, 1500);
	CHECK_EQ_INT(file_reserved(dir), 2048);

	/* A restart (or a crash) continues after everything reserved. */
	struct stream s2;
	CHECK_EQ_INT(stream_open(&s2, dir, 0), 0);
	CHECK(memcmp(s2.id, id, 16) == 0);
	CHECK_EQ_INT(stream_next_counter(&s2, &c), 0);
	CHECK(c > last);
	CHECK_EQ_INT(c, 2049);
	CHECK_EQ_INT(file_reserved(dir), 2049 + 1023);

	/* The file cannot be written (its directory is gone): the rest of the
	 * lease still works, then the handshake is refused, counter intact. */
	char path[4200];
	snprintf(path, sizeof(path), "%s/stream", dir);
	CHECK_EQ_INT(unlink(path), 0);
	CHECK_EQ_INT(rmdir(dir), 0);
	last = c;
	int r = 0, used = 0;
	while ((r = stream_next_counter(&s2, &c)) == 0) {
		CHECK(c > last);
		last = c;
		used++;
	}
	CHECK_EQ_INT(used, 1023);
	CHECK(r < 0);
	CHECK_EQ_INT(stream_next_counter(&s2, &c), r);
	CHECK_EQ_INT(c, last);

	/* A damaged file is refused, not replaced. */
	CHECK_EQ_INT(mkdir(dir, 0700), 0);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("not a stream file", f);
		fclose(f);
	}
	CHECK_EQ_INT(stream_open(&s, dir, 0), -EBADMSG);
	unlink(path);
	rmdir(dir);
	fprintf(stderr, "test-stream: %d check(s) failed\n", check_failures);
	return check_failures != 0;
}
