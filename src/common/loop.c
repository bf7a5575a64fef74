/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "loop.h"

/*
 * One registered fd. epoll_event.data.ptr points here, so an event taken
 * from epoll_wait can outlive the registration: loop_del_fd only marks the
 * entry dead and the entry is freed once the batch it may appear in has been
 * dispatched. A fresh registration of the same fd number gets a new entry,
 * so a stale event never reaches it either.
 */
struct io_entry {
	int fd;
	bool dead;
	loop_io_fn fn;
	void *data;
	struct io_entry *next_dead;
};

/* Heap position of a timer that has been popped and whose callback runs. */
#define TIMER_RUNNING SIZE_MAX

struct loop_timer {
	uint64_t deadline; /* CLOCK_MONOTONIC ms */
	uint64_t seq;	   /* insertion order: equal deadlines fire FIFO */
	size_t idx;	   /* position in l->heap, or TIMER_RUNNING */
	loop_timer_fn fn;
	void *data;
};

struct sig_handler {
	loop_signal_fn fn;
	void *data;
};

/* epoll_wait batch size; more ready fds are simply reported next round. */
#define LOOP_EVENTS 64

struct loop {
	int epfd;
	int sigfd; /* -1 until the first loop_signal */
	sigset_t sigmask;
	struct sig_handler sig[_NSIG];

	/* fd -> live entry (dead entries are unlinked at once). */
	struct io_entry **fds;
	size_t nfds;

	/*
	 * Entries removed while an epoll batch is being dispatched; freed
	 * after the batch. Outside a batch loop_del_fd frees at once.
	 */
	bool in_batch;
	struct io_entry *dead;
	/*
	 * Entries whose EPOLL_CTL_DEL failed (typically the fd was closed
	 * while a dup of it stays registered): epoll may still report them,
	 * so they are kept, dead, until loop_free rather than risk a
	 * use-after-free.
	 */
	struct io_entry *zombies;

	/* Binary min-heap on (deadline, seq). */
	struct loop_timer **heap;
	size_t nheap, heap_cap;
	uint64_t timer_seq;

	uint64_t now; /* cached at the start of each iteration */
	bool stop;
};

uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t mono_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t loop_now_ms(struct loop *l)
{
	return l->now;
}

int loop_new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
	l->now = mono_ms();
	*ret = l;
	return 0;
}

static void entries_free(struct io_entry *e)
{
	while (e) {
		struct io_entry *next = e->next_dead;
		free(e);
		e = next;
	}
}

/* Closes the loop's own fds only; user fds stay open. Signals stay blocked. */
void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nfds; i++)
		free(l->fds[i]);
	free(l->fds);
	entries_free(l->dead);
	entries_free(l->zombies);
	for (size_t i = 0; i < l->nheap; i++)
		free(l->heap[i]);
	free(l->heap);
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->epfd);
	free(l);
}

static struct io_entry *lookup(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nfds)
		return NULL;
	return l->fds[fd];
}

static int fds_reserve(struct loop *l, int fd)
{
	size_t n = l->nfds ? l->nfds : 16;
	struct io_entry **p;

	if ((size_t)fd < l->nfds)
		return 0;
	while (n <= (size_t)fd)
		n *= 2;
	p = realloc(l->fds, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + l->nfds, 0, (n - l->nfds) * sizeof(*p));
	l->fds = p;
	l->nfds = n;
	return 0;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *data)
{
	struct epoll_event ev = { .events = events };
	struct io_entry *e;
	int r;

	if (fd < 0 || !fn)
		return -EINVAL;
	if (lookup(l, fd))
		return -EEXIST;
	r = fds_reserve(l, fd);
	if (r < 0)
		return r;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = fd;
	e->fn = fn;
	e->data = data;
	ev.data.ptr = e;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		free(e);
		return r;
	}
	l->fds[fd] = e;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct io_entry *e = lookup(l, fd);
	struct epoll_event ev = { .events = events };

	if (!e)
		return -ENOENT;
	ev.data.ptr = e;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

/*
 * Call before close(fd). The entry is unlinked even when EPOLL_CTL_DEL fails
 * (the error is still returned), so the fd number can be registered again.
 */
int loop_del_fd(struct loop *l, int fd)
{
	struct io_entry *e = lookup(l, fd);
	int r = 0;

	if (!e)
		return -ENOENT;
	l->fds[fd] = NULL;
	e->dead = true;
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0) {
		r = -errno;
		e->next_dead = l->zombies;
		l->zombies = e;
	} else if (l->in_batch) {
		e->next_dead = l->dead;
		l->dead = e;
	} else {
		free(e);
	}
	return r;
}

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(t, l->heap[parent]))
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= l->nheap)
			break;
		if (child + 1 < l->nheap && timer_before(l->heap[child + 1], l->heap[child]))
			child++;
		if (!timer_before(l->heap[child], t))
			break;
		heap_set(l, i, l->heap[child]);
		i = child;
	}
	heap_set(l, i, t);
}

/* Take t out of the heap; t itself is not freed. */
static void heap_remove(struct loop *l, struct loop_timer *t)
{
	size_t i = t->idx;
	struct loop_timer *last = l->heap[--l->nheap];

	if (i < l->nheap) {
		heap_set(l, i, last);
		heap_up(l, i);
		heap_down(l, last->idx);
	}
	t->idx = TIMER_RUNNING;
}

/*
 * Deadlines are taken from the uncached clock, so a timer added late in an
 * iteration still waits its full delay.
 */
int loop_timer_add(struct loop *l, uint64_t delay_ms, loop_timer_fn fn, void *data, struct loop_timer **ret)
{
	struct loop_timer *t;
	uint64_t now = mono_ms();

	if (!fn)
		return -EINVAL;
	if (l->nheap == l->heap_cap) {
		size_t cap = l->heap_cap ? 2 * l->heap_cap : 16;
		struct loop_timer **p = realloc(l->heap, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->heap = p;
		l->heap_cap = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->deadline = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
	t->seq = l->timer_seq++;
	t->fn = fn;
	t->data = data;
	l->heap[l->nheap] = t;
	t->idx = l->nheap++;
	heap_up(l, t->idx);
	if (ret)
		*ret = t;
	return 0;
}

/*
 * t must be pending: a handle of a timer that has fired or been cancelled is
 * freed memory and must not be passed here. The one exception is a timer's
 * own callback: the timer has already left the heap and is freed only when
 * the callback returns, so cancelling it there is a harmless no-op.
 * NULL is ignored.
 */
void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	if (!t || t->idx == TIMER_RUNNING)
		return;
	heap_remove(l, t);
	free(t);
}

static void on_signalfd(struct loop *l, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	/*
	 * One siginfo per read: after a loop_stop the rest stays pending in
	 * the kernel for the next loop_run instead of being dropped.
	 */
	while (!l->stop) {
		ssize_t n = read(fd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			return; /* EAGAIN: all pending signals consumed */
		if (si.ssi_signo < _NSIG && l->sig[si.ssi_signo].fn)
			l->sig[si.ssi_signo].fn(l, (int)si.ssi_signo, l->sig[si.ssi_signo].data);
	}
}

/*
 * The signal is blocked with sigprocmask, i.e. in the calling thread (call
 * before starting any thread). It stays blocked after loop_free. A second
 * call for the same signal replaces its handler.
 */
int loop_signal(struct loop *l, int signo, loop_signal_fn fn, void *data)
{
	sigset_t one, old, mask;
	int fd, r;

	if (signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP || !fn)
		return -EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);
	/* Block first: a signal arriving now stays pending for the signalfd. */
	if (sigprocmask(SIG_BLOCK, &one, &old) < 0)
		return -errno;
	mask = l->sigmask;
	sigaddset(&mask, signo);
	fd = signalfd(l->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	if (l->sigfd < 0) {
		r = loop_add_fd(l, fd, EPOLLIN, on_signalfd, NULL);
		if (r < 0) {
			close(fd);
			goto fail;
		}
		l->sigfd = fd;
	}
	l->sigmask = mask;
	l->sig[signo].fn = fn;
	l->sig[signo].data = data;
	return 0;
fail:
	if (!sigismember(&old, signo))
		sigprocmask(SIG_UNBLOCK, &one, NULL);
	return r;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

static int next_timeout(struct loop *l)
{
	uint64_t now, d;

	if (l->nheap == 0)
		return -1;
	now = mono_ms();
	if (l->heap[0]->deadline <= now)
		return 0;
	d = l->heap[0]->deadline - now;
	return d > INT_MAX ? INT_MAX : (int)d;
}

static void dispatch_io(struct loop *l, const struct epoll_event *ev, int n)
{
	l->in_batch = true;
	for (int i = 0; i < n && !l->stop; i++) {
		struct io_entry *e = ev[i].data.ptr;
		if (e->dead)
			continue;
		e->fn(l, e->fd, ev[i].events, e->data);
	}
	l->in_batch = false;
	entries_free(l->dead);
	l->dead = NULL;
}

/*
 * Fires the timers due at l->now. Timers added by these callbacks (even with
 * delay 0) wait for the next iteration, after an epoll_wait, so a timer that
 * re-arms itself cannot starve the fds. Every timer due now was added
 * before them, so it precedes them in heap order.
 */
static void dispatch_timers(struct loop *l)
{
	uint64_t seq_limit = l->timer_seq;

	while (!l->stop && l->nheap > 0) {
		struct loop_timer *t = l->heap[0];
		if (t->deadline > l->now || t->seq >= seq_limit)
			break;
		heap_remove(l, t);
		t->fn(l, t, t->data);
		free(t);
	}
}

/*
 * Clears the stop flag on entry. Returns after the callback that called
 * loop_stop; the rest of that epoll batch is not dispatched (fds are level
 * triggered, so it is reported again by the next loop_run). Not reentrant.
 */
int loop_run(struct loop *l)
{
	struct epoll_event ev[LOOP_EVENTS];

	l->stop = false;
	while (!l->stop) {
		int n = epoll_wait(l->epfd, ev, LOOP_EVENTS, next_timeout(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now = mono_ms();
		dispatch_io(l, ev, n);
		dispatch_timers(l);
	}
	return 0;
}
