/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "kmsg.h"
#include "kreader.h"

/*
 * The queue: a byte ring of cap bytes (a multiple of 8). Entries are a
 * 16-byte header and their payload rounded up to 8, never split at the
 * ring's end: an entry that does not fit before the end is preceded by a
 * WRAP header (or, with fewer than 16 bytes left, by nothing: the reader
 * skips such a tail by its size alone). head and tail are byte positions
 * that only grow; head is written by the drainer only, tail by the thread
 * only (single producer, single consumer: release on publishing, acquire
 * on reading the other side's position).
 */
struct ent {
	uint32_t len; /* payload bytes (ERROR: the errno) */
	uint8_t kind; /* enum kreader_kind, or ENT_WRAP */
	uint8_t overrun;
	uint8_t overrun_after; /* LOST: EPIPE seen while the range was pending */
	uint8_t pad;
	uint64_t usec;
};
#define ENT_WRAP 0xff
#define HDR sizeof(struct ent)
#define ROUND8(n) (((n) + 7) & ~(size_t)7)

struct lost {
	uint64_t first, last, count;
};

struct kreader {
	int fd;
	int wake_fd; /* eventfd: the drainer's, written when armed */
	int stop_fd; /* eventfd: kreader_free wakes the thread's poll */
	pthread_t thread;
	int started;
	uint8_t *ring;
	size_t cap;
	_Atomic uint64_t head;
	_Atomic uint64_t tail;
	_Atomic int armed; /* the drainer sleeps: write wake_fd on the next entry */
	_Atomic int stop;
	size_t cur; /* drainer: size of the entry kreader_peek returned */
	/* thread only */
	uint8_t *buf;
	int overrun;
	int lost_pending;
	int lost_overrun_after;
	uint64_t lost_usec;
	struct lost lost;
	/* counters written by the thread, read by anyone */
	_Atomic uint64_t reads, overruns, dropped, peak;
};

int kreader_new(struct kreader **ret, int fd, size_t queue_bytes)
{
	if (queue_bytes < KREADER_QUEUE_MIN)
		return -EINVAL;
	struct kreader *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->fd = fd;
	k->stop_fd = -1;
	k->cap = queue_bytes & ~(size_t)7;
	k->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	k->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	k->ring = malloc(k->cap);
	k->buf = malloc(KMSG_READ_MAX);
	if (k->wake_fd < 0 || k->stop_fd < 0 || !k->ring || !k->buf) {
		int r = k->wake_fd < 0 || k->stop_fd < 0 ? -errno : -ENOMEM;
		kreader_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

int kreader_wake_fd(const struct kreader *k)
{
	return k->wake_fd;
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the thread ---- */

/* Append one entry, or -ENOSPC when the queue has no room for it. */
static int push(struct kreader *k, uint8_t kind, uint64_t usec, const void *data, size_t len, uint32_t hlen)
{
	size_t need = HDR + ROUND8(len);
	uint64_t tail = atomic_load_explicit(&k->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&k->head, memory_order_acquire);
	size_t off = (size_t)(tail % k->cap), to_end = k->cap - off;
	size_t pad = to_end < need ? to_end : 0;
	if (k->cap - (size_t)(tail - head) < need + pad)
		return -ENOSPC;
	if (pad) {
		if (to_end >= HDR)
			memcpy(k->ring + off, &(struct ent){ .kind = ENT_WRAP }, HDR);
		tail += pad;
		off = 0;
	}
	struct ent e = { .len = hlen, .kind = kind, .overrun = (uint8_t)k->overrun, .usec = usec };
	if (kind == KREADER_LOST)
		e.overrun_after = (uint8_t)k->lost_overrun_after;
	memcpy(k->ring + off, &e, HDR);
	if (len)
		memcpy(k->ring + off + HDR, data, len);
	k->overrun = 0;
	uint64_t used = tail + need - head;
	if (used > atomic_load_explicit(&k->peak, memory_order_relaxed))
		atomic_store_explicit(&k->peak, used, memory_order_relaxed);
	/* seq_cst: pairs with kreader_arm's store of armed and load of tail. */
	atomic_store(&k->tail, tail + need);
	if (atomic_load(&k->armed) && atomic_exchange(&k->armed, 0)) {
		uint64_t one = 1;
		(void)!write(k->wake_fd, &one, sizeof(one));
	}
	return 0;
}

/*
 * The pending lost range, queued once half the queue is free again. 0 or
 * -ENOSPC. The hysteresis makes a storm that outruns the drainer lose
 * runs of records, one lost entry (and gap record) each, rather than
 * every other record with an entry of its own.
 */
static int push_lost(struct kreader *k)
{
	if (!k->lost_pending)
		return 0;
	uint64_t used = atomic_load_explicit(&k->tail, memory_order_relaxed) -
			atomic_load_explicit(&k->head, memory_order_acquire);
	if (used > k->cap / 2)
		return -ENOSPC;
	int r = push(k, KREADER_LOST, k->lost_usec, &k->lost, sizeof(k->lost), sizeof(k->lost));
	if (r == 0)
		k->lost_pending = k->lost_overrun_after = 0;
	return r;
}

/* The header's second field, "PRI,SEQ,...": the only parsing done here. */
static int header_seq(const uint8_t *p, size_t n, uint64_t *seq)
{
	const uint8_t *c = memchr(p, ',', n);
	if (!c)
		return -EBADMSG;
	size_t i = (size_t)(c - p) + 1;
	uint64_t v = 0;
	size_t digits = 0;
	for (; i < n && p[i] >= '0' && p[i] <= '9' && digits < 19; i++, digits++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	if (digits == 0 || i == n || p[i] != ',')
		return -EBADMSG;
	*seq = v;
	return 0;
}

/* A record read while the queue is full: into the lost range. A record
 * whose seq cannot be read (never from the kernel) is only counted: the
 * drainer's seq check reports the kernel records around it anyway. */
static void drop(struct kreader *k, const uint8_t *p, size_t n, uint64_t usec)
{
	uint64_t seq;
	atomic_fetch_add_explicit(&k->dropped, 1, memory_order_relaxed);
	if (header_seq(p, n, &seq) < 0)
		return;
	if (!k->lost_pending) {
		k->lost_pending = 1;
		k->lost = (struct lost){ .first = seq, .last = seq };
		k->lost_usec = usec;
	}
	if (seq > k->lost.last)
		k->lost.last = seq;
	k->lost.count++;
}

/* Nothing to read: sleep until the kernel has a record or we are stopped;
 * with a lost range waiting for room, retry every 10 ms. */
static void wait_input(struct kreader *k)
{
	struct pollfd p[2] = { { .fd = k->fd, .events = POLLIN }, { .fd = k->stop_fd, .events = POLLIN } };
	(void)poll(p, 2, k->lost_pending ? 10 : -1);
}

static void *run(void *arg)
{
	struct kreader *k = arg;
	while (!atomic_load_explicit(&k->stop, memory_order_relaxed)) {
		ssize_t n = read(k->fd, k->buf, KMSG_READ_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE) {
			/* The ring overwrote unread records; the next read returns
			 * the oldest one still held, and the drainer's seq check
			 * reports the exact range. */
			atomic_fetch_add_explicit(&k->overruns, 1, memory_order_relaxed);
			if (k->lost_pending)
				k->lost_overrun_after = 1;
			else
				k->overrun = 1;
			continue;
		}
		if ((n < 0 && errno != EAGAIN) || n == 0) {
			/* read(2) of /dev/kmsg never returns 0; another device
			 * that does is at its end, and polling it would spin. */
			int err = n == 0 ? ENODATA : errno;
			/* The error ends reading; it waits for room like any entry. */
			while (!atomic_load_explicit(&k->stop, memory_order_relaxed) &&
			       (push_lost(k) < 0 ||
				push(k, KREADER_ERROR, now_usec(), NULL, 0, (uint32_t)err) < 0))
				wait_input(k);
			break;
		}
		if (n < 0) {
			(void)push_lost(k);
			wait_input(k);
			continue;
		}
		uint64_t usec = now_usec();
		atomic_fetch_add_explicit(&k->reads, 1, memory_order_relaxed);
		if (push_lost(k) < 0 || push(k, KREADER_RECORD, usec, k->buf, (size_t)n, (uint32_t)n) < 0)
			drop(k, k->buf, (size_t)n, usec);
	}
	return NULL;
}

int kreader_start(struct kreader *k)
{
	pthread_attr_t a;
	sigset_t all, old;
	int r = pthread_attr_init(&a);
	if (r)
		return -r;
	/* Its stack holds a few frames only (the read buffer is on the heap). */
	(void)pthread_attr_setstacksize(&a, 256u << 10);
	/* Signals stay with the event loop's thread (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&k->thread, &a, run, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (r)
		return -r;
	k->started = 1;
	return 0;
}

/* ---- the drainer ---- */

int kreader_peek(struct kreader *k, struct kreader_item *it)
{
	uint64_t head = atomic_load_explicit(&k->head, memory_order_relaxed);
	for (;;) {
		uint64_t tail = atomic_load_explicit(&k->tail, memory_order_acquire);
		if (head == tail)
			return 0;
		size_t off = (size_t)(head % k->cap), to_end = k->cap - off;
		struct ent e;
		if (to_end >= HDR)
			memcpy(&e, k->ring + off, HDR);
		if (to_end < HDR || e.kind == ENT_WRAP) {
			head += to_end;
			atomic_store_explicit(&k->head, head, memory_order_release);
			continue;
		}
		const uint8_t *p = k->ring + off + HDR;
		*it = (struct kreader_item){ .kind = e.kind, .overrun = e.overrun, .read_usec = e.usec };
		k->cur = HDR;
		if (e.kind == KREADER_RECORD) {
			it->data = p;
			it->len = e.len;
			k->cur += ROUND8(e.len);
		} else if (e.kind == KREADER_LOST) {
			struct lost l;
			memcpy(&l, p, sizeof(l));
			it->first = l.first;
			it->last = l.last;
			it->count = l.count;
			/* The drainer applies it after the range. */
			it->overrun = e.overrun | (e.overrun_after << 1);
			k->cur += ROUND8(sizeof(l));
		} else {
			it->error = -(int)e.len;
		}
		return 1;
	}
}

void kreader_pop(struct kreader *k)
{
	uint64_t head = atomic_load_explicit(&k->head, memory_order_relaxed);
	atomic_store_explicit(&k->head, head + k->cur, memory_order_release);
	k->cur = 0;
}

int kreader_arm(struct kreader *k)
{
	uint64_t v;
	(void)!read(k->wake_fd, &v, sizeof(v));
	atomic_store(&k->armed, 1);
	return atomic_load(&k->tail) != atomic_load_explicit(&k->head, memory_order_relaxed);
}

void kreader_get_stats(struct kreader *k, struct kreader_stats *st)
{
	st->reads = atomic_load_explicit(&k->reads, memory_order_relaxed);
	st->overruns = atomic_load_explicit(&k->overruns, memory_order_relaxed);
	st->dropped = atomic_load_explicit(&k->dropped, memory_order_relaxed);
	st->peak_bytes = atomic_load_explicit(&k->peak, memory_order_relaxed);
	st->queue_bytes = k->cap;
}

void kreader_free(struct kreader *k)
{
	if (!k)
		return;
	if (k->started) {
		uint64_t one = 1;
		atomic_store(&k->stop, 1);
		(void)!write(k->stop_fd, &one, sizeof(one));
		pthread_join(k->thread, NULL);
	}
	if (k->wake_fd >= 0)
		close(k->wake_fd);
	if (k->stop_fd >= 0)
		close(k->stop_fd);
	free(k->ring);
	free(k->buf);
	free(k);
}
