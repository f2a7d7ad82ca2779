"""tests/smarthost_mail.py - the mail transaction of tests/smarthost.py:
MAIL, RCPT and DATA with their parameters (SIZE, BODY, SMTPUTF8, DSN, AUTH),
the content read to CRLF.CRLF, and delivery to --maildir. What a scenario
does instead at each step comes from smarthost_hostile, smarthost_policy
and smarthost_throttle; --flaky/--fail-first faults from the server.

Python 3 standard library only; addresses and content are hostile input.
"""

import time

import smarthost_hostile as hostile
import smarthost_policy  # provider send-as rules
from smarthost_io import Closed, strip_eol

RCPT_MAX = 1000


def parse_path(arg):
    """'<addr> PARAMS' -> (addr, [params]) or None. Quotes may hold '>'."""
    arg = arg.lstrip()
    if not arg.startswith("<"):
        return None
    i, quoted = 1, False
    while i < len(arg):
        c = arg[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ">" and not quoted:
            break
        i += 1
    if i >= len(arg):
        return None
    return arg[1:i], arg[i + 1:].split()


class TransactionMixin:
    """MAIL, RCPT and DATA of smarthost_session.Session."""

    def check_params(self, params, allowed):
        """555 for a parameter whose extension was not offered."""
        for p in params:
            key = p.split("=", 1)[0].upper()
            ext = allowed.get(key)
            if ext is None or not self.offered(ext):
                self.reply("555 5.5.4 Unsupported parameter %s" % key)
                return False
        return True

    def precheck(self):
        if self.cleartext_blocked():
            self.reply("530 5.7.0 Must issue a STARTTLS command first")
            return False
        if self.auth_required():
            self.reply("530 5.7.0 Authentication required")
            return False
        return True

    def cmd_MAIL(self, arg):
        if not self.precheck():
            return
        if self.sc("close-on-reuse") and self.delivered_here:
            raise Closed("close-on-reuse")
        if not self.helo:
            self.reply("503 5.5.1 Send HELO/EHLO first")
            return
        if self.mail_from is not None:
            self.reply("503 5.5.1 Nested MAIL command")
            return
        if not arg.upper().startswith("FROM:"):
            self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        path = parse_path(arg[5:])
        if path is None:
            self.reply("501 5.1.7 Bad sender address syntax")
            return
        addr, params = path
        if not self.check_params(params, {"SIZE": "SIZE", "BODY": "8BITMIME",
                                          "SMTPUTF8": "SMTPUTF8", "RET": "DSN",
                                          "ENVID": "DSN", "AUTH": "AUTH"}):
            return
        utf8 = any(p.upper() == "SMTPUTF8" for p in params)
        if not addr.isascii() and not utf8:
            self.reply("553 5.6.7 Non-ASCII address needs SMTPUTF8")
            return
        for p in params:
            if p.upper().startswith("SIZE="):
                try:
                    size = int(p[5:])
                except ValueError:
                    self.reply("501 5.5.4 Bad SIZE parameter")
                    return
                if size > self.size_limit():
                    self.reply("552 5.3.4 Message size exceeds fixed limit")
                    return
        refusal = smarthost_policy.at_mail(self.o.scenario, self.auth_user,
                                           addr) or hostile.canned(self, "mail")
        if refusal:
            self.reply(refusal)
            return
        if self.sc("null-sender-501") and addr == "":  # Amazon SES
            self.reply("501 Invalid MAIL FROM address provided")
            return
        if self.throttled("mail"):
            return
        fault = self.srv.next_transaction()
        if fault == "tempfail":
            self.reply("451 4.3.0 Try again later (test fault)")
            return
        self.mail_from, self.mail_params, self.fault = addr, params, fault
        self.reply(*self.multi("250 2.1.0 Sender ok, go on",
                               "250 2.1.0 Ok"))

    def cmd_RCPT(self, arg):
        if not self.precheck():
            return
        if self.mail_from is None:
            self.reply("503 5.5.1 Need MAIL before RCPT")
            return
        if not arg.upper().startswith("TO:"):
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        path = parse_path(arg[3:])
        if path is None or not path[0]:
            self.reply("501 5.1.3 Bad recipient address syntax")
            return
        addr, params = path
        if not self.check_params(params, {"NOTIFY": "DSN", "ORCPT": "DSN"}):
            return
        if not addr.isascii() and not any(p.upper() == "SMTPUTF8"
                                           for p in self.mail_params):
            self.reply("553 5.6.7 Non-ASCII address needs SMTPUTF8")
            return
        if len(self.rcpts) >= RCPT_MAX:
            self.reply("452 4.5.3 Too many recipients")
            return
        refusal = hostile.canned(self, "rcpt")
        if refusal:
            self.reply(refusal)
            return
        if self.throttled("rcpt"):
            return
        self.rcpts.append(addr)
        self.rcpt_params[addr] = params
        self.reply(*self.multi("250 2.1.5 Recipient ok, go on",
                               "250 2.1.5 Ok"))

    def cmd_DATA(self, arg):
        if not self.precheck():
            return
        if self.mail_from is None:
            self.reply("503 5.5.1 Need MAIL command")
            return
        if not self.rcpts:
            self.reply("554 5.5.1 No valid recipients")
            return
        refusal = hostile.canned(self, "data")
        if refusal:
            self.reply(refusal)
            return
        if self.throttled("data"):
            return
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        body, flags = self.read_data()
        for f in sorted(flags):
            self.log("event", f)
        if self.o.no_data_transcript:
            self.log("event", "data-received", bytes=len(body))
        if self.fault == "stall":
            self.log("event", "stalled")
            time.sleep(self.o.stall_time)
        if self.sc("drop-after-eod") or self.fault == "drop":
            self.log("event", "dropped-after-eod", size=len(body))
            raise Closed("scenario")
        refusal = hostile.canned(self, "eod") or \
            smarthost_policy.after_data(self.o.scenario, self.auth_user, body)
        if refusal:
            self.reply(refusal)
        elif len(body) > self.size_limit():
            self.reply("552 5.3.4 Message size exceeds fixed limit")
        elif self.throttled("eod"):
            pass
        else:
            meta = {"mail_from": self.mail_from,
                    "mail_params": self.mail_params,
                    "rcpt_to": self.rcpts, "rcpt_params": self.rcpt_params,
                    "auth_user": self.auth_user, "tls": self.tls,
                    "tls_version": self.tls_info.get("version"),
                    "tls_cipher": self.tls_info.get("cipher"),
                    "sni": self.tls_info.get("sni"),
                    "client_cert": self.tls_info.get("client_cert"),
                    "helo": self.helo, "conn": self.n, "size": len(body)}
            n = self.srv.deliver(meta, body)
            self.delivered_here += 1
            self.log("event", "delivered %d" % n)
            self.reply(*self.multi("250 2.0.0 Message accepted",
                                   "250 2.0.0 Ok: queued as %d" % n))
            if self.fault == "drop-after-250":
                self.flush()
                self.log("event", "dropped-after-250")
                raise Closed("flaky")
        self.reset()

    def read_data(self):
        """Content up to CRLF.CRLF, dot-unstuffed, line ends kept."""
        parts, flags, prev_crlf, first = [], set(), True, True
        while True:
            line = self.readline()
            if not self.o.no_data_transcript or line == b".\r\n":
                self.log_c2s(line)
            if line == b".\r\n" and prev_crlf:
                return b"".join(parts), flags
            if not line.endswith(b"\r\n"):
                flags.add("bare-lf-in-data")
            if b"\r" in strip_eol(line):
                flags.add("bare-cr-in-data")
            if len(line) > 1000:
                flags.add("long-line-in-data")
            if prev_crlf and line.startswith(b"."):
                line = line[1:]
            parts.append(line)
            prev_crlf = line.endswith(b"\r\n")
            if first and (self.sc("drop-mid-data") or self.fault == "drop-mid-data"):
                self.log("event", "dropped-mid-data")
                raise Closed("scenario")
            first = False
