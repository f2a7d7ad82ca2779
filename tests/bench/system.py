"""system.py - the benchmark's system install (issue 11), so that sealpost
is measured the way a real install submits: an ordinary user's
`sendmail -t -i` runs the unprivileged front end, which hands the message
to the setgid sealpost-drop (SPOOL/maildrop/, mode 1730); the daemon,
running as the worker user as sealpostd.service starts it, picks it up
(inotify) into queue/ and delivers it.

The install is what install-queue.sh does: the same source, configured
with the measured build's CC, CFLAGS, CPPFLAGS and LDFLAGS for a scratch
prefix under the work directory (the spool compiled in, since
sealpost-drop holds its group only for the install's own spool), `make
install`, then `make install-system` (contrib/postinst: the worker user
and group, the spool's owners and modes, sealpost-drop root:group 2755).
The submitting user is an ordinary account made for the run. Both users
are removed at the end (remove_users; run.sh calls it too, as a last
resort): only names this run wrote to WORKDIR/bench-users first, and that
carry its suffix.

Add-on to bench.py's Bench: install(bench) -> Layout. Runs as root.
"""
import os
import pwd
import random
import re
import subprocess
import sys

USERS_FILE = "bench-users"
NAME = re.compile(r"^spb[wu][0-9]{8}$")  # the only names remove_users touches


class Layout:
    """One way sealpost is installed and called, for Bench's phases:
    sp(args) the front end's argv, SPD the daemon's, spool, tools (who
    submits), daemon_user (None: the daemon as started, root)."""

    def __init__(self, name, front, spd, spool, tools, daemon_user=None, conf=None):
        self.name = name
        self.front = [front] + (["-C", conf] if conf else [])
        self.SPD = spd
        self.spool = spool
        self.tools = tools
        self.daemon_user = daemon_user

    def sp(self, *args):
        return self.front + list(args)


def _clean_make_env():
    """make bench runs us: the outer make's jobserver and flags stay out."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    return env


def build_flags(builddir):
    """CC, CFLAGS, CPPFLAGS, LDFLAGS of the measured build (its Makefile)."""
    flags = {}
    with open(os.path.join(builddir, "Makefile")) as f:
        for line in f:
            m = re.match(r"^(CC|CFLAGS|CPPFLAGS|LDFLAGS) = (.*)$", line.rstrip("\n"))
            if m:
                flags[m.group(1)] = m.group(2).strip()
    return flags


def _nosuid(path):
    r = subprocess.run(["findmnt", "-n", "-o", "OPTIONS", "--target", path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    return "nosuid" in r.stdout.decode().split(",")


def _run(argv, log, **kw):
    with open(log, "ab") as f:
        r = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, env=_clean_make_env(), **kw)
    if r.returncode != 0:
        with open(log, "rb") as f:
            tail = f.read()[-1500:].decode("utf-8", "replace")
        raise RuntimeError("%s failed (%d); end of %s:\n%s" % (" ".join(argv[:3]), r.returncode, log, tail))


def _register_user(work, name):
    if not NAME.match(name):
        raise RuntimeError("refusing to manage the user %s" % name)
    try:
        pwd.getpwnam(name)
        raise RuntimeError("user %s exists already" % name)
    except KeyError:
        pass
    with open(os.path.join(work, USERS_FILE), "a") as f:
        f.write(name + "\n")


def remove_users(work):
    """userdel (and groupdel) the users this run registered; their
    processes must be gone (stop_processes_under first)."""
    try:
        with open(os.path.join(work, USERS_FILE)) as f:
            names = [n.strip() for n in f if NAME.match(n.strip())]
    except FileNotFoundError:
        return []
    for n in names:
        subprocess.run(["userdel", "-f", n], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["groupdel", n], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.unlink(os.path.join(work, USERS_FILE))
    return names


def install(b):
    """Build, install and set up the system layout for Bench b; returns
    its Layout. Raises RuntimeError saying what failed."""
    work = b.work
    if _nosuid(work):
        raise RuntimeError("%s is on a nosuid mount: sealpost-drop would run without its group" % work)
    sfx = "%05d%03d" % (os.getpid() % 100000, random.randrange(1000))
    worker, caller = "spbw" + sfx, "spbu" + sfx
    prefix = os.path.join(work, "sys")
    etc, spool, bld = os.path.join(prefix, "etc"), os.path.join(prefix, "spool"), os.path.join(work, "sys-build")
    log = os.path.join(work, "sys-build.log")
    os.makedirs(os.path.join(etc, "sealpost"))
    os.makedirs(bld)
    for d in (prefix, etc):
        os.chmod(d, 0o755)
    flags = build_flags(b.a.builddir)
    user_arg = "SEALPOST_USER=" + worker
    _run([os.path.join(b.a.srcdir, "configure"), "-q", "--prefix=" + prefix, "--sysconfdir=" + etc,
          "--with-spool-dir=" + spool] + ["%s=%s" % kv for kv in sorted(flags.items())], log, cwd=bld)
    _run(["make", "-j%d" % (os.cpu_count() or 2), user_arg], log, cwd=bld)
    _run(["make", "install", user_arg], log, cwd=bld)

    # the config every caller reads (0644, no secret), the relay password
    # (postinst gives *.secret to the worker, 0600), the sink's CA
    secret = os.path.join(etc, "sealpost", "sink.secret")
    with open(secret, "w") as f:
        f.write(b.sink.password + "\n")
    ca = os.path.join(etc, "sealpost", "ca.pem")
    with open(b.sink.ca, "rb") as src, open(ca, "wb") as dst:
        dst.write(src.read())
    os.chmod(ca, 0o644)
    conf = os.path.join(etc, "sealpost.conf")
    b.write_conf(conf, spool, secret, ca)
    os.chmod(conf, 0o644)

    _register_user(work, worker)   # postinst creates it (system user and group)
    _run(["make", "install-system", user_arg], log, cwd=bld)
    _register_user(work, caller)
    _run(["useradd", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
          "--shell", "/usr/sbin/nologin", caller], log)
    w, c = pwd.getpwnam(worker), pwd.getpwnam(caller)

    drop = os.path.join(prefix, "libexec", "sealpost", "sealpost-drop")
    st, md = os.stat(drop), os.stat(os.path.join(spool, "maildrop"))
    if (st.st_mode & 0o7777, st.st_uid, st.st_gid) != (0o2755, 0, w.pw_gid) or md.st_mode & 0o7777 != 0o1730:
        raise RuntimeError("the install's modes are not issue 11's (sealpost-drop %o, maildrop %o)"
                           % (st.st_mode & 0o7777, md.st_mode & 0o7777))
    sbin = os.path.join(prefix, "sbin")
    # no -C: the installed front end and daemon read the installed config
    return Layout("system", os.path.join(sbin, "sealpost"), [os.path.join(sbin, "sealpostd")], spool,
                  b.tools.as_user((c.pw_uid, c.pw_gid)), daemon_user=(w.pw_uid, w.pw_gid)), \
        {"worker_user": worker, "caller_user": caller, "prefix": prefix, "flags": flags,
         "sealpost_drop_mode": "%o" % (st.st_mode & 0o7777), "maildrop_mode": "%o" % (md.st_mode & 0o7777)}


if __name__ == "__main__":
    # run.sh's last resort:  system.py remove-users WORKDIR
    if len(sys.argv) != 3 or sys.argv[1] != "remove-users":
        sys.exit("usage: system.py remove-users WORKDIR")
    for u in remove_users(sys.argv[2]):
        print("bench: removed user %s" % u, file=sys.stderr)
