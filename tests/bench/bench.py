#!/usr/bin/env python3
"""bench.py - issue 7's benchmark: sealpost (and in the same run msmtp,
when installed, and dma, nullmailer and the Postfix null client through
peers.py) against a private Postfix on loopback that requires STARTTLS
with a verified certificate and AUTH. Measures front-end wall time, CPU per
message, throughput from 4 parallel submitters, TCP connections and TLS
handshakes, a backlog drained, peak RSS (4 KB and 25 MB), mailq over the
backlog, fsyncs per message, an idle daemon's syscalls and what loading
GnuTLS in the front end would cost. Prints Markdown, writes JSON.

Two layouts (system.py): "direct", root submitting into its own spool
(the build tree's programs; the front end queues directly), and
"system", a scratch system install (make install-system: the setgid
sealpost-drop, the maildrop, the daemon as the worker user) with an
ordinary user submitting, the path of a real install. The phases named
system_* run frontend_daemon, throughput_daemon and memory on the second;
their figures go to R["system"].

Run through tests/bench/run.sh (it builds the helpers and checks root);
a benchmark, not a test: it asserts nothing. Runs as root (Postfix).
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import system  # noqa: E402
import tracing  # noqa: E402


class Bench:
    def __init__(self, a):
        self.a = a
        self.quick = a.quick
        self.runs = 50 if a.quick else a.runs
        self.tput_n = 200 if a.quick else 1000
        self.backlog_n = 1000 if a.quick else 10000
        self.big = 25 * 1024 * 1024
        self.work = a.workdir
        self.tools = bl.Tools(a.submitters, a.maxrss)
        self.sink = bl.Sink(a.harness, os.path.join(self.work, "pf"))
        self.daemon = None
        self.R = {"quick": a.quick}
        self.out = self.R   # where the layout in use puts its figures
        self.L = None       # the layout in use (use())
        self.system = None  # the system install's Layout, once made

    def log(self, *msg):
        print("bench:", *msg, file=sys.stderr, flush=True)

    # ---- set-up -------------------------------------------------------

    def setup(self):
        self.sink.start()
        s = self.sink
        self.spool = os.path.join(self.work, "spool")
        os.makedirs(self.spool)
        secret = os.path.join(self.work, "sink.secret")
        with open(secret, "w") as f:
            f.write(s.password + "\n")
        os.chmod(secret, 0o600)
        self.conf = os.path.join(self.work, "sealpost.conf")
        self.write_conf(self.conf, self.spool, secret, s.ca)
        self.msg4k = bl.write_message(os.path.join(self.work, "4k.eml"), 4096)
        self.msg25m = bl.write_message(os.path.join(self.work, "25m.eml"), self.big)
        # as root (make bench), sealpostd must be told to stay root
        spd = [self.a.sealpostd, "-C", self.conf] + (["--allow-root"] if os.geteuid() == 0 else [])
        self.direct = system.Layout("direct", self.a.sealpost, spd, self.spool, self.tools, conf=self.conf)
        self.use(self.direct)
        self.SPG = [self.a.sealpost_gnutls, "-C", self.conf, "-odq", "-t", "-i"] if self.a.sealpost_gnutls else None
        self.msmtp = shutil.which("msmtp")
        if self.msmtp:
            mconf = os.path.join(self.work, "msmtprc")
            with open(mconf, "w") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write("defaults\nsyslog off\nlogfile\naccount bench\nhost 127.0.0.1\nport %d\n"
                        "domain msmtp-bench.example.org\ntls on\ntls_starttls on\n"
                        "tls_trust_file %s\ntls_host_override localhost\nauth on\nuser %s\n"
                        "password %s\nfrom bench@example.org\naccount default : bench\n"
                        % (s.port, s.ca, s.user, s.password))
            self.MS = [self.msmtp, "-C", mconf, "-t", "-i"]
        self.R["machine"] = self.machine()

    def write_conf(self, path, spool, secret, ca):
        s = self.sink
        with open(path, "w") as f:
            f.write('hostname = "bench.example.org"\ndomain = "example.org"\n'
                    'spool_dir = "%s"\nlog = "stderr"\nmax_message_size = 52428800\n'
                    'relay "sink" {\n  host = "127.0.0.1"\n  port = %d\n  tls = "starttls"\n'
                    '  username = "%s"\n  password_file = "%s"\n}\n'
                    'tls_policy "127.0.0.1" {\n  verify = "ca"\n  ca_file = "%s"\n'
                    '  verify_name = "localhost"\n}\nqueue { concurrency = 4 }\n'
                    % (spool, s.port, s.user, secret, ca))

    def use(self, L):
        """Measure layout L from now on: its front end, daemon, spool and
        submitting user; its figures into R (direct) or R[L.name]."""
        self.stop_daemon()
        self.L = L
        self.SP = L.sp("-t", "-i")             # what PHP runs (background delivery)
        self.SPQ = L.sp("-odq", "-t", "-i")    # queue only
        self.MQ = L.sp("-bp")
        self.SPD, self.spool, self.tools = L.SPD, L.spool, L.tools
        self.out = self.R if L is self.direct else self.R.setdefault(L.name, {})

    def machine(self):
        def out(cmd):
            try:
                return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      timeout=10).stdout.decode().strip()
            except OSError:
                return ""
        debian = out(["cat", "/etc/debian_version"])
        cpu = ""
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1) if m else ""
        return {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "cpu": cpu,
                "load_start": round(os.getloadavg()[0], 2),
                "kernel": platform.release(), "debian": debian, "postfix": self.sink.version(),
                "msmtp": out([self.msmtp, "--version"]).split("\n")[0] if self.msmtp else None,
                "commit": out(["git", "-C", self.a.srcdir, "rev-parse", "--short", "HEAD"]) or "unknown"}

    # ---- helpers ------------------------------------------------------

    def queued(self):
        """Messages not yet delivered: queued, or still in the maildrop."""
        return (bl.count_files(os.path.join(self.spool, "queue"), ".env")
                + bl.count_files(os.path.join(self.spool, "maildrop")))

    def purge_spool(self):
        q = os.path.join(self.spool, "queue")
        for n in os.listdir(q):
            os.unlink(os.path.join(q, n))

    def wait_spool_empty(self, timeout=600):
        return bl.wait_until(lambda: self.queued() == 0, timeout, 0.01)

    def start_daemon(self):
        """A fresh daemon for the phase (one that still runs from the phase
        before is stopped first: a second sealpostd on the spool would exit
        at once and leave the first one running, unowned). In a session of
        its own, so that stop_daemon can end its workers with it."""
        self.stop_daemon()
        self.daemon_log = os.path.join(self.work, "sealpostd.log")
        self.daemon_log_f = open(self.daemon_log, "ab")
        offset = self.daemon_log_f.tell()
        # a system install's daemon runs as its user from the start, as
        # sealpostd.service starts it
        u = self.L.daemon_user
        who = {"user": u[0], "group": u[1], "extra_groups": []} if u else {}
        self.daemon = subprocess.Popen(self.SPD, stdin=subprocess.DEVNULL, stdout=self.daemon_log_f,
                                       stderr=self.daemon_log_f, start_new_session=True, **who)

        def started():
            with open(self.daemon_log, "rb") as f:
                f.seek(offset)
                return b"started" in f.read()
        ok = bl.wait_until(lambda: self.daemon.poll() is not None
                           or (os.path.exists(os.path.join(self.spool, "sealpostd.lock")) and started()),
                           10, 0.01)
        if not ok or self.daemon.poll() is not None:
            rc = self.daemon.poll()
            self.stop_daemon()
            raise RuntimeError("sealpostd did not start (%s); see %s"
                               % ("exit %d" % rc if rc is not None else "no \"started\" line within 10 s",
                                  self.daemon_log))
        self.wait_spool_empty(120)
        self.wait_daemon_quiet()

    def wait_daemon_quiet(self):
        bl.wait_until(lambda: not bl.proc_children(self.daemon.pid), 60, 0.01)

    def stop_daemon(self):
        """SIGTERM and a bounded wait; SIGKILL to the daemon's whole process
        group (its workers) if it does not stop within 60 s."""
        d, self.daemon = self.daemon, None
        if d is None:
            return
        try:
            if d.poll() is None:
                d.send_signal(signal.SIGTERM)
                try:
                    d.wait(60)
                except subprocess.TimeoutExpired:
                    self.log("sealpostd did not stop within 60 s after SIGTERM: killing it")
                    os.killpg(d.pid, signal.SIGKILL)  # d is not reaped yet: its pid is still its group's
                    d.wait()
        finally:
            self.daemon_log_f.close()

    def delays(self, offset):
        with open(self.daemon_log, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        return [float(x) * 1000 for x in re.findall(r" delay=([0-9.]+), .*status=sent", text)]

    # ---- phases -------------------------------------------------------

    def sink_capacity(self):
        n = 300 if self.quick else 1000
        secret = os.path.join(self.work, "sink.secret")
        res = {}
        for conns in (1, 4):
            r = subprocess.run([sys.executable, os.path.join(self.a.benchdir, "sink.py"), "--port",
                                str(self.sink.port), "--ca", self.sink.ca, "--user", self.sink.user,
                                "--password-file", secret, "--messages", str(n), "--connections",
                                str(conns)], stdout=subprocess.PIPE, timeout=600)
            res["%d_connection%s" % (conns, "s" if conns > 1 else "")] = json.loads(r.stdout.decode())
            self.sink.wait_idle()
        self.R["sink_capacity"] = res

    def frontend_wall(self):
        """Queue-only wall time of sealpost, interleaved in blocks with the
        GnuTLS-linked variant and with /bin/true (the cost of any exec)."""
        variants = {"sealpost_odq": self.SPQ, "true": ["/bin/true"]}
        if self.SPG:
            variants["sealpost_gnutls_odq"] = self.SPG
        lat = {k: [] for k in variants}
        cpu = {k: 0.0 for k in variants}
        block = 25
        blocks = max(1, self.runs // block)
        for _ in range(blocks):
            for k, cmd in variants.items():
                r = self.tools.submit(cmd, n=block, stdin=self.msg4k)
                lat[k] += r["latencies_ms"]
                cpu[k] += r["user_s"] + r["sys_s"]
        self.purge_spool()
        res = {k: bl.summary(v) for k, v in lat.items()}
        for k in res:
            res[k]["cpu_ms_per_run"] = round(cpu[k] * 1000 / (blocks * block), 3)
        self.R["frontend_queue_only"] = res
        self.R["libraries"] = {"sealpost": tracing.libraries(self.a.sealpost),
                               "sealpostd": tracing.libraries(self.a.sealpostd)}
        if self.SPG:
            self.R["libraries"]["sealpost_gnutls"] = tracing.libraries(self.a.sealpost_gnutls)
            self.R["gnutls_startup_cost_ms"] = round(
                res["sealpost_gnutls_odq"]["median"] - res["sealpost_odq"]["median"], 3)

    def frontend_daemon(self):
        """`sendmail -t -i` as PHP runs it, with the daemon running; the
        daemon's delay= gives the time from queue id to the sink's 250."""
        self.start_daemon()
        off = os.path.getsize(self.daemon_log)
        poff = self.sink.log_offset()
        r = self.tools.submit(self.SP, n=self.runs, stdin=self.msg4k)
        self.wait_spool_empty()
        self.wait_daemon_quiet()
        self.out["frontend_daemon"] = {"wall_ms": bl.summary(r["latencies_ms"]), "failed": r["failed"],
                                     "delivery_delay_ms": bl.summary(self.delays(off)),
                                     "traffic": self.sink.traffic(poff)}
        self.sink.wait_idle()
        # the same, each run alone: the previous delivery is over before
        # the next run starts, so nothing competes for the 2 cores
        spaced = []
        for _ in range(max(10, self.runs // 4)):
            spaced += self.tools.submit(self.SP, n=1, stdin=self.msg4k)["latencies_ms"]
            self.wait_spool_empty(60)
            self.wait_daemon_quiet()
        self.out["frontend_daemon"]["spaced_wall_ms"] = bl.summary(spaced)
        self.sink.wait_idle()

    def frontend_no_daemon(self):
        """No daemon (a container): each front end starts a one-shot worker."""
        self.stop_daemon()
        poff = self.sink.log_offset()
        r = self.tools.submit(self.SP, n=self.runs, stdin=self.msg4k, subreaper=True, timeout=300)
        self.R["frontend_no_daemon"] = {"wall_ms": bl.summary(r["latencies_ms"]), "failed": r["failed"],
                                        "all_delivered_s": round(r["wall_all_s"], 3),
                                        "left_queued": self.queued(), "traffic": self.sink.traffic(poff)}
        self.sink.wait_idle()

    def frontend_msmtp(self):
        if not self.msmtp:
            return
        poff = self.sink.log_offset()
        r = self.tools.submit(self.MS, n=self.runs, stdin=self.msg4k)
        self.R["msmtp_wall"] = {"wall_ms": bl.summary(r["latencies_ms"]), "failed": r["failed"],
                                "cpu_ms_per_message": round((r["user_s"] + r["sys_s"]) * 1000 / self.runs, 3),
                                "traffic": self.sink.traffic(poff)}
        self.sink.wait_idle()

    def throughput_daemon(self):
        n = self.tput_n
        self.start_daemon()
        cpu0 = bl.proc_cpu(self.daemon.pid)
        poff = self.sink.log_offset()
        got0 = self.sink.delivered()
        t0 = time.monotonic()
        r = self.tools.submit(self.SP, n=n, procs=4, stdin=self.msg4k)
        t_submitted = time.monotonic() - t0
        drained = self.wait_spool_empty(300)
        t_sink = time.monotonic() - t0
        in_maildir = bl.wait_until(lambda: self.sink.delivered() - got0 >= n, 300, 0.02)
        t_maildir = time.monotonic() - t0
        self.wait_daemon_quiet()
        daemon_cpu = bl.proc_cpu(self.daemon.pid) - cpu0
        fe_cpu = r["user_s"] + r["sys_s"]
        self.out["throughput_daemon"] = {
            "messages": n, "submitters": 4, "failed": r["failed"], "all_accepted": drained,
            "submit_s": round(t_submitted, 3), "at_sink_s": round(t_sink, 3),
            "msg_per_s": round(n / t_sink, 1), "in_sink_maildir": in_maildir,
            "in_maildir_s": round(t_maildir, 3),
            "cpu_ms_per_message": round((fe_cpu + daemon_cpu) * 1000 / n, 3),
            "frontend_cpu_ms_per_message": round(fe_cpu * 1000 / n, 3),
            "daemon_cpu_ms_per_message": round(daemon_cpu * 1000 / n, 3),
            "frontend_wall_ms": bl.summary(r["latencies_ms"]),
            "daemon_vm_hwm_kib": bl.vm_hwm_kib(self.daemon.pid),
            "daemon_memory_kib": bl.memory_map(self.daemon.pid),
            "traffic": self.sink.traffic(poff)}
        self.sink.wait_idle()

    def throughput_no_daemon(self):
        n = self.tput_n
        self.stop_daemon()
        poff = self.sink.log_offset()
        r = self.tools.submit(self.SP, n=n, procs=4, stdin=self.msg4k, subreaper=True, timeout=300)
        # the last background worker ended: everything it could send is sent
        left = self.queued()
        self.R["throughput_no_daemon"] = {
            "messages": n, "submitters": 4, "failed": r["failed"], "left_queued": left,
            "at_sink_s": round(r["wall_all_s"], 3), "msg_per_s": round((n - left) / r["wall_all_s"], 1),
            "cpu_ms_per_message": round((r["user_s"] + r["sys_s"]) * 1000 / n, 3),
            "workers_reaped": r["orphans"], "traffic": self.sink.traffic(poff)}
        if left:  # a worker that found every message locked by others leaves it for later
            self.R["throughput_no_daemon"]["flush_needed"] = True
            subprocess.run(self.SPD + ["--once"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.sink.wait_idle()

    def throughput_msmtp(self):
        if not self.msmtp:
            return
        n = self.tput_n
        poff = self.sink.log_offset()
        r = self.tools.submit(self.MS, n=n, procs=4, stdin=self.msg4k)
        self.R["throughput_msmtp"] = {
            "messages": n, "submitters": 4, "failed": r["failed"], "at_sink_s": round(r["wall_s"], 3),
            "msg_per_s": round(n / r["wall_s"], 1),
            "cpu_ms_per_message": round((r["user_s"] + r["sys_s"]) * 1000 / n, 3),
            "traffic": self.sink.traffic(poff)}
        self.sink.wait_idle()

    def memory(self):
        """Peak RSS of the front end (with sealpost-drop, when it runs one)
        queuing 4 KB and 25 MB, then of the --once run (its pickup
        included) that delivers it."""
        self.stop_daemon()
        res = {}
        direct = self.L is self.direct
        for label, path in (("4k", self.msg4k), ("25m", self.msg25m)):
            res["frontend_" + label] = self.tools.peak_rss(self.SPQ, path)
            res["worker_" + label] = self.tools.peak_rss(self.SPD + ["--once"], user=self.L.daemon_user)
            if self.queued():
                raise RuntimeError("the %s message was not delivered" % label)
            if self.SPG and direct:
                res["frontend_gnutls_" + label] = self.tools.peak_rss(self.SPG, path)
                self.purge_spool()
            if self.msmtp and direct:
                res["msmtp_" + label] = self.tools.peak_rss(self.MS, path)
        if direct:
            res["sealpostd_version_only"] = self.tools.peak_rss([self.a.sealpostd, "--version"])
            res["true"] = self.tools.peak_rss(["/bin/true"])
        self.out["peak_rss_kib"] = res
        self.sink.wait_idle()

    # ---- the same on the system install (through sealpost-drop) --------

    def on_system(self, phase):
        """phase on the system install, made at the first call; when it
        cannot be made, the reason goes to R["system"]["error"] and the
        system phases are skipped."""
        S = self.R.setdefault("system", {})
        if "error" in S:
            return
        if self.system is None:
            t = time.monotonic()
            self.log("system install (a private build, make install, make install-system) ...")
            try:
                self.system, info = system.install(self)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                S["error"] = str(e)
                self.log("no system install:", e)
                return
            info["install_s"] = round(time.monotonic() - t, 1)
            S["install"] = info
        self.use(self.system)
        try:
            phase()
        finally:
            self.use(self.direct)

    def system_frontend(self):
        self.on_system(self.frontend_daemon)

    def system_throughput(self):
        self.on_system(self.throughput_daemon)

    def system_memory(self):
        self.on_system(self.memory)

    def tracing(self):
        self.stop_daemon()
        t = {}
        t["frontend_syncs"] = tracing.syncs(self.SPQ, self.msg4k)
        t["frontend_syncs_25m"] = tracing.syncs(self.SPQ, self.msg25m)
        t["frontend_syscalls_odq"] = tracing.syscall_counts(self.SPQ, self.msg4k)
        if self.SPG:
            t["frontend_gnutls_syscalls_odq"] = tracing.syscall_counts(self.SPG, self.msg4k)
        self.purge_spool()
        k = 20
        self.tools.submit(self.SPQ, n=k, stdin=self.msg4k)
        t["worker_syncs"] = tracing.syncs(self.SPD + ["--once"], per=k)
        self.wait_spool_empty(60)
        self.start_daemon()
        t["frontend_syscalls_daemon_running"] = tracing.syscall_counts(self.SP, self.msg4k)
        self.wait_spool_empty(60)
        self.wait_daemon_quiet()
        time.sleep(1)
        t["idle_daemon"] = tracing.idle_syscalls(self.daemon.pid, 10)
        self.R["tracing"] = t
        self.stop_daemon()

    def backlog(self):
        n = self.backlog_n
        self.stop_daemon()
        self.purge_spool()
        t0 = time.monotonic()
        r = self.tools.submit(self.SPQ, n=n, procs=2, stdin=self.msg4k)
        queue_s = time.monotonic() - t0
        mq = self.tools.submit(self.MQ, n=5)
        mqj = self.tools.submit(self.MQ + ["--json"], n=3)
        # sealpostd --health reads every envelope too (issue 14: well under 100 ms)
        hc = self.tools.submit(self.SPD + ["--health", "--max-age", "7d"], n=5)
        poff = self.sink.log_offset()
        d = self.tools.submit(self.SPD + ["--once"], n=1)
        left = self.queued()
        self.R["backlog"] = {
            "messages": n, "queued": n - r["failed"], "queue_s": round(queue_s, 3),
            "mailq_s": bl.summary([x / 1000 for x in mq["latencies_ms"]]),
            "mailq_json_s": bl.summary([x / 1000 for x in mqj["latencies_ms"]]),
            "health_s": bl.summary([x / 1000 for x in hc["latencies_ms"]]), "health_failed": hc["failed"],
            "drain_s": round(d["wall_s"], 3), "left_queued": left,
            "msg_per_s": round((n - left) / d["wall_s"], 1),
            "drain_cpu_ms_per_message": round((d["user_s"] + d["sys_s"]) * 1000 / n, 3),
            "worker_peak_rss_kib": d["maxrss_kib"], "traffic": self.sink.traffic(poff)}
        self.sink.wait_idle(600)

    def paired_peers(self):
        """dma, nullmailer and the Postfix null client, unpacked (never
        installed) and run in private mount namespaces against the same
        sink with the same drivers and messages (peers.py)."""
        self.stop_daemon()
        self.purge_spool()
        self.R["peers"] = peers.Peers(self).run_all(self.a.peers.split(",") if self.a.peers else None)
        self.sink.wait_idle(600)

    def run(self):
        phases = [("sink capacity", self.sink_capacity), ("front end, queue only", self.frontend_wall),
                  ("front end, daemon running", self.frontend_daemon),
                  ("front end, no daemon", self.frontend_no_daemon), ("msmtp, one by one", self.frontend_msmtp),
                  ("throughput, daemon", self.throughput_daemon),
                  ("throughput, no daemon", self.throughput_no_daemon),
                  ("throughput, msmtp", self.throughput_msmtp), ("peak RSS", self.memory),
                  ("system install: front end, daemon running", self.system_frontend),
                  ("system install: throughput", self.system_throughput),
                  ("system install: peak RSS", self.system_memory),
                  ("strace checks", self.tracing), ("backlog", self.backlog),
                  ("peers: dma, nullmailer, Postfix null client", self.paired_peers)]
        if self.a.only:
            wanted = self.a.only.split(",")
            phases = [(n, fn) for n, fn in phases if fn.__name__ in wanted]
        t_all = time.monotonic()
        try:
            self.setup()
            for name, fn in phases:
                t = time.monotonic()
                self.log(name, "...")
                fn()
                self.R.setdefault("phase_s", {})[name] = round(time.monotonic() - t, 1)
        finally:
            try:
                self.stop_daemon()
                # one-shot workers the front ends left (a submitter run cut
                # short, a reap timeout) and a daemon that escaped us
                for pid in bl.stop_processes_under(self.work):
                    self.log("stopped leftover process", pid)
                for u in system.remove_users(self.work):
                    self.log("removed user", u)
            finally:
                self.sink.stop()
        self.R["total_s"] = round(time.monotonic() - t_all, 1)
        self.R.setdefault("machine", {})["load_end"] = round(os.getloadavg()[0], 2)
        return self.R


def stop_on_signal(signum, _frame):
    """SIGTERM/SIGINT/SIGHUP (run.sh forwards them): unwind through
    Bench.run's finally, which stops the daemon, the workers and the sink;
    a second signal must not cut that short."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    print("bench: stopping on signal %d" % signum, file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sealpost", required=True)
    ap.add_argument("--sealpostd", required=True)
    ap.add_argument("--sealpost-gnutls")
    ap.add_argument("--submitters", required=True)
    ap.add_argument("--maxrss", required=True)
    ap.add_argument("--harness", required=True)
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--builddir", required=True, help="the measured build (the system install copies its flags)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default="bench-results.json")
    ap.add_argument("--markdown")
    ap.add_argument("--only", help="comma-separated phases (method names), e.g. throughput_daemon,backlog")
    ap.add_argument("--peers", help="comma-separated peers for paired_peers (default: dma,nullmailer,postfix)")
    a = ap.parse_args()
    a.benchdir = os.path.dirname(os.path.abspath(__file__))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop_on_signal)
    results = Bench(a).run()
    text = report.markdown(results)
    print(text)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
