#!/usr/bin/python3
"""tests/smarthost_throttle.py - the providers' throttling, quota and
recipient-limit replies for tests/smarthost.py, and a checker of the limits
a client kept, computed from the smarthost's transcript.

Scenarios (smarthost.py --scenario NAME; the reply goes to the first
--throttle-count N occasions, default 1, counted over the whole server;
afterwards the server behaves as "good"). Texts are the providers'
documented ones (sources in src/sealpostd/outcome.c's table):
  throttle-421-greeting  greeting "421 4.7.0 Try again later, closing
                         connection." (Google), then close
  throttle-421-mail      the same reply to MAIL, then close
  throttle-421-auth      the same reply to AUTH, then close (use --auth)
  throttle-432-m365      end of data: "432 4.3.2 STOREDRV.ClientSubmit;
                         sender thread limit exceeded" (Microsoft 365)
  throttle-454-ses       DATA: "454 Throttling failure: Maximum sending
                         rate exceeded" (Amazon SES)
  throttle-454-ses-quota DATA: "454 Throttling failure: Daily message
                         quota exceeded" (Amazon SES)
  throttle-451-rate      MAIL: "451 4.7.1 Error: too many messages, rate
                         limit exceeded" (a rate-limiting policy server)
  quota-550-google       DATA: "550 5.4.5 Daily user sending limit
                         exceeded. ..." (Google Workspace)
  quota-554-m365         end of data: "554 5.2.0 STOREDRV.Submission.
                         Exception:SubmissionQuotaExceededException; ..."
                         (Microsoft 365)
  rcpt-limit             after --rcpt-limit N (default 2) recipients in a
                         transaction, RCPT gets "452 4.5.3 Too many
                         recipients" (RFC 5321 4.5.3.1.10; Postfix says
                         "452 4.5.3 Error: too many recipients")
  rcpt-limit-google      the same with Google's "452 4.5.3 Your message has
                         too many recipients. ..."
Each reply sent is recorded as the transcript event "throttled STAGE".

CLI: smarthost_throttle.py check-limits TRANSCRIPT [--connections N]
     [--messages N/SECONDS] [--expect-delivered N]
  A session lasts from its "conn-open" event to its QUIT (or its close);
  a message counts at its "delivered" event. Prints the maximum number of
  sessions at once and of messages in any window of SECONDS, exits 1 when
  a limit was exceeded (or the delivered count differs), 0 otherwise.
"""

import json
import sys

GOOGLE_421 = "421 4.7.0 Try again later, closing connection."
SCENARIOS = {
    "throttle-421-greeting": ("greeting", GOOGLE_421, True),
    "throttle-421-mail": ("mail", GOOGLE_421, True),
    "throttle-421-auth": ("auth", GOOGLE_421, True),
    "throttle-432-m365": (
        "eod", "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", False),
    "throttle-454-ses": (
        "data", "454 Throttling failure: Maximum sending rate exceeded", False),
    "throttle-454-ses-quota": (
        "data", "454 Throttling failure: Daily message quota exceeded", False),
    "throttle-451-rate": (
        "mail", "451 4.7.1 Error: too many messages, rate limit exceeded", False),
    "quota-550-google": (
        "data", "550 5.4.5 Daily user sending limit exceeded. For more information on "
        "Gmail sending limits, go to https://support.google.com/a/answer/166852 - gsmtp",
        False),
    "quota-554-m365": (
        "eod", "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
        "Failed to process message due to a permanent exception with message Cannot "
        "submit message.", False),
    "rcpt-limit": ("rcpt", "452 4.5.3 Too many recipients", False),
    "rcpt-limit-google": (
        "rcpt", "452 4.5.3 Your message has too many recipients. For more information "
        "regarding Google's sending limits, go to "
        "https://support.google.com/a/answer/166852 - gsmtp", False),
}


def add_args(parser):
    parser.add_argument("--throttle-count", type=int, default=1)
    parser.add_argument("--rcpt-limit", type=int, default=2)


def intercept(sess, stage, closed_exc):
    """Send the scenario's reply at this stage if it applies; True if sent.
    A closing reply raises closed_exc after the reply is flushed."""
    spec = SCENARIOS.get(sess.o.scenario)
    if not spec or spec[0] != stage:
        return False
    srv = sess.srv
    if stage == "rcpt":
        # a limit per transaction, every time (not only the first N)
        if len(sess.rcpts) < sess.o.rcpt_limit:
            return False
    else:
        with srv.lock:
            n = getattr(srv, "throttle_fired", 0)
            if n >= sess.o.throttle_count:
                return False
            srv.throttle_fired = n + 1
    sess.log("event", "throttled " + stage)
    sess.reply(spec[1])
    if spec[2]:
        sess.flush()
        raise closed_exc("throttled")
    return True


def sessions_and_deliveries(path):
    opened, ended, delivered = {}, {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            c, t, d = rec["conn"], rec["t"], rec["data"]
            if rec["dir"] == "event" and d == "conn-open":
                opened[c] = t
            elif rec["dir"] == "event" and d == "conn-closed":
                ended.setdefault(c, t)
            elif rec["dir"] == "c2s" and d.upper() == "QUIT":
                ended.setdefault(c, t)
            elif rec["dir"] == "event" and d.startswith("delivered "):
                delivered.append(t)
    spans = [(t, ended.get(c, float("inf"))) for c, t in opened.items()]
    return spans, sorted(delivered)


def max_concurrent(spans):
    points = [(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans]
    # an end at the same instant as a start goes first: the slot was free
    points.sort(key=lambda p: (p[0], p[1]))
    best = cur = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best


def max_in_window(times, seconds):
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


def check_limits(argv):
    import argparse
    p = argparse.ArgumentParser(prog="smarthost_throttle.py check-limits")
    p.add_argument("transcript")
    p.add_argument("--connections", type=int)
    p.add_argument("--messages")
    p.add_argument("--expect-delivered", type=int)
    o = p.parse_args(argv)
    spans, times = sessions_and_deliveries(o.transcript)
    conc = max_concurrent(spans)
    ok = True
    print("sessions %d, max at once %d" % (len(spans), conc))
    if o.connections is not None and conc > o.connections:
        print("FAIL: %d sessions at once, limit %d" % (conc, o.connections))
        ok = False
    if o.messages:
        n, secs = o.messages.split("/")
        most = max_in_window(times, float(secs))
        print("delivered %d, max in %s s: %d" % (len(times), secs, most))
        if most > int(n):
            print("FAIL: %d messages within %s s, limit %s" % (most, secs, n))
            ok = False
    if o.expect_delivered is not None and len(times) != o.expect_delivered:
        print("FAIL: %d delivered, want %d" % (len(times), o.expect_delivered))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "check-limits":
        sys.exit(check_limits(sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
