"""tests/smarthost_session.py - one SMTP connection of tests/smarthost.py:
its state, the EHLO capabilities each scenario offers (before and after
TLS), the command loop, the session commands (EHLO, HELO, NOOP, RSET,
VRFY, QUIT, STARTTLS) and the thread that runs it. The I/O is in
smarthost_io, AUTH in smarthost_auth, MAIL/RCPT/DATA in smarthost_mail,
the scenarios' misbehaviour in smarthost_hostile.

Python 3 standard library only.
"""

import time

import smarthost_hostile as hostile
import smarthost_throttle as throttle
from smarthost_auth import AuthMixin
from smarthost_io import CMD_MAX, Closed, SessionIO, strip_eol
from smarthost_mail import TransactionMixin

CLEARTEXT_SCENARIOS = {"no-starttls", "starttls-454", "starttls-bogus",
                       "auth-before-tls-only"}
AUTH_BEFORE_TLS = {"no-starttls", "starttls-454", "starttls-bogus",
                   "auth-before-tls-only", "caps-after-tls"}


class Session(SessionIO, AuthMixin, TransactionMixin):
    """One SMTP connection, run in its own thread."""

    def __init__(self, server, sock, n):
        self.srv = server
        self.o = server.opts
        self.sock = sock
        self.n = n
        self.delivered_here = 0     # transactions accepted on this connection
        self.buf = b""
        self.rx = 0
        self.out = []
        self.tls = False
        self.tls_info = {}
        self.helo = None
        self.esmtp = False
        self.auth_user = None
        self.reset()
        sc = self.o.scenario
        self.delay = self.o.delay if self.o.delay is not None else \
            (0.2 if sc == "slow" else 0.0)

    # --- state -----------------------------------------------------------
    def reset(self):
        self.mail_from = None
        self.mail_params = []
        self.rcpts = []
        self.rcpt_params = {}
        self.fault = None

    def sc(self, *names):
        return self.o.scenario in names

    def starttls_offered(self):
        return (self.o.mode == "starttls" and not self.tls
                and not self.sc("no-starttls")
                and "STARTTLS" not in self.o.no_ext)

    def auth_mechs(self):
        if "AUTH" in self.o.no_ext:
            return []
        if not self.tls:
            return ["PLAIN", "LOGIN"] if self.sc(*AUTH_BEFORE_TLS) else []
        token = ["XOAUTH2"] if self.o.oauth_token else []
        if self.sc("auth-before-tls-only") or not self.o.auth:
            return token
        return (["PLAIN"] if self.sc("caps-after-tls") else ["PLAIN", "LOGIN"]) + token

    def size_limit(self):
        if self.sc("caps-after-tls"):
            return 100000000 if self.tls else 10
        return self.o.size

    def extensions(self):
        ext = ["PIPELINING", "SIZE %d" % self.size_limit(), "8BITMIME",
               "DSN", "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        if self.starttls_offered():
            ext.append("STARTTLS")
        mechs = self.auth_mechs()
        if mechs:
            ext.append("AUTH " + " ".join(mechs))
        return [e for e in ext if e.split()[0] not in self.o.no_ext]

    def offered(self, keyword):
        return self.esmtp and any(e.split()[0] == keyword
                                  for e in self.extensions())

    def cleartext_blocked(self):
        return (self.o.mode == "starttls" and not self.tls
                and not self.o.accept_cleartext
                and not self.sc(*CLEARTEXT_SCENARIOS))

    def auth_required(self):
        if not (self.o.auth or self.o.oauth_token) or self.auth_user:
            return False
        return not (self.tls and self.sc("auth-before-tls-only"))

    def throttled(self, stage):
        """A smarthost_throttle scenario's reply at this stage: True if sent."""
        return throttle.intercept(self, stage, Closed)

    def multi(self, first, last):
        if self.sc("multiline-greeting"):
            return (first.replace(" ", "-", 1), last)
        return (last,)

    # --- the dialogue ----------------------------------------------------
    def run(self):
        if self.o.mode == "implicit":
            if self.sc("silent-in-handshake"):
                hostile.silent(self, "handshake")
            self.start_tls()
        hostile.greet(self)
        while True:
            line = self.readline()
            self.log_c2s(line)
            if len(line) > CMD_MAX:
                self.reply("500 5.5.2 Line too long")
                continue
            cmd = strip_eol(line).decode("utf-8", "replace")
            verb, _, arg = cmd.partition(" ")
            verb = verb.upper()
            handler = getattr(self, "cmd_" + verb, None)
            if handler is None or not verb.isalpha():
                self.reply("500 5.5.2 Command not recognized")
                continue
            handler(arg)

    def cmd_EHLO(self, arg, esmtp=True):
        if not arg.strip():
            self.reply("501 5.5.4 Syntax: EHLO hostname")
            return
        self.helo, self.esmtp = arg.strip(), esmtp
        self.reset()
        if not esmtp:
            self.reply("250 %s" % self.o.hostname)
            return
        ext = self.extensions()
        lines = ["250-%s Hello %s" % (self.o.hostname, self.helo)]
        lines += ["250-" + e for e in ext]
        lines[-1] = "250 " + lines[-1][4:]
        self.reply(*lines)

    def cmd_HELO(self, arg):
        self.cmd_EHLO(arg, esmtp=False)

    def cmd_NOOP(self, arg):
        self.reply("250 2.0.0 Ok")

    def cmd_RSET(self, arg):
        self.reset()
        self.reply("250 2.0.0 Ok")

    def cmd_VRFY(self, arg):
        self.reply("252 2.0.0 Cannot VRFY user")

    def cmd_QUIT(self, arg):
        self.reply("221 2.0.0 Bye")
        self.flush()
        raise Closed("quit")

    def cmd_STARTTLS(self, arg):
        if self.o.mode != "starttls" or self.tls:
            self.reply("503 5.5.1 TLS already active" if self.tls
                       else "502 5.5.1 Not supported")
            return
        if not self.starttls_offered():
            self.reply("502 5.5.1 STARTTLS not supported")
            return
        if not hostile.starttls(self):
            return
        if self.buf:
            # RFC 3207: anything the client pipelined after STARTTLS is void.
            self.log("event", "starttls-discarded", bytes=len(self.buf))
            self.buf = b""
        self.start_tls()
        self.helo, self.esmtp, self.auth_user = None, False, None
        self.reset()


def serve_connection(server, sock, n):
    sess = Session(server, sock, n)
    try:
        sess.run()
    except Closed:
        pass
    except Exception as e:  # a test tool: record, never crash the server
        server.log(n, "event", sess.tls, "internal-error", error=repr(e))
    finally:
        try:
            sess.sock.close()
        except OSError:
            pass
        server.log(n, "event", sess.tls, "conn-closed")
        with server.lock:
            server.active -= 1
            server.last_activity = time.monotonic()
