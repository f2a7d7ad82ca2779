#!/usr/bin/python3
"""tests/queue-dsn.py - check that a file is an RFC 3464 delivery status
notification and print its facts, one per line, for the shell tests:

  content-type multipart/report
  report-type delivery-status
  part1 text/plain
  part2 message/delivery-status
  part3 message/rfc822 | text/rfc822-headers
  reporting-mta dns; client.example.org
  rcpt ADDR action=failed status=5.1.1 remote=dns; HOST diag=smtp; 550 ...
  returned-sha256 HEX   (the third part's content, byte for byte)

Exits 1 with a reason on stderr when the structure is wrong: not
multipart/report, a missing required field (Reporting-MTA; per recipient
Final-Recipient, Action, Status), a bare LF, an invalid Action or Status.
Standard library only; test material.
usage: queue-dsn.py FILE
"""

import email
import email.policy
import hashlib
import re
import sys


def die(why):
    sys.stderr.write("queue-dsn.py: %s\n" % why)
    sys.exit(1)


def main():
    raw = open(sys.argv[1], "rb").read()
    if re.search(rb"(?<!\r)\n", raw):
        die("bare LF in the notification")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report":
        die("not multipart/report: %s" % msg.get_content_type())
    print("content-type multipart/report")
    print("report-type %s" % msg.get_param("report-type"))
    parts = msg.get_payload()
    if len(parts) != 3:
        die("%d parts, want 3" % len(parts))
    for i, p in enumerate(parts, 1):
        print("part%d %s" % (i, p.get_content_type()))
    status = parts[1]
    if status.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
        die("second part is %s" % status.get_content_type())
    blocks = status.get_payload()
    if len(blocks) < 2:
        die("no per-recipient block")
    if not blocks[0].get("Reporting-MTA"):
        die("no Reporting-MTA")
    print("reporting-mta %s" % blocks[0]["Reporting-MTA"])
    if blocks[0].get("Arrival-Date"):
        print("arrival-date present")
    for b in blocks[1:]:
        for f in ("Final-Recipient", "Action", "Status"):
            if not b.get(f):
                die("recipient block without %s" % f)
        action = b["Action"].strip().lower()
        if action not in ("failed", "delayed", "delivered", "relayed", "expanded"):
            die("invalid Action %r" % action)
        if not re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", b["Status"].strip()):
            die("invalid Status %r" % b["Status"])
        addr = b["Final-Recipient"].split(";", 1)[1].strip()
        print("rcpt %s action=%s status=%s remote=%s diag=%s orcpt=%s" % (
            addr, action, b["Status"].strip(), b.get("Remote-MTA", ""),
            b.get("Diagnostic-Code", ""), b.get("Original-Recipient", "")))
    # the returned original, byte for byte, from the raw text
    boundary = msg.get_param("boundary").encode()
    chunks = raw.split(b"\r\n--" + boundary)
    third = chunks[3]
    body = third.split(b"\r\n\r\n", 1)[1]
    print("returned-sha256 %s" % hashlib.sha256(body).hexdigest())
    if not chunks[-1].startswith(b"--"):
        die("no closing boundary")


main()
