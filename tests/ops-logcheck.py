#!/usr/bin/python3
"""tests/ops-logcheck.py - check sealpostd's log lines as log tools read
them.

usage: ops-logcheck.py tls LOG LEVEL VERSION
    every "TLS connection established" line must match the regular
    expression the Postfix TLS statistics plugins use (Log::Saftpresse's
    TlsStatistics, the pattern for Postfix's smtp_tls_loglevel = 1 line,
    applied to the message after "program[pid]: "), with that level and
    protocol; prints the number of lines matched (0 is an error)
usage: ops-logcheck.py json LOG
    every line must be one JSON object with time, program, pid, level and
    message; prints the objects with an "event" member, one per line, as
    compact JSON (for the shell to grep)
Test material only.
"""
import json
import re
import sys

TLS_RE = re.compile(r"^(\S+) TLS connection established (?:from|to) ([^\[]+)\[([^\]]+)\]:(?:\d+:)? (\S+) "
                    r"with cipher (\S+) \((\d+)\/(\d+) bits\)")
PREFIX = re.compile(r"^sealpostd\[\d+\]: ")


def tls(path, level, version):
    n = 0
    for line in open(path, encoding="utf-8"):
        line = PREFIX.sub("", line.rstrip("\n"))
        if "TLS connection established" not in line:
            continue
        m = TLS_RE.match(line)
        if not m:
            sys.exit("no match: %r" % line)
        if m.group(1) != level or m.group(4) != version:
            sys.exit("level/version %s %s, want %s %s: %r" % (m.group(1), m.group(4), level, version, line))
        if not line.endswith("bits)"):
            sys.exit("trailing text: %r" % line)
        n += 1
    if n == 0:
        sys.exit("no TLS line in %s" % path)
    print(n)


def check_json(path):
    for i, line in enumerate(open(path, "rb"), 1):
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            sys.exit("line %d is not JSON (%s): %r" % (i, e, line))
        if not isinstance(obj, dict):
            sys.exit("line %d is not an object" % i)
        for k, t in (("time", str), ("program", str), ("pid", int), ("level", str), ("message", str)):
            if not isinstance(obj.get(k), t):
                sys.exit("line %d: %s missing or not %s: %r" % (i, k, t.__name__, line))
        if "event" in obj:
            print(json.dumps(obj, sort_keys=True, separators=(",", ":")))


if sys.argv[1] == "tls":
    tls(*sys.argv[2:5])
else:
    check_json(sys.argv[2])
