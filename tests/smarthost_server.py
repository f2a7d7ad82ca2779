"""tests/smarthost_server.py - the state tests/smarthost.py shares between
its connections: options, the TLS context, the transcript, the delivery
counter and --flaky/--fail-first fault decisions; and the probe for
TLS 1.0/1.1 support (scenario tls-old).

Python 3 standard library only; imported by smarthost.py (beside it).
"""

import json
import os
import random
import socket
import ssl
import threading
import time
import warnings

# tls-old needs the deprecated TLS 1.0/1.1 constants on purpose.
warnings.filterwarnings("ignore", category=DeprecationWarning)

DEFAULT_SIZE = 52428800
TLS_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


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
