#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# A TCP proxy that logs the length of every frame (u16 BE length + body,
# docs/PROTOCOL.md 2) in each direction: one line "A LEN" (agent to
# collector) or "C LEN" (collector to agent) per frame, LEN the bytes on
# the wire (2 + body). Usage: wire-sizes.py LISTEN_PORT TARGET_PORT LOG
import socket, sys, threading

listen_port, target_port, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cut = int(sys.argv[4]) if len(sys.argv) > 4 else 0
lock = threading.Lock()
out = open(log, "a", buffering=1)

def pump(src, dst, tag, cut_after_first=False):
    buf = b""
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            buf += d
            if cut_after_first and len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
                with lock:
                    out.write("%s %d\ncut\n" % (tag, 2 + int.from_bytes(buf[:2], "big")))
                break
            if not cut_after_first:
                dst.sendall(d)
            while len(buf) >= 2:
                n = int.from_bytes(buf[:2], "big")
                if len(buf) < 2 + n:
                    break
                with lock:
                    out.write("%s %d\n" % (tag, 2 + n))
                buf = buf[2 + n:]
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(8)
while True:
    a, _ = srv.accept()
    try:
        c = socket.create_connection(("127.0.0.1", target_port))
    except OSError:
        a.close()
        continue
    with lock:
        out.write("session\n")
    if cut > 0:
        cut -= 1
        threading.Thread(target=pump, args=(a, c, "A", True), daemon=True).start()
        continue
    threading.Thread(target=pump, args=(a, c, "A"), daemon=True).start()
    threading.Thread(target=pump, args=(c, a, "C"), daemon=True).start()
