"""tests/smarthost_io.py - one connection's line I/O for tests/smarthost.py:
bounded line reads, replies queued and flushed before the next read blocks
(so pipelined commands get their replies in one write), the transcript of
both directions, and the TLS handshake (STARTTLS or implicit).

Python 3 standard library only; the peer is hostile: every line is bounded
and every failure ends the session with Closed.
"""

import ssl
import time

CMD_MAX = 4096          # command line bound (RFC 5321: 512)
LINE_MAX = 1 << 20      # any line, DATA included; beyond: connection closed


class Closed(Exception):
    """The session is over (peer gone, timeout, or the scenario closes)."""


def text(b):
    return b.decode("utf-8", "backslashreplace")


def strip_eol(line):
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        return line[:-1]
    return line


class SessionIO:
    """The I/O half of smarthost_session.Session (which sets the state)."""

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
