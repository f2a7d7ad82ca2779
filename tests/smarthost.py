#!/usr/bin/python3
"""tests/smarthost.py - a scriptable SMTP smarthost for sealpost's tests.

Python 3 standard library only; runs unprivileged on loopback; trusts
nothing it receives (every line is bounded, every socket has a timeout, and
the whole process exits after --idle-timeout seconds without a connection or
--lifetime seconds in all). Test material: never expose it to a network.

CLI (the contract other tests rely on):
  smarthost.py --port-file F --cert C --key K
      [--listen 127.0.0.1|::1]          address to bind (port 0; default 127.0.0.1)
      [--mode starttls|implicit]        implicit = TLS from the first byte
      [--ca CA]                         verify client certificates (optional;
                                        the subject CN is recorded)
      [--scenario NAME]                 default "good", list below
      [--transcript FILE]               JSON lines, appended and flushed per event
      [--no-data-transcript]            leave DATA content lines out of the
                                        transcript (load tests); an event
                                        "data-received" (+ "bytes") instead
      [--maildir DIR]                   delivered messages
      [--auth USER:PASS]                AUTH PLAIN/LOGIN credentials; when given,
                                        MAIL needs AUTH (530 5.7.0 otherwise)
      [--oauth-token TOKEN]             also offer AUTH XOAUTH2 (after TLS): the
                                        bearer token TOKEN is accepted, any
                                        other gets 535 5.7.8; MAIL needs AUTH
      [--no-ext NAME]...                drop an EHLO keyword (PIPELINING, SIZE,
                                        8BITMIME, DSN, SMTPUTF8, STARTTLS, AUTH,
                                        ENHANCEDSTATUSCODES)
      [--size N]                        SIZE limit (default 52428800)
      [--max-connections N]             concurrent connections; more get 421
      [--idle-timeout S]                exit 0 after S s with no connection (30)
      [--lifetime S]                    exit 0 after S s in all (600)
      [--conn-timeout S]                per-socket timeout (60)
      [--tls-max 1.0|1.1|1.2|1.3] [--tls-min ...]
                                        (--tls-max 1.0/1.1 also enables the old
                                        ciphers, like scenario tls-old)
      [--weak-certs] [--ciphers LIST]   serve weak keys/signatures (OpenSSL
                                        security level 0); TLS 1.2 suites
      [--require-client-cert]           with --ca: no certificate, no session
      [--delay S]                       delay every reply (scenario slow: 0.2)
      [--fail-first N]                  451 at MAIL for the first N transactions
      [--flaky 'tempfail=P,drop=P,...'] [--seed N] [--stall-time S]
      [--accept-cleartext]              accept MAIL/RCPT/DATA before STARTTLS
      [--hostname NAME]                 greeting/EHLO name (smarthost.test)
      [--pid-file F]
  Binds port 0, writes the port to --port-file atomically (tmp + rename) once
  listening, serves each connection in a thread, exits 0 on SIGTERM/SIGINT or
  idle; exits 3 when the scenario cannot run here (tls-old without TLS 1.0/1.1
  support in OpenSSL), 2 on usage errors.

Transcript (--transcript): one JSON object per line:
  {"t": unix time, "conn": n, "dir": "c2s"|"s2c"|"event", "tls": bool, "data": str}
  c2s/s2c: every line in each direction (DATA content too), without its line
  end; bytes that are not UTF-8 appear backslash-escaped. c2s records also
  carry "rx": the number of the read (recv) that completed the line on that
  connection; lines with the same rx arrived together (inside TLS: in one
  TLS record), which shows whether the client pipelined. Events ("data"):
  "conn-open" (+ "active": k), "conn-closed", "tls-established" (+ "version",
  "cipher", "sni", "client_cert"), "tls-failed" (+ "error"),
  "starttls-discarded" (+ "bytes": client bytes pipelined after STARTTLS,
  thrown away as RFC 3207 requires), "auth-attempt MECH", "auth-success USER",
  "auth-failure USER", "bare-lf-in-data", "bare-cr-in-data",
  "long-line-in-data", "delivered N", "dropped-mid-data",
  "dropped-after-eod", "dropped-after-250", "stalled", "silent-discarded"
  (+ "bytes"), "too-many-connections".

Delivery (--maildir DIR), per accepted transaction n = 1, 2, ...:
  DIR/n.eml   the DATA bytes exactly as received, dot-unstuffed, line ends
              as received, without the final ".\r\n"
  DIR/n.json  {"mail_from", "mail_params": [...], "rcpt_to": [accepted only],
              "rcpt_params": {rcpt: [...]}, "auth_user", "tls", "tls_version",
              "tls_cipher", "sni", "client_cert", "helo", "conn", "size"}
  .eml is written first, then .json atomically: wait for the .json.

Scenarios (--scenario):
  good                     STARTTLS (or implicit TLS); AUTH offered only in TLS;
                           MAIL/RCPT/DATA/AUTH in cleartext get
                           530 5.7.0 Must issue a STARTTLS command first
  no-starttls              STARTTLS not advertised; AUTH and mail accepted in
                           cleartext (the test asserts the client sent none)
  starttls-454             STARTTLS -> 454 4.7.0 TLS not available; then
                           accepts cleartext
  starttls-bogus           STARTTLS -> "999 nope"; then accepts cleartext
  inject-after-220         "220 Ready to start TLS\r\n250-fake\r\n250 injected\r\n"
                           in one write, then waits for a handshake
  caps-after-tls           before TLS: AUTH PLAIN LOGIN, SIZE 10; after TLS:
                           SIZE 100000000, AUTH PLAIN (SIZE enforced per state)
  auth-before-tls-only     AUTH offered (and accepted) only before TLS; after
                           TLS no AUTH is offered and none is required
  tls-old                  only TLS 1.0/1.1 (exit 3 if OpenSSL cannot serve it)
  close-after-starttls-220 220 to STARTTLS, then close
  close-after-greeting     greeting, then close
  mail-4xx mail-5xx rcpt-4xx rcpt-5xx data-4xx data-5xx eod-4xx eod-5xx
                           that reply at that step (data-* at the DATA command,
                           eod-* after the final dot; nothing stored)
  rcpt-mixed               first RCPT of each transaction 250, others 550 5.1.1
  rcpt-mixed-close-at-data rcpt-mixed, then closes at DATA (no 354)
  drop-mid-data            closes after the first line of DATA content
  drop-after-eod           reads the final dot, never replies, closes (nothing
                           stored)
  silent-before-greeting   accepts TCP, never writes (reads and discards)
  silent-after-starttls    never answers STARTTLS
  silent-in-handshake      220 to STARTTLS (implicit: nothing), then never
                           answers the ClientHello
  talk-before-greeting     "250 early" before reading anything, 0.1 s later a
                           normal greeting. The greeting must be 220 (RFC 5321
                           4.3.1): a client should treat this reply as an
                           invalid greeting and fail temporarily (QUIT/close);
                           either way nothing may go out in cleartext.
  multiline-greeting       "220-first\r\n220-second\r\n220 last"; MAIL, RCPT and
                           end-of-data replies are two-line too
  slow                     every reply delayed 0.2 s (see --delay)
  close-on-reuse           a connection that has had a transaction accepted
                           closes at the next MAIL, unanswered (a server that
                           drops kept connections)
  null-sender-501          "501 Invalid MAIL FROM address provided" to
                           MAIL FROM:<> (Amazon SES); other senders as good
  send-as                  Microsoft 365's send-as rule (needs --auth): MAIL
                           FROM and From: must be the AUTH identity, else
                           550 5.7.60 / 554 5.2.252 SendAsDenied after DATA
                           (tests/smarthost_policy.py)
  fail-first-N             451 4.3.0 at MAIL for the first N transactions
                           (same as --fail-first N)
  throttle-*, quota-*, rcpt-limit*
                           providers' throttling, quota and recipient-limit
                           replies: tests/smarthost_throttle.py (with
                           [--throttle-count N] [--rcpt-limit N])
  flaky                    nothing by itself: use --flaky (works with any
                           scenario): per transaction, "tempfail" = 451 at
                           MAIL, "drop" = close after the final dot with no
                           reply and nothing stored, "drop-mid-data" = close
                           after the first DATA line, "drop-after-250" =
                           store, reply 250, close at once, "stall" = wait
                           --stall-time seconds (default 2) before the reply
                           to the final dot (then store and reply 250)
"""

import argparse
import base64
import binascii
import json
import os
import random
import re
import signal
import socket
import ssl
import sys
import threading
import time
import warnings

import smarthost_policy  # provider send-as rules, beside this file
import smarthost_throttle as throttle

# tls-old needs the deprecated TLS 1.0/1.1 constants on purpose.
warnings.filterwarnings("ignore", category=DeprecationWarning)

CMD_MAX = 4096          # command line bound (RFC 5321: 512)
LINE_MAX = 1 << 20      # any line, DATA included; beyond: connection closed
RCPT_MAX = 1000
DEFAULT_SIZE = 52428800

CLEARTEXT_SCENARIOS = {"no-starttls", "starttls-454", "starttls-bogus",
                       "auth-before-tls-only"}
AUTH_BEFORE_TLS = {"no-starttls", "starttls-454", "starttls-bogus",
                   "auth-before-tls-only", "caps-after-tls"}
FIXED_SCENARIOS = {
    "good", "no-starttls", "starttls-454", "starttls-bogus", "inject-after-220",
    "caps-after-tls", "auth-before-tls-only", "tls-old",
    "close-after-starttls-220", "close-after-greeting", "mail-4xx", "mail-5xx",
    "rcpt-4xx", "rcpt-5xx", "data-4xx", "data-5xx", "eod-4xx", "eod-5xx",
    "rcpt-mixed", "drop-mid-data", "drop-after-eod", "silent-before-greeting",
    "silent-after-starttls", "silent-in-handshake", "talk-before-greeting",
    "multiline-greeting", "slow", "flaky", "close-on-reuse", "null-sender-501",
    "rcpt-mixed-close-at-data"}
FIXED_SCENARIOS |= smarthost_policy.SCENARIOS
FIXED_SCENARIOS |= set(throttle.SCENARIOS)
TLS_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class Closed(Exception):
    """The session is over (peer gone, timeout, or the scenario closes)."""


class Server:
    """Shared state: options, TLS context, transcript, counters."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.conn_seq = 0
        self.active = 0
        self.msg_seq = 0
        self.transactions = 0
        self.last_activity = time.monotonic()
        self.rng = random.Random(opts.seed)
        self.flaky = parse_flaky(opts.flaky)
        self.transcript = open(opts.transcript, "a", encoding="utf-8") \
            if opts.transcript else None
        self.ctx = self.make_context()

    def make_context(self):
        o = self.opts
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if o.weak_certs or o.ciphers:
            ctx.set_ciphers((o.ciphers or "DEFAULT") + ":@SECLEVEL=0")
        ctx.load_cert_chain(o.cert, o.key)
        if o.ca:
            ctx.load_verify_locations(o.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED if o.require_client_cert \
                else ssl.CERT_OPTIONAL
        if o.old_tls:
            ctx.set_ciphers("@SECLEVEL=0:ALL")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        if o.tls_min:
            ctx.minimum_version = TLS_VERSIONS[o.tls_min]
        if o.tls_max:
            ctx.maximum_version = TLS_VERSIONS[o.tls_max]
        ctx.sni_callback = record_sni
        return ctx

    def log(self, conn, direction, tls, data, **extra):
        if not self.transcript:
            return
        rec = {"t": round(time.time(), 6), "conn": conn, "dir": direction,
               "tls": tls, "data": data}
        rec.update(extra)
        with self.lock:
            self.transcript.write(json.dumps(rec) + "\n")
            self.transcript.flush()

    def next_transaction(self):
        """Fault decision for a new transaction: None, 'tempfail', 'drop'."""
        with self.lock:
            self.transactions += 1
            if self.transactions <= self.opts.fail_first:
                return "tempfail"
            r = self.rng.random()
        for fault in FLAKY_KEYS:
            if r < self.flaky.get(fault, 0.0):
                return fault
            r -= self.flaky.get(fault, 0.0)
        return None

    def deliver(self, meta, body):
        with self.lock:
            self.msg_seq += 1
            n = self.msg_seq
        d = self.opts.maildir
        if d:
            with open(os.path.join(d, "%d.eml" % n), "wb") as f:
                f.write(body)
            tmp = os.path.join(d, ".%d.json.tmp" % n)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=1)
                f.write("\n")
            os.rename(tmp, os.path.join(d, "%d.json" % n))
        return n


def record_sni(sslobj, server_name, ctx):
    # Called during the handshake; the session reads it back afterwards.
    sslobj.sealpost_sni = server_name


FLAKY_KEYS = ("tempfail", "drop", "drop-mid-data", "drop-after-250", "stall")


def parse_flaky(spec):
    out = {}
    if not spec:
        return out
    for item in spec.split(","):
        key, _, val = item.partition("=")
        key = key.strip()
        if key not in FLAKY_KEYS:
            raise ValueError("unknown --flaky key %r" % key)
        out[key] = float(val)
    return out


def text(b):
    return b.decode("utf-8", "backslashreplace")


def strip_eol(line):
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        return line[:-1]
    return line


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


class Session:
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

    # --- I/O -----------------------------------------------------------
    def log(self, direction, data, **extra):
        self.srv.log(self.n, direction, self.tls, data, **extra)

    def log_c2s(self, line):
        self.log("c2s", text(strip_eol(line)), rx=self.rx)

    def write_raw(self, data):
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError) as e:
            raise Closed("write: %s" % e)

    def reply(self, *lines):
        """Queue a reply (lines without CRLF); flushed before the next read
        blocks, so pipelined commands get their replies in one write."""
        if self.delay:
            time.sleep(self.delay)
        for ln in lines:
            self.log("s2c", ln)
            self.out.append(ln.encode() + b"\r\n")

    def flush(self):
        if self.out:
            data = b"".join(self.out)
            self.out = []
            self.write_raw(data)

    def readline(self):
        """One line including its LF (or what remains at EOF)."""
        while b"\n" not in self.buf:
            if len(self.buf) > LINE_MAX:
                self.reply("500 5.5.2 Line too long")
                self.flush()
                raise Closed("line too long")
            self.flush()
            try:
                chunk = self.sock.recv(65536)
            except (OSError, ssl.SSLError) as e:
                raise Closed("read: %s" % e)
            if not chunk:
                raise Closed("eof")
            self.rx += 1
            self.buf += chunk
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def discard_until_eof(self, what):
        """Silent scenarios: read and drop everything, never answer."""
        self.flush()
        total = len(self.buf)
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                total += len(chunk)
        except (OSError, ssl.SSLError):
            pass
        self.log("event", "silent-discarded", bytes=total, where=what)
        raise Closed("silent")

    def start_tls(self):
        try:
            s = self.srv.ctx.wrap_socket(self.sock, server_side=True,
                                         do_handshake_on_connect=False)
            self.sock = s
            s.do_handshake()
        except (OSError, ssl.SSLError, ValueError) as e:
            self.log("event", "tls-failed", error=str(e))
            raise Closed("handshake")
        self.tls = True
        cipher = s.cipher()
        cert = s.getpeercert() if self.o.ca else None
        cn = None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
        self.tls_info = {"version": s.version(),
                         "cipher": cipher[0] if cipher else None,
                         "sni": getattr(s, "sealpost_sni", None),
                         "client_cert": cn, "resumed": s.session_reused}
        self.log("event", "tls-established", **self.tls_info)

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
        o = self.o
        if o.mode == "implicit":
            if self.sc("silent-in-handshake"):
                self.discard_until_eof("handshake")
            self.start_tls()
        if self.sc("silent-before-greeting"):
            self.discard_until_eof("greeting")
        if self.sc("talk-before-greeting"):
            self.reply("250 early")
            self.flush()
            time.sleep(0.1)
        if self.throttled("greeting"):
            pass
        elif self.sc("multiline-greeting"):
            self.reply("220-first", "220-second", "220 last")
        else:
            self.reply("220 %s ESMTP sealpost test smarthost" % o.hostname)
        if self.sc("close-after-greeting"):
            self.flush()
            raise Closed("scenario")
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
        if self.sc("starttls-454"):
            self.reply("454 4.7.0 TLS not available")
            return
        if self.sc("starttls-bogus"):
            self.reply("999 nope")
            return
        if self.sc("silent-after-starttls"):
            self.discard_until_eof("starttls")
        if self.sc("inject-after-220"):
            self.flush()
            self.log("s2c", "220 Ready to start TLS")
            self.log("s2c", "250-fake")
            self.log("s2c", "250 injected")
            self.write_raw(b"220 Ready to start TLS\r\n250-fake\r\n250 injected\r\n")
        else:
            self.reply("220 2.0.0 Ready to start TLS")
            self.flush()
        if self.sc("close-after-starttls-220"):
            raise Closed("scenario")
        if self.sc("silent-in-handshake"):
            self.discard_until_eof("handshake")
        if self.buf:
            # RFC 3207: anything the client pipelined after STARTTLS is void.
            self.log("event", "starttls-discarded", bytes=len(self.buf))
            self.buf = b""
        self.start_tls()
        self.helo, self.esmtp, self.auth_user = None, False, None
        self.reset()

    def cmd_AUTH(self, arg):
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        self.log("event", "auth-attempt " + mech)
        if self.throttled("auth"):
            return
        if self.auth_user:
            self.reply("503 5.5.1 Already authenticated")
            return
        mechs = self.auth_mechs() if self.esmtp else []
        if not mechs and self.cleartext_blocked():
            self.reply("530 5.7.0 Must issue a STARTTLS command first")
            return
        if mech not in mechs:
            self.reply("504 5.5.4 Unrecognized authentication type")
            return
        try:
            if mech == "XOAUTH2":
                user, pw = self.auth_xoauth2(parts[1] if len(parts) > 1 else None)
            elif mech == "PLAIN":
                user, pw = self.auth_plain(parts[1] if len(parts) > 1 else None)
            else:
                user, pw = self.auth_login(parts[1] if len(parts) > 1 else None)
        except ValueError as e:
            self.reply("501 5.5.2 %s" % e)
            return
        want_user, _, want_pw = (self.o.auth or "").partition(":")
        if mech == "XOAUTH2":
            ok = pw == self.o.oauth_token
        else:
            ok = self.o.auth and user == want_user and pw == want_pw
        if ok:
            self.auth_user = user
            self.log("event", "auth-success " + user)
            self.reply("235 2.7.0 Authentication successful")
        else:
            self.log("event", "auth-failure " + user)
            self.reply("535 5.7.8 Authentication credentials invalid")

    def auth_response(self, prompt):
        self.reply("334 " + prompt)
        line = self.readline()
        self.log_c2s(line)
        s = strip_eol(line).strip()
        if s == b"*":
            raise ValueError("AUTH cancelled")
        return self.b64(s)

    @staticmethod
    def b64(s):
        try:
            return base64.b64decode(s, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("Invalid base64 data")

    def auth_plain(self, initial):
        if initial is None:
            data = self.auth_response("")
        else:
            data = "" if initial == "=" else self.b64(initial.encode())
        fields = data.split("\0")
        if len(fields) != 3:
            raise ValueError("Invalid PLAIN response")
        return fields[1], fields[2]

    def auth_xoauth2(self, initial):
        """"user=U^Aauth=Bearer T^A^A": (U, T)."""
        data = self.b64(initial.encode()) if initial else self.auth_response("")
        fields = dict(f.split("=", 1) for f in data.split("\1") if "=" in f)
        if "user" not in fields or not fields.get("auth", "").startswith("Bearer "):
            raise ValueError("Invalid XOAUTH2 response")
        return fields["user"], fields["auth"][len("Bearer "):]

    def auth_login(self, initial):
        user = self.b64(initial.encode()) if initial else \
            self.auth_response("VXNlcm5hbWU6")
        return user, self.auth_response("UGFzc3dvcmQ6")

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
        refusal = smarthost_policy.at_mail(self.o.scenario, self.auth_user, addr)
        if refusal:
            self.reply(refusal)
            return
        if self.sc("mail-4xx"):
            self.reply("451 4.3.0 Temporary failure at MAIL (scenario)")
            return
        if self.sc("mail-5xx"):
            self.reply("550 5.7.1 Sender rejected (scenario)")
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
        if self.sc("rcpt-4xx"):
            self.reply("450 4.2.0 Mailbox temporarily unavailable (scenario)")
            return
        if self.sc("rcpt-5xx") or (self.sc("rcpt-mixed", "rcpt-mixed-close-at-data") and self.rcpts):
            self.reply("550 5.1.1 No such user (scenario)")
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
        if self.sc("rcpt-mixed-close-at-data"):
            self.flush()  # the RCPT replies reach the client first
            raise Closed("rcpt-mixed-close-at-data")
        if self.sc("data-4xx"):
            self.reply("451 4.3.0 Temporary failure at DATA (scenario)")
            return
        if self.sc("data-5xx"):
            self.reply("554 5.3.0 Not accepting data (scenario)")
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
        refusal = smarthost_policy.after_data(self.o.scenario, self.auth_user, body)
        if self.sc("eod-4xx"):
            self.reply("451 4.3.0 Try again later (scenario)")
        elif self.sc("eod-5xx"):
            self.reply("554 5.7.1 Message rejected (scenario)")
        elif refusal:
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


def tls_old_supported(server):
    """Handshake over a socketpair with a TLS 1.1 client."""
    cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cli.check_hostname, cli.verify_mode = False, ssl.CERT_NONE
    try:
        cli.set_ciphers("@SECLEVEL=0:ALL")
        cli.minimum_version = ssl.TLSVersion.TLSv1
        cli.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ssl.SSLError, ValueError):
        return False
    a, b = socket.socketpair()
    a.settimeout(5)
    b.settimeout(5)
    result = {}

    def srv_side():
        try:
            s = server.ctx.wrap_socket(a, server_side=True)
            result["v"] = s.version()
            s.close()
        except (OSError, ssl.SSLError) as e:
            result["e"] = e

    t = threading.Thread(target=srv_side, daemon=True)
    t.start()
    try:
        c = cli.wrap_socket(b)
        c.close()
    except (OSError, ssl.SSLError):
        pass
    t.join(6)
    a.close()
    b.close()
    return result.get("v") in ("TLSv1", "TLSv1.1")


def write_atomic(path, content):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(content)
    os.rename(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description="sealpost test smarthost")
    p.add_argument("--port-file", required=True)
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--mode", choices=("starttls", "implicit"), default="starttls")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca")
    p.add_argument("--scenario", default="good")
    p.add_argument("--transcript")
    p.add_argument("--no-data-transcript", action="store_true")
    p.add_argument("--maildir")
    p.add_argument("--auth")
    p.add_argument("--oauth-token")
    p.add_argument("--no-ext", action="append", default=[])
    p.add_argument("--size", type=int, default=DEFAULT_SIZE)
    p.add_argument("--max-connections", type=int, default=100)
    p.add_argument("--idle-timeout", type=float, default=30.0)
    p.add_argument("--lifetime", type=float, default=600.0)
    p.add_argument("--conn-timeout", type=float, default=60.0)
    p.add_argument("--tls-max", choices=sorted(TLS_VERSIONS))
    p.add_argument("--tls-min", choices=sorted(TLS_VERSIONS))
    p.add_argument("--weak-certs", action="store_true")
    p.add_argument("--ciphers")
    p.add_argument("--require-client-cert", action="store_true")
    p.add_argument("--delay", type=float)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--flaky", default="")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stall-time", type=float, default=2.0)
    p.add_argument("--accept-cleartext", action="store_true")
    p.add_argument("--hostname", default="smarthost.test")
    p.add_argument("--pid-file")
    throttle.add_args(p)
    o = p.parse_args(argv)
    o.no_ext = {e.upper() for e in o.no_ext}
    # TLS 1.0/1.1 need the old ciphers and security level 0 to be served.
    o.old_tls = o.scenario == "tls-old" or o.tls_max in ("1.0", "1.1")
    m = re.fullmatch(r"fail-first-(\d+)", o.scenario)
    if m:
        o.fail_first = max(o.fail_first, int(m.group(1)))
    elif o.scenario not in FIXED_SCENARIOS:
        p.error("unknown scenario %r" % o.scenario)
    if o.auth is not None and ":" not in o.auth:
        p.error("--auth wants USER:PASS")
    try:
        parse_flaky(o.flaky)
    except ValueError as e:
        p.error(str(e))
    return o


def main(argv):
    o = parse_args(argv)
    if o.maildir:
        os.makedirs(o.maildir, exist_ok=True)
    try:
        server = Server(o)
    except (OSError, ssl.SSLError, ValueError) as e:
        print("smarthost.py: TLS setup failed: %s" % e, file=sys.stderr)
        return 3 if o.old_tls else 1
    if o.old_tls and not tls_old_supported(server):
        print("smarthost.py: this OpenSSL will not serve TLS 1.0/1.1; "
              "scenario tls-old (or --tls-max 1.0/1.1) cannot run",
              file=sys.stderr)
        return 3

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())

    family = socket.AF_INET6 if ":" in o.listen else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((o.listen, 0))
    lsock.listen(64)
    lsock.settimeout(0.2)
    if o.pid_file:
        write_atomic(o.pid_file, "%d\n" % os.getpid())
    write_atomic(o.port_file, "%d\n" % lsock.getsockname()[1])

    started = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        with server.lock:
            idle = server.active == 0 and \
                now - server.last_activity > o.idle_timeout
        if idle or now - started > o.lifetime:
            break
        try:
            sock, _ = lsock.accept()
        except (socket.timeout, InterruptedError):
            continue
        except OSError:
            if stop.is_set():
                break
            raise
        sock.settimeout(o.conn_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with server.lock:
            server.conn_seq += 1
            n = server.conn_seq
            server.last_activity = time.monotonic()
            too_many = server.active >= o.max_connections
            if not too_many:
                server.active += 1
            active = server.active
        if too_many:
            server.log(n, "event", False, "too-many-connections")
            try:
                sock.sendall(b"421 4.7.0 Too many connections\r\n")
            except OSError:
                pass
            sock.close()
            continue
        server.log(n, "event", False, "conn-open", active=active)
        threading.Thread(target=serve_connection, args=(server, sock, n),
                         daemon=True).start()
    lsock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
