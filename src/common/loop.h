/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The one event loop of a process: epoll for file descriptors, a min-heap of
 * CLOCK_MONOTONIC timers, and signals through signalfd (handlers never run
 * in signal context). Callbacks may add or remove any fd or timer, including
 * their own, at any time.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct loop;
struct loop_timer;

typedef void (*loop_io_fn)(struct loop *l, int fd, uint32_t events, void *data);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t, void *data);
typedef void (*loop_signal_fn)(struct loop *l, int signo, void *data);

__attribute__((warn_unused_result)) int loop_new(struct loop **ret);
void loop_free(struct loop *l);

/* events: EPOLLIN/EPOLLOUT/... Returns 0 or -errno. */
__attribute__((warn_unused_result)) int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_io_fn fn,
						    void *data);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
/* Removes fd (does not close it). Pending events for it are not delivered. */
int loop_del_fd(struct loop *l, int fd);

/*
 * One-shot timer after delay_ms. *ret (optional) identifies it for
 * loop_timer_cancel; it is invalid once the timer has fired.
 */
__attribute__((warn_unused_result)) int loop_timer_add(struct loop *l, uint64_t delay_ms, loop_timer_fn fn,
						       void *data, struct loop_timer **ret);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

/* Block signo and deliver it through the loop. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int loop_signal(struct loop *l, int signo, loop_signal_fn fn, void *data);

/* Run until loop_stop. Returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* CLOCK_MONOTONIC in milliseconds, cached per loop iteration. */
uint64_t loop_now_ms(struct loop *l);
/* Uncached CLOCK_MONOTONIC in milliseconds. */
uint64_t mono_ms(void);
/* Uncached clock id (CLOCK_REALTIME, CLOCK_MONOTONIC) in microseconds. */
uint64_t clock_usec(clockid_t id);
