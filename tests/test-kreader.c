/* SPDX-License-Identifier: ISC */
/*
 * The kmsg reader thread (src/agent/kreader.c) on a SOCK_SEQPACKET socket,
 * which, like /dev/kmsg, returns one record per read(2):
 *  - with nobody draining, the queue (64 KiB) fills; the records read
 *    then are dropped and come out as one LOST entry naming exactly their
 *    kernel seqs, after the records that fit, once there is room;
 *  - the eventfd wakes a drainer that armed it;
 *  - records written while the drainer keeps up all arrive, in order,
 *    across many wraps of the ring;
 *  - read(2) returning 0 (end of file) ends the thread with -ENODATA.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "kreader.h"

static void put(int fd, uint64_t seq)
{
	char buf[256];
	/* About 200 bytes: 64 KiB hold some 300. */
	int n = snprintf(buf, sizeof(buf), "6,%llu,%llu,-;record %llu %0160d\n", (unsigned long long)seq,
			 (unsigned long long)seq * 10, (unsigned long long)seq, 0);
	CHECK(write(fd, buf, (size_t)n) == n);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The next entry, waiting up to 2 s for it. */
static int next(struct kreader *k, struct kreader_item *it)
{
	for (int i = 0; i < 2000; i++) {
		if (kreader_peek(k, it))
			return 1;
		sleep_ms(1);
	}
	return 0;
}

static uint64_t seq_of(const struct kreader_item *it)
{
	unsigned long long pri, seq;
	char tmp[64];
	size_t n = it->len < sizeof(tmp) - 1 ? it->len : sizeof(tmp) - 1;
	memcpy(tmp, it->data, n);
	tmp[n] = 0;
	return sscanf(tmp, "%llu,%llu,", &pri, &seq) == 2 ? seq : UINT64_MAX;
}

int main(void)
{
	int sv[2];
	struct kreader *k;
	struct kreader_item it;
	struct kreader_stats st;

	CHECK_EQ_INT(kreader_new(&k, -1, KREADER_QUEUE_MIN - 1), -EINVAL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		return 1;
	}
	/* The reader's end non-blocking, as /dev/kmsg is opened. */
	CHECK(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) == 0);
	int bufsz = 4 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	CHECK_EQ_INT(kreader_new(&k, sv[0], KREADER_QUEUE_MIN), 0);
	CHECK_EQ_INT(kreader_arm(k), 0);
	CHECK_EQ_INT(kreader_start(k), 0);

	/* 1. 1000 records, nobody draining. */
	for (uint64_t s = 0; s < 1000; s++)
		put(sv[1], s);
	for (int i = 0; i < 2000; i++) {
		kreader_get_stats(k, &st);
		if (st.reads == 1000)
			break;
		sleep_ms(1);
	}
	CHECK_EQ_INT(st.reads, 1000);
	CHECK(st.dropped > 0 && st.dropped < 1000);
	CHECK(st.peak_bytes <= KREADER_QUEUE_MIN);
	/* The eventfd says there is something. */
	struct pollfd p = { .fd = kreader_wake_fd(k), .events = POLLIN };
	CHECK_EQ_INT(poll(&p, 1, 0), 1);

	uint64_t want = 0, lost = 0;
	int in_order = 1, lost_entries = 0;
	while (want < 1000 && next(k, &it)) {
		if (it.kind == KREADER_RECORD) {
			in_order &= seq_of(&it) == want;
			want++;
		} else if (it.kind == KREADER_LOST) {
			CHECK_EQ_INT(it.first, want);
			CHECK_EQ_INT(it.last, 999);
			CHECK_EQ_INT(it.count, 1000 - want);
			CHECK_EQ_INT(it.overrun, 0);
			lost += it.count;
			want = it.last + 1;
			lost_entries++;
		} else {
			CHECK(!"unexpected error entry");
		}
		kreader_pop(k);
	}
	CHECK(in_order);
	CHECK_EQ_INT(want, 1000);
	CHECK_EQ_INT(lost_entries, 1);
	CHECK_EQ_INT(lost, st.dropped);

	/* 2. Empty: the drainer arms; the next record wakes it. */
	CHECK_EQ_INT(kreader_arm(k), 0);
	CHECK_EQ_INT(poll(&p, 1, 0), 0);
	put(sv[1], 1000);
	CHECK_EQ_INT(poll(&p, 1, 2000), 1);
	CHECK(next(k, &it) && it.kind == KREADER_RECORD && seq_of(&it) == 1000);
	kreader_pop(k);

	/* 3. 20,000 more while draining: all of them, in order, through
	 * some 60 wraps of the ring. */
	want = 1001;
	in_order = 1;
	for (uint64_t s = 1001; s < 21001; s++) {
		put(sv[1], s);
		/* At most 100 records written and not drained (the queue holds
		 * some 300), however the two threads are scheduled. */
		while (kreader_peek(k, &it) || (want + 100 <= s && next(k, &it))) {
			in_order &= it.kind == KREADER_RECORD && seq_of(&it) == want;
			want++;
			kreader_pop(k);
		}
	}
	while (want < 21001 && next(k, &it)) {
		in_order &= it.kind == KREADER_RECORD && seq_of(&it) == want;
		want++;
		kreader_pop(k);
	}
	CHECK(in_order);
	CHECK_EQ_INT(want, 21001);
	kreader_get_stats(k, &st);
	CHECK_EQ_INT(st.dropped, lost);

	/* 4. End of file: the thread ends with -ENODATA. */
	close(sv[1]);
	CHECK(next(k, &it) && it.kind == KREADER_ERROR && it.error == -ENODATA);
	kreader_pop(k);
	kreader_free(k);
	close(sv[0]);
	return CHECK_DONE();
}
