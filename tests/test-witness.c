/* SPDX-License-Identifier: ISC */
/*
 * The agent's commitments (witness.h): the newest per collector survives a
 * reopen, --print-commitment prints it, and a commitment that goes back
 * from the kept one leaves the kept one in commitments.disputed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "durable.h"
#include "witness.h"

static struct commitment make(uint64_t records, uint64_t end, uint64_t hwm, uint8_t tag)
{
	struct commitment c = { .records = records, .end = end, .hwm = hwm, .written_usec = 1000 + records };
	strcpy(c.host, "host-a");
	memset(c.stream_id, 0x5a, sizeof(c.stream_id));
	memset(c.chain, tag, sizeof(c.chain));
	return c;
}

int main(void)
{
	char dir[] = "/tmp/test-witness.XXXXXX", path[256], buf[4096];
	CHECK(mkdtemp(dir) != NULL);
	uint8_t k1[32], k2[32];
	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));

	struct witness *w;
	CHECK_EQ_INT(witness_open(&w, dir), 0);
	CHECK(witness_get(w, k1) == NULL);
	CHECK_EQ_INT(witness_print(dir, stdout), -ENOENT);
	struct commitment a = make(10, 1000, 8, 0xaa), b = make(20, 2000, 18, 0xbb);
	witness_put(w, k1, &a);
	witness_put(w, k2, &b);
	CHECK_EQ_INT(witness_save(w, 0), 0);
	witness_free(w);

	/* Reopened: both, each with its collector. */
	CHECK_EQ_INT(witness_open(&w, dir), 0);
	const struct commitment *g = witness_get(w, k1);
	CHECK(g && g->records == 10 && g->chain[0] == 0xaa && g->has_collector &&
	      memcmp(g->collector, k1, 32) == 0);
	g = witness_get(w, k2);
	CHECK(g && g->records == 20 && g->end == 2000 && g->hwm == 18);
	CHECK_EQ_INT(witness_print(dir, stdout), 2);

	/* Forward: replaced, nothing disputed. */
	struct commitment a2 = make(12, 1200, 9, 0xac);
	witness_put(w, k1, &a2);
	snprintf(path, sizeof(path), "%s/%s", dir, WITNESS_DISPUTED_FILE);
	CHECK(access(path, F_OK) < 0);
	/* Back (fewer records): the kept one is disputed, the new one kept. */
	struct commitment a3 = make(5, 500, 9, 0xad);
	witness_put(w, k1, &a3);
	ssize_t n = read_file(path, buf, sizeof(buf) - 1);
	CHECK(n > 0);
	if (n > 0) {
		buf[n] = 0;
		struct commitment d;
		CHECK_EQ_INT(commitment_parse(buf, &d), 0);
		CHECK(d.records == 12 && d.chain[0] == 0xac && d.has_collector &&
		      memcmp(d.collector, k1, 32) == 0);
	}
	g = witness_get(w, k1);
	CHECK(g && g->records == 5);
	/* A lower mark of the same stream is going back too. */
	struct commitment a4 = make(6, 600, 3, 0xae);
	witness_put(w, k1, &a4);
	n = read_file(path, buf, sizeof(buf) - 1);
	CHECK(n > 0 && memchr(buf, '\n', (size_t)n) != (void *)(buf + n - 1)); /* two lines now */
	/* Saved at most once a second unless forced. */
	CHECK_EQ_INT(witness_save(w, 5000), 0);
	struct commitment a5 = make(7, 700, 4, 0xaf);
	witness_put(w, k1, &a5);
	CHECK_EQ_INT(witness_save(w, 5500), 0);
	witness_free(w);
	CHECK_EQ_INT(witness_open(&w, dir), 0);
	g = witness_get(w, k1);
	CHECK(g && g->records == 6); /* a5 not written within the second */
	witness_free(w);

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK_EQ_INT(system(path), 0);
	printf("test-witness: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}
