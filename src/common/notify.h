/* SPDX-License-Identifier: ISC */
#pragma once

/*
 * The service manager notification protocol (sd_notify(3)): datagrams of
 * "KEY=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
 * or "@name" for the abstract namespace). systemd documents the protocol
 * as stable and meant to be reimplemented; doing it here lets the daemons
 * create and connect the socket once, before the sandbox, after which
 * sending needs only send(2) (sendto). Without $NOTIFY_SOCKET every call does nothing.
 *
 * One per process (a daemon has one service manager).
 */

#include <stdbool.h>
#include <stdint.h>

/*
 * Read $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID and create the
 * socket. Returns 1 when notifications will be sent, 0 when there is no
 * $NOTIFY_SOCKET, or -errno (-EAFNOSUPPORT: an address this code does not
 * know, such as vsock). The socket is connected here: call it before
 * dropping privileges.
 */
__attribute__((warn_unused_result)) int notify_open(void);

/* Whether notify_open found a service manager to notify. */
bool notify_active(void);

/* Send one message ("READY=1", "STATUS=...\nREADY=1", ...). Returns 0
 * (also when not open) or -errno. */
int notify_send(const char *msg);
int notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A note appended to every STATUS= line sent from now on ("; reload
 * failed: ..."), so that the periodic STATUS= keeps showing it; NULL or
 * "" removes it. */
void notify_status_note(const char *note);

/* The watchdog interval the service manager asked for ($WATCHDOG_USEC,
 * for this process), in microseconds; 0: no watchdog. Valid after
 * notify_open. Ping ("WATCHDOG=1") at half of it. */
uint64_t notify_watchdog_usec(void);

void notify_close(void);
