#!/usr/bin/python3
"""tests/stress/hostile.py - hostile input at intake (run by
tests/stress/hostile.sh): megabyte-long header and body lines, a million
recipients (on the command line and in To: with -t), deeply nested
comments and groups, invalid UTF-8, binary bodies, NUL bytes.

Each case streams its input to `sealpost -odq` (never held whole in this
process when large), measures wall time and peak RSS of the child
(wait4), and checks: the exit status is one the case allows (0 = queued,
65 = refused as bad data), a refusal says why on stderr, nothing is left
behind after a refusal, a queued message is stored as the wire wants it
(CRLF only, no line over 998 octets, no NUL), and time and memory stay
under the bounds. --full uses the big sizes (make check-stress).
Python 3 standard library only; trusts only the test directory.
"""

import argparse
import errno
import os
import re
import resource
import subprocess
import sys
import threading
import time

MB = 1 << 20


def chunks_of(byte, total, chunk=1 << 16):
    """total bytes of one value, in chunks (never held whole)."""
    block = byte * chunk
    while total > 0:
        n = min(total, chunk)
        yield block[:n]
        total -= n


def gen_lines(line, count):
    block = line * max(1, 65536 // len(line))
    per = max(1, 65536 // len(line))
    while count > 0:
        n = min(count, per)
        yield block[:n * len(line)]
        count -= n


def pseudo_random(total, seed=12345, nul=False):
    """Deterministic binary bytes (LCG), NUL-free unless asked."""
    x = seed
    while total > 0:
        n = min(total, 65536)
        out = bytearray(n)
        for i in range(n):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            b = (x >> 16) & 0xFF
            out[i] = b if (b or nul) else 1
        yield bytes(out)
        total -= n


def cases(full):
    big = 40 * MB if full else 2 * MB  # under the default max_message_size
    hdr = [b"From: a@example.org\n", b"To: b@example.net\n", b"Subject: hostile\n"]
    # no whitespace to fold at: broken with CRLF SP, never refused
    yield ("900 KB header line without whitespace", [], 0, [0],
           hdr + [b"X-Long: "] + list(chunks_of(b"h", 900000)) + [b"\n\nbody\n"])
    yield ("900 KB Subject of words", [], 0, [0],
           hdr[:2] + [b"Subject: "] + [b"word " * 180000] + [b"\n\nbody\n"])
    yield ("2 MB header line (over the header limit)", [], 0, [65],
           hdr + [b"X-Long: "] + list(chunks_of(b"h", 2 * MB)) + [b"\n\nbody\n"])
    yield ("%d MB body line" % (big // MB), [], 0, [0],
           hdr + [b"\n"] + list(chunks_of(b"b", big)) + [b"\n"])
    yield ("%d MB of body lines of 5000 octets" % (big // MB), [], 0, [0],
           hdr + [b"\n"] + list(gen_lines(b"x" * 4999 + b"\n", big // 5000)))
    yield ("200,000 header fields", [], 0, [0, 65],
           hdr + list(gen_lines(b"X-A: b\n", 200000)) + [b"\nbody\n"])
    yield ("10 million empty body lines" if full else "1 million empty body lines", [], 0, [0],
           hdr + [b"\n"] + list(gen_lines(b"\n", 10000000 if full else 1000000)))
    yield ("a million recipients on the command line (or as many as exec takes)", ["MANY_ARGS"], 0, [65],
           hdr + [b"\nbody\n"])
    to = b", ".join(b"r%d@example.net" % i for i in range(80000))
    yield ("-t with 80,000 addresses in To: (~1.3 MB)", ["-t"], 0, [65],
           [b"From: a@example.org\nTo: "] + [to] + [b"\nSubject: many\n\nbody\n"])
    to = b", ".join(b"r%d@example.net" % i for i in range(9000))
    yield ("-t with 9,000 addresses in To:", ["-t"], 0, [0],
           [b"From: a@example.org\nTo: "] + [to] + [b"\nSubject: many\n\nbody\n"])
    to = b",".join(b"r%d@x.y" % i for i in range(1000000))
    yield ("-t with a million addresses in To: (folded lines)", ["-t"], 0, [65],
           [b"From: a@example.org\nTo: "] + [to.replace(b",r5", b",\n r5")] + [b"\n\nbody\n"])
    yield ("100,000 nested comments", ["-t"], 0, [0, 65],
           [b"From: a@example.org\nTo: c@example.net "] + [b"(" * 100000, b")" * 100000] +
           [b"\nSubject: x\n\nbody\n"])
    yield ("unbalanced comments", ["-t"], 0, [65],
           [b"From: a@example.org\nTo: c@example.net " + b"(" * 50000 + b"\n\nbody\n"])
    yield ("10,000 nested groups", ["-t"], 0, [0, 65],
           [b"From: a@example.org\nTo: " + b"g: " * 10000 + b"c@example.net" + b";" * 10000 +
            b"\n\nbody\n"])
    yield ("50,000 empty groups", ["-t"], 0, [0, 65],
           [b"From: a@example.org\nTo: " + b"g:;, " * 50000 + b"c@example.net\n\nbody\n"])
    yield ("quoted string of 1 MB in an address", ["-t"], 0, [65],
           [b"From: a@example.org\nTo: \""] + list(chunks_of(b"q", MB)) + [b"\"@example.net\n\nbody\n"])
    yield ("invalid UTF-8 in headers and body", [], 0, [0],
           [b"From: \xff\xfe <a@example.org>\nTo: b@example.net\nSubject: \xc3\x28 \xed\xa0\x80 \xf8\x88\x80\x80\x80\n\n"
            b"\xc0\xaf \xe0\x80\xaf \xff\n" * 1000])
    yield ("%d MB binary body (no NUL)" % (big // MB // 5 or 1), [], 0, [0],
           hdr + [b"\n"] + list(pseudo_random(max(MB, big // 5))))
    yield ("binary body with NUL bytes", [], 0, [65],
           hdr + [b"\n"] + list(pseudo_random(MB, nul=True)))
    yield ("bare CRs and mixed line ends", [], 0, [0],
           hdr + [b"\r\n", b"a\rb\r\rc\n\r\n" * 100000])
    yield ("no header/body separator, 1 MB", [], 0, [0, 65],
           [b"just text without a colon "] + list(chunks_of(b"t", MB)))


def run_case(o, name, args, parts):
    # through a small launcher that forks: the child's peak RSS then starts
    # from the launcher's, not from this (big) Python's copied memory
    rss_path = os.path.join(o.tmp, "rss")
    argv = [o.peakrss, rss_path, o.sealpost, "-C", o.conf, "-odq", "-i"]
    if args == ["MANY_ARGS"]:
        argv += ["r%d@x.y" % i for i in range(o.many_args)]
    else:
        argv += args + ([] if "-t" in args else ["b@example.net"])
    err_path = os.path.join(o.tmp, "stderr")

    def raise_limits():
        # room for a million arguments (the kernel allows a quarter of the stack)
        resource.setrlimit(resource.RLIMIT_STACK, (256 * MB, resource.RLIM_INFINITY))

    with open(err_path, "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                             preexec_fn=raise_limits)

        def feed():
            try:
                for part in parts:
                    p.stdin.write(part)
                p.stdin.close()
            except (BrokenPipeError, OSError):
                pass
        th = threading.Thread(target=feed)
        th.start()
        timer = threading.Timer(o.timeout, p.kill)
        timer.start()
        _, status = os.waitpid(p.pid, 0)
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode > 128:  # the launcher reports a signal as 128 + N
            p.returncode = 128 - p.returncode
        th.join(10)
        secs = time.monotonic() - t0
    with open(err_path, "rb") as f:
        err = f.read().decode("utf-8", "replace").strip()
    with open(rss_path) as f:
        rss_kb = int(f.read())
    os.unlink(rss_path)
    return p.returncode, secs, rss_kb / 1024, err


def check_stored(spool):
    q = os.path.join(spool, "queue")
    msgs = [n for n in os.listdir(q) if n.endswith(".msg")]
    if len(msgs) != 1:
        return "want 1 queued message, found %d" % len(msgs)
    with open(os.path.join(q, msgs[0]), "rb") as f:
        data = f.read()
    if b"\0" in data:
        return "NUL stored"
    lines = data.split(b"\r\n")
    if lines[-1] != b"":
        return "does not end with CRLF"
    for ln in lines:
        if b"\n" in ln or b"\r" in ln:
            return "bare CR or LF stored"
        if len(ln) > 998:
            return "a stored line of %d octets" % len(ln)
    return None


def clear_spool(spool):
    for sub in ("queue", "tmp"):
        d = os.path.join(spool, sub)
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))


def main():
    ap = argparse.ArgumentParser()
    for a in ("--sealpost", "--conf", "--spool", "--tmp", "--peakrss"):
        ap.add_argument(a, required=True)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--max-seconds", type=float, default=30)
    ap.add_argument("--max-rss-mb", type=int, default=32)
    o = ap.parse_args()
    o.many_args = 1000000
    with open(o.sealpost, "rb") as f:
        instrumented = b"__asan_init" in f.read()
    failures, peak, n = [], 0, 0
    for name, args, _, allowed, parts in cases(o.full):
        n += 1
        while True:
            try:
                rc, secs, rss, err = run_case(o, name, args, parts)
                break
            except OSError as e:  # E2BIG: this kernel takes fewer arguments
                if args != ["MANY_ARGS"] or e.errno != errno.E2BIG or o.many_args < 20000:
                    raise
                o.many_args = o.many_args * 2 // 3
        if args == ["MANY_ARGS"]:
            name += ": %d arguments" % o.many_args
        verdict = []
        if rc not in allowed:
            verdict.append("exit %d, allowed %s" % (rc, allowed))
        if rc < 0:
            verdict.append("CRASH (signal %d)" % -rc)
        if rc == 65 and not re.match(r"sealpost: \S", err):
            verdict.append("refused without a clear message: %r" % err[:100])
        if rc == 0:
            bad = check_stored(o.spool)
            if bad:
                verdict.append("stored message: " + bad)
        elif not verdict:
            left = os.listdir(os.path.join(o.spool, "queue")) + os.listdir(os.path.join(o.spool, "tmp"))
            if left:
                verdict.append("left behind: %s" % left[:3])
        if secs > o.max_seconds:
            verdict.append("took %.1f s (bound %.0f s)" % (secs, o.max_seconds))
        if not instrumented and rss > o.max_rss_mb:
            verdict.append("peak RSS %.1f MB (bound %d MB)" % (rss, o.max_rss_mb))
        peak = max(peak, rss)
        clear_spool(o.spool)
        what = "queued" if rc == 0 else "exit %d: %s" % (rc, err.splitlines()[-1][:90] if err else "")
        print("%s - %s: %s; %.2f s, peak RSS %.1f MB" % ("not ok" if verdict else "ok", name, what, secs, rss))
        if verdict:
            failures.append("%s: %s" % (name, "; ".join(verdict)))
    print("hostile: %d cases, %d failed, peak RSS %.1f MB%s, crashes found: %d"
          % (n, len(failures), peak, " (ASan build: RSS not bounded)" if instrumented else "",
             sum(1 for f in failures if "CRASH" in f)))
    for f in failures:
        print("hostile: FAIL: %s" % f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
