#!/usr/bin/env python3
"""peers.py - issue 7's peers in the benchmark's own run: dma and nullmailer
(Debian packages fetched with `apt-get download` and unpacked, never
installed: they conflict with the Postfix sink) measured with the drivers
bench.py uses for sealpost, against the same private Postfix sink.

Each peer runs inside a private mount namespace (`unshare --mount
--propagation private`): read-only overlays give /etc, /var/spool and
/usr/{bin,sbin,lib} the unpacked package files and empty mount points, and
private directories under the work directory are bind-mounted over the
peer's compiled-in paths (/etc/dma, /var/spool/dma, /etc/nullmailer,
/var/spool/nullmailer). The system's /etc, /var and /usr are never written;
the mounts vanish with the namespace; every process left in it is killed.
The Postfix null client is a second private instance (relayhost = the
sink, smtp_tls_security_level = secure), its own config bind-mounted over
/etc/postfix in the same way, since the setgid postdrop accepts no other
config directory without the system main.cf's alternate_config_directories.

Add-on to bench.py's Bench (uses bench.sink, .tools, .work, .msg4k,
.msg25m, .runs, .tput_n, .quick, .backlog_n):
    Peers(bench).run_all() -> {"dma": {...}, "nullmailer": {...}, "postfix": {...}}
Standalone: peers.py --submitters B --maxrss B [--harness tests/postfix-harness.sh]
            [--quick] [--runs N] [--only dma,nullmailer,postfix] [--json FILE] [--keep]
Runs as root (overlay and bind mounts, the sink's master). Trusts the
Debian packages it unpacks and the harness's output; standard library only.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib as bl  # noqa: E402

PACKAGES = {"dma": "dma", "nullmailer": "nullmailer", "postfix": None}  # postfix: installed
SENDMAIL = ["/usr/sbin/sendmail", "-t", "-i"]
MAILQ = ["/usr/bin/mailq"]
VERIFIES = {
    "dma": "pins the sink certificate's SHA-256 fingerprint (FINGERPRINT); dma 0.13 "
           "verifies no CA chain and no name",
    "nullmailer": "CA chain against the harness CA (--x509cafile) and the name "
                  "localhost (GnuTLS hostname check)",
    "postfix": "CA chain against the harness CA (smtp_tls_CAfile) and the name localhost "
               "(smtp_tls_security_level = secure, relayhost [localhost])",
}
# The null client's services: no smtpd listener, pickup for the maildrop.
with open(os.path.join(HERE, "..", "postfix-services.cf")) as _f:
    NULLCLIENT_MASTER = "pickup    unix  n - n 60 1 pickup\n" + _f.read()


def log(*msg):
    print("peers:", *msg, file=sys.stderr, flush=True)


def sink_state(sink):
    """What the inner process needs to use the running sink."""
    return {"harness": sink.harness, "dir": sink.dir, "env": sink.env}


def sink_from_state(st):
    s = bl.Sink(st["harness"], st["dir"])
    s.env = st["env"]
    s.inst = os.path.dirname(s.env["PF_LOG"])
    s.conf = os.path.join(s.inst, "etc")
    s.port = int(s.env["PF_SUBMISSION_PORT"])
    s.ca = s.env["PF_CA"]
    s.user = s.env["PF_USER"]
    s.password = s.env["PF_PASS"]
    s.maildir_new = os.path.join(s.env["PF_MAILDIR"], "new")
    return s


class Peers:
    """Outer side: fetch, unpack and configure each peer under
    bench.work/peers, then measure it in a private mount namespace."""

    def __init__(self, bench):
        self.b = bench
        self.dir = os.path.join(bench.work, "peers")
        self.debs = os.path.join(self.dir, "debs")
        self.backlog_n = getattr(bench, "backlog_n", 1000 if bench.quick else 10000)

    # ---- packages -----------------------------------------------------

    def fetch(self, pkg):
        """The unpacked package tree, or raise RuntimeError with a reason."""
        os.makedirs(self.debs, exist_ok=True)
        os.chmod(self.dir, 0o755)
        debs = [n for n in os.listdir(self.debs) if n.startswith(pkg + "_") and n.endswith(".deb")]
        if not debs:
            try:
                r = subprocess.run(["apt-get", "download", "-q", pkg], cwd=self.debs, timeout=120,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise RuntimeError("apt-get download %s: %s" % (pkg, e))
            debs = [n for n in os.listdir(self.debs) if n.startswith(pkg + "_") and n.endswith(".deb")]
            if r.returncode != 0 or not debs:
                raise RuntimeError("apt-get download %s failed: %s"
                                   % (pkg, r.stdout.decode("utf-8", "replace").strip()[-300:]))
        deb = os.path.join(self.debs, sorted(debs)[-1])
        tree = os.path.join(self.dir, pkg, "root")
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree)
        subprocess.run(["dpkg-deb", "-x", deb, tree], check=True, timeout=60)
        ver = subprocess.run(["dpkg-deb", "-f", deb, "Version"], stdout=subprocess.PIPE,
                             check=True).stdout.decode().strip()
        return tree, ver

    # ---- per-peer private trees ----------------------------------------

    def _layout(self, peer, tree, confdir, spooldir):
        """lower/ (read-only overlay layers: mount points and /etc/mailname),
        conf/ and spool/ (bind-mounted over the compiled-in paths)."""
        top = os.path.join(self.dir, peer)
        low = os.path.join(top, "lower")
        for d in (os.path.join(low, "etc", confdir), os.path.join(low, "var", "spool", spooldir)):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(low, "etc", "mailname"), "w") as f:
            f.write("%s-bench.example.org\n" % peer)
        conf = os.path.join(top, "conf")
        spool = os.path.join(top, "spool")
        os.makedirs(conf, exist_ok=True)
        os.makedirs(spool, exist_ok=True)
        overlays = [("/etc", os.path.join(low, "etc")), ("/var/spool", os.path.join(low, "var", "spool"))]
        for d in ("bin", "sbin", "lib"):
            if os.path.isdir(os.path.join(tree, "usr", d)):
                overlays.append(("/usr/" + d, os.path.join(tree, "usr", d)))
        return {"top": top, "conf": conf, "spool": spool, "overlays": overlays,
                "binds": [(conf, "/etc/" + confdir), (spool, "/var/spool/" + spooldir)]}

    def prepare_dma(self, tree):
        s = self.b.sink
        L = self._layout("dma", tree, "dma", "dma")
        with open(os.path.join(s.conf, "server.pem")) as f:
            fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest().upper()
        base = ("SMARTHOST 127.0.0.1\nPORT %d\nALIASES /etc/dma/aliases\nSPOOLDIR /var/spool/dma\n"
                "AUTHPATH /etc/dma/auth.conf\nSECURETRANSFER\nSTARTTLS\nFINGERPRINT %s\n"
                "MAILNAME /etc/mailname\nNULLCLIENT\n" % (s.port, fp))
        with open(os.path.join(L["conf"], "dma.conf.now"), "w") as f:
            f.write(base)
        with open(os.path.join(L["conf"], "dma.conf.defer"), "w") as f:
            f.write(base + "DEFER\n")
        with open(os.path.join(L["conf"], "dma.conf.badpin"), "w") as f:
            f.write(base.replace(fp, "00" * 32))
        shutil.copy(os.path.join(L["conf"], "dma.conf.now"), os.path.join(L["conf"], "dma.conf"))
        open(os.path.join(L["conf"], "aliases"), "w").close()
        auth = os.path.join(L["conf"], "auth.conf")
        with open(auth, "w") as f:
            f.write("%s|127.0.0.1:%s\n" % (s.user, s.password))
        os.chown(auth, 0, 8)  # group mail, as Debian ships it
        os.chmod(auth, 0o640)
        os.chown(L["spool"], 0, 8)
        os.chmod(L["spool"], 0o2775)
        return L

    def prepare_postfix(self, tree):
        """A second private Postfix, as a null client relaying to the sink;
        its config is bind-mounted over /etc/postfix, so its own sendmail
        and setgid postdrop find it (postdrop refuses other -C/MAIL_CONFIG
        directories unless the system main.cf authorizes them)."""
        s = self.b.sink
        top = os.path.join(self.dir, "postfix")
        conf = os.path.join(top, "conf")
        # Debian's meta files (postfix-script, postfix-files, dynamicmaps.cf)
        shutil.copytree("/etc/postfix", conf, symlinks=True, dirs_exist_ok=True)
        shutil.copy(s.ca, os.path.join(conf, "ca.pem"))
        queue, data = os.path.join(top, "queue"), os.path.join(top, "data")
        os.makedirs(queue, exist_ok=True)
        os.makedirs(data, exist_ok=True)
        os.chmod(top, 0o755)
        os.chmod(queue, 0o755)
        shutil.chown(data, "postfix", "postfix")
        sasl = os.path.join(conf, "sasl_passwd")
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\nqueue_directory = %s\ndata_directory = %s\n"
                    "mail_owner = postfix\nsetgid_group = postdrop\nmaillog_file = %s/maillog\n"
                    "maillog_file_prefixes = %s\n"
                    "syslog_name = postfix-peers-nullclient\n"
                    "myhostname = postfix-bench.example.org\nmyorigin = $myhostname\n"
                    "mydestination =\ninet_interfaces = loopback-only\ninet_protocols = ipv4\n"
                    "local_transport = error:local delivery is disabled\nalias_maps =\n"
                    "alias_database =\nsmtp_dns_support_level = disabled\n"
                    "relayhost = [localhost]:%d\nsmtp_tls_security_level = secure\n"
                    "smtp_tls_CAfile = %s/ca.pem\nsmtp_tls_loglevel = 1\n"
                    "smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache\n"
                    "smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = texthash:%s\n"
                    "smtp_sasl_security_options = noanonymous\nmessage_size_limit = 52428800\n"
                    % (queue, data, top, top, s.port, conf, sasl))
        with open(sasl, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write("[localhost]:%d %s:%s\n" % (s.port, s.user, s.password))
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.write(NULLCLIENT_MASTER)
        return {"top": top, "conf": conf, "queue": queue, "overlays": [], "binds": [(conf, "/etc/postfix")]}

    def prepare_nullmailer(self, tree):
        s = self.b.sink
        L = self._layout("nullmailer", tree, "nullmailer", "nullmailer")
        mail = 8
        ca = os.path.join(L["conf"], "ca.pem")
        shutil.copy(s.ca, ca)
        os.chmod(ca, 0o644)
        for name, cafile in (("remotes", "/etc/nullmailer/ca.pem"),
                             ("remotes.badca", "/etc/ssl/certs/ca-certificates.crt")):
            p = os.path.join(L["conf"], name)
            with open(p, "w") as f:
                f.write("localhost smtp --port=%d --starttls --user=%s --pass=%s --x509cafile=%s\n"
                        % (s.port, s.user, s.password, cafile))
            os.chown(p, mail, mail)
            os.chmod(p, 0o600)
        with open(os.path.join(L["conf"], "defaultdomain"), "w") as f:
            f.write("example.org\n")
        for d in ("queue", "tmp", "failed"):
            os.makedirs(os.path.join(L["spool"], d), exist_ok=True)
            os.chown(os.path.join(L["spool"], d), mail, 0)
            os.chmod(os.path.join(L["spool"], d), 0o750)
        trig = os.path.join(L["spool"], "trigger")
        if not os.path.exists(trig):
            os.mkfifo(trig)
        os.chown(trig, mail, 0)
        os.chmod(trig, 0o622)
        os.chown(L["spool"], mail, 0)
        os.chmod(L["spool"], 0o755)
        return L

    # ---- measuring ----------------------------------------------------

    def _run_inner(self, peer, L, version):
        b = self.b
        spec = dict(L, peer=peer, version=version, sink=sink_state(b.sink),
                    submitters=b.tools.submitters, maxrss=b.tools.maxrss, msg4k=b.msg4k,
                    msg25m=b.msg25m, runs=b.runs, tput_n=b.tput_n, backlog_n=self.backlog_n,
                    quick=b.quick, outer_ns=os.readlink("/proc/self/ns/mnt"), result=os.path.join(L["top"], "result.json"))
        specfile = os.path.join(L["top"], "spec.json")
        with open(specfile, "w") as f:
            json.dump(spec, f)
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "/usr/bin/python3",
                            os.path.abspath(__file__), "--inner", specfile], timeout=3600)
        if r.returncode != 0 or not os.path.exists(spec["result"]):
            raise RuntimeError("inner run for %s failed (%d)" % (peer, r.returncode))
        with open(spec["result"]) as f:
            return json.load(f)

    def _peer(self, peer):
        t0 = time.monotonic()
        try:
            if PACKAGES[peer]:
                tree, version = self.fetch(PACKAGES[peer])
            else:
                tree, version = None, self.b.sink.version()
        except (RuntimeError, subprocess.CalledProcessError) as e:
            return {"skipped": str(e)}
        L = getattr(self, "prepare_" + peer)(tree)
        load0 = round(os.getloadavg()[0], 2)
        try:
            res = self._run_inner(peer, L, version)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            res = {"error": str(e)}
        finally:
            if not getattr(self.b, "keep", False):
                shutil.rmtree(L["top"], ignore_errors=True)
            self.b.sink.wait_idle()
        res.update(package=PACKAGES[peer] or "postfix (installed, null client)", version=version, verifies=VERIFIES[peer],
                   load_start=load0, load_end=round(os.getloadavg()[0], 2),
                   phase_s=round(time.monotonic() - t0, 1))
        return res

    def dma(self):
        return self._peer("dma")

    def nullmailer(self):
        return self._peer("nullmailer")

    def postfix(self):
        return self._peer("postfix")

    def run_all(self, only=None):
        out = {}
        for peer in ("dma", "nullmailer", "postfix"):
            if only and peer not in only:
                continue
            log(peer, "...")
            out[peer] = getattr(self, peer)()
        return out


# ---- inside the private mount namespace --------------------------------

class Inner:
    """Runs in the namespace: mounts, then the figures of one peer."""

    def __init__(self, spec):
        self.s = spec
        self.peer = spec["peer"]
        self.tools = bl.Tools(spec["submitters"], spec["maxrss"])
        self.sink = sink_from_state(spec["sink"])
        self.daemon = None
        self.ns = os.readlink("/proc/self/ns/mnt")

    def private(self):
        """True if this process is in a mount namespace of its own."""
        others = [self.s["outer_ns"]]
        try:
            others.append(os.readlink("/proc/1/ns/mnt"))
        except OSError:
            pass
        return self.ns not in others

    def mount(self):
        if not self.private():
            raise RuntimeError("not in a private mount namespace")
        libs = "/usr/lib/x86_64-linux-gnu"
        keep = os.path.join(self.s["top"], "keep-libs")
        for target, lower in self.s["overlays"]:
            if target == "/usr/lib" and os.path.isdir(libs):
                # the system libraries stay a plain mount, not overlay lookups
                os.makedirs(keep, exist_ok=True)
                self._mnt(["--bind", libs, keep])
            self._mnt(["-t", "overlay", "overlay", "-o", "lowerdir=%s:%s" % (lower, target), target])
            if target == "/usr/lib" and os.path.isdir(keep):
                self._mnt(["--bind", keep, libs])
        for src, target in self.s["binds"]:
            self._mnt(["--bind", src, target])

    @staticmethod
    def _mnt(args):
        subprocess.run(["mount"] + args, check=True)

    PF_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")

    def queued(self, which=PF_QUEUES):
        if self.peer == "postfix":
            n = 0
            for sub in which:
                for _, _, files in os.walk(os.path.join(self.s["queue"], sub)):
                    n += len(files)
            return n
        q = "/var/spool/dma" if self.peer == "dma" else "/var/spool/nullmailer/queue"
        return sum(1 for n in os.listdir(q) if self.peer != "dma" or n.startswith("Q"))

    def purge(self):
        if self.peer == "postfix":
            subprocess.run(["postsuper", "-d", "ALL"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            bl.wait_until(lambda: self.queued() == 0, 60, 0.05)
            return
        q = "/var/spool/dma" if self.peer == "dma" else "/var/spool/nullmailer/queue"
        for n in os.listdir(q):
            os.unlink(os.path.join(q, n))

    # postfix: the null client's master and its service processes
    def pf(self, *args):
        r = subprocess.run(["postfix"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError("postfix %s: %s" % (" ".join(args), r.stdout.decode("utf-8", "replace")[-600:]))

    def pf_master(self):
        try:
            with open(os.path.join(self.s["queue"], "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def pf_tree(self):
        master = self.pf_master()
        if not master:
            return []
        todo, seen = [master], []
        while todo:
            p = todo.pop()
            seen.append(p)
            todo += bl.proc_children(p)
        return seen

    def pf_start(self):
        self.pf("start")
        if not bl.wait_until(lambda: self.pf_master() is not None, 30, 0.05):
            raise RuntimeError("the null client's master did not start")
        time.sleep(0.5)

    def pf_stop(self):
        master = self.pf_master()
        if master:
            self.pf("stop")
            bl.wait_until(lambda: self.pf_master() is None, 30, 0.05)

    def pf_hwm(self, comm):
        best = None
        for p in self.pf_tree():
            try:
                with open("/proc/%d/comm" % p) as f:
                    if f.read().strip() != comm:
                        continue
                v = bl.vm_hwm_kib(p)
                best = v if best is None else max(best, v)
            except OSError:
                pass
        return best

    def wait_sink(self, got0, n, timeout=600):
        ok = bl.wait_until(lambda: self.sink.delivered() - got0 >= n, timeout, 0.02)
        return ok

    # dma: the front end forks a background deliverer per message (daemon(3))
    def dma_conf(self, which):
        with open("/etc/dma/dma.conf." + which) as f:
            self.rewrite("/etc/dma/dma.conf", f.read())

    @staticmethod
    def rewrite(path, text):
        """In place: the file keeps its owner and mode."""
        with open(path, "w") as f:
            f.write(text)

    # nullmailer: nullmailer-send runs as a daemon, as user mail
    def start_send(self):
        self.send_log = open(os.path.join(self.s["top"], "send.log"), "ab")
        self.daemon = subprocess.Popen(["/usr/sbin/nullmailer-send"], user="mail", group="mail",
                                       extra_groups=[], stdin=subprocess.DEVNULL, stdout=self.send_log,
                                       stderr=subprocess.STDOUT)
        time.sleep(0.3)

    def stop_send(self):
        if self.daemon:
            if self.daemon.poll() is None:
                self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(10)
            self.send_log.close()
            self.daemon = None

    def wait_delivered(self, timeout=900):
        """Until the queue is empty and no delivery process runs."""
        ok = bl.wait_until(lambda: self.queued() == 0, timeout, 0.01)
        if self.daemon and self.peer == "nullmailer":
            bl.wait_until(lambda: not bl.proc_children(self.daemon.pid), 60, 0.01)
        return ok

    def submit(self, n, procs=1, msg=None):
        """n runs of `sendmail -t -i`; dma's background deliverers are
        reaped (and their CPU counted) by the driver as subreaper."""
        return self.tools.submit(SENDMAIL, n=n, procs=procs, stdin=msg or self.s["msg4k"],
                                 subreaper=self.peer == "dma", timeout=900)

    def cpu_daemon(self):
        """CPU so far of the delivery side: nullmailer-send with its reaped
        smtp children; Postfix's master with every live service process
        (what exited is in the master's reaped-children times)."""
        if self.peer == "postfix":
            total = 0.0
            for p in self.pf_tree():
                try:
                    total += bl.proc_cpu(p)
                except OSError:
                    pass
            return total
        return bl.proc_cpu(self.daemon.pid) if self.daemon else 0.0

    def wall_and_cpu(self):
        runs = self.s["runs"]
        got0 = self.sink.delivered()
        cpu0 = self.cpu_daemon()
        r = self.submit(runs)
        ok = self.wait_delivered()
        at_sink = self.wait_sink(got0, runs)
        cpu = r["user_s"] + r["sys_s"] + self.cpu_daemon() - cpu0
        res = {"wall_ms": bl.summary(r["latencies_ms"]), "failed": r["failed"], "queue_emptied": ok,
               "all_at_sink": at_sink, "cpu_ms_per_message": round(cpu * 1000 / runs, 3),
               "frontend_cpu_ms_per_message": round(
                   (r["user_s"] + r["sys_s"]) * 1000 / runs, 3) if self.peer != "dma" else None}
        self.sink.wait_idle()
        spaced = []
        for _ in range(max(10, runs // 4)):
            spaced += self.submit(1)["latencies_ms"]
            self.wait_delivered(60)
        res["spaced_wall_ms"] = bl.summary(spaced)
        self.sink.wait_idle()
        return res

    def throughput(self):
        n = self.s["tput_n"]
        got0 = self.sink.delivered()
        poff = self.sink.log_offset()
        cpu0 = self.cpu_daemon()
        t0 = time.monotonic()
        r = self.submit(n, procs=4)
        t_sub = time.monotonic() - t0
        emptied = self.wait_delivered()
        t_done = time.monotonic() - t0
        at_sink = self.wait_sink(got0, n)
        t_maildir = time.monotonic() - t0
        if self.peer == "dma":
            t_done = max(t_done, r["wall_all_s"])
        cpu = r["user_s"] + r["sys_s"] + self.cpu_daemon() - cpu0
        res = {"messages": n, "submitters": 4, "failed": r["failed"], "queue_emptied": emptied,
               "submit_s": round(t_sub, 3), "at_sink_s": round(t_done, 3),
               "msg_per_s": round(n / t_done, 1), "in_sink_maildir": at_sink,
               "in_maildir_s": round(t_maildir, 3), "cpu_ms_per_message": round(cpu * 1000 / n, 3),
               "frontend_wall_ms": bl.summary(r["latencies_ms"]),
               "traffic": self.sink.traffic(poff)}
        if self.daemon:
            res["daemon_vm_hwm_kib"] = bl.vm_hwm_kib(self.daemon.pid)
        if self.peer == "postfix":
            res["smtp_vm_hwm_kib"] = self.pf_hwm("smtp")
        self.sink.wait_idle()
        return res

    def deliverer_rss(self, msg):
        """Peak RSS (KiB) of the delivering process(es) for one queued message."""
        got0 = self.sink.delivered()
        if self.peer == "postfix":
            # fresh service processes, one message: the smtp client's high
            # water mark (cleanup, which received it, reported beside)
            self.pf_stop()
            self.pf_start()
            self.tools.peak_rss(SENDMAIL, msg)
            self.wait_delivered(300)
            value = self.pf_hwm("smtp")
            self.extra["cleanup_" + ("25m" if msg == self.s["msg25m"] else "4k")] = self.pf_hwm("cleanup")
        elif self.peer == "dma":
            # queued with DEFER; `dma -q` daemonizes into the deliverer,
            # which the driver reaps as subreaper: its maxrss is the figure
            self.tools.peak_rss(SENDMAIL, msg)
            r = self.tools.submit(["/usr/sbin/dma", "-q"], n=1, subreaper=True, timeout=300)
            value = r["maxrss_kib"]
        else:
            # queued with nullmailer-send stopped; then one queue run
            # (pausetime 0: it exits when the queue is done), under maxrss:
            # nullmailer-send and its smtp child, the larger of the two
            self.tools.peak_rss(SENDMAIL, msg)
            with open("/etc/nullmailer/pausetime", "w") as f:
                f.write("0\n")
            try:
                with open(os.path.join(self.s["top"], "send.log"), "ab") as lf:
                    r = subprocess.run([self.s["maxrss"], "/usr/sbin/nullmailer-send"], user="mail",
                                       group="mail", extra_groups=[], stdin=subprocess.DEVNULL,
                                       stdout=lf, stderr=subprocess.PIPE, timeout=300)
            finally:
                os.unlink("/etc/nullmailer/pausetime")
            value = int(r.stderr.decode().rsplit("maxrss_kib=", 1)[1].split()[0])
        if not self.wait_sink(got0, 1, 120) or self.queued():
            return None, "the message was not delivered"
        self.sink.wait_idle()
        return value, None

    def memory(self):
        res, why = {}, {}
        self.extra = res
        if self.peer == "dma":
            self.dma_conf("defer")
        for label in ("4k", "25m"):
            msg = self.s["msg" + label]
            if self.peer == "postfix":
                self.pf_stop()  # queued only: the front end alone
            res["frontend_" + label] = self.tools.peak_rss(SENDMAIL, msg)
            self.purge()
            v, reason = self.deliverer_rss(msg)
            res["deliverer_" + label] = v
            if reason:
                why["deliverer_" + label] = reason
                self.purge()
        if self.peer == "dma":
            self.dma_conf("now")
        return res, why

    def backlog(self):
        n = self.s["backlog_n"]
        if self.peer == "dma":
            self.dma_conf("defer")
        if self.peer == "postfix":
            # running, but holding mail for the relay (as when it is down)
            subprocess.run(["postconf", "-e", "defer_transports = smtp relay"], check=True)
            self.pf("reload")
        self.purge()
        t0 = time.monotonic()
        r = self.tools.submit(SENDMAIL, n=n, procs=2, stdin=self.s["msg4k"], timeout=1800)
        queue_s = time.monotonic() - t0
        if self.peer == "postfix":
            bl.wait_until(lambda: self.queued(("maildrop", "incoming", "active")) == 0, 300, 0.1)
        queued = self.queued()
        mq = self.tools.submit(MAILQ, n=5, timeout=300)
        self.purge()
        if self.peer == "dma":
            self.dma_conf("now")
        if self.peer == "postfix":
            subprocess.run(["postconf", "-X", "defer_transports"], check=True)
            self.pf("reload")
        return {"messages": n, "queued": queued, "failed": r["failed"], "queue_s": round(queue_s, 3),
                "mailq_s": bl.summary([x / 1000 for x in mq["latencies_ms"]]),
                "mailq_failed": mq["failed"]}

    def verify_probe(self):
        """A wrong trust anchor must stop delivery: True if nothing reached
        the sink within 8 s (the message stays queued)."""
        got0 = self.sink.delivered()
        if self.peer == "postfix":
            subprocess.run(["postconf", "-e", "smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt"],
                           check=True)
            self.pf_start()
            self.tools.submit(SENDMAIL, n=1, stdin=self.s["msg4k"])
            time.sleep(8)
            refused = self.sink.delivered() == got0 and self.queued() == 1
            self.pf_stop()
            subprocess.run(["postconf", "-e", "smtp_tls_CAfile = /etc/postfix/ca.pem"], check=True)
            self.purge()
            return refused
        if self.peer == "dma":
            self.dma_conf("badpin")
            self.tools.submit(SENDMAIL, n=1, stdin=self.s["msg4k"], subreaper=True, timeout=8)
            self.kill_leftovers()
            self.dma_conf("now")
        else:
            good = open("/etc/nullmailer/remotes").read()
            self.rewrite("/etc/nullmailer/remotes", open("/etc/nullmailer/remotes.badca").read())
            try:
                self.start_send()
                self.tools.submit(SENDMAIL, n=1, stdin=self.s["msg4k"])
                time.sleep(8)
                self.stop_send()
            finally:
                self.rewrite("/etc/nullmailer/remotes", good)
        refused = self.sink.delivered() == got0 and self.queued() == 1
        self.purge()
        return refused

    def kill_leftovers(self):
        """Every process still in this namespace but us: ours, by pid."""
        if not self.private():
            return 0  # not in a private namespace: nothing here is only ours
        me = os.getpid()
        killed = 0
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == me:
                continue
            try:
                if os.readlink("/proc/%s/ns/mnt" % p) == self.ns:
                    os.kill(int(p), signal.SIGKILL)
                    killed += 1
            except OSError:
                pass
        return killed

    def run(self):
        res, why = {}, {}
        try:
            self.mount()
            res["verify_refused_wrong_trust"] = self.verify_probe()
            if self.peer == "nullmailer":
                self.start_send()
            if self.peer == "postfix":
                self.pf_start()
            self.submit(3)  # warm-up
            self.wait_delivered(60)
            self.sink.wait_idle()
            log(self.peer, "wall time and CPU")
            res["wall"] = self.wall_and_cpu()
            log(self.peer, "throughput")
            res["throughput"] = self.throughput()
            self.stop_send()
            log(self.peer, "peak RSS")
            res["peak_rss_kib"], w = self.memory()
            why.update(w)
            log(self.peer, "mailq over the backlog")
            res["backlog"] = self.backlog()
        finally:
            self.stop_send()
            if self.peer == "postfix":
                self.pf_stop()
            res["leftover_processes_killed"] = self.kill_leftovers()
        res["why_null"] = why
        return res


def inner_main(specfile):
    with open(specfile) as f:
        spec = json.load(f)
    res = Inner(spec).run()
    with open(spec["result"], "w") as f:
        json.dump(res, f)


# ---- standalone CLI ------------------------------------------------------

class MiniBench:
    """The part of bench.py's Bench that Peers uses, for standalone runs."""

    def __init__(self, a):
        self.quick = a.quick
        self.keep = a.keep
        self.runs = 50 if a.quick else a.runs
        self.tput_n = 200 if a.quick else 1000
        self.backlog_n = 1000 if a.quick else 10000
        self.work = a.workdir
        self.tools = bl.Tools(a.submitters, a.maxrss)
        self.sink = bl.Sink(a.harness, os.path.join(self.work, "pf"))
        self.msg4k = bl.write_message(os.path.join(self.work, "4k.eml"), 4096)
        self.msg25m = bl.write_message(os.path.join(self.work, "25m.eml"), 25 * 1024 * 1024)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--inner":
        return inner_main(sys.argv[2])
    ap = argparse.ArgumentParser(description="dma and nullmailer against the Postfix sink")
    ap.add_argument("--harness", default=os.path.join(HERE, "..", "postfix-harness.sh"))
    ap.add_argument("--submitters", required=True)
    ap.add_argument("--maxrss", required=True)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="comma-separated peers: dma,nullmailer")
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("peers: needs root (mounts, the Postfix sink)", file=sys.stderr)
        return 77
    # SIGTERM/SIGINT unwind through the finally below: the sink is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    a.workdir = tempfile.mkdtemp(prefix="sealpost-peers.")
    os.chmod(a.workdir, 0o755)
    b = MiniBench(a)
    res = {"machine": {"load_start": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}}
    try:
        b.sink.start()
        res["peers"] = Peers(b).run_all(a.only.split(",") if a.only else None)
    finally:
        b.sink.stop()
        if not a.keep:
            shutil.rmtree(a.workdir, ignore_errors=True)
    res["machine"]["load_end"] = round(os.getloadavg()[0], 2)
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
