#!/usr/bin/env python3
"""intake_bench.py - how fast and how small is queueing a message?

Runs the front end (`sealpost -t -i`, queue only) against a throwaway spool:
  * wall time of queueing a 4 KB message: median and p90 over --runs runs
  * peak RSS of the front end queuing a 4 KB and a large (default 100 MB) message
Prints a table and writes JSON (--json FILE). A benchmark, not a test: it
asserts nothing. Usage:
  intake_bench.py --sealpost PATH [--runs 200] [--big-mb 100] [--json out.json]
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time


def message(size):
    head = (b"From: bench@example.org\r\nTo: sink@example.net\r\n"
            b"Subject: benchmark\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
            b"Message-ID: <bench@example.org>\r\n\r\n")
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n"
    body = line * (max(0, size - len(head)) // len(line) + 1)
    return head + body[: max(0, size - len(head))]


def run_once(argv, data_path):
    """Run one child; return its wall seconds. (Its ru_maxrss would be
    Python's own size: the high-water mark survives execve.)"""
    with open(data_path, "rb") as stdin:
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, stdin.fileno(), 0)])
        _, status, _ = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("sealpost failed: exit %d" % os.waitstatus_to_exitcode(status))
    return wall


def peak_rss(maxrss, argv, data_path):
    """Peak RSS (KiB) of one run, measured by the small C parent maxrss."""
    with open(data_path, "rb") as stdin:
        r = subprocess.run([maxrss] + argv, stdin=stdin, stderr=subprocess.PIPE, check=True)
    for line in r.stderr.decode().splitlines():
        if line.startswith("maxrss_kib="):
            return int(line.split("=", 1)[1])
    raise SystemExit("maxrss printed nothing")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sealpost", required=True)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--json")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sealpost-bench-")
    try:
        spool = os.path.join(tmp, "spool")
        os.mkdir(spool)
        conf = os.path.join(tmp, "sealpost.conf")
        with open(conf, "w") as f:
            f.write('hostname = "bench.example.org"\nspool_dir = "%s"\nlog = "stderr"\n'
                    'max_message_size = 1G\n' % spool)
        small = os.path.join(tmp, "4k.eml")
        with open(small, "wb") as f:
            f.write(message(4096))
        big = os.path.join(tmp, "big.eml")
        with open(big, "wb") as f:
            chunk = message(1 << 20)[200:]
            f.write(message(4096))
            for _ in range(a.big_mb):
                f.write(chunk)
        argv = [os.path.abspath(a.sealpost), "-C", conf, "-odq", "-t", "-i"]
        maxrss = os.path.join(tmp, "maxrss")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "maxrss.c")
        subprocess.run(["cc", "-O2", "-o", maxrss, src], check=True)

        walls = []
        for _ in range(a.runs):
            walls.append(run_once(argv, small))
            if len(os.listdir(os.path.join(spool, "queue"))) > 2000:
                shutil.rmtree(os.path.join(spool, "queue"))
                os.mkdir(os.path.join(spool, "queue"))
        walls.sort()
        rss_small = peak_rss(maxrss, argv, small)
        rss_big = peak_rss(maxrss, argv, big)
        res = {
            "runs": a.runs,
            "queue_4k_median_ms": round(statistics.median(walls) * 1000, 3),
            "queue_4k_p90_ms": round(walls[int(len(walls) * 0.9) - 1] * 1000, 3),
            "peak_rss_4k_kib": rss_small,
            "peak_rss_big_kib": rss_big,
            "big_message_mb": a.big_mb,
            "date": time.strftime("%Y-%m-%d"),
            "cpus": os.cpu_count(),
        }
        print("| figure | value |\n| --- | --- |")
        print("| queue a 4 KB message, median | %.2f ms |" % res["queue_4k_median_ms"])
        print("| queue a 4 KB message, p90 | %.2f ms |" % res["queue_4k_p90_ms"])
        print("| front end peak RSS, 4 KB | %.2f MiB |" % (rss_small / 1024))
        print("| front end peak RSS, %d MB | %.2f MiB |" % (a.big_mb, rss_big / 1024))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=1)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
