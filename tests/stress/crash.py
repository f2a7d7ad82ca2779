#!/usr/bin/python3
"""tests/stress/crash.py - kill sealpost and sealpostd (SIGKILL) while they
queue and deliver, and check after every round that nothing was lost.

Run by tests/stress/crash.sh (which starts the test smarthost and writes the
configs). Each round queues messages with unique Message-IDs, kills one
process at a named fault point (SEALPOST_FAULT, fault-injection build) or
after a random delay (sealpost; sealpostd --once; or the daemon with its
worker children, as a process group), then runs the worker again with
--flush and checks:

  - every message whose sealpost exited 0 is delivered (by Message-ID at the
    sink), and so is every message whose entry was queued when the front end
    died (killed after the rename: committed, though the caller saw failure);
  - nothing else is ever delivered (a front end killed before its commit
    leaves no message);
  - duplicates only in the documented window (server's 250 to end of data
    reached, state not yet on disk): exactly one for a worker killed at
    after-data-reply/after-state-update/before-removal, at most one per
    random worker kill, none for a front-end kill;
  - afterwards tmp/ is empty, no queue/ID.msg without its .env, nothing in
    corrupt/, and no process other than the killed one died.

Prints the figures and exits 1 on any violation. Python 3 standard library
only; runs as the test's user; trusts only the files under the test dir.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

# as root, sealpostd stays root on these spools only when told so
ROOT = ["--allow-root"] if os.geteuid() == 0 else []

FE_FAULTS = ["after-temp-write", "after-msg-fsync", "after-msg-rename", "after-rename"]
W_FAULTS_DUP = ["after-data-reply", "after-state-update", "before-removal"]
W_FAULTS_DEAD = ["before-state-rename"]  # needs a failed delivery: dead relay


class Failure(Exception):
    pass


class Crash:
    def __init__(self, o):
        self.o = o
        self.rng = random.Random(o.seed)
        self.spool = o.spool
        self.accepted = set()      # sealpost exited 0
        self.committed = set()     # front end killed, entry queued all the same
        self.attempted = set()
        self.late_allowance = {}   # round -> duplicates it may still produce
        self.delivered = {}        # msgid -> count
        self.seen_files = set()
        self.figures = {"rounds": 0, "fe_fault": 0, "fe_random": 0, "w_fault": 0,
                        "w_random": 0, "d_random": 0, "d_delivered": 0, "fe_killed": 0, "w_killed": 0, "d_killed": 0,
                        "committed_killed": 0, "duplicates": 0, "crashes": 0}
        self.seq = 0
        self.run_time = 0.05
        self.fe_time = 0.005
        self.log = open(o.log, "ab")

    # ---- helpers ------------------------------------------------------
    def env(self, fault=None):
        e = {k: v for k, v in os.environ.items() if k != "SEALPOST_FAULT"}
        if fault:
            e["SEALPOST_FAULT"] = fault
        return e

    def message(self, msgid, size):
        head = ("From: Stress <stress@example.org>\nTo: sink@example.net\n"
                "Subject: crash %s\nMessage-ID: <%s>\n\n" % (msgid, msgid))
        line = ("%s " % msgid) * 4 + "\n"
        body = line * max(1, size // len(line))
        return (head + body).encode()

    def new_msgid(self, rnd):
        self.seq += 1
        m = "crash.%d.%d@stress.test" % (rnd, self.seq)
        self.attempted.add(m)
        return m

    def frontend(self, msgid, size, fault=None):
        return subprocess.Popen(
            [self.o.sealpost, "-C", self.o.conf, "-odq", "-i", "-f", "stress@example.org",
             "sink@example.net"],
            stdin=subprocess.PIPE, stdout=self.log, stderr=self.log, env=self.env(fault))

    def queue_one(self, rnd, size=None):
        """A message queued normally (must exit 0)."""
        m = self.new_msgid(rnd)
        t0 = time.monotonic()
        p = self.frontend(m, 0)
        p.communicate(self.message(m, size or self.rng.randint(100, 4000)), timeout=30)
        if p.returncode != 0:
            raise Failure("round %d: sealpost exited %d queueing %s" % (rnd, p.returncode, m))
        self.accepted.add(m)
        self.fe_time = 0.8 * self.fe_time + 0.2 * (time.monotonic() - t0)
        return m

    def worker(self, conf=None, fault=None, extra=()):
        self.log.write(("--- worker %s fault=%s\n" % (conf or self.o.conf, fault)).encode())
        self.log.flush()
        # its own process group: a random kill takes the run and the
        # worker processes it forked, as a crash of the machine would
        return subprocess.Popen([self.o.sealpostd, "-C", conf or self.o.conf, "--once"] + ROOT + list(extra),
                                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                env=self.env(fault), start_new_session=True)

    @staticmethod
    def wait_group_gone(pgid, timeout=30.0):
        """After a SIGKILL to the group: wait until none of its processes
        is left (their spool locks go with them), within a bound."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.01)
        raise Failure("processes of group %d still alive %.0f s after SIGKILL" % (pgid, timeout))

    def log_since(self, offset):
        with open(self.o.log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def queued_msgids(self):
        """Message-IDs of the committed entries (queue/ID.env present)."""
        q = os.path.join(self.spool, "queue")
        out = set()
        for name in os.listdir(q):
            if not name.endswith(".env"):
                continue
            try:
                with open(os.path.join(q, name[:-4] + ".msg"), "rb") as f:
                    out.add(msgid_of(f.read(65536)))
            except FileNotFoundError:
                pass
        return out

    def backdate_leftovers(self):
        """Make tmp/ files and orphan .msg files older than the worker's
        one-hour limit, so its cleanup is what is tested."""
        old = time.time() - 7200
        for sub in ("tmp", "queue"):
            d = os.path.join(self.spool, sub)
            for name in os.listdir(d):
                if sub == "queue" and not (name.endswith(".msg") and
                                           not os.path.exists(os.path.join(d, name[:-4] + ".env"))):
                    continue
                try:
                    os.utime(os.path.join(d, name), (old, old))
                except FileNotFoundError:
                    pass

    def recover(self, rnd):
        self.backdate_leftovers()
        t0 = time.monotonic()
        p = self.worker(extra=["--flush"])
        rc = p.wait(timeout=120)
        # how long a run takes here: random kills aim inside that window
        self.run_time = 0.8 * self.run_time + 0.2 * (time.monotonic() - t0)
        if rc != 0:
            self.figures["crashes"] += 1 if rc < 0 else 0
            raise Failure("round %d: recovery worker exited %d" % (rnd, rc))
        q = sorted(os.listdir(os.path.join(self.spool, "queue")))
        t = sorted(os.listdir(os.path.join(self.spool, "tmp")))
        c = sorted(os.listdir(os.path.join(self.spool, "corrupt"))) \
            if os.path.isdir(os.path.join(self.spool, "corrupt")) else []
        if q or t or c:
            raise Failure("round %d: left behind after recovery: queue=%s tmp=%s corrupt=%s"
                          % (rnd, q[:4], t[:4], c[:4]))

    def collect(self):
        """Count the sink's new deliveries by Message-ID."""
        new = {}
        for name in os.listdir(self.o.maildir):
            if not name.endswith(".json") or name in self.seen_files:
                continue
            self.seen_files.add(name)
            with open(os.path.join(self.o.maildir, name[:-5] + ".eml"), "rb") as f:
                m = msgid_of(f.read(65536))
            new[m] = new.get(m, 0) + 1
            self.delivered[m] = self.delivered.get(m, 0) + 1
        return new

    def wait_sink(self, want, timeout=10.0):
        """The smarthost writes .json after replying: let it catch up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = sum(1 for x in os.listdir(self.o.maildir) if x.endswith(".json"))
            if n >= want:
                return
            time.sleep(0.02)

    def check_round(self, rnd, msgs, dups_allowed, exact_dups=None):
        """msgs: {msgid: must_deliver (bool)}."""
        expected = sum(1 for v in msgs.values() if v)
        self.wait_sink(len(self.seen_files) + expected)
        time.sleep(0.01)
        new = self.collect()
        for m, must in msgs.items():
            n = new.get(m, 0)
            if must and n == 0:
                raise Failure("round %d: LOST %s (accepted or committed, never delivered)" % (rnd, m))
            if not must and n:
                raise Failure("round %d: %s delivered though never queued" % (rnd, m))
        for m in set(new) - set(msgs):
            # a late copy from an earlier round's killed worker (the sink
            # finished writing it after that round was checked): it spends
            # that round's allowance, or it is an error
            r = round_of(m)
            if m not in self.attempted or self.late_allowance.get(r, 0) < new[m]:
                raise Failure("round %d: %s delivered %d more time(s), not allowed"
                              % (rnd, m, new[m]))
            self.late_allowance[r] -= new[m]
            self.figures["duplicates"] += new[m]
            del new[m]
        dups = sum(n - 1 for n in new.values() if n > 1)
        if dups > dups_allowed:
            raise Failure("round %d: %d duplicate(s), at most %d allowed" % (rnd, dups, dups_allowed))
        if exact_dups is not None and dups != exact_dups:
            raise Failure("round %d: %d duplicate(s), want exactly %d" % (rnd, dups, exact_dups))
        self.figures["duplicates"] += dups
        self.late_allowance[rnd] = dups_allowed - dups

    # ---- the rounds -----------------------------------------------------
    def fe_round(self, rnd, fault):
        m = self.new_msgid(rnd)
        size = self.rng.choice([300, 5000, 60000, 300000])
        p = self.frontend(m, size, fault)
        data = self.message(m, size)
        if fault:
            self.figures["fe_fault"] += 1
            try:
                p.communicate(data, timeout=30)
            except BrokenPipeError:
                p.wait(timeout=30)
        else:
            self.figures["fe_random"] += 1
            delay = self.rng.uniform(0, self.fe_time * (1 + size / 300000))
            feeder = threading.Thread(target=feed, args=(p.stdin, data))
            feeder.start()  # the clock runs from the start, not after the write
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            feeder.join(30)
        rc = p.returncode
        if rc == 0:
            if fault:
                raise Failure("round %d: fault point %s not reached (sealpost exited 0)" % (rnd, fault))
            self.accepted.add(m)
            must = True
        elif rc == -signal.SIGKILL:
            self.figures["fe_killed"] += 1
            must = m in self.queued_msgids()
            if must:
                self.committed.add(m)
                self.figures["committed_killed"] += 1
            if fault == "after-rename" and not must:
                raise Failure("round %d: killed after the rename but nothing queued" % rnd)
            if fault in ("after-temp-write", "after-msg-fsync", "after-msg-rename") and must:
                raise Failure("round %d: killed at %s but the message is queued" % (rnd, fault))
        else:
            self.figures["crashes"] += 1
            raise Failure("round %d: sealpost exited %d (not our kill)" % (rnd, rc))
        self.recover(rnd)
        self.check_round(rnd, {m: must}, 0)

    def w_round(self, rnd, fault):
        k = 1 if fault else self.rng.randint(1, 5)
        msgs = {self.queue_one(rnd): True for _ in range(k)}
        conf = self.o.dead_conf if fault in W_FAULTS_DEAD else None
        log_at = self.log.tell()
        p = self.worker(conf=conf, fault=fault)
        if fault:
            # the worker process --once forked kills itself there; the run
            # says so and exits 70 (sealpostd(8))
            self.figures["w_fault"] += 1
            rc = p.wait(timeout=60)
            said = "killed by signal %d" % signal.SIGKILL in self.log_since(log_at)
            if rc != 70 or not said:
                raise Failure("round %d: worker fault point %s not reached (exit %d%s)"
                              % (rnd, fault, rc, "" if said else ", no kill logged"))
            killed = True
        else:
            self.figures["w_random"] += 1
            time.sleep(self.rng.uniform(0, self.run_time * (0.5 + 0.5 * k)))
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # the run and its workers had all ended
            rc = p.wait(timeout=60)
            self.wait_group_gone(p.pid)
            if rc not in (0, -signal.SIGKILL):
                self.figures["crashes"] += 1
                raise Failure("round %d: worker exited %d (not our kill)" % (rnd, rc))
            killed = rc == -signal.SIGKILL
        self.figures["w_killed"] += killed
        self.recover(rnd)
        if fault in W_FAULTS_DUP:
            self.check_round(rnd, msgs, 1, exact_dups=1)
        else:
            self.check_round(rnd, msgs, 1 if killed else 0,
                             exact_dups=0 if fault in W_FAULTS_DEAD else None)

    def d_round(self, rnd):
        """The daemon and its worker children, killed together (SIGKILL to
        the process group) at a random moment while they deliver."""
        self.figures["d_random"] += 1
        self.log.write(b"--- daemon\n")
        self.log.flush()
        p = subprocess.Popen([self.o.sealpostd, "-C", self.o.conf] + ROOT, stdin=subprocess.DEVNULL,
                             stdout=self.log, stderr=self.log, env=self.env(),
                             start_new_session=True)
        k = self.rng.randint(1, 5)
        msgs = {self.queue_one(rnd): True for _ in range(k)}
        time.sleep(self.rng.uniform(0, self.run_time * (0.5 + 0.5 * k)))
        os.killpg(p.pid, signal.SIGKILL)
        rc = p.wait(timeout=60)
        self.wait_group_gone(p.pid)
        if rc != -signal.SIGKILL:
            self.figures["crashes"] += 1
            raise Failure("round %d: the daemon exited %d before our kill" % (rnd, rc))
        self.figures["d_killed"] += 1
        self.figures["d_delivered"] += sum(1 for x in os.listdir(self.o.maildir)
                                           if x.endswith(".json")) - len(self.seen_files)
        self.recover(rnd)
        self.check_round(rnd, msgs, 1)  # concurrency 1: one message in flight

    def run(self):
        plan = []
        if self.o.faults:
            plan += [("fe", f) for f in FE_FAULTS]
            plan += [("w", f) for f in W_FAULTS_DUP + W_FAULTS_DEAD]
        plan += [("fe", None), ("w", None)] * 4  # as many random kills as fault points
        plan += [("d", None)] * 2
        t0 = time.monotonic()
        for rnd in range(1, self.o.rounds + 1):
            kind, fault = plan[(rnd - 1) % len(plan)]
            if kind == "d":
                self.d_round(rnd)
            else:
                (self.fe_round if kind == "fe" else self.w_round)(rnd, fault)
            self.figures["rounds"] += 1
        lost = [m for m in self.accepted | self.committed if self.delivered.get(m, 0) == 0]
        f = self.figures
        print("crash: %d rounds in %.0f s (front end: %d at fault points, %d at random times; "
              "worker --once: %d at fault points, %d at random times; daemon: %d at random times)"
              % (f["rounds"], time.monotonic() - t0, f["fe_fault"], f["fe_random"],
                 f["w_fault"], f["w_random"], f["d_random"]))
        print("crash: processes killed: %d front ends, %d workers, %d daemons with their children "
              "(%d messages delivered by daemons before their kill)"
              % (f["fe_killed"], f["w_killed"], f["d_killed"], f["d_delivered"]))
        print("crash: messages accepted (exit 0): %d, queued by a killed front end (after its rename): %d, "
              "delivered: %d distinct" % (len(self.accepted), len(self.committed), len(self.delivered)))
        print("crash: messages lost: %d" % len(lost))
        print("crash: duplicates: %d (all in the window after the server's 250, before the state update)"
              % f["duplicates"])
        print("crash: crashes found (a process dying other than by our kill): %d" % f["crashes"])
        if lost:
            raise Failure("lost: %s" % lost[:5])


def round_of(msgid):
    try:
        return int(msgid.split(".")[1])
    except (IndexError, ValueError):
        return -1


def feed(pipe, data):
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError):
        pass


def msgid_of(head):
    for line in head.split(b"\n"):
        if line in (b"", b"\r"):
            break
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().strip(b"<>").decode("ascii", "replace")
    return "?"


def main():
    p = argparse.ArgumentParser()
    for a in ("--sealpost", "--sealpostd", "--conf", "--dead-conf", "--spool", "--maildir", "--log"):
        p.add_argument(a, required=True)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--faults", action="store_true", help="the binaries have fault points")
    o = p.parse_args()
    c = Crash(o)
    try:
        c.run()
    except Failure as e:
        print("crash: FAIL: %s" % e)
        print("crash: after %d rounds; figures %s" % (c.figures["rounds"], c.figures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
