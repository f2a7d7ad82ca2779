"""benchlib.py - helpers for bench.py: test messages, statistics, the C
drivers (submitters, maxrss), CPU and memory of running processes from
/proc, bounded waits, stopping what is left running under the work
directory, and the private Postfix sink (tests/postfix-harness.sh)
with its log read back as TCP connections, TLS handshakes (full or resumed)
and mail transactions. Standard library only; trusts the harness's output.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def message(size, to="sink@sealpost.test"):
    """A `sendmail -t -i` message of `size` bytes, LF line ends, no Date
    or Message-ID (the front end adds them, as it must for PHP)."""
    head = ("From: bench@example.org\nTo: %s\nSubject: benchmark\n\n" % to).encode()
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n"
    need = max(0, size - len(head))
    return head + (line * (need // len(line) + 1))[:need]


def write_message(path, size):
    with open(path, "wb") as f:
        if size <= (1 << 20):
            f.write(message(size))
            return path
        f.write(message(4096))
        chunk = message(1 << 20)[100:]
        left = size - 4096
        while left > 0:
            f.write(chunk[:left])
            left -= len(chunk)
    return path


def summary(values):
    """median, p90 (nearest rank), mean, min, max of a list of numbers."""
    v = sorted(values)
    if not v:
        return {"n": 0}
    p90 = v[max(0, -(-len(v) * 9 // 10) - 1)]
    return {"n": len(v), "median": statistics.median(v), "p90": p90,
            "mean": statistics.fmean(v), "min": v[0], "max": v[-1]}


def wait_until(pred, timeout, interval=0.005):
    """Bounded wait: True as soon as pred() holds, False after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def proc_cpu(pid):
    """CPU seconds of a running process, with its reaped children."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the comm field: utime stime cutime cstime are fields 14-17
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def proc_children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def processes_under(directory):
    """Pids of the processes (not this one) with an argument naming a path
    under directory: the benchmark's daemon and workers (-C its config).
    Zombies have no command line and are left to their parent."""
    prefix = os.path.join(os.path.abspath(directory), "").encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if any(a.startswith(prefix) for a in args):
            pids.append(int(name))
    return pids


def stop_processes_under(directory, timeout=10):
    """SIGTERM to every process processes_under(directory) finds, SIGKILL
    to those still there after timeout seconds. Returns the pids found."""
    found = processes_under(directory)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_under(directory):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if wait_until(lambda: not processes_under(directory), timeout, 0.05):
            break
    return found


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def memory_map(pid, top=8):
    """Rss, Pss and private memory (KiB) of a running process, and the
    mappings that hold the most resident memory."""
    per, cur = {}, "[anon]"
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                cur = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                per[cur] = per.get(cur, 0) + int(parts[1])
    roll = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                roll[parts[0].rstrip(":")] = int(parts[1])
    biggest = sorted(per.items(), key=lambda kv: -kv[1])[:top]
    return {"rss": roll.get("Rss"), "pss": roll.get("Pss"),
            "private": roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0),
            "anonymous": roll.get("Anonymous"), "largest": biggest}


def count_files(directory, suffix=""):
    try:
        return sum(1 for n in os.listdir(directory) if n.endswith(suffix))
    except FileNotFoundError:
        return 0


class Tools:
    """The C drivers: submitters (parallel runs, rusage) and maxrss. With
    user (uid, gid) the commands run as that user, the drivers as root."""

    def __init__(self, submitters, maxrss, user=None):
        self.submitters = submitters
        self.maxrss = maxrss
        self.user = user

    @staticmethod
    def _as(user):
        return ["-u", "%d:%d" % user] if user else []

    def as_user(self, user):
        return Tools(self.submitters, self.maxrss, user)

    def submit(self, cmd, n=1, procs=1, stdin=None, errlog=None, subreaper=False, timeout=900):
        """Run cmd n times from procs parallel submitters; returns the
        driver's JSON plus "latencies_ms" (each run's wall time)."""
        fd, latfile = tempfile.mkstemp(prefix="bench-lat-")
        os.close(fd)
        argv = [self.submitters, "-p", str(procs), "-n", str(n), "-l", latfile] + self._as(self.user)
        if stdin:
            argv += ["-i", stdin]
        if errlog:
            argv += ["-e", errlog]
        if subreaper:
            argv += ["-R", "-T", str(timeout)]
        try:
            r = subprocess.run(argv + ["--"] + cmd, stdout=subprocess.PIPE, timeout=timeout + 60)
            res = json.loads(r.stdout.decode())
            with open(latfile) as f:
                res["latencies_ms"] = [int(x) / 1000 for x in f.read().split()]
        finally:
            os.unlink(latfile)
        return res

    def peak_rss(self, cmd, stdin=None, user=False):
        """Peak RSS (KiB) of one run of cmd (and of the children it waited
        for), measured by the C parent; user: as for the constructor,
        False for the tools' own."""
        with open(stdin or "/dev/null", "rb") as f:
            r = subprocess.run([self.maxrss] + self._as(self.user if user is False else user) + cmd, stdin=f, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=600)
        m = re.search(rb"^maxrss_kib=(\d+)$", r.stderr, re.M)
        if not m or r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (cmd[0], r.returncode, r.stderr[-400:].decode("replace")))
        return int(m.group(1))


class Sink:
    """The private Postfix instance as the benchmark's smarthost."""

    # Sink role: smtpd must not slow clients down when delivery lags
    # (in_flow_delay), so what is measured is the client.
    OVERRIDES = ["in_flow_delay = 0s"]

    def __init__(self, harness, directory):
        self.harness = harness
        self.dir = directory
        self.env = {}

    def start(self):
        r = subprocess.run(["sh", self.harness, "start", self.dir], stdout=subprocess.PIPE,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError("postfix-harness.sh start failed (%d)" % r.returncode)
        for line in r.stdout.decode().splitlines():
            k, _, v = line.partition("=")
            self.env[k] = v
        self.inst = os.path.dirname(self.env["PF_LOG"])
        self.conf = os.path.join(self.inst, "etc")
        subprocess.run(["postconf", "-c", self.conf, "-e"] + self.OVERRIDES, check=True)
        subprocess.run(["postfix", "-c", self.conf, "reload"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # master restarts its services
        self.port = int(self.env["PF_SUBMISSION_PORT"])
        self.ca = self.env["PF_CA"]
        self.user = self.env["PF_USER"]
        self.password = self.env["PF_PASS"]
        self.maildir_new = os.path.join(self.env["PF_MAILDIR"], "new")

    def stop(self):
        subprocess.run(["sh", self.harness, "stop", self.dir], timeout=60)

    def version(self):
        r = subprocess.run(["postconf", "-c", self.conf, "-h", "mail_version"], stdout=subprocess.PIPE)
        return r.stdout.decode().strip()

    def log_offset(self):
        return os.path.getsize(self.env["PF_LOG"])

    def _slice(self, offset):
        with open(self.env["PF_LOG"], "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def queue_busy(self):
        n = 0
        for sub in ("incoming", "active", "deferred", "maildrop"):
            for _, _, files in os.walk(os.path.join(self.inst, "queue", sub)):
                n += len(files)
        return n

    def wait_idle(self, timeout=180):
        """Until the sink has delivered everything it accepted."""
        return wait_until(lambda: self.queue_busy() == 0, timeout, 0.05)

    def delivered(self):
        return count_files(self.maildir_new)

    def traffic(self, offset, settle=15):
        """What clients did on the submission port since offset: TCP
        connections, TLS handshakes (Postfix logs no "server-digest" for a
        resumed TLS 1.3 session: no certificate signature was made) and mail
        transactions. Waits (bounded) until every connection is logged as
        closed."""
        def parse():
            text = [l for l in self._slice(offset).splitlines() if "/submission/smtpd[" in l]
            conns = sum(1 for l in text if ": connect from " in l)
            closed = [l for l in text if ": disconnect from " in l]
            tls = [l for l in text if "TLS connection established" in l]
            resumed = sum(1 for l in tls if "server-digest" not in l)
            mails = sum(int(m.group(1)) for l in closed for m in [re.search(r" mail=(\d+)", l)] if m)
            return {"connections": conns, "closed": len(closed), "tls_handshakes": len(tls),
                    "tls_full": len(tls) - resumed, "tls_resumed": resumed, "transactions": mails}
        wait_until(lambda: (lambda t: t["closed"] >= t["connections"])(parse()), settle, 0.1)
        t = parse()
        t["messages_per_connection"] = round(t["transactions"] / t["connections"], 2) if t["connections"] else 0
        return t


if __name__ == "__main__":
    # run.sh's last resort, when bench.py could not clean up (SIGKILL):
    #   benchlib.py stop-processes-under WORKDIR
    if len(sys.argv) != 3 or sys.argv[1] != "stop-processes-under":
        sys.exit("usage: benchlib.py stop-processes-under DIR")
    for p in stop_processes_under(sys.argv[2]):
        print("bench: stopped leftover process %d" % p, file=sys.stderr)
