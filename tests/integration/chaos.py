#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""TCP proxy that misbehaves the way networks do, for test-chaos.sh.

    chaos.py LISTEN_PORT TARGET_PORT CALM_FILE [SEED]

Forwards 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT. Until CALM_FILE
exists, every connection meets, at random:

- cut: both sides are closed (after a random lifetime, mean 1.5 s);
- stall: a direction stops forwarding for 0.5 to 5 s (longer than the
  test agent's dead-peer time, so some stalls end in a reconnect);
- delay: a chunk waits 5 to 80 ms;
- split: a chunk is written one byte at a time (TCP_NODELAY: separate
  segments), so both peers see every frame cut at every offset.

Bytes are never reordered, dropped inside a connection, duplicated or
altered: only what TCP itself allows. Once CALM_FILE exists, new and
existing connections pass bytes through untouched.

Prints one line of counters per second to stdout.
"""
import os
import random
import socket
import sys
import threading
import time

lport, cport, calm_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else None)
lock = threading.Lock()
stats = {"conns": 0, "cuts": 0, "stalls": 0, "delays": 0, "splits": 0, "bytes": 0}


def count(key, n=1):
    with lock:
        stats[key] += n


def calm():
    return os.path.exists(calm_file)


def close_pair(a, b):
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump(src, dst, peer_done):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if not calm():
                with lock:
                    r = rng.random()
                if r < 0.02:
                    count("stalls")
                    time.sleep(rng.uniform(0.5, 5.0))
                elif r < 0.25:
                    count("delays")
                    time.sleep(rng.uniform(0.005, 0.08))
                if not calm() and rng.random() < 0.3:
                    count("splits")
                    for i in range(len(data)):
                        dst.sendall(data[i:i + 1])
                    count("bytes", len(data))
                    continue
            dst.sendall(data)
            count("bytes", len(data))
    except OSError:
        pass
    # Half-close like TCP would: the peer sees EOF after every byte.
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    if peer_done.is_set():
        close_pair(src, dst)
    peer_done.set()


def cutter(a, b, done):
    lifetime = rng.expovariate(1 / 1.5)
    deadline = time.monotonic() + lifetime
    while not done.is_set():
        if calm():
            return
        if time.monotonic() >= deadline:
            count("cuts")
            close_pair(a, b)
            return
        time.sleep(0.05)


def serve(a):
    try:
        b = socket.create_connection(("127.0.0.1", cport))
    except OSError:
        a.close()
        return
    for s in (a, b):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    count("conns")
    done = threading.Event()
    t1 = threading.Thread(target=pump, args=(a, b, done), daemon=True)
    t2 = threading.Thread(target=pump, args=(b, a, done), daemon=True)
    t1.start()
    t2.start()
    threading.Thread(target=cutter, args=(a, b, done), daemon=True).start()
    t1.join()
    t2.join()
    done.set()
    a.close()
    b.close()


def report():
    while True:
        time.sleep(1)
        with lock:
            print(" ".join("%s=%d" % kv for kv in sorted(stats.items())), flush=True)


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport))
ls.listen(64)
threading.Thread(target=report, daemon=True).start()
while True:
    conn, _ = ls.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
