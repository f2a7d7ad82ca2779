#!/usr/bin/python3
"""tests/ops-postqueue.py - a consumer of Postfix's `postqueue -j`, written
the way monitoring scripts for Postfix read it: one JSON object per line,
keyed by queue_name, with the Postfix field names. Reads stdin; prints a
summary per queue ("deferred 2"), then one line per recipient:
"QUEUE_ID QUEUE_NAME AGE_S SIZE SENDER ADDRESS DELAY_REASON". Exits 1 on a
line that is not one JSON object or lacks a field postqueue -j always
has. Test material only.
"""
import collections
import json
import sys
import time

counts = collections.Counter()
rows = []
for n, line in enumerate(sys.stdin, 1):
    try:
        msg = json.loads(line)
    except ValueError as e:
        sys.exit("line %d: not JSON: %s" % (n, e))
    if not isinstance(msg, dict):
        sys.exit("line %d: not an object" % n)
    for key, t in (("queue_name", str), ("queue_id", str), ("arrival_time", int), ("message_size", int),
                   ("sender", str), ("recipients", list)):
        if not isinstance(msg.get(key), t):
            sys.exit("line %d: %s missing or not %s" % (n, key, t.__name__))
    if msg["queue_name"] not in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt"):
        sys.exit("line %d: unknown queue_name %r" % (n, msg["queue_name"]))
    counts[msg["queue_name"]] += 1
    age = int(time.time()) - msg["arrival_time"]
    for r in msg["recipients"]:
        rows.append("%s %s %d %d %s %s %s" % (msg["queue_id"], msg["queue_name"], age, msg["message_size"],
                                              msg["sender"] or "<>", r["address"], r.get("delay_reason", "-")))
for q in sorted(counts):
    print(q, counts[q])
for r in rows:
    print(r)
