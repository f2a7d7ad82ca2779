#!/usr/bin/python3
"""bs-client.py - drive `sealpost -bs` turn by turn from a small script.

Usage: bs-client.py SCRIPT -- COMMAND [ARGS...]

The command is started with stdin/stdout on pipes and stderr appended to
$BS_STDERR (default /dev/null) so the caller can check that it stays empty.
Script lines (read from the file SCRIPT, "-" for stdin):

  S text      queue "text\\r\\n" to send
  B literal   queue raw bytes (a Python bytes literal, e.g. b"x\\n.\\n")
  E code      send what is queued in ONE write, then read one reply and
              check its final line starts with code (e.g. 250, 354)
  E1          after the previous E lines of a batch: the replies of that
              batch arrived in a single read (the server wrote them at once)
  Q text      the last reply's final line contains text
  C           close stdin (the client goes away), then expect EOF on stdout
  X status    wait for the command and check its exit status
  # ...       comment

Every read is bounded by a 10 s timeout. Prints each reply; exits 1 with
a message on the first mismatch.
"""
import ast
import os
import select
import subprocess
import sys

TIMEOUT = 10.0


def fail(msg):
    sys.stderr.write("bs-client: FAIL: %s\n" % msg)
    sys.exit(1)


class Conn:
    def __init__(self, argv):
        err = open(os.environ.get("BS_STDERR", "/dev/null"), "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=err, bufsize=0)
        err.close()
        self.buf = b""
        self.reads = 0
        self.last = ""

    def send(self, data):
        if data:
            self.p.stdin.write(data)

    def _fill(self):
        r, _, _ = select.select([self.p.stdout], [], [], TIMEOUT)
        if not r:
            fail("timeout waiting for a reply")
        chunk = os.read(self.p.stdout.fileno(), 65536)
        self.reads += 1
        if not chunk:
            return False
        self.buf += chunk
        return True

    def reply(self):
        """One whole reply (all its lines); returns its final line."""
        while True:
            while b"\n" not in self.buf:
                if not self._fill():
                    fail("connection closed while waiting for a reply (got %r)" % self.buf)
            line, self.buf = self.buf.split(b"\n", 1)
            if not line.endswith(b"\r"):
                fail("reply line without CRLF: %r" % line)
            text = line[:-1].decode("utf-8", "replace")
            print("<<< " + text)
            if len(text) < 4 or not text[:3].isdigit() or text[3] not in " -":
                fail("malformed reply line: %r" % text)
            if text[3] == " ":
                self.last = text
                return text

    def expect_eof(self):
        if self.buf:
            fail("unexpected data before EOF: %r" % self.buf)
        while self._fill():
            fail("unexpected data after close: %r" % self.buf)


def main():
    if "--" not in sys.argv:
        fail("usage: bs-client.py SCRIPT -- COMMAND...")
    sep = sys.argv.index("--")
    script_path, argv = sys.argv[1], sys.argv[sep + 1:]
    script = sys.stdin.read() if script_path == "-" else open(script_path).read()
    c = Conn(argv)
    pending = b""
    for raw in script.splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        op, _, arg = raw.partition(" ")
        if op == "S":
            pending += arg.encode("utf-8", "surrogateescape") + b"\r\n"
        elif op == "B":
            pending += ast.literal_eval(arg)
        elif op == "E":
            if pending:
                print(">>> %r" % (pending[:200],))
                c.send(pending)
                pending = b""
                c.reads = 0
            line = c.reply()
            if not line.startswith(arg):
                fail("expected %s, got %r" % (arg, line))
        elif op == "E1":
            if c.reads != 1 or c.buf:
                fail("the batch's replies took %d reads" % c.reads)
        elif op == "Q":
            if arg not in c.last:
                fail("expected %r in %r" % (arg, c.last))
        elif op == "C":
            c.send(pending)
            pending = b""
            c.p.stdin.close()
            c.expect_eof()
        elif op == "X":
            try:
                status = c.p.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                c.p.kill()
                fail("command did not exit")
            if status != int(arg):
                fail("exit status %d, expected %s" % (status, arg))
        else:
            fail("bad script line: %r" % raw)
    if c.p.poll() is None:
        try:
            c.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            c.p.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            c.p.kill()
            fail("command did not exit")


if __name__ == "__main__":
    main()
