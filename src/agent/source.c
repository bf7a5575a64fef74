/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cont.h"
#include "kmsg.h"
#include "kreader.h"
#include "log.h"
#include "source.h"

/* Records handed over per loop callback before yielding to other fds. The
 * device is read by the reader thread (kreader.h) whatever these are: they
 * bound only how long the loop spends draining its queue at a time. */
#define SOURCE_BURST 1024
/* ... and time: the sink may fsync each record (err and worse, by the
 * default spool policy), so a burst of them could hold the loop for
 * seconds, and with it the session (msg1 after connect, ACKs, key
 * confirmation) and signals. */
#define SOURCE_BURST_USEC 50000
/* Poll interval for regular files, which epoll cannot watch. */
#define SOURCE_FILE_POLL_MS 50

enum source_kind {
	SOURCE_DEVICE, /* one record per read(2) */
	SOURCE_STREAM, /* FIFO or regular file: records are lines to split */
};

struct source {
	int fd;
	enum source_kind kind;
	int is_regular;
	/* DEVICE: the reader thread and its queue (source_set_reader). */
	struct kreader *kr;
	size_t queue_bytes;
	int rt_prio;		       /* 0: the loop's scheduling; else SCHED_FIFO */
	int raised;		       /* this thread runs at rt_prio until the reader starts */
	struct loop_timer *kr_timer;   /* start the thread, then drain on */
	struct loop_timer *next_timer; /* the queue was left non-empty: drain on */
	struct loop *loop;
	source_sink_fn sink;
	source_flush_fn flush;
	void *data;
	uint8_t boot_id[16];
	/* Last kernel sequence number handed on; valid once have_seq is set. */
	uint64_t last_seq;
	int have_seq;
	/* Start position (source_set_position): records up to pos.kmsg_seq
	 * are already spooled and are skipped without a gap. */
	struct source_position pos;
	int overrun; /* EPIPE seen: the next seq jump is a ring overrun */
	struct cont *cont;
	struct loop_timer *cont_timer;
	int eof;
	uint64_t burst_end; /* CLOCK_MONOTONIC usec when this burst yields */
	int burst_over;	    /* the burst yielded with records still buffered */
	/* STREAM: bytes read but not yet consumed. */
	uint8_t *buf;
	size_t start, end, cap;
	uint8_t *scratch;
	size_t scratch_cap;
	struct source_stats st;
};

int source_open(struct source **ret, const char *path, const uint8_t boot_id[16])
{
	struct source *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (s->fd < 0) {
		int r = -errno;
		free(s);
		return r;
	}
	struct stat sb;
	if (fstat(s->fd, &sb) < 0) {
		int r = -errno;
		close(s->fd);
		free(s);
		return r;
	}
	if (S_ISFIFO(sb.st_mode)) {
		/* Hold a write end ourselves so the FIFO never reports EOF/HUP
		 * between writers (epoll would spin on it). */
		int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			int r = -errno;
			close(s->fd);
			free(s);
			return r;
		}
		close(s->fd);
		s->fd = fd;
	}
	s->kind = S_ISCHR(sb.st_mode) ? SOURCE_DEVICE : SOURCE_STREAM;
	s->is_regular = S_ISREG(sb.st_mode);
	s->cap = 4 * KMSG_READ_MAX;
	s->scratch_cap = s->cap + 64;
	s->buf = malloc(s->cap);
	s->scratch = malloc(s->scratch_cap);
	if (!s->buf || !s->scratch) {
		source_free(s);
		return -ENOMEM;
	}
	memcpy(s->boot_id, boot_id, 16);
	s->queue_bytes = SOURCE_QUEUE_DEFAULT;
	int r = cont_new(&s->cont);
	if (r < 0) {
		source_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void source_set_position(struct source *s, const struct source_position *p)
{
	s->pos = *p;
	if (s->pos.have_cursor && memcmp(s->pos.boot_id, s->boot_id, 16) != 0)
		s->pos.have_cursor = false; /* another boot: its seqs mean nothing here */
}

void source_set_reader(struct source *s, size_t queue_bytes, int rt_prio)
{
	s->queue_bytes = queue_bytes;
	s->rt_prio = rt_prio;
}

void source_free(struct source *s)
{
	if (!s)
		return;
	/* The thread first: it stops reading before its fd is closed. */
	if (s->kr) {
		if (s->loop)
			loop_del_fd(s->loop, kreader_wake_fd(s->kr));
		kreader_free(s->kr);
	} else if (s->loop && !s->is_regular) {
		loop_del_fd(s->loop, s->fd);
	}
	if (s->cont_timer)
		loop_timer_cancel(s->loop, s->cont_timer);
	if (s->kr_timer)
		loop_timer_cancel(s->loop, s->kr_timer);
	if (s->next_timer)
		loop_timer_cancel(s->loop, s->next_timer);
	cont_free(s->cont);
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s->scratch);
	free(s);
}

void source_get_stats(const struct source *s, struct source_stats *st)
{
	*st = s->st;
	if (s->kr) {
		struct kreader_stats ks;
		kreader_get_stats(s->kr, &ks);
		st->queue_dropped = ks.dropped;
		st->queue_peak = ks.peak_bytes;
	}
}

/*
 * Wall-clock time of a kernel timestamp: the boot's wall-clock start (now
 * minus monotonic now) plus the record's monotonic time. A clock step moves
 * later records with it; suspended time is not counted by the kernel's
 * timestamp, so records after a resume are placed early by the suspend
 * length (see docs/CAPTURE.md).
 */
static uint64_t real_of_mono(uint64_t mono_usec)
{
	uint64_t now_real = clock_usec(CLOCK_REALTIME);
	uint64_t now_mono = clock_usec(CLOCK_MONOTONIC);
	uint64_t boot = now_real > now_mono ? now_real - now_mono : 0;
	return boot + mono_usec;
}

static int to_sink(struct record *rec, void *data)
{
	struct source *s = data;
	return s->sink(rec, s->data);
}

static int emit_gap(struct source *s, uint64_t first, uint64_t last, const char *cause, uint64_t mono)
{
	/* Whatever fragments are held end before the gap. */
	int r = cont_flush(s->cont, to_sink, s);
	if (r < 0)
		return r;
	uint8_t fbuf[256];
	char msg[128];
	struct record_fields fb = { .buf = fbuf, .cap = sizeof(fbuf) };
	uint64_t count = last - first + 1;
	if (record_fields_add(&fb, "GAP_CAUSE", cause, strlen(cause)) < 0 ||
	    record_fields_addf(&fb, "GAP_FIRST", "%llu", (unsigned long long)first) < 0 ||
	    record_fields_addf(&fb, "GAP_LAST", "%llu", (unsigned long long)last) < 0 ||
	    record_fields_addf(&fb, "GAP_COUNT", "%llu", (unsigned long long)count) < 0)
		return -ENOSPC;
	int n = snprintf(msg, sizeof(msg), "kernel records %llu..%llu lost (%llu): %s",
			 (unsigned long long)first, (unsigned long long)last, (unsigned long long)count,
			 cause);
	struct record gap = {
		.source = RECORD_SRC_AGENT,
		.level = 4,
		.facility = RECORD_FACILITY_EVENT,
		.event = RECORD_EV_GAP,
		.mono_usec = mono,
		.real_usec = real_of_mono(mono),
		.msg = (const uint8_t *)msg,
		.msg_len = (uint32_t)n,
		.nfields = fb.count,
		.fields = fbuf,
		.fields_len = fb.len,
	};
	memcpy(gap.boot_id, s->boot_id, 16);
	s->st.gaps++;
	s->st.missing += count;
	return s->sink(&gap, s->data);
}

static int emit_malformed(struct source *s, const uint8_t *raw, size_t len)
{
	struct record rec = {
		.source = RECORD_SRC_AGENT,
		.level = 4,
		.facility = RECORD_FACILITY_EVENT,
		.flags = RECORD_F_MALFORMED,
		.event = RECORD_EV_MALFORMED,
		.mono_usec = clock_usec(CLOCK_MONOTONIC),
		.msg = raw,
		.msg_len = (uint32_t)(len > 4096 ? 4096 : len),
	};
	if (len > 4096)
		rec.flags |= RECORD_F_TRUNCATED;
	rec.real_usec = real_of_mono(rec.mono_usec);
	memcpy(rec.boot_id, s->boot_id, 16);
	s->st.malformed++;
	return s->sink(&rec, s->data);
}

/*
 * The first record read decides against the start position: after a
 * cursor of this boot, records up to it are already spooled (skipped, not
 * lost); past it, or from the ring's start, anything before the first
 * record the kernel still has is a gap with the reason.
 */
static int check_first(struct source *s, const struct record *rec, int *skip)
{
	*skip = 0;
	if (s->pos.have_cursor) {
		if (rec->kmsg_seq <= s->pos.kmsg_seq) {
			s->st.skipped++;
			*skip = 1;
			return 0;
		}
		s->have_seq = 1;
		s->last_seq = s->pos.kmsg_seq;
		return 0; /* the ordinary jump check names what was overwritten */
	}
	s->have_seq = 1;
	if (rec->kmsg_seq == 0)
		return 0;
	s->last_seq = rec->kmsg_seq - 1;
	return emit_gap(s, 0, rec->kmsg_seq - 1,
			s->pos.from_now ? "started-from-now" : "overwritten-before-start", rec->mono_usec);
}

static int handle_record(struct source *s, const uint8_t *raw, size_t len)
{
	struct record rec;
	int r = kmsg_parse(raw, len, &rec, s->scratch, s->scratch_cap);
	if (r < 0)
		return emit_malformed(s, raw, len);
	if (!s->have_seq) {
		int skip;
		if ((r = check_first(s, &rec, &skip)) < 0 || skip)
			return r;
	}
	if (rec.kmsg_seq > s->last_seq + 1) {
		const char *cause = s->overrun ? "ring-overrun"
				    : s->last_seq == s->pos.kmsg_seq && s->pos.have_cursor
					    ? "cursor-overwritten"
					    : "seq-jump";
		r = emit_gap(s, s->last_seq + 1, rec.kmsg_seq - 1, cause, rec.mono_usec);
		if (r < 0)
			return r;
	}
	s->overrun = 0;
	if (rec.kmsg_seq > s->last_seq || rec.kmsg_seq == 0)
		s->last_seq = rec.kmsg_seq;
	s->pos.have_cursor = false;
	rec.real_usec = real_of_mono(rec.mono_usec);
	memcpy(rec.boot_id, s->boot_id, 16);
	/* Lines from files and FIFOs can be longer than any kernel record. */
	if (record_fit(&rec))
		s->st.truncated++;
	s->st.records++;
	return cont_push(s->cont, &rec, to_sink, s);
}

/*
 * Kernel records first..last were read but found the reader's queue full.
 * Placed like a record of seq first against the start position, then one
 * gap "queue-full" for the range (those before it are already spooled
 * after a cursor). Ring overruns while the queue was full fall inside the
 * range: its count is exactly the records missing in it.
 */
static int handle_lost(struct source *s, uint64_t first, uint64_t last, uint64_t mono)
{
	int r;
	bool fresh = !s->have_seq;
	if (fresh) {
		struct record at = { .kmsg_seq = first, .mono_usec = mono };
		int skip;
		if (s->pos.have_cursor && last <= s->pos.kmsg_seq) {
			s->st.skipped += last - first + 1;
			return 0;
		}
		if (s->pos.have_cursor && first <= s->pos.kmsg_seq)
			at.kmsg_seq = first = s->pos.kmsg_seq + 1;
		if ((r = check_first(s, &at, &skip)) < 0)
			return r;
	}
	/* Seqs at or below the last one handed on are not lost (a kernel
	 * ring never goes back; last_seq means nothing before a first one). */
	if (!fresh && last <= s->last_seq)
		return 0;
	if (!fresh && first <= s->last_seq)
		first = s->last_seq + 1;
	if (first > s->last_seq + 1) {
		const char *cause = s->overrun ? "ring-overrun"
				    : s->last_seq == s->pos.kmsg_seq && s->pos.have_cursor
					    ? "cursor-overwritten"
					    : "seq-jump";
		if ((r = emit_gap(s, s->last_seq + 1, first - 1, cause, mono)) < 0)
			return r;
	}
	s->overrun = 0;
	s->pos.have_cursor = false;
	s->last_seq = last;
	return emit_gap(s, first, last, "queue-full", mono);
}

/* The burst's time is up: checked after each record handed on. */
static int burst_done(struct source *s)
{
	if (clock_usec(CLOCK_MONOTONIC) < s->burst_end)
		return 0;
	s->burst_over = 1;
	return 1;
}

/* Records handled from the reader's queue (>= 0), or -errno. */
static int drain_queue(struct source *s)
{
	int handled = 0;
	struct kreader_item it;
	while (handled < SOURCE_BURST && !s->burst_over && kreader_peek(s->kr, &it)) {
		int r;
		if (it.overrun & 1)
			s->overrun = 1;
		if (it.kind == KREADER_RECORD) {
			r = handle_record(s, it.data, it.len);
		} else if (it.kind == KREADER_LOST) {
			r = handle_lost(s, it.first, it.last, it.read_usec);
			if (it.overrun & 2)
				s->overrun = 1;
		} else {
			r = it.error;
		}
		kreader_pop(s->kr);
		if (r < 0)
			return r;
		handled++;
		burst_done(s);
	}
	return handled;
}

static int drain_stream(struct source *s)
{
	int handled = 0;
	for (;;) {
		size_t avail = s->end - s->start;
		size_t span = kmsg_record_span(s->buf + s->start, avail, s->eof);
		if (span == 0) {
			if (avail == s->cap) {
				/* One "record" larger than the buffer: hand it on as malformed. */
				int r = emit_malformed(s, s->buf + s->start, avail);
				if (r < 0)
					return r;
				s->start = s->end = 0;
			}
			return handled;
		}
		int r = handle_record(s, s->buf + s->start, span);
		if (r < 0)
			return r;
		s->start += span;
		handled++;
		if (burst_done(s))
			return handled;
	}
}

/*
 * Files and FIFOs carry records as lines. A record ends where the next
 * non-dictionary line starts; when nothing more is to be read now and the
 * buffer ends with a newline, the writer has finished its record (FIFO
 * writes below PIPE_BUF are atomic; writers of files write whole records),
 * so the last record is handed on instead of waiting for the next one.
 */
static int read_stream(struct source *s)
{
	int handled = 0;
	while (handled < SOURCE_BURST) {
		if (s->start > 0) {
			memmove(s->buf, s->buf + s->start, s->end - s->start);
			s->end -= s->start;
			s->start = 0;
		}
		ssize_t n = 0;
		if (s->end < s->cap) {
			n = read(s->fd, s->buf + s->end, s->cap - s->end);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN)
				return -errno;
		}
		int idle = n <= 0 && s->end < s->cap;
		if (n > 0)
			s->end += (size_t)n;
		s->eof = idle && s->end > 0 && s->buf[s->end - 1] == '\n';
		int r = drain_stream(s);
		s->eof = 0;
		if (r < 0)
			return r;
		handled += r;
		if (idle || s->burst_over)
			break;
	}
	return handled;
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data);

/* A held 'c' fragment waits this long for its '+' continuations. */
#define SOURCE_CONT_WAIT_MS 1000

static void on_cont_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct source *s = data;
	s->cont_timer = NULL;
	if (cont_flush(s->cont, to_sink, s) == 0 && s->flush)
		s->flush(s->data);
}

static int pump(struct source *s)
{
	s->burst_end = clock_usec(CLOCK_MONOTONIC) + SOURCE_BURST_USEC;
	s->burst_over = 0;
	int r = s->kr ? drain_queue(s) : read_stream(s);
	/* Pending fragments after a read: the last record read was a
	 * fragment, so the wait restarts from now. */
	if (s->cont_timer) {
		loop_timer_cancel(s->loop, s->cont_timer);
		s->cont_timer = NULL;
	}
	if (cont_pending(s->cont) &&
	    loop_timer_add(s->loop, SOURCE_CONT_WAIT_MS, on_cont_timer, s, &s->cont_timer) < 0)
		(void)cont_flush(s->cont, to_sink, s);
	if (s->flush)
		s->flush(s->data);
	return r;
}

/*
 * A read error other than EAGAIN, EINTR and EPIPE (or a sink error) ends
 * capture: the agent stops (and, under systemd, is restarted, resuming at
 * its cursor) rather than run on without reading the kernel.
 */
static void fail(struct source *s, int r)
{
	s->st.error = r;
	loop_stop(s->loop);
}

static void on_io(struct loop *l, int fd, uint32_t events, void *data)
{
	struct source *s = data;
	int r = pump(s);
	if (r < 0) {
		loop_del_fd(l, fd);
		fail(s, r);
	}
}

/*
 * Drain the reader's queue: one burst, then again from a 0 ms timer while
 * entries are left (other fds and timers run in between), else sleep
 * until the thread writes the eventfd.
 */
static void on_drain_timer(struct loop *l, struct loop_timer *t, void *data);

static void drain(struct source *s)
{
	int r = pump(s);
	if (r < 0) {
		fail(s, r);
		return;
	}
	if (s->next_timer)
		return;
	if ((r >= SOURCE_BURST || s->burst_over || kreader_arm(s->kr)) &&
	    (r = loop_timer_add(s->loop, 0, on_drain_timer, s, &s->next_timer)) < 0)
		fail(s, r);
}

static void on_drain_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct source *s = data;
	s->next_timer = NULL;
	drain(s);
}

static void on_wake(struct loop *l, int fd, uint32_t events, void *data)
{
	struct source *s = data;
	uint64_t v;
	(void)!read(fd, &v, sizeof(v));
	drain(s);
}

/*
 * The loop's first turn, after the sandbox is entered: start the thread,
 * which inherits the sandbox and this thread's scheduling (kmsg.
 * reader_priority, raised by source_start while privileged); then this
 * thread goes back to normal scheduling.
 */
static void on_start_reader(struct loop *l, struct loop_timer *t, void *data)
{
	struct source *s = data;
	s->kr_timer = NULL;
	(void)kreader_arm(s->kr);
	int r = kreader_start(s->kr);
	if (s->raised) {
		struct sched_param sp = { .sched_priority = 0 };
		if (sched_setscheduler(0, SCHED_OTHER, &sp) < 0)
			log_warn("kmsg reader: back to normal scheduling: %s", strerror(errno));
		s->raised = 0;
	}
	if (r < 0) {
		log_err("kmsg reader: cannot start its thread: %s", strerror(-r));
		fail(s, r);
		return;
	}
	if (s->rt_prio > 0)
		log_info("kmsg reader: thread started, queue %zu bytes, SCHED_FIFO priority %d",
			 s->queue_bytes, s->rt_prio);
	else
		log_info("kmsg reader: thread started, queue %zu bytes", s->queue_bytes);
	drain(s);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	struct source *s = data;
	int r = pump(s);
	if (r < 0) {
		fail(s, r);
		return;
	}
	/* A regular file is followed like tail -f: at once while there is
	 * more to read (a full burst, or one that ran out of time; a burst
	 * may end past SOURCE_BURST, as a read's whole buffer is handed on),
	 * else after the poll interval. */
	if ((r = loop_timer_add(l, r >= SOURCE_BURST || s->burst_over ? 0 : SOURCE_FILE_POLL_MS, on_timer, s,
				NULL)) < 0)
		fail(s, r);
}

int source_start(struct source *s, struct loop *l, source_sink_fn sink, source_flush_fn flush, void *data)
{
	s->loop = l;
	s->sink = sink;
	s->flush = flush;
	s->data = data;
	/* from = "now" without a cursor: start after the last record. For
	 * the device SEEK_END means exactly that; FIFOs cannot seek. */
	if (s->pos.from_now && !s->pos.have_cursor && (s->kind == SOURCE_DEVICE || s->is_regular) &&
	    lseek(s->fd, 0, SEEK_END) < 0)
		return -errno;
	if (s->is_regular)
		return loop_timer_add(l, 0, on_timer, s, NULL);
	if (s->kind != SOURCE_DEVICE)
		return loop_add_fd(l, s->fd, EPOLLIN, on_io, s);
	int r = kreader_new(&s->kr, s->fd, s->queue_bytes);
	if (r < 0)
		return r;
	if ((r = loop_add_fd(l, kreader_wake_fd(s->kr), EPOLLIN, on_wake, s)) < 0) {
		kreader_free(s->kr);
		s->kr = NULL;
		return r;
	}
	if ((r = loop_timer_add(l, 0, on_start_reader, s, &s->kr_timer)) < 0)
		return r;
	if (s->rt_prio > 0) {
		/* Still privileged (CAP_SYS_NICE): the thread created after the
		 * drop inherits this, which an unprivileged one could not set. */
		struct sched_param sp = { .sched_priority = s->rt_prio };
		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) {
			r = -errno;
			log_err("kmsg.reader_priority %d: cannot set SCHED_FIFO: %s (it needs root with "
				"CAP_SYS_NICE; under systemd, RestrictRealtime=no)",
				s->rt_prio, strerror(-r));
			return r;
		}
		s->raised = 1;
	}
	return 0;
}
