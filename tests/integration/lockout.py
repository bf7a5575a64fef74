#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Both sides of test-lockout.sh.

attack SECONDS DST4 DST6 PORT PER_ADDR SRC...: from every source address
hold up to PER_ADDR connections to the collector (DST4 for IPv4 sources,
DST6 for IPv6), half silent, half slow (the 2-byte header of a msg1-sized
frame, then one byte every 2 s); every connection that closes is opened
again at once. Prints, once a second, how many are open.

trials N LIMIT CMD...: run CMD (rawagent, case "good") N times, 100 ms
apart; a trial succeeds when it prints "acked 2" within LIMIT seconds. Prints every
duration, then the summary line "trials: OK/N ok, ...".
"""
import errno
import os
import selectors
import socket
import subprocess
import sys
import time


def attack(args):
    seconds, dst4, dst6, port, per = float(args[0]), args[1], args[2], int(args[3]), int(args[4])
    srcs = args[5:]
    sel = selectors.DefaultSelector()
    conns = {}  # fd -> (sock, src, slow, next_byte_time, sent)
    want = {s: per for s in srcs}
    have = {s: 0 for s in srcs}
    opened = 0
    end = time.monotonic() + seconds
    next_report = time.monotonic() + 1

    def open_one(src):
        nonlocal opened
        fam = socket.AF_INET6 if ":" in src else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            s.connect_ex((dst6 if fam == socket.AF_INET6 else dst4, port))
        except OSError:
            s.close()
            return False
        slow = opened % 2 == 1
        opened += 1
        conns[s.fileno()] = [s, src, slow, time.monotonic() + 0.1, 0]
        sel.register(s, selectors.EVENT_READ)
        have[src] += 1
        return True

    def close_one(fd):
        s, src = conns[fd][0], conns[fd][1]
        sel.unregister(s)
        s.close()
        del conns[fd]
        have[src] -= 1

    while time.monotonic() < end:
        # Refill, at most 200 new connections per round so that the loop
        # also reads closes.
        budget = 200
        for src in srcs:
            while have[src] < want[src] and budget > 0:
                budget -= 1
                if not open_one(src):
                    break
        now = time.monotonic()
        for fd, c in list(conns.items()):
            if c[2] and now >= c[3] and c[4] < 3:
                # A msg1-sized frame announced (187 bytes), never finished.
                data = b"\x00\xbb\x00"[c[4]:c[4] + 1]
                try:
                    c[0].send(data)
                    c[4] += 1
                except OSError:
                    pass
                c[3] = now + 2
        for key, _ in sel.select(timeout=0.05):
            fd = key.fd
            if fd not in conns:
                continue
            try:
                d = conns[fd][0].recv(64)
            except OSError:
                d = b""
            if not d:
                close_one(fd)
        if now >= next_report:
            print("attack: %d connections open, %d opened in total" % (len(conns), opened), flush=True)
            next_report = now + 1
    for fd in list(conns):
        close_one(fd)


def trials(args):
    n, limit, cmd = int(args[0]), float(args[1]), args[2:]
    ok, times = 0, []
    for i in range(n):
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
            good = p.stdout.strip() == "acked 2"
        except subprocess.TimeoutExpired:
            good = False
        dt = time.monotonic() - t0
        times.append(dt)
        ok += good
        print("trial %d: %s %.1f ms" % (i + 1, "ok" if good else "FAILED", dt * 1000), flush=True)
        time.sleep(max(0, 0.1 - dt))
    times.sort()
    print("trials: %d/%d ok, median %.1f ms, p99 %.1f ms, max %.1f ms"
          % (ok, n, times[n // 2] * 1000, times[min(n - 1, (n * 99) // 100)] * 1000, times[-1] * 1000), flush=True)
    return 0 if ok >= (n * 99 + 99) // 100 else 1


if __name__ == "__main__":
    if sys.argv[1] == "attack":
        attack(sys.argv[2:])
    else:
        sys.exit(trials(sys.argv[2:]))
