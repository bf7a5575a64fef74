/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "check.h"
#include "loop.h"

/* Every test arms this; if it fires the test hung and is counted failed. */
#define GUARD_MS 2000

static void on_guard(struct loop *l, struct loop_timer *t, void *data)
{
	bool *timed_out = data;

	*timed_out = true;
	loop_stop(l);
}

static void on_stop(struct loop *l, struct loop_timer *t, void *data)
{
	loop_stop(l);
}

/* Records the order timers fire in. */
struct order {
	int ids[512];
	int n;
	int stop_after; /* loop_stop once this many have fired */
};

struct order_timer {
	struct order *o;
	int id;
	uint64_t t_before, t_after, delay; /* bounds of the loop's add time */
};

static void on_order(struct loop *l, struct loop_timer *t, void *data)
{
	struct order_timer *ot = data;

	/* Never early. */
	CHECK(loop_now_ms(l) >= ot->t_before + ot->delay);
	if (ot->o->n < (int)(sizeof(ot->o->ids) / sizeof(ot->o->ids[0])))
		ot->o->ids[ot->o->n++] = ot->id;
	if (ot->o->n == ot->o->stop_after)
		loop_stop(l);
}

static void test_timer_order(void)
{
	static const uint64_t delays[] = { 30, 10, 20, 0, 10, 25 };
	static const int want[] = { 3, 1, 4, 2, 5, 0 };
	struct order o = { .stop_after = 6 };
	struct order_timer ot[6];
	struct loop *l;
	bool timed_out = false;

	CHECK_EQ_INT(loop_new(&l), 0);
	for (int i = 0; i < 6; i++) {
		ot[i] = (struct order_timer){ .o = &o, .id = i, .delay = delays[i], .t_before = mono_ms() };
		CHECK_EQ_INT(loop_timer_add(l, delays[i], on_order, &ot[i], NULL), 0);
	}
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(o.n, 6);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(o.ids[i], want[i]);
	loop_free(l);
}

/*
 * Many timers through the heap. The loop takes the add time itself, so the
 * checks only use what holds whatever the clock did between adds: i added
 * before j with delay_i <= delay_j fires first (FIFO on ties), and i whose
 * latest possible deadline is before j's earliest fires first.
 */
#define NHEAP 300
static void test_timer_heap(void)
{
	static struct order_timer ot[NHEAP];
	static int pos[NHEAP];
	struct order o = { .stop_after = NHEAP };
	struct loop_timer *cancel[NHEAP] = { 0 };
	bool cancelled[NHEAP] = { 0 };
	int ncancelled = 0;
	uint32_t x = 12345;
	struct loop *l;
	bool timed_out = false;

	CHECK_EQ_INT(loop_new(&l), 0);
	for (int i = 0; i < NHEAP; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		ot[i] = (struct order_timer){ .o = &o, .id = i, .delay = x % 40 };
		ot[i].t_before = mono_ms();
		CHECK_EQ_INT(loop_timer_add(l, ot[i].delay, on_order, &ot[i], &cancel[i]), 0);
		ot[i].t_after = mono_ms();
	}
	/* Cancel every seventh: removal from the middle of the heap. */
	for (int i = 0; i < NHEAP; i += 7) {
		loop_timer_cancel(l, cancel[i]);
		cancelled[i] = true;
		ncancelled++;
	}
	o.stop_after = NHEAP - ncancelled;
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(o.n, NHEAP - ncancelled);

	for (int i = 0; i < NHEAP; i++)
		pos[i] = -1;
	for (int k = 0; k < o.n; k++)
		pos[o.ids[k]] = k;
	for (int i = 0; i < NHEAP; i++) {
		CHECK(cancelled[i] ? pos[i] < 0 : pos[i] >= 0);
		if (cancelled[i])
			continue;
		for (int j = i + 1; j < NHEAP; j++) {
			if (cancelled[j])
				continue;
			if (ot[i].delay <= ot[j].delay)
				CHECK(pos[i] < pos[j]);
			if (ot[j].t_after + ot[j].delay < ot[i].t_before + ot[i].delay)
				CHECK(pos[j] < pos[i]);
		}
	}
	loop_free(l);
}

/* Equal delays added back to back fire in insertion order. */
static void test_timer_fifo(void)
{
	struct order o = { .stop_after = 100 };
	static struct order_timer ot[100];
	struct loop *l;
	bool timed_out = false;

	CHECK_EQ_INT(loop_new(&l), 0);
	for (int i = 0; i < 100; i++) {
		ot[i] = (struct order_timer){ .o = &o, .id = i, .delay = 5, .t_before = mono_ms() };
		CHECK_EQ_INT(loop_timer_add(l, 5, on_order, &ot[i], NULL), 0);
	}
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(o.n, 100);
	for (int i = 0; i < o.n; i++)
		CHECK_EQ_INT(o.ids[i], i);
	loop_free(l);
}

static void on_count(struct loop *l, struct loop_timer *t, void *data)
{
	(*(int *)data)++;
}

struct canceller {
	struct loop_timer *victim;
	int fired;
};

static void on_cancel_other(struct loop *l, struct loop_timer *t, void *data)
{
	struct canceller *c = data;

	c->fired++;
	loop_timer_cancel(l, c->victim);
}

static void on_cancel_self(struct loop *l, struct loop_timer *t, void *data)
{
	(*(int *)data)++;
	/* Documented as a no-op inside the timer's own callback. */
	loop_timer_cancel(l, t);
}

static void test_timer_cancel(void)
{
	struct loop_timer *a, *victim;
	int a_fired = 0, victim_fired = 0, self_fired = 0, b_fired = 0;
	struct canceller c = { 0 };
	struct loop *l;
	bool timed_out = false;

	CHECK_EQ_INT(loop_new(&l), 0);
	CHECK_EQ_INT(loop_timer_add(l, 5, on_count, &a_fired, &a), 0);
	CHECK_EQ_INT(loop_timer_add(l, 5, on_count, &b_fired, NULL), 0);
	CHECK_EQ_INT(loop_timer_add(l, 1, on_cancel_other, &c, NULL), 0);
	CHECK_EQ_INT(loop_timer_add(l, 10, on_count, &victim_fired, &victim), 0);
	c.victim = victim;
	CHECK_EQ_INT(loop_timer_add(l, 2, on_cancel_self, &self_fired, NULL), 0);
	loop_timer_cancel(l, a);
	loop_timer_cancel(l, NULL);
	CHECK_EQ_INT(loop_timer_add(l, 30, on_stop, NULL, NULL), 0);
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(a_fired, 0);
	CHECK_EQ_INT(b_fired, 1);
	CHECK_EQ_INT(c.fired, 1);
	CHECK_EQ_INT(victim_fired, 0);
	CHECK_EQ_INT(self_fired, 1);
	loop_free(l);
}

/*
 * Two pipes readable before loop_run, so both events come in one batch.
 * Non-blocking, so a wrongly delivered stale event fails instead of hanging.
 */
struct batch {
	int rd[2], wr[2];
	int calls[2];
	int reused_fd, reused_wr, reused_calls;
	int order[4];
	int n;
};

static void on_reused(struct loop *l, int fd, uint32_t events, void *data)
{
	struct batch *b = data;

	b->reused_calls++;
}

static void on_batch(struct loop *l, int fd, uint32_t events, void *data)
{
	struct batch *b = data;
	int me = fd == b->rd[0] ? 0 : 1, other = 1 - me;
	char c;
	int p[2];

	b->calls[me]++;
	CHECK_EQ_INT(read(fd, &c, 1), 1);
	if (b->calls[me] > 1)
		return;
	/* Whoever runs first removes and closes the other. */
	CHECK_EQ_INT(loop_del_fd(l, b->rd[other]), 0);
	CHECK_EQ_INT(close(b->rd[other]), 0);
	/*
	 * The lowest free fd is the one just closed: a new registration of the
	 * same number must not get the stale event either (the pipe is empty).
	 */
	CHECK_EQ_INT(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	CHECK_EQ_INT(p[0], b->rd[other]);
	b->reused_fd = p[0];
	b->reused_wr = p[1];
	CHECK_EQ_INT(loop_add_fd(l, p[0], EPOLLIN, on_reused, b), 0);
	b->rd[other] = -1;
	CHECK_EQ_INT(loop_del_fd(l, fd), 0);
	CHECK_EQ_INT(loop_timer_add(l, 20, on_stop, NULL, NULL), 0);
}

static void test_stale_event(void)
{
	struct batch b = { .reused_fd = -1 };
	struct loop *l;
	bool timed_out = false;
	int p[2];

	CHECK_EQ_INT(loop_new(&l), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
		b.rd[i] = p[0];
		b.wr[i] = p[1];
		CHECK_EQ_INT(write(p[1], "x", 1), 1);
	}
	for (int i = 0; i < 2; i++)
		CHECK_EQ_INT(loop_add_fd(l, b.rd[i], EPOLLIN, on_batch, &b), 0);
	CHECK_EQ_INT(loop_add_fd(l, b.rd[0], EPOLLIN, on_batch, &b), -EEXIST);
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(b.calls[0] + b.calls[1], 1);
	CHECK_EQ_INT(b.reused_calls, 0);
	for (int i = 0; i < 2; i++) {
		if (b.rd[i] >= 0)
			close(b.rd[i]);
		close(b.wr[i]);
	}
	if (b.reused_fd >= 0) {
		CHECK_EQ_INT(loop_del_fd(l, b.reused_fd), 0);
		close(b.reused_fd);
		close(b.reused_wr);
	}
	loop_free(l);
}

struct self_del {
	int rd, wr, calls;
};

static void on_self_del(struct loop *l, int fd, uint32_t events, void *data)
{
	struct self_del *s = data;

	s->calls++;
	CHECK_EQ_INT(loop_del_fd(l, fd), 0);
	CHECK_EQ_INT(loop_del_fd(l, fd), -ENOENT);
	CHECK_EQ_INT(close(fd), 0);
	s->rd = -1;
	CHECK_EQ_INT(loop_timer_add(l, 10, on_stop, NULL, NULL), 0);
}

static void test_self_remove(void)
{
	struct self_del s = { 0 };
	struct loop *l;
	bool timed_out = false;
	int p[2];

	CHECK_EQ_INT(loop_new(&l), 0);
	CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
	s.rd = p[0];
	s.wr = p[1];
	CHECK_EQ_INT(write(s.wr, "x", 1), 1);
	CHECK_EQ_INT(loop_add_fd(l, s.rd, EPOLLIN, on_self_del, &s), 0);
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	/* Still readable when removed: a second call would mean it was not. */
	CHECK_EQ_INT(s.calls, 1);
	CHECK_EQ_INT(s.rd, -1);
	CHECK_EQ_INT(loop_del_fd(l, 12345), -ENOENT);
	CHECK_EQ_INT(loop_mod_fd(l, s.wr, EPOLLOUT), -ENOENT);
	close(s.wr);
	loop_free(l);
}

static void on_writable(struct loop *l, int fd, uint32_t events, void *data)
{
	CHECK(events & EPOLLOUT);
	(*(int *)data)++;
	loop_stop(l);
}

/* A pipe's write end never reports EPOLLIN; after loop_mod_fd it reports EPOLLOUT. */
static void test_mod(void)
{
	struct loop *l;
	bool timed_out = false;
	int p[2], calls = 0, stopped = 0;

	CHECK_EQ_INT(loop_new(&l), 0);
	CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ_INT(loop_add_fd(l, p[1], EPOLLIN, on_writable, &calls), 0);
	CHECK_EQ_INT(loop_timer_add(l, 20, on_count, &stopped, NULL), 0);
	CHECK_EQ_INT(loop_timer_add(l, 20, on_stop, NULL, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK_EQ_INT(calls, 0);
	CHECK_EQ_INT(stopped, 1);

	CHECK_EQ_INT(loop_mod_fd(l, p[1], EPOLLOUT), 0);
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(calls, 1);
	CHECK_EQ_INT(loop_del_fd(l, p[1]), 0);
	close(p[0]);
	close(p[1]);
	loop_free(l);
}

struct sigs {
	int usr1, usr2;
};

static void on_sig(struct loop *l, int signo, void *data)
{
	struct sigs *s = data;

	if (signo == SIGUSR1)
		s->usr1++;
	else if (signo == SIGUSR2)
		s->usr2++;
	if (s->usr1 && s->usr2)
		loop_stop(l);
}

static void test_signal(void)
{
	struct sigs s = { 0 };
	struct loop *l;
	bool timed_out = false;
	sigset_t cur;

	CHECK_EQ_INT(loop_new(&l), 0);
	CHECK_EQ_INT(loop_signal(l, SIGKILL, on_sig, &s), -EINVAL);
	CHECK_EQ_INT(loop_signal(l, SIGUSR1, on_sig, &s), 0);
	CHECK_EQ_INT(loop_signal(l, SIGUSR2, on_sig, &s), 0);
	CHECK_EQ_INT(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	CHECK(sigismember(&cur, SIGUSR1));
	CHECK(sigismember(&cur, SIGUSR2));
	/* Blocked, so these stay pending until the signalfd is read. */
	CHECK_EQ_INT(raise(SIGUSR1), 0);
	CHECK_EQ_INT(raise(SIGUSR2), 0);
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(s.usr1, 1);
	CHECK_EQ_INT(s.usr2, 1);

	/* Delivered again by a second run. */
	CHECK_EQ_INT(raise(SIGUSR2), 0);
	s.usr1 = 1;
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(s.usr2, 2);
	loop_free(l);
}

/* loop_stop from a timer: later timers have not fired when loop_run returns. */
static void test_stop(void)
{
	struct loop *l;
	int later = 0;
	uint64_t t0;

	CHECK_EQ_INT(loop_new(&l), 0);
	CHECK_EQ_INT(loop_timer_add(l, 10, on_stop, NULL, NULL), 0);
	CHECK_EQ_INT(loop_timer_add(l, 10, on_count, &later, NULL), 0);
	CHECK_EQ_INT(loop_timer_add(l, 500, on_count, &later, NULL), 0);
	t0 = mono_ms();
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(mono_ms() - t0 < 400);
	/* Stopped right after the first callback, even with another one due. */
	CHECK_EQ_INT(later, 0);
	loop_free(l);
}

struct chain {
	int n;
	int limit;
};

static void on_chain(struct loop *l, struct loop_timer *t, void *data)
{
	struct chain *c = data;

	if (++c->n == c->limit) {
		loop_stop(l);
		return;
	}
	CHECK_EQ_INT(loop_timer_add(l, c->n % 2, on_chain, c, NULL), 0);
}

static void test_timer_from_callback(void)
{
	struct chain c = { .limit = 50 };
	struct loop *l;
	bool timed_out = false;

	CHECK_EQ_INT(loop_new(&l), 0);
	CHECK_EQ_INT(loop_timer_add(l, 0, on_chain, &c, NULL), 0);
	CHECK_EQ_INT(loop_timer_add(l, GUARD_MS, on_guard, &timed_out, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(c.n, 50);
	loop_free(l);
}

/*
 * A timer re-arming itself with delay 0 must not starve an fd: the pipe
 * becomes readable from the third timer callback and must be seen at once.
 */
struct spin {
	int spins, wr;
};

static void on_spin(struct loop *l, struct loop_timer *t, void *data)
{
	struct spin *s = data;

	if (++s->spins >= 10000) {
		loop_stop(l);
		return;
	}
	if (s->spins == 3)
		CHECK_EQ_INT(write(s->wr, "x", 1), 1);
	CHECK_EQ_INT(loop_timer_add(l, 0, on_spin, s, NULL), 0);
}

static void on_readable_stop(struct loop *l, int fd, uint32_t events, void *data)
{
	(*(int *)data)++;
	loop_stop(l);
}

static void test_no_starvation(void)
{
	struct loop *l;
	struct spin s = { 0 };
	int p[2], reads = 0;

	CHECK_EQ_INT(loop_new(&l), 0);
	CHECK_EQ_INT(pipe2(p, O_CLOEXEC), 0);
	s.wr = p[1];
	CHECK_EQ_INT(loop_timer_add(l, 0, on_spin, &s, NULL), 0);
	CHECK_EQ_INT(loop_add_fd(l, p[0], EPOLLIN, on_readable_stop, &reads), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK_EQ_INT(reads, 1);
	CHECK(s.spins >= 3 && s.spins < 10);
	/* Pending fds and timers are freed by loop_free (checked by ASan/valgrind). */
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	/* Last resort against a hang. */
	alarm(20);
	test_timer_order();
	test_timer_heap();
	test_timer_fifo();
	test_timer_cancel();
	test_stale_event();
	test_self_remove();
	test_mod();
	test_signal();
	test_stop();
	test_timer_from_callback();
	test_no_starvation();
	return CHECK_DONE();
}
