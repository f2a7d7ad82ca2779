#!/usr/bin/python3
"""tests/ops-fill.py - fill a spool with many queued messages at once, in
the format of doc/spool-format.md (faster than queueing 10,000 through
the front end; durability is not what is tested here).

usage: ops-fill.py SPOOL DEFERRED HELD OLDEST_AGE [HELD_AGE]
  DEFERRED messages with one recipient deferred until an hour from now,
  HELD held messages; the first message arrived OLDEST_AGE seconds ago,
  held ones HELD_AGE seconds ago when given, the others within the last
  minute. Ids begin with the arrival time, as the front end makes them.
  Prints the first message's id.
Test material only.
"""
import os
import random
import sys
import time

spool, ndeferred, nheld, oldest_age = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
held_age = int(sys.argv[5]) if len(sys.argv) > 5 else None
q = os.path.join(spool, "queue")
for d in ("queue", "tmp", "corrupt"):
    os.makedirs(os.path.join(spool, d), exist_ok=True)
now = int(time.time())
body = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: fill\r\n\r\nhello\r\n"
seen = set()
first = None
for i in range(ndeferred + nheld):
    held = i >= ndeferred
    if i == 0:
        arrival = now - oldest_age
    elif held and held_age is not None:
        arrival = now - held_age
    else:
        arrival = now - random.randint(0, 60)
    while True:
        mid = "%08X%05X%03X" % (arrival, random.randint(0, 999999), random.randint(0, 0xFFF))
        if mid not in seen:
            seen.add(mid)
            break
    env = ("sealpost-envelope 1\nid %s\narrival %d\nsender alice@example.org\nuser 0 root\nsize %d\n"
           "flags %d\ndsn - -\nrcpt %s\nend\n") % (
        mid, arrival, len(body), 4 if held else 0,
        "pending 0 0 6 bob@example.net - -" if held else
        "deferred 1 %d 6 bob@example.net - 451%%204.3.0%%20later" % (now + 3600))
    with open(os.path.join(q, mid + ".msg"), "wb") as f:
        f.write(body)
    with open(os.path.join(q, mid + ".env"), "w") as f:
        f.write(env)
    if i == 0:
        first = mid
print(first)
