"""tests/smarthost_hostile.py - the misbehaving smarthosts of
tests/smarthost.py's scenarios (described there): silence, a spoiled
greeting, a refused, bogus or injected STARTTLS answer, and the canned
refusals at MAIL, RCPT, DATA and end of data.

Python 3 standard library only; imported by the session (smarthost_session
and smarthost_mail), which asks here at each step what the scenario does.
"""

import ssl
import time

from smarthost_io import Closed

# One write, so that the client's read after "220" finds the extra lines.
INJECTED = ("220 Ready to start TLS", "250-fake", "250 injected")

# failing-step scenarios: the reply at their stage (eod: after the final dot)
CANNED = {
    "mail-4xx": ("mail", "451 4.3.0 Temporary failure at MAIL (scenario)"),
    "mail-5xx": ("mail", "550 5.7.1 Sender rejected (scenario)"),
    "rcpt-4xx": ("rcpt", "450 4.2.0 Mailbox temporarily unavailable (scenario)"),
    "rcpt-5xx": ("rcpt", "550 5.1.1 No such user (scenario)"),
    "data-4xx": ("data", "451 4.3.0 Temporary failure at DATA (scenario)"),
    "data-5xx": ("data", "554 5.3.0 Not accepting data (scenario)"),
    "eod-4xx": ("eod", "451 4.3.0 Try again later (scenario)"),
    "eod-5xx": ("eod", "554 5.7.1 Message rejected (scenario)"),
}
RCPT_MIXED = ("rcpt-mixed", "rcpt-mixed-close-at-data")


def silent(sess, what):
    """Silent scenarios: read and drop everything, never answer."""
    sess.flush()
    total = len(sess.buf)
    sess.buf = b""
    try:
        while True:
            chunk = sess.sock.recv(65536)
            if not chunk:
                break
            total += len(chunk)
    except (OSError, ssl.SSLError):
        pass
    sess.log("event", "silent-discarded", bytes=total, where=what)
    raise Closed("silent")


def greet(sess):
    """The greeting, and what the scenarios do before and after it."""
    if sess.sc("silent-before-greeting"):
        silent(sess, "greeting")
    if sess.sc("talk-before-greeting"):
        sess.reply("250 early")
        sess.flush()
        time.sleep(0.1)
    if sess.throttled("greeting"):
        pass
    elif sess.sc("multiline-greeting"):
        sess.reply("220-first", "220-second", "220 last")
    else:
        sess.reply("220 %s ESMTP sealpost test smarthost" % sess.o.hostname)
    if sess.sc("close-after-greeting"):
        sess.flush()
        raise Closed("scenario")


def starttls(sess):
    """Answer an acceptable STARTTLS: False when the scenario refuses it
    (the reply is queued), True when "220" is out and the handshake is due."""
    if sess.sc("starttls-454"):
        sess.reply("454 4.7.0 TLS not available")
        return False
    if sess.sc("starttls-bogus"):
        sess.reply("999 nope")
        return False
    if sess.sc("silent-after-starttls"):
        silent(sess, "starttls")
    if sess.sc("inject-after-220"):
        sess.flush()
        for ln in INJECTED:
            sess.log("s2c", ln)
        sess.write_raw(b"".join(ln.encode() + b"\r\n" for ln in INJECTED))
    else:
        sess.reply("220 2.0.0 Ready to start TLS")
        sess.flush()
    if sess.sc("close-after-starttls-220"):
        raise Closed("scenario")
    if sess.sc("silent-in-handshake"):
        silent(sess, "handshake")
    return True


def canned(sess, stage):
    """The scenario's refusal at this stage ("mail", "rcpt", "data", "eod"),
    or None. rcpt-mixed*: every RCPT after the first of a transaction;
    rcpt-mixed-close-at-data closes at DATA once the RCPT replies are out."""
    if stage == "rcpt" and sess.sc(*RCPT_MIXED) and sess.rcpts:
        return CANNED["rcpt-5xx"][1]
    if stage == "data" and sess.sc("rcpt-mixed-close-at-data"):
        sess.flush()  # the RCPT replies reach the client first
        raise Closed("rcpt-mixed-close-at-data")
    spec = CANNED.get(sess.o.scenario)
    if spec and spec[0] == stage:
        return spec[1]
    return None
