#!/usr/bin/env python3
"""sink.py - the smarthost's own capacity: C connections, each STARTTLS with
a verified certificate and AUTH once, then M messages one after the other
over that one connection, pipelined (what a client reusing connections can
get at best). The clock starts when every connection is ready (handshakes are not
counted) and stops at the last 250 after DATA. Prints one JSON object.
A benchmark tool: trusts its arguments; talks to 127.0.0.1 only.
  usage: sink.py --port P --ca FILE --user U --password-file F
                 [--messages N] [--connections C] [--size BYTES]
"""
import argparse
import base64
import json
import multiprocessing
import socket
import ssl
import sys
import time


def body(size):
    head = (b"From: sink-bench@example.org\r\nTo: capacity@sealpost.test\r\n"
            b"Subject: sink capacity\r\n\r\n")
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
    return head + line * max(1, (size - len(head)) // len(line))  # ends in CRLF


class Client:
    """A lean SMTP client: STARTTLS (verified), AUTH PLAIN, then each
    message as one pipelined MAIL/RCPT/DATA write (the sink offers
    PIPELINING) and one write of the body, so the client costs little."""

    def __init__(self, a):
        raw = socket.create_connection(("127.0.0.1", a.port), timeout=60)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.rf = raw, raw.makefile("rb")
        self.reply(220)
        self.cmd(b"EHLO sink-bench.example.org\r\n", 250)
        self.cmd(b"STARTTLS\r\n", 220)
        ctx = ssl.create_default_context(cafile=a.ca)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.rf = self.sock.makefile("rb")
        self.cmd(b"EHLO sink-bench.example.org\r\n", 250)
        token = base64.b64encode(b"\0" + a.user.encode() + b"\0" + a.password.encode())
        self.cmd(b"AUTH PLAIN " + token + b"\r\n", 235)

    def reply(self, want):
        for _ in range(100):
            line = self.rf.readline(1024)
            if not line[:3].isdigit() or int(line[:3]) != want:
                raise RuntimeError("expected %d, got %r" % (want, line))
            if line[3:4] != b"-":
                return

    def cmd(self, data, want):
        self.sock.sendall(data)
        self.reply(want)

    def send(self, payload):
        self.sock.sendall(b"MAIL FROM:<sink-bench@example.org>\r\nRCPT TO:<capacity@sealpost.test>\r\nDATA\r\n")
        self.reply(250)
        self.reply(250)
        self.reply(354)
        self.sock.sendall(payload)
        self.reply(250)

    def quit(self):
        self.sock.sendall(b"QUIT\r\n")
        self.sock.close()


def one_connection(a, count, ready, results):
    """Connect, wait for the others, send count messages."""
    try:
        c = Client(a)
        payload = body(a.size) + b".\r\n"
        ready.wait(60)
        t0 = time.monotonic()
        for _ in range(count):
            c.send(payload)
        t1 = time.monotonic()
        c.quit()
        results.put((t0, t1, count, None))
    except Exception as e:  # reported, not raised: the parent prints it
        ready.abort()
        results.put((0, 0, 0, repr(e)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--size", type=int, default=4096)
    a = ap.parse_args()
    with open(a.password_file) as f:
        a.password = f.read().strip()
    ready = multiprocessing.Barrier(a.connections)
    results = multiprocessing.Queue()
    procs = []
    for k in range(a.connections):
        share = a.messages // a.connections + (k < a.messages % a.connections)
        p = multiprocessing.Process(target=one_connection, args=(a, share, ready, results))
        p.start()
        procs.append(p)
    got = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(10)
    errors = [g[3] for g in got if g[3]]
    if errors:
        print(json.dumps({"error": errors[0]}))
        sys.exit(1)
    start = min(g[0] for g in got)
    end = max(g[1] for g in got)
    sent = sum(g[2] for g in got)
    print(json.dumps({"connections": a.connections, "messages": sent, "seconds": round(end - start, 4),
                      "msg_per_s": round(sent / (end - start), 1)}))


if __name__ == "__main__":
    main()
