"""report.py - bench.py's results as Markdown: the goals of issue 7, each
as a ratio against the peers measured in the same run (peers.py: dma,
nullmailer, the Postfix null client; issue 7's own figures stand in, and
say so, for a peer that was not measured), the peers and msmtp side by
side, and every other figure. Pure formatting.

sealpost is measured in two layouts (bench.py, system.py): an ordinary
user of a system install, through sealpost-drop and the daemon's pickup
(R["system"], what a real install does), and root into its own spool,
the front end queuing directly (R itself). Each goal is shown for both.
"""

# Issue 7's peer figures (4 KB messages, 2 cores, loopback STARTTLS sink):
# used only where this run has no figure of its own.
ISSUE = {
    "wall_ms": {"dma": 4.3, "nullmailer": 6.1, "postfix": 8.6, "msmtp": 184},
    "wall_alone_ms": {"dma": 4.3, "nullmailer": 6.1, "postfix": 8.6},
    "cpu_ms": {"dma": 8.9, "nullmailer": 10.5, "postfix": 10.2, "msmtp": 7.4},
    "msg_per_s": {"dma": 138, "nullmailer": 7.3, "postfix": 132, "msmtp": 22},
    "fe_rss_25m_mib": {"dma": 3.6, "nullmailer": 3.1, "postfix": 6.8, "msmtp": 8.9},
    "worker_rss_25m_mib": {"dma": 6.5, "nullmailer": 6.9, "postfix": 12.8},
    "mailq_s": {"dma": 0.095, "nullmailer": 0.094, "postfix": 0.21},
}
PEER_NAMES = {"dma": "dma", "nullmailer": "nullmailer", "postfix": "Postfix null client"}
LAYOUTS = (("system", "ordinary user, system install (sealpost-drop, pickup)"),
           ("direct", "root, its own spool (direct)"))


def layout(R, name):
    """The figures of one sealpost layout: R itself for the direct path."""
    return R if name == "direct" else (R.get(name) or {})


def _get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _f(v, unit="", digits=2):
    if v is None:
        return "—"
    return ("%." + str(digits) + "f%s") % (v, unit)


def _ratio(a, b):
    if a is None or not b:
        return "—"
    return "%.2f×" % (a / b)


def _mib(kib):
    return None if kib is None else kib / 1024


def peer(R, name, key):
    """(value, measured in this run?) of one peer figure."""
    p = _get(R, "peers", name) or {}
    v = {
        "wall_ms": lambda: _get(p, "wall", "wall_ms", "median"),
        "wall_alone_ms": lambda: _get(p, "wall", "spaced_wall_ms", "median"),
        "cpu_ms": lambda: _get(p, "throughput", "cpu_ms_per_message") or _get(p, "wall", "cpu_ms_per_message"),
        "msg_per_s": lambda: _get(p, "throughput", "msg_per_s"),
        "fe_rss_25m_mib": lambda: _mib(_get(p, "peak_rss_kib", "frontend_25m")),
        "worker_rss_25m_mib": lambda: _mib(_get(p, "peak_rss_kib", "deliverer_25m")),
        "mailq_s": lambda: _get(p, "backlog", "mailq_s", "median"),
    }[key]()
    if v is not None:
        return v, True
    return ISSUE.get(key, {}).get(name), False


def _ref_text(R, name, key, unit, digits=2):
    v, measured = peer(R, name, key)
    if v is None:
        return "%s: —" % name
    return "%s %s%s, %s" % (name, _f(v, "", digits), unit, "this run" if measured else "issue 7's figure")


def goals(R):
    """(goal text, sealpost value, ratio, target, met) per goal of issue 7."""
    best_name, best_peer = None, None
    for name in ("dma", "nullmailer", "postfix"):
        v, _ = peer(R, name, "msg_per_s")
        if v is not None and (best_peer is None or v > best_peer):
            best_name, best_peer = name, v
    n = _get(R, "throughput_daemon", "messages") or _get(R, "system", "throughput_daemon", "messages") or 0
    per_layout = [
        ("`sendmail -t -i` wall time, median, back to back (the delivery of the previous ones running)",
         lambda X: _get(X, "frontend_daemon", "wall_ms", "median"), " ms", 2, peer(R, "dma", "wall_ms")[0], 0.5,
         "≤ 0.5× dma (%s)" % _ref_text(R, "dma", "wall_ms", " ms"), "le"),
        ("`sendmail -t -i` wall time, median, each run alone",
         lambda X: _get(X, "frontend_daemon", "spaced_wall_ms", "median"), " ms", 2,
         peer(R, "dma", "wall_alone_ms")[0], 0.5, "≤ 0.5× dma (%s)" % _ref_text(R, "dma", "wall_alone_ms", " ms"),
         "le"),
        ("CPU per message, submit + deliver (sealpost-drop and pickup included where they run)",
         lambda X: _get(X, "throughput_daemon", "cpu_ms_per_message"), " ms", 2, peer(R, "dma", "cpu_ms")[0], 0.25,
         "≤ 0.25× dma (%s)" % _ref_text(R, "dma", "cpu_ms", " ms"), "le"),
        ("%s messages, 4 submitters, until all at the sink" % format(n, ","),
         lambda X: _get(X, "throughput_daemon", "msg_per_s"), " msg/s", 0, best_peer, 3,
         "≥ 3× best peer (%s)" % (_ref_text(R, best_name, "msg_per_s", " msg/s", 0) if best_name else "—"), "ge"),
        ("front end peak RSS, 25 MB message (with its sealpost-drop)",
         lambda X: _mib(_get(X, "peak_rss_kib", "frontend_25m")), " MiB", 2, 2, 1, "≤ 2 MiB", "le"),
        ("delivering process peak RSS, 25 MB message",
         lambda X: _mib(_get(X, "peak_rss_kib", "worker_25m")), " MiB", 2, 4, 1, "≤ 4 MiB", "le"),
    ]
    rows = []
    for name, get, unit, digits, ref, target, text, cmp in per_layout:
        for lname, ltext in LAYOUTS:
            if lname != "direct" and "system" not in R:
                continue
            v = get(layout(R, lname))
            rows.append(("%s; %s" % (name, ltext), _f(v, unit, digits), v, ref, target, text, cmp))
    mailq = _get(R, "backlog", "mailq_s", "median")
    rows.append(("`mailq` with %s queued" % format(_get(R, "backlog", "messages") or 0, ","), _f(mailq, " s", 3),
                 mailq, peer(R, "nullmailer", "mailq_s")[0], 0.5,
                 "≤ 0.5× nullmailer (%s)" % _ref_text(R, "nullmailer", "mailq_s", " s", 3), "le"))
    out = []
    for name, shown, v, ref, target, text, cmp in rows:
        if v is None or not ref:
            out.append((name, shown, "—", text, "not measured"))
            continue
        r = v / ref
        met = r <= target if cmp == "le" else r >= target
        out.append((name, shown, "%.2f×" % r, text, "**met**" if met else "missed"))
    return out


def side_by_side(R, L):
    """sealpost (system install and direct), the peers and msmtp in one
    table (same run, same sink)."""
    P = R.get("peers") or {}
    names = [n for n in ("dma", "nullmailer", "postfix") if isinstance(P.get(n), dict) and "wall" in P[n]]
    ours = [(ln, t) for ln, t in LAYOUTS if ln == "direct" or any(
        k in layout(R, ln) for k in ("frontend_daemon", "throughput_daemon", "peak_rss_kib"))]
    cols = (["sealpost, " + t for _, t in ours] + [PEER_NAMES[n] for n in names]
            + (["msmtp"] if R.get("msmtp_wall") else []))
    L.append("### Side by side (same run, same sink, 4 KB messages unless noted)")
    L.append("")
    L.append("| figure | " + " | ".join(cols) + " |")
    L.append("| --- |" + " --- |" * len(cols))

    def row(label, mine, theirs, unit, digits=2, msmtp=None):
        """mine(X) over each sealpost layout's figures, theirs(p) over a peer's."""
        cells = ([_f(mine(layout(R, ln)), unit, digits) for ln, _ in ours]
                 + [_f(theirs(_get(P, n) or {}), unit, digits) for n in names])
        if "msmtp" in cols:
            cells.append(_f(msmtp, unit, digits))
        L.append("| %s | %s |" % (label, " | ".join(cells)))
    row("`sendmail -t -i` wall time, median, back to back", lambda X: _get(X, "frontend_daemon", "wall_ms", "median"),
        lambda p: _get(p, "wall", "wall_ms", "median"), " ms", msmtp=_get(R, "msmtp_wall", "wall_ms", "median"))
    row("the same, p90", lambda X: _get(X, "frontend_daemon", "wall_ms", "p90"),
        lambda p: _get(p, "wall", "wall_ms", "p90"), " ms", msmtp=_get(R, "msmtp_wall", "wall_ms", "p90"))
    row("the same, each run alone, median", lambda X: _get(X, "frontend_daemon", "spaced_wall_ms", "median"),
        lambda p: _get(p, "wall", "spaced_wall_ms", "median"), " ms")
    row("CPU per message, submit + deliver (throughput run)",
        lambda X: _get(X, "throughput_daemon", "cpu_ms_per_message"),
        lambda p: _get(p, "throughput", "cpu_ms_per_message"), " ms",
        msmtp=_get(R, "throughput_msmtp", "cpu_ms_per_message"))
    n = _get(R, "throughput_daemon", "messages") or _get(R, "system", "throughput_daemon", "messages") or 0
    row("%s messages from 4 submitters, until all at the sink" % format(n, ","),
        lambda X: _get(X, "throughput_daemon", "msg_per_s"), lambda p: _get(p, "throughput", "msg_per_s"),
        " msg/s", 1, msmtp=_get(R, "throughput_msmtp", "msg_per_s"))

    def conns(t):
        return None if not t else t.get("connections")
    row("  TCP connections for those", lambda X: conns(_get(X, "throughput_daemon", "traffic")),
        lambda p: conns(_get(p, "throughput", "traffic")), "", 0, msmtp=conns(_get(R, "throughput_msmtp", "traffic")))
    for size in ("4k", "25m"):
        label = "4 KB" if size == "4k" else "25 MB"
        row("front end peak RSS, " + label, lambda X, s=size: _mib(_get(X, "peak_rss_kib", "frontend_" + s)),
            lambda p, s=size: _mib(_get(p, "peak_rss_kib", "frontend_" + s)), " MiB",
            msmtp=_mib(_get(R, "peak_rss_kib", "msmtp_" + size)))
    for size in ("4k", "25m"):
        label = "4 KB" if size == "4k" else "25 MB"
        row("delivering process peak RSS, " + label, lambda X, s=size: _mib(_get(X, "peak_rss_kib", "worker_" + s)),
            lambda p, s=size: _mib(_get(p, "peak_rss_kib", "deliverer_" + s)), " MiB")
    mq = _get(R, "backlog", "mailq_s", "median")
    row("`mailq` with %s queued, median" % format(_get(R, "backlog", "messages") or 0, ","),
        lambda X: mq if X is R else None, lambda p: _get(p, "backlog", "mailq_s", "median"), " s", 3)
    S = R.get("system") or {}
    if S.get("error"):
        L.append("")
        L.append("- sealpost's system install not measured: %s" % S["error"].splitlines()[0])
    for n in names:
        p = P[n]
        L.append("")
        L.append("- %s %s: verifies %s%s" % (PEER_NAMES[n], p.get("version") or "",
                                            p.get("verifies") or "?",
                                            "; refused a wrong trust anchor" if p.get("verify_refused_wrong_trust")
                                            else ""))
    for n in ("dma", "nullmailer", "postfix"):
        p = P.get(n)
        if isinstance(p, dict) and ("skipped" in p or "error" in p):
            L.append("- %s not measured: %s" % (PEER_NAMES[n], p.get("skipped") or p.get("error")))


def markdown(R):
    m = R.get("machine", {})
    L = []
    L.append("sealpost benchmark, %s: %s CPU(s) (%s), Debian %s, kernel %s, sink Postfix %s, %s; commit %s; "
             "load average %s at the start, %s at the end%s"
             % (m.get("date"), m.get("cpus"), m.get("cpu"), m.get("debian"), m.get("kernel"), m.get("postfix"),
                m.get("msmtp") or "msmtp not installed", m.get("commit"), m.get("load_start"), m.get("load_end"),
                " (--quick: smaller counts)" if R.get("quick") else ""))
    L.append("")
    L.append("### Goals (issue 7), each against the peer measured in this run")
    L.append("")
    L.append("| goal | sealpost | ratio | target | |")
    L.append("| --- | --- | --- | --- | --- |")
    for name, shown, ratio, text, verdict in goals(R):
        L.append("| %s | %s | %s | %s | %s |" % (name, shown, ratio, text, verdict))
    L.append("")
    side_by_side(R, L)
    L.append("")
    L.append("### All figures")
    L.append("")
    L.append("| figure | value |")
    L.append("| --- | --- |")

    def fig(name, value):
        L.append("| %s | %s |" % (name, value))

    def traffic(t):
        if not t:
            return "—"
        return ("%d TCP connections, %d TLS handshakes (%d full, %d resumed), %.1f messages per connection"
                % (t["connections"], t["tls_handshakes"], t["tls_full"], t["tls_resumed"],
                   t["messages_per_connection"]))
    for k, label in (("1_connection", "1 connection"), ("4_connections", "4 connections")):
        c = _get(R, "sink_capacity", k)
        if c:
            fig("sink capacity, %s reused (pipelining Python client, STARTTLS+AUTH once)" % label,
                "%s msg/s (%d messages)" % (c.get("msg_per_s"), c.get("messages", 0)))
    q = R.get("frontend_queue_only", {})
    for k, label in (("sealpost_odq", "sealpost -odq (queue only)"),
                     ("sealpost_gnutls_odq", "sealpost -odq linked with GnuTLS (not shipped)"),
                     ("true", "/bin/true (the cost of any fork+exec)")):
        if k in q:
            fig("wall time, %s: median / p90; CPU per run" % label, "%s / %s ms; %s ms"
                % (_f(q[k]["median"]), _f(q[k]["p90"]), _f(q[k].get("cpu_ms_per_run"))))
    if "gnutls_startup_cost_ms" in R:
        fig("cost of loading GnuTLS in the front end (median difference)", _f(R["gnutls_startup_cost_ms"], " ms", 3))
    S = R.get("system") or {}
    inst = S.get("install")
    if inst:
        fig("system install (%s, built with CFLAGS %s): sealpost-drop mode / maildrop mode; set-up time"
            % (inst["prefix"], inst["flags"].get("CFLAGS") or "none"),
            "%s / %s; %.0f s" % (inst["sealpost_drop_mode"], inst["maildrop_mode"], inst["install_s"]))
    for d, who in ((R.get("frontend_daemon"), "root, direct"), (S.get("frontend_daemon"), "system install, "
                                                                 "ordinary user, through sealpost-drop")):
        if not d:
            continue
        fig("wall time, `sealpost -t -i` (%s), daemon running: median / p90 (%d runs back to back)"
            % (who, d["wall_ms"]["n"]), "%s / %s ms" % (_f(d["wall_ms"]["median"]), _f(d["wall_ms"]["p90"])))
        sp = d.get("spaced_wall_ms")
        if sp:
            fig("  the same, each run alone (previous delivery finished): median / p90 (%d runs)" % sp["n"],
                "%s / %s ms" % (_f(sp["median"]), _f(sp["p90"])))
        fig("queue id to the sink's 250 (daemon's delay=), median / p90",
            "%s / %s ms" % (_f(_get(d, "delivery_delay_ms", "median"), "", 0), _f(_get(d, "delivery_delay_ms", "p90"), "", 0)))
        fig("  connections for those %d one-at-a-time messages" % d["wall_ms"]["n"], traffic(d.get("traffic")))
    nd = R.get("frontend_no_daemon", {})
    if nd:
        fig("wall time, `sealpost -t -i`, no daemon (one-shot worker per message): median / p90",
            "%s / %s ms" % (_f(nd["wall_ms"]["median"]), _f(nd["wall_ms"]["p90"])))
        fig("  connections", traffic(nd.get("traffic")))
    mw = R.get("msmtp_wall", {})
    if mw:
        fig("wall time, msmtp -t -i (delivers synchronously): median / p90",
            "%s / %s ms" % (_f(mw["wall_ms"]["median"]), _f(mw["wall_ms"]["p90"])))
    for X, key, label in ((R, "throughput_daemon", "sealpost, root, direct, daemon"),
                          (S, "throughput_daemon", "sealpost, system install, ordinary user (sealpost-drop), daemon"),
                          (R, "throughput_no_daemon", "sealpost, root, direct, no daemon"),
                          (R, "throughput_msmtp", "msmtp")):
        t = X.get(key)
        if not t:
            continue
        fig("throughput, %s: %d messages, 4 submitters" % (label, t["messages"]),
            "%s msg/s (%.2f s), CPU %s ms/message" % (t["msg_per_s"], t["at_sink_s"], _f(t["cpu_ms_per_message"])))
        if key == "throughput_daemon":
            fig("  CPU split: front end (+ sealpost-drop) / daemon (+ pickup, its workers)", "%s / %s ms per message"
                % (_f(t["frontend_cpu_ms_per_message"]), _f(t["daemon_cpu_ms_per_message"])))
            fig("  front end wall time under this load: median / p90", "%s / %s ms"
                % (_f(t["frontend_wall_ms"]["median"]), _f(t["frontend_wall_ms"]["p90"])))
            fig("  daemon peak RSS (VmHWM)", _f(_mib(t.get("daemon_vm_hwm_kib")), " MiB"))
            mm = t.get("daemon_memory_kib")
            if mm:
                fig("  daemon memory after the run: RSS / PSS / private", "%s / %s / %s MiB; largest: %s"
                    % (_f(_mib(mm["rss"])), _f(_mib(mm["pss"])), _f(_mib(mm["private"])),
                       ", ".join("%s %d KiB" % (n, k) for n, k in mm["largest"][:6])))
        ceiling = max(_get(R, "sink_capacity", "4_connections", "msg_per_s") or 0,
                      _get(R, "backlog", "msg_per_s") or 0)
        if ceiling and t.get("msg_per_s"):
            fig("  share of the best rate the sink reached (its capacity client, or the backlog drain)",
                "%.0f%% of %.0f msg/s" % (100 * t["msg_per_s"] / ceiling, ceiling))
        fig("  connections", traffic(t.get("traffic")))
    b = R.get("backlog")
    if b:
        fig("backlog: %s messages queued with -odq (2 submitters)" % format(b["messages"], ","), "%.1f s" % b["queue_s"])
        fig("  `mailq` (text) / `mailq --json`, median", "%s / %s s" % (_f(b["mailq_s"]["median"], "", 3),
                                                                          _f(b["mailq_json_s"]["median"], "", 3)))
        if b.get("health_s"):
            fig("  `sealpostd --health`, median (goal: well under 0.1 s)", "%s s%s" % (
                _f(b["health_s"]["median"], "", 3),
                "" if not b.get("health_failed") else ", %d runs said unhealthy" % b["health_failed"]))
        fig("  drained by `sealpostd --once`", "%.2f s, %s msg/s, CPU %s ms/message, peak RSS %s, %d left"
            % (b["drain_s"], b["msg_per_s"], _f(b["drain_cpu_ms_per_message"]), _f(_mib(b["worker_peak_rss_kib"]), " MiB"),
               b["left_queued"]))
        fig("  connections", traffic(b.get("traffic")))
    r = R.get("peak_rss_kib", {})
    r_sys = {"system_" + k: v for k, v in (S.get("peak_rss_kib") or {}).items()}
    for k, label in (("true", "/bin/true (floor)"), ("frontend_4k", "front end, 4 KB"),
                     ("frontend_25m", "front end, 25 MB"),
                     ("system_frontend_4k", "system install: front end and sealpost-drop, ordinary user, 4 KB"),
                     ("system_frontend_25m", "system install: front end and sealpost-drop, ordinary user, 25 MB"),
                     ("system_worker_4k", "system install: sealpostd --once (pickup included), 4 KB"),
                     ("system_worker_25m", "system install: sealpostd --once (pickup included), 25 MB"),
                     ("frontend_gnutls_4k", "front end linked with GnuTLS, 4 KB"),
                     ("sealpostd_version_only", "sealpostd --version (libraries loaded, nothing else)"),
                     ("worker_4k", "sealpostd --once, 4 KB"), ("worker_25m", "sealpostd --once, 25 MB"),
                     ("msmtp_4k", "msmtp, 4 KB"), ("msmtp_25m", "msmtp, 25 MB")):
        v = r_sys.get(k, r.get(k))
        if v is not None:
            fig("peak RSS, " + label, _f(_mib(v), " MiB"))
    t = R.get("tracing", {})
    s = t.get("frontend_syncs")
    if s:
        fig("fsyncs per queued message (strace)", "%d: %d file(s) + %d directory: %s"
            % (s["total"], s["file_syncs"], s["directory_syncs"], ", ".join(s["calls"])))
    s = t.get("frontend_syncs_25m")
    if s:
        fig("fsyncs queuing a 25 MB message", "%d (%d file + %d directory)" % (s["total"], s["file_syncs"], s["directory_syncs"]))
    s = t.get("worker_syncs")
    if s:
        fig("fsyncs per delivered message (%d delivered by one --once)" % s["messages"],
            "%s (%d file + %d directory in all)" % (s["per_message"], s["file_syncs"], s["directory_syncs"]))
    for k, label in (("frontend_syscalls_daemon_running", "`sealpost -t -i`, daemon running"),
                     ("frontend_syscalls_odq", "`sealpost -odq`"),
                     ("frontend_gnutls_syscalls_odq", "`sealpost -odq` linked with GnuTLS")):
        s = t.get(k)
        if s:
            c = s["calls"]
            fig("syscalls, " + label, "%d in all (openat %d, mmap %d, poll/select/nanosleep %d)"
                % (s["total"], c.get("openat", 0), c.get("mmap", 0),
                   sum(c.get(x, 0) for x in ("poll", "ppoll", "select", "pselect6", "nanosleep", "clock_nanosleep"))))
    s = t.get("idle_daemon")
    if s:
        fig("syscalls of the idle daemon in %d s (strace -f -p)" % s["seconds"], str(s["syscalls"]))
    libs = R.get("libraries", {})
    for k in ("sealpost", "sealpost_gnutls", "sealpostd"):
        if k in libs:
            fig("shared libraries, " + k, "%d: %s" % (len(libs[k]), " ".join(libs[k])))
    if "total_s" in R:
        fig("benchmark run time", "%.0f s" % R["total_s"])
    return "\n".join(L) + "\n"
