#!/usr/bin/python3
"""tests/smarthost.py - a scriptable SMTP smarthost for sealpost's tests.

Python 3 standard library only; runs unprivileged on loopback; trusts
nothing it receives (every line is bounded, every socket has a timeout, and
the whole process exits after --idle-timeout seconds without a connection or
--lifetime seconds in all). Test material: never expose it to a network.

This file is the CLI; the rest lives beside it, one concern a module:
  smarthost_server.py   shared state: TLS context, transcript, delivery,
                        --flaky/--fail-first faults, the tls-old probe
  smarthost_session.py  one connection: state, EHLO capabilities, commands
  smarthost_io.py       its line I/O, transcript lines, TLS handshake
  smarthost_auth.py     AUTH PLAIN/LOGIN/XOAUTH2
  smarthost_mail.py     MAIL, RCPT, DATA, delivery
  smarthost_hostile.py  the misbehaving scenarios (silence, bad greetings,
                        bogus/injected STARTTLS answers, canned refusals)
  smarthost_policy.py, smarthost_throttle.py  providers' rules and limits

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
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time

# The modules below live beside this file: importable however it is run
# (by path, through a symlink, under python3 -P or PYTHONSAFEPATH).
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import smarthost_policy  # noqa: E402  provider send-as rules
import smarthost_throttle as throttle  # noqa: E402
from smarthost_server import (DEFAULT_SIZE, TLS_VERSIONS, Server,  # noqa: E402
                              parse_flaky, tls_old_supported)
from smarthost_session import serve_connection  # noqa: E402

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
