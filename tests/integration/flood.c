/* SPDX-License-Identifier: ISC */
/*
 * Load generator for test-flood.sh: opens RATE garbage TCP connections per
 * second from SRC to DST:PORT for SECONDS, cycling through what an
 * attacker who does not hold an authorized key can do:
 *
 *   0  connect and reset at once
 *   1  a first frame of msg1 size with random bytes (fails mac1)
 *   2  a first frame with a length no msg1 has
 *   3  connect and say nothing (until the collector's handshake timeout)
 *   4  one byte, then nothing (slowloris)
 *   5  a msg1-size frame trickled in 40-byte pieces every 100 ms (fails
 *      mac1 once complete)
 *
 * Every socket is closed when the peer closes it or after HOLD seconds.
 * At the end prints one line:
 *   flood: A attempts, C connected, E connect errors, P closed by peer, B bytes received
 * B must be 0: the collector never writes to an unauthenticated peer.
 *
 * SIGINT or SIGTERM ends it early (the line is still printed).
 *
 * Usage: flood SRC DST PORT RATE SECONDS [HOLD]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_OPEN 4096
#define KINDS 6

struct sock {
	int fd;
	int kind;
	int connected;
	int stage;
	uint64_t opened_ms;
};

static struct sock socks[MAX_OPEN];
static uint64_t attempts, connected, errors, peer_closed, bytes_in;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fill_random(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)random();
}

static void drop(int ep, struct sock *s, int reset)
{
	if (reset) {
		struct linger lg = { 1, 0 };
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
}

/* What a kind sends once connected (stage 0), and later for kind 5. */
static void send_garbage(int ep, struct sock *s)
{
	uint8_t b[256];
	switch (s->kind) {
	case 0:
		drop(ep, s, 1);
		return;
	case 1:
		b[0] = 0;
		b[1] = 155;
		fill_random(b + 2, 155);
		(void)!send(s->fd, b, 157, MSG_NOSIGNAL);
		break;
	case 2:
		b[0] = 0x12;
		b[1] = 0x34;
		fill_random(b + 2, 64);
		(void)!send(s->fd, b, 66, MSG_NOSIGNAL);
		break;
	case 3:
		break;
	case 4:
		b[0] = 0;
		(void)!send(s->fd, b, 1, MSG_NOSIGNAL);
		break;
	case 5:
		b[0] = 0;
		b[1] = 160;
		fill_random(b + 2, 40);
		(void)!send(s->fd, b, 42, MSG_NOSIGNAL);
		break;
	}
	s->stage = 1;
}

static int open_one(int ep, const struct sockaddr_in *src, const struct sockaddr_in *dst, uint64_t now)
{
	int slot = -1;
	for (int i = 0; i < MAX_OPEN; i++)
		if (socks[i].fd < 0) {
			slot = i;
			break;
		}
	if (slot < 0)
		return -2;
	attempts++;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errors++;
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)src, sizeof(*src)) < 0 ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EINPROGRESS)) {
		errors++;
		close(fd);
		return -1;
	}
	struct sock *s = &socks[slot];
	s->fd = fd;
	s->kind = (int)(attempts % KINDS);
	s->connected = 0;
	s->stage = 0;
	s->opened_ms = now;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)slot };
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: flood SRC DST PORT RATE SECONDS [HOLD]\n");
		return 2;
	}
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	if (inet_pton(AF_INET, argv[1], &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1) {
		fprintf(stderr, "flood: bad address\n");
		return 2;
	}
	dst.sin_port = htons((uint16_t)atoi(argv[3]));
	uint64_t rate = strtoull(argv[4], NULL, 10), seconds = strtoull(argv[5], NULL, 10);
	uint64_t hold_ms = argc > 6 ? strtoull(argv[6], NULL, 10) * 1000 : 3000;
	srandom((unsigned)getpid());
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (int i = 0; i < MAX_OPEN; i++)
		socks[i].fd = -1;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("flood: epoll");
		return 1;
	}
	uint64_t start = now_ms(), end = start + seconds * 1000, last_sweep = start;
	for (;;) {
		uint64_t now = now_ms();
		if (now >= end || stop)
			break;
		/* Catch up with the rate. */
		uint64_t due = (now - start) * rate / 1000;
		while (attempts < due)
			if (open_one(ep, &src, &dst, now) == -2)
				break; /* every slot busy: the rate is not met, the count says so */
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 1);
		for (int i = 0; i < n; i++) {
			struct sock *s = &socks[evs[i].data.u32];
			if (s->fd < 0)
				continue;
			uint32_t e = evs[i].events;
			if (!s->connected && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				int err = 0;
				socklen_t sl = sizeof(err);
				getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
				if (err) {
					errors++;
					drop(ep, s, 0);
					continue;
				}
				s->connected = 1;
				connected++;
				struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
							  .data.u32 = evs[i].data.u32 };
				epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
				send_garbage(ep, s);
				continue;
			}
			if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
				uint8_t b[4096];
				ssize_t got = recv(s->fd, b, sizeof(b), MSG_DONTWAIT);
				if (got > 0) {
					bytes_in += (uint64_t)got;
					continue;
				}
				if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
					peer_closed++;
					drop(ep, s, 0);
				}
			}
		}
		if (now - last_sweep >= 100) {
			last_sweep = now;
			for (int i = 0; i < MAX_OPEN; i++) {
				struct sock *s = &socks[i];
				if (s->fd < 0)
					continue;
				if (s->kind == 5 && s->connected && s->stage < 4) {
					uint8_t b[40];
					fill_random(b, sizeof(b));
					(void)!send(s->fd, b, sizeof(b), MSG_NOSIGNAL);
					s->stage++;
				}
				if (now - s->opened_ms >= hold_ms)
					drop(ep, s, 1);
			}
		}
	}
	for (int i = 0; i < MAX_OPEN; i++)
		if (socks[i].fd >= 0)
			drop(ep, &socks[i], 1);
	printf("flood: %llu attempts, %llu connected, %llu connect errors, %llu closed by peer, %llu bytes "
	       "received\n",
	       (unsigned long long)attempts, (unsigned long long)connected, (unsigned long long)errors,
	       (unsigned long long)peer_closed, (unsigned long long)bytes_in);
	return 0;
}
