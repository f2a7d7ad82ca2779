"""tracing.py - the syscall-level checks of issue 7, with strace: fsyncs
per queued and per delivered message (and on what), the syscalls an idle
daemon makes (none), a per-syscall count of one front-end run, and the
shared libraries a program loads. Needs strace (ptrace); each function
returns None when it cannot run. Trusts strace's output format.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

SYNC_CALLS = "fsync,fdatasync,sync_file_range,syncfs,sync,msync"
# "PID fsync(3</path>) = 0" with -f -y
SYNC_RE = re.compile(r"^\d+\s+(\w+)\((\d+)<([^>]*)>")


def have_strace():
    return shutil.which("strace") is not None


def _strace(args, cmd, stdin=None, timeout=300):
    fd, out = tempfile.mkstemp(prefix="bench-strace-")
    os.close(fd)
    try:
        with open(stdin or "/dev/null", "rb") as f:
            r = subprocess.run(["strace", "-f", "-o", out] + args + ["--"] + cmd, stdin=f,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
        with open(out, errors="replace") as f:
            return r.returncode, f.read()
    finally:
        os.unlink(out)


def syncs(cmd, stdin=None, per=1):
    """Every sync-family call of cmd (and its children): the call and the
    path of its descriptor, classified as file or directory."""
    if not have_strace():
        return None
    rc, text = _strace(["-y", "-e", "trace=" + SYNC_CALLS], cmd, stdin)
    calls = []
    for line in text.splitlines():
        m = SYNC_RE.match(line)
        if m:
            path = m.group(3)
            kind = "directory" if os.path.isdir(path) else "file"
            calls.append({"call": m.group(1), "kind": kind, "path": path})
    files = sum(1 for c in calls if c["kind"] == "file")
    dirs = len(calls) - files
    return {"exit": rc, "messages": per, "total": len(calls), "per_message": round(len(calls) / per, 3),
            "file_syncs": files, "directory_syncs": dirs,
            "calls": [c["call"] + "(" + os.path.basename(c["path"]) + ")" for c in calls[:12]]}


def syscall_counts(cmd, stdin=None):
    """strace -c of one run: {syscall: calls}, and the total."""
    if not have_strace():
        return None
    rc, text = _strace(["-c", "-U", "name,calls"], cmd, stdin)
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return {"exit": rc, "total": sum(counts.values()), "calls": counts}


def idle_syscalls(pid, seconds=10):
    """Attach to a running process (all threads) for `seconds`: every
    syscall it makes while it should be asleep."""
    if not have_strace():
        return None
    fd, out = tempfile.mkstemp(prefix="bench-idle-")
    os.close(fd)
    try:
        p = subprocess.Popen(["strace", "-f", "-tt", "-o", out, "-p", str(pid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        p.terminate()
        p.wait(10)
        with open(out, errors="replace") as f:
            lines = [l.strip() for l in f if l.strip()]
    finally:
        os.unlink(out)
    # strace shows the call the process was already blocked in when it
    # attached as "<... resumed>" or "restart_syscall"/the call itself with
    # no result: that one is not new activity.
    made = [l for l in lines if "= " in l and "resumed>" not in l and "restart_syscall" not in l
            and "+++" not in l and "---" not in l]
    return {"seconds": seconds, "syscalls": len(made), "sample": made[:10],
            "blocked_in": [l for l in lines if "<unfinished ...>" in l or "<detached ...>" in l][:3]}


def libraries(path):
    """The shared objects the dynamic linker maps for path (ldd)."""
    r = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    libs = []
    for line in r.stdout.decode().splitlines():
        name = line.strip().split(" ")[0]
        if name and "vdso" not in name:
            libs.append(os.path.basename(name))
    return libs
