#!/usr/bin/python3
"""tests/stress/flaky.py - the load half of tests/stress/flaky.sh: N
messages, each with a unique Message-ID, from S parallel submitters
(sealpost, default delivery mode, while sealpostd runs as a daemon against
a flaky smarthost); then a bounded wait until the queue is empty and a
count by Message-ID at the sink:

  lost        accepted (sealpost exited 0) but never delivered: must be 0
  unexpected  delivered but never accepted: must be 0
  duplicates  deliveries beyond the first (reported; the smarthost's faults
              are before the final reply or after a 250 the client reads,
              so a duplicate means the client lost a 250)

Prints the figures; exit 1 on a lost or unexpected message, a submitter
error, or a queue that does not drain before --deadline seconds.
Python 3 standard library only; trusts only the test directory.
"""

import argparse
import os
import subprocess
import sys
import threading
import time


def msgid_of(path):
    with open(path, "rb") as f:
        head = f.read(8192)
    for line in head.split(b"\n"):
        if line in (b"", b"\r"):
            break
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().strip(b"<>").decode("ascii", "replace")
    return None


def submitter(o, k, accepted, errors, lock):
    mine = range(k, o.messages, o.submitters)
    for i in mine:
        mid = "flaky.%d@stress.test" % i
        size = (i * 7919) % 6000
        body = ("line %d of a flaky-network message\n" % i) * (1 + size // 36)
        msg = ("From: load%d@example.org\nTo: sink@example.net\nSubject: flaky %d\n"
               "Message-ID: <%s>\n\n%s" % (k, i, mid, body)).encode()
        p = subprocess.run([o.sealpost, "-C", o.conf, "-i", "-f", "load%d@example.org" % k,
                            "sink@example.net"], input=msg, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
        with lock:
            if p.returncode == 0:
                accepted.add(mid)
            else:
                errors.append("%s: exit %d: %s" % (mid, p.returncode, p.stderr.decode()[:200]))


def queued(spool):
    return sum(1 for n in os.listdir(os.path.join(spool, "queue")) if n.endswith(".env"))


def main():
    ap = argparse.ArgumentParser()
    for a in ("--sealpost", "--conf", "--spool", "--maildir"):
        ap.add_argument(a, required=True)
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--submitters", type=int, default=20)
    ap.add_argument("--deadline", type=float, default=300)
    ap.add_argument("--daemon-pid", type=int)
    o = ap.parse_args()

    accepted, errors, lock = set(), [], threading.Lock()
    t0 = time.monotonic()
    threads = [threading.Thread(target=submitter, args=(o, k, accepted, errors, lock))
               for k in range(o.submitters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_submit = time.monotonic() - t0
    print("flaky: %d messages from %d parallel submitters in %.1f s: %d accepted, %d refused"
          % (o.messages, o.submitters, t_submit, len(accepted), len(errors)))
    for e in errors[:5]:
        print("flaky: submitter error: %s" % e)

    # the queue drains: retries come after retry_min, so poll with a deadline
    deadline = t0 + o.deadline
    last = None
    while time.monotonic() < deadline:
        n = queued(o.spool)
        if n == 0:
            break
        if o.daemon_pid:
            try:
                os.kill(o.daemon_pid, 0)
            except ProcessLookupError:
                print("flaky: FAIL: the daemon died with %d message(s) queued" % n)
                return 1
        if n != last:
            last = n
        time.sleep(0.2)
    left = queued(o.spool)
    t_all = time.monotonic() - t0
    time.sleep(0.3)  # the sink writes .json right after its 250

    delivered = {}
    for name in os.listdir(o.maildir):
        if name.endswith(".json"):
            mid = msgid_of(os.path.join(o.maildir, name[:-5] + ".eml"))
            delivered[mid] = delivered.get(mid, 0) + 1
    lost = sorted(accepted - set(delivered))
    unexpected = sorted(set(delivered) - accepted)
    dups = sum(n - 1 for n in delivered.values() if n > 1)
    print("flaky: delivered %d distinct messages in %.1f s (%.0f messages/s overall); %d still queued"
          % (len(delivered), t_all, len(delivered) / t_all if t_all else 0, left))
    print("flaky: messages lost: %d" % len(lost))
    print("flaky: duplicates: %d" % dups)
    print("flaky: delivered but never accepted: %d" % len(unexpected))
    ok = not lost and not unexpected and not errors and left == 0
    if lost:
        print("flaky: FAIL: lost, e.g. %s" % lost[:5])
    if unexpected:
        print("flaky: FAIL: unexpected, e.g. %s" % unexpected[:5])
    if left:
        print("flaky: FAIL: %d message(s) still queued after %.0f s" % (left, o.deadline))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
