/* SPDX-License-Identifier: ISC */
/* The kmsg source (src/agent/source.c) on a regular file: a burst yields
 * to the loop after SOURCE_BURST_USEC (50 ms) even when the sink is slow
 * (an fsync per record), and hands everything on in one burst when it is
 * fast. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "source.h"

#define NREC 100

struct ctx {
	struct loop *loop;
	long sink_usec; /* time each record costs the sink */
	int total;	/* records handed on */
	int bursts;
	int first_burst; /* records in the first burst */
	uint64_t last_seq;
	int in_order;
};

static int sink(struct record *rec, void *data)
{
	struct ctx *c = data;
	if (rec->source == RECORD_SRC_KMSG) {
		if (c->total > 0 && rec->kmsg_seq != c->last_seq + 1)
			c->in_order = 0;
		c->last_seq = rec->kmsg_seq;
		c->total++;
	}
	if (c->sink_usec) {
		struct timespec ts = { 0, c->sink_usec * 1000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void flush(void *data)
{
	struct ctx *c = data;
	if (c->bursts++ == 0)
		c->first_burst = c->total;
	if (c->total == NREC)
		loop_stop(c->loop);
}

static void run(long sink_usec, struct ctx *c)
{
	char path[] = "/tmp/test-source.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "w");
	CHECK(f != NULL);
	for (int i = 0; i < NREC; i++)
		fprintf(f, "6,%d,%d,-;line %d\n", i, 1000 + i, i);
	CHECK_EQ_INT(fclose(f), 0);

	uint8_t boot[16] = { 1 };
	struct source *s = NULL;
	CHECK_EQ_INT(source_open(&s, path, boot), 0);
	*c = (struct ctx){ .sink_usec = sink_usec, .in_order = 1 };
	CHECK_EQ_INT(loop_new(&c->loop), 0);
	CHECK_EQ_INT(source_start(s, c->loop, sink, flush, c), 0);
	CHECK_EQ_INT(loop_run(c->loop), 0);
	source_free(s);
	loop_free(c->loop);
	unlink(path);
	CHECK_EQ_INT(c->total, NREC);
	CHECK(c->in_order);
}

int main(void)
{
	struct ctx c;

	/* 20 ms per record: a 50 ms burst holds 3 records (4 if the clock
	 * read lands just short of the budget), so 100 take 25 bursts or more. */
	run(20000, &c);
	printf("slow sink: %d records in %d bursts, first burst %d\n", c.total, c.bursts, c.first_burst);
	CHECK(c.first_burst >= 1 && c.first_burst <= 4);
	CHECK(c.bursts >= NREC / 4);

	/* A fast sink: the whole file in one burst. */
	run(0, &c);
	printf("fast sink: %d records in %d bursts, first burst %d\n", c.total, c.bursts, c.first_burst);
	CHECK_EQ_INT(c.first_burst, NREC);
	return CHECK_DONE();
}
