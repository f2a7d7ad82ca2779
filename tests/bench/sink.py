#!/usr/bin/env python3
"""sink.py - the smarthost's own capacity: C connections, each STARTTLS with
a verified certificate and AUTH once, then M messages one after the other
over that one connection (what a client reusing connections can get at
best). The clock starts when every connection is ready (handshakes are not
counted) and stops at the last 250 after DATA. Prints one JSON object.
A benchmark tool: trusts its arguments; talks to 127.0.0.1 only.
  usage: sink.py --port P --ca FILE --user U --password-file F
                 [--messages N] [--connections C] [--size BYTES]
"""
import argparse
import json
import multiprocessing
import smtplib
import ssl
import sys
import time


def body(size):
    head = (b"From: sink-bench@example.org\r\nTo: capacity@sealpost.test\r\n"
            b"Subject: sink capacity\r\n\r\n")
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
    need = max(0, size - len(head))
    return head + (line * (need // len(line) + 1))[:need]


def one_connection(a, count, ready, results):
    """Connect, STARTTLS (verified), AUTH, wait for the others, send."""
    try:
        ctx = ssl.create_default_context(cafile=a.ca)
        s = smtplib.SMTP("127.0.0.1", a.port, local_hostname="sink-bench.example.org", timeout=60)
        s._host = "localhost"  # the certificate's name; smtplib checks it against _host
        s.starttls(context=ctx)
        s.login(a.user, a.password)
        msg = body(a.size)
        ready.wait(60)
        t0 = time.monotonic()
        for _ in range(count):
            s.sendmail("sink-bench@example.org", ["capacity@sealpost.test"], msg)
        t1 = time.monotonic()
        s.quit()
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
