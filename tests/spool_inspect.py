#!/usr/bin/env python3
"""spool_inspect.py - read a sealpost spool for tests (independently of the
C code, so a bug there cannot hide itself).

  spool_inspect.py SPOOL count            number of queued messages
  spool_inspect.py SPOOL json             all messages: [{id, sender, rcpts:[...], flags, msg}]
  spool_inspect.py SPOOL sender           sender of the only message
  spool_inspect.py SPOOL rcpts            recipients of the only message, one per line
  spool_inspect.py SPOOL msg              the only message's stored bytes, to stdout
  spool_inspect.py SPOOL leftovers        files in tmp/ (must be none), one per line
"""
import json
import os
import re
import sys


def decode(field):
    if field == "-":
        return None
    if field == "=":
        return ""
    return re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]),
                  field.encode()).decode("utf-8", "surrogateescape")


def load(spool):
    qdir = os.path.join(spool, "queue")
    out = []
    if not os.path.isdir(qdir):
        return out
    for name in sorted(os.listdir(qdir)):
        if not name.endswith(".env"):
            continue
        mid = name[:-4]
        with open(os.path.join(qdir, name)) as f:
            lines = f.read().split("\n")
        assert lines[0] == "sealpost-envelope 1", lines[0]
        env = {"id": mid, "rcpts": []}
        for line in lines[1:]:
            if not line or line == "end":
                continue
            k, *v = line.split(" ")
            if k == "rcpt":
                env["rcpts"].append({"state": v[0], "attempts": int(v[1]),
                                     "next": int(v[2]), "notify": int(v[3]),
                                     "addr": decode(v[4]), "orcpt": decode(v[5]),
                                     "error": decode(v[6])})
            elif k == "sender":
                env["sender"] = decode(v[0])
            elif k in ("size", "flags", "arrival"):
                env[k] = int(v[0])
            elif k == "user":
                env["uid"], env["user"] = int(v[0]), decode(v[1])
            elif k == "dsn":
                env["ret"], env["envid"] = decode(v[0]), decode(v[1])
        with open(os.path.join(qdir, mid + ".msg"), "rb") as f:
            env["msg"] = f.read().decode("utf-8", "surrogateescape")
        out.append(env)
    return out


def main():
    spool, cmd = sys.argv[1], sys.argv[2]
    msgs = load(spool)
    if cmd == "count":
        print(len(msgs))
        return
    if cmd == "json":
        print(json.dumps(msgs, indent=1))
        return
    if cmd == "leftovers":
        tdir = os.path.join(spool, "tmp")
        for n in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
            print(n)
        return
    if len(msgs) != 1:
        sys.exit("expected exactly one queued message, found %d" % len(msgs))
    m = msgs[0]
    if cmd == "sender":
        print(m["sender"])
    elif cmd == "rcpts":
        for r in m["rcpts"]:
            print(r["addr"])
    elif cmd == "msg":
        sys.stdout.buffer.write(m["msg"].encode("utf-8", "surrogateescape"))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
