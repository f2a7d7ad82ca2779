#!/bin/sh
# tests/smarthost-selftest.sh - checks the test smarthost itself (and the
# helpers in lib-smarthost.sh) with Python's smtplib and raw sockets, so that
# the worker's scenario tests can trust what it records.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"

need_certs
for f in ca.pem server.pem server.key expired.pem wrongname.pem selfsigned.pem \
	untrusted.pem untrusted-chain.pem notyet.pem client.pem client.key server.pin; do
	[ -s "$CERTS/$f" ] || fail "mkcerts.sh did not create $f"
done
pin=$(openssl pkey -in "$CERTS/server.key" -pubout -outform DER 2>/dev/null |
	openssl dgst -sha256 -binary | base64) || pin=""
if [ -n "$pin" ]; then
	[ "$pin" = "$(cat "$CERTS/server.pin")" ] || fail "server.pin differs from openssl's SPKI hash"
fi
ok "certificates and pins"

# py SCRIPT [ARGS...]: run a Python check; the helper module is importable.
cat > "$T/shclient.py" <<'EOF'
import smtplib, socket, ssl, os, json, time
PORT = int(os.environ["SMTP_PORT"])
CERTS = os.environ["CERTS"]
def ctx(verify=True):
    c = ssl.create_default_context(cafile=CERTS + "/ca.pem")
    if not verify:
        c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
    return c
def smtp(host="127.0.0.1"):
    s = smtplib.SMTP(timeout=10)
    s.connect(host, PORT)
    s._host = "localhost"   # SNI and name checked by starttls()
    return s
class Raw:
    """A raw client: send bytes, read until a marker, with a timeout."""
    def __init__(self, timeout=5):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
        self.buf = b""
    def send(self, data):
        self.s.sendall(data)
    def until(self, marker):
        while marker not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        return self.buf
def outcome(starttls=True, timeout=2):
    """Drive one transaction; return "STEP CODE" for the first reply that
    is not 2xx/3xx (or the final 250), "STEP closed" or "STEP timeout"."""
    step = "GREETING"
    try:
        s = smtplib.SMTP(timeout=timeout)
        s.connect("127.0.0.1", PORT)
        step = "EHLO"
        code, _ = s.ehlo("t.test")
        if code != 250: return "EHLO %d" % code
        if starttls:
            step = "STARTTLS"
            code, _ = s.docmd("STARTTLS")
            if code != 220: return "STARTTLS %d" % code
            step = "TLS"
            s.sock = ctx().wrap_socket(s.sock, server_hostname="localhost")
            s.file = None
            step = "EHLO2"
            code, _ = s.ehlo("t.test")
            if code != 250: return "EHLO2 %d" % code
        for step, cmd in (("MAIL", "MAIL FROM:<a@example.org>"),
                          ("RCPT", "RCPT TO:<b@example.net>"),
                          ("DATA", "DATA")):
            code, _ = s.docmd(cmd)
            if code >= 400: return "%s %d" % (step, code)
        step = "EOD"
        s.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
        code, _ = s.getreply()
        return "EOD %d" % code
    except smtplib.SMTPServerDisconnected as e:
        return step + (" timeout" if "timed out" in str(e) else " closed")
    except (socket.timeout, TimeoutError):
        return step + " timeout"
    except (ssl.SSLError, ConnectionError):
        return step + " closed"
def delivered(n):
    d = os.environ["SMTP_MAILDIR"]
    with open("%s/%d.json" % (d, n)) as f:
        meta = json.load(f)
    with open("%s/%d.eml" % (d, n), "rb") as f:
        return meta, f.read()
EOF
py() { PYTHONPATH="$T" "$PYTHON3" - "$@"; }

# --- good STARTTLS + AUTH + a message with dots and 8-bit bytes ----------
start_smarthost --auth alice:s3cret --ca "$CERTS/ca.pem"
py <<'EOF'
from shclient import *
s = smtp()
s.ehlo("client.test")
assert "starttls" in s.esmtp_features and "auth" not in s.esmtp_features, s.esmtp_features
code, msg = s.mail("a@example.org")
assert code == 530 and b"STARTTLS" in msg, (code, msg)
c = ctx(); c.load_cert_chain(CERTS + "/client.pem", CERTS + "/client.key")
s.starttls(context=c)
s.ehlo("client.test")
assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"], s.esmtp_features
assert s.mail("a@example.org")[0] == 530    # AUTH required
s.rset()
s.login("alice", "s3cret")
body = b"Subject: t\r\n\r\n.leading dot\r\n..two\r\ncaf\xc3\xa9\r\n"
refused = s.sendmail("a@example.org", ["b@example.net", "c@example.net"], body,
                     mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=FAILURE"])
assert refused == {}, refused
s.quit()
meta, eml = delivered(1)
assert eml == body, eml
assert meta["mail_from"] == "a@example.org" and meta["rcpt_to"] == ["b@example.net", "c@example.net"], meta
assert "BODY=8BITMIME" in meta["mail_params"], meta
assert meta["rcpt_params"]["b@example.net"] == ["NOTIFY=FAILURE"], meta
assert meta["auth_user"] == "alice" and meta["tls"] is True, meta
assert meta["tls_version"] in ("TLSv1.2", "TLSv1.3") and meta["sni"] == "localhost", meta
assert meta["client_cert"] == "sealpost-test-client" and meta["helo"] == "client.test", meta
EOF
wait_delivered 1 || fail "good: not delivered"
transcript_events | grep -qx 'tls-established' || fail "no tls-established event"
transcript_events | grep -qx 'auth-success alice' || fail "no auth-success event"
[ "$(transcript_cleartext | awk '{print toupper($1)}' | tr '\n' ' ')" = "EHLO MAIL STARTTLS " ] ||
	fail "cleartext transcript: $(transcript_cleartext)"
transcript_tls_c2s | grep -qx '..leading dot' || fail "DATA lines missing from the transcript"
if (assert_no_cleartext_beyond EHLO STARTTLS QUIT) 2>/dev/null; then
	fail "assert_no_cleartext_beyond missed a cleartext MAIL"
fi
assert_no_cleartext_beyond EHLO STARTTLS QUIT MAIL
ok "good STARTTLS: message, envelope, AUTH, TLS facts and transcript recorded"

# --- pipelined commands and AUTH LOGIN with a wrong password ---------------
py <<'EOF'
from shclient import *
r = Raw()
r.until(b"\r\n")
r.send(b"EHLO p.test\r\nNOOP\r\nRSET\r\nNOOP\r\n")
data = r.until(b"250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n")
assert data.count(b"250 2.0.0 Ok\r\n") == 3 and b"250 STARTTLS\r\n" in data, data
r.send(b"STARTTLS\r\n")
r.until(b"220 2.0.0")
t = ctx().wrap_socket(r.s, server_hostname="localhost")
t.sendall(b"EHLO p.test\r\nAUTH LOGIN\r\n")
buf = b""
while b"334 " not in buf: buf += t.recv(4096)
t.sendall(b"YWxpY2U=\r\n")
while buf.count(b"334 ") < 2: buf += t.recv(4096)
t.sendall(b"d3Jvbmc=\r\n")
while b"535 " not in buf: buf += t.recv(4096)
t.sendall(b"QUIT\r\n")
EOF
transcript_events | grep -qx 'auth-failure alice' || fail "no auth-failure event"
"$PYTHON3" - "$SMTP_TRANSCRIPT" <<'EOF' || fail "rx does not group pipelined lines"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rx = {}
for r in recs:
    if r["dir"] == "c2s" and r["conn"] == 2:
        rx.setdefault(r["data"], r["rx"])
assert rx["EHLO p.test"] == rx["RSET"] and rx["RSET"] != rx["STARTTLS"], rx
EOF
ok "pipelined commands answered; AUTH LOGIN failure recorded"
stop_smarthost

# --- implicit TLS ----------------------------------------------------------
start_smarthost --mode implicit --auth bob:pw
py <<'EOF'
from shclient import *
s = smtplib.SMTP_SSL("127.0.0.1", PORT, context=ctx(), timeout=10)
s.ehlo("i.test")
assert "starttls" not in s.esmtp_features, s.esmtp_features
s.login("bob", "pw")
s.sendmail("", ["x@example.net"], b"Subject: i\r\n\r\nhi\r\n")
s.quit()
meta, eml = delivered(1)
assert meta["tls"] and meta["auth_user"] == "bob" and meta["mail_from"] == "", meta
EOF
[ -z "$(transcript_cleartext)" ] || fail "implicit TLS recorded cleartext lines"
ok "implicit TLS"
stop_smarthost

# --- hostile STARTTLS answers ------------------------------------------------
start_smarthost --scenario starttls-bogus
py <<'EOF'
from shclient import *
s = smtp(); s.ehlo("b.test")
assert s.docmd("STARTTLS") == (999, b"nope")
assert s.sendmail("a@example.org", ["b@example.net"], b"x\r\n") == {}
meta, _ = delivered(1)
assert meta["tls"] is False, meta
EOF
ok "starttls-bogus answers 999 and accepts cleartext"
start_smarthost --scenario starttls-454
py <<'EOF'
from shclient import *
s = smtp(); s.ehlo("b.test")
assert s.docmd("STARTTLS") == (454, b"4.7.0 TLS not available")
EOF
ok "starttls-454"
start_smarthost --scenario no-starttls --auth u:p
py <<'EOF'
from shclient import *
s = smtp(); s.ehlo("b.test")
assert "starttls" not in s.esmtp_features and "auth" in s.esmtp_features, s.esmtp_features
EOF
ok "no-starttls offers no STARTTLS (and tempts with AUTH)"
start_smarthost --scenario inject-after-220
py <<'EOF'
from shclient import *
r = Raw(); r.until(b"\r\n")
r.send(b"EHLO j.test\r\n"); r.until(b"250 STARTTLS\r\n")
r.send(b"STARTTLS\r\n")
data = r.until(b"250 injected\r\n")
assert data.endswith(b"220 Ready to start TLS\r\n250-fake\r\n250 injected\r\n"), data
EOF
ok "inject-after-220 sends plaintext after the 220"
start_smarthost --scenario caps-after-tls --auth u:p
py <<'EOF'
from shclient import *
s = smtp(); s.ehlo("c.test")
f = dict(s.esmtp_features)
assert f["size"] == "10" and f["auth"].split() == ["PLAIN", "LOGIN"], f
s.starttls(context=ctx()); s.ehlo("c.test")
f = s.esmtp_features
assert f["size"] == "100000000" and f["auth"].split() == ["PLAIN"], f
s.login("u", "p")
assert s.sendmail("a@example.org", ["b@example.net"], b"more than ten bytes\r\n") == {}
EOF
ok "caps-after-tls changes SIZE and AUTH after TLS"

# --- transaction failures ----------------------------------------------------
start_smarthost --scenario rcpt-mixed
py <<'EOF'
from shclient import *
s = smtp(); s.starttls(context=ctx()); s.ehlo("m.test")
refused = s.sendmail("a@example.org", ["ok@example.net", "bad@example.net"], b"m\r\n")
assert list(refused) == ["bad@example.net"] and refused["bad@example.net"][0] == 550, refused
meta, _ = delivered(1)
assert meta["rcpt_to"] == ["ok@example.net"], meta
EOF
ok "rcpt-mixed accepts the first recipient only"
start_smarthost --scenario eod-5xx
py <<'EOF'
from shclient import *
s = smtp(); s.starttls(context=ctx()); s.ehlo("e.test")
try:
    s.sendmail("a@example.org", ["b@example.net"], b"m\r\n")
    raise SystemExit("eod-5xx accepted the message")
except smtplib.SMTPDataError as e:
    assert e.smtp_code == 554, e
EOF
[ "$(delivered_count)" = 0 ] || fail "eod-5xx stored a message"
ok "eod-5xx rejects after the final dot and stores nothing"
start_smarthost --scenario fail-first-1
py <<'EOF'
from shclient import *
s = smtp(); s.starttls(context=ctx()); s.ehlo("f.test")
assert s.mail("a@example.org")[0] == 451
s.rset()
assert s.sendmail("a@example.org", ["b@example.net"], b"m\r\n") == {}
EOF
ok "fail-first-1: 451 once, then accepted"
start_smarthost --scenario drop-mid-data
py <<'EOF'
from shclient import *
s = smtp(); s.starttls(context=ctx()); s.ehlo("d.test")
try:
    s.sendmail("a@example.org", ["b@example.net"], b"line1\r\n" + b"x" * 200000 + b"\r\n")
    raise SystemExit("drop-mid-data accepted the message")
except (smtplib.SMTPServerDisconnected, OSError):
    pass
EOF
transcript_events | grep -qx 'dropped-mid-data' || fail "no dropped-mid-data event"
[ "$(delivered_count)" = 0 ] || fail "drop-mid-data stored a message"
ok "drop-mid-data closes inside DATA"

# --- table: scenario, extra options, outcome of one transaction --------------
while IFS='|' read -r scenario extra want; do
	# shellcheck disable=SC2086 # extra holds separate options
	start_smarthost --scenario "$scenario" $extra
	got=$(py <<'EOF'
from shclient import *
print(outcome())
EOF
)
	[ "$got" = "$want" ] || fail "$scenario $extra: expected '$want', got '$got'"
	ok "$scenario${extra:+ $extra}: $want"
done <<'EOF'
good||EOD 250
mail-4xx||MAIL 451
mail-5xx||MAIL 550
rcpt-4xx||RCPT 450
rcpt-5xx||RCPT 550
data-4xx||DATA 451
data-5xx||DATA 554
eod-4xx||EOD 451
drop-after-eod||EOD closed
close-after-starttls-220||TLS closed
close-after-greeting||EHLO closed
silent-after-starttls||STARTTLS timeout
starttls-454||STARTTLS 454
flaky|--flaky tempfail=1.0|MAIL 451
flaky|--flaky drop=1.0|EOD closed
good|--auth u:p|MAIL 530
auth-before-tls-only|--auth u:p|EOD 250
EOF
[ "$(delivered_count)" = 1 ] || fail "auth-before-tls-only: not delivered"

start_smarthost --scenario slow
py <<'EOF'
from shclient import *
import time
t0 = time.monotonic()
assert outcome() == "EOD 250"
assert time.monotonic() - t0 >= 0.2 * 8, time.monotonic() - t0
EOF
ok "slow delays every reply"

start_smarthost --no-ext DSN --no-ext smtputf8
py <<'EOF'
from shclient import *
s = smtp(); s.starttls(context=ctx()); s.ehlo("n.test")
assert "dsn" not in s.esmtp_features and "smtputf8" not in s.esmtp_features, s.esmtp_features
assert s.mail("a@example.org")[0] == 250
assert s.rcpt("b@example.net", ["NOTIFY=SUCCESS"])[0] == 555
s.command_encoding = "utf-8"
assert s.rcpt("b\u00e9@example.net")[0] == 553
EOF
ok "--no-ext removes keywords; their parameters are refused"

start_smarthost --max-connections 1
py <<'EOF'
from shclient import *
a = Raw(); a.until(b"\r\n")
b = Raw(); data = b.until(b"\r\n")
assert data.startswith(b"421 "), data
EOF
ok "--max-connections answers 421 beyond the limit"

# --- silence, early talk, multi-line greeting --------------------------------
start_smarthost --scenario silent-before-greeting
py <<'EOF'
from shclient import *
r = Raw(timeout=0.5)
try:
    r.s.recv(10)
    raise SystemExit("silent-before-greeting said something")
except socket.timeout:
    pass
EOF
ok "silent-before-greeting stays silent"
start_smarthost --scenario silent-in-handshake
py <<'EOF'
from shclient import *
r = Raw(timeout=0.5); r.until(b"\r\n")
r.send(b"EHLO s.test\r\nSTARTTLS\r\n"); r.until(b"220 2.0.0")
try:
    ctx().wrap_socket(r.s, server_hostname="localhost")
    raise SystemExit("silent-in-handshake completed a handshake")
except (socket.timeout, ssl.SSLError, OSError):
    pass
EOF
ok "silent-in-handshake never answers the ClientHello"
start_smarthost --scenario talk-before-greeting
py <<'EOF'
from shclient import *
r = Raw(); data = r.until(b"220 ")
assert data.startswith(b"250 early\r\n220 "), data
EOF
ok "talk-before-greeting talks first"
start_smarthost --scenario multiline-greeting
py <<'EOF'
from shclient import *
s = smtplib.SMTP(timeout=10)
code, msg = s.connect("127.0.0.1", PORT)
assert code == 220 and msg == b"first\nsecond\nlast", msg
EOF
ok "multiline-greeting"

# --- tls-old: serves TLS 1.1 only, or exits 3 ----------------------------------
"$PYTHON3" "$SMARTHOST_PY" --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
	--port-file "$T/old.port" --scenario tls-old --idle-timeout 5 2>"$T/old.err" &
old_pid=$!
wait_for_file "$T/old.port" 10 || true
if [ -s "$T/old.port" ]; then
	SMTP_PORT=$(cat "$T/old.port") py <<'EOF'
from shclient import *
s = smtp(); s.ehlo("o.test")
try:
    s.starttls(context=ctx())     # TLS 1.2+ client
    raise SystemExit("tls-old negotiated a modern TLS version")
except (ssl.SSLError, OSError):
    pass
EOF
	kill "$old_pid"
	ok "tls-old refuses TLS 1.2+"
else
	if wait "$old_pid"; then rc=0; else rc=$?; fi
	[ "$rc" = 3 ] || fail "tls-old: smarthost exited $rc"
	grep -q 'TLS 1.0/1.1' "$T/old.err" || fail "tls-old: no explanation on stderr"
	ok "tls-old unsupported by this OpenSSL: exit 3 with a message # SKIP"
fi

# --- lifetime: idle timeout ends the process ------------------------------------
start_smarthost --idle-timeout 0.5
n=60
while _pid_alive "$SMTP_PID" && [ "$n" -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
_pid_alive "$SMTP_PID" && fail "smarthost ignored --idle-timeout"
if wait "$SMTP_PID"; then :; else fail "idle exit status not 0"; fi
ok "idle timeout ends the smarthost with status 0"

# --- IPv6 loopback ---------------------------------------------------------------
if "$PYTHON3" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	start_smarthost --listen ::1
	SMTP_PORT=$SMTP_PORT "$PYTHON3" -c '
import os, smtplib
s = smtplib.SMTP("::1", int(os.environ["SMTP_PORT"]), timeout=10)
assert s.ehlo()[0] == 250
s.quit()' || fail "IPv6 listener"
	ok "listens on ::1"
fi

# --- relay_conf --------------------------------------------------------------------
conf=$(relay_conf main 2525 implicit 'username = "u"' 'verify = "pin"' 'pin_sha256 = {"abc="}')
printf '%s\n' "$conf" | grep -q '^  tls = "implicit"$' || fail "relay_conf: mode"
printf '%s\n' "$conf" | grep -q '^  username = "u"$' || fail "relay_conf: relay key"
[ "$(printf '%s\n' "$conf" | grep -c 'verify = ')" = 1 ] || fail "relay_conf: verify not replaced"
printf '%s\n' "$conf" | sed -n '/^tls_policy/,/^}/p' | grep -q 'pin_sha256' || fail "relay_conf: policy key"
printf '%s\n' "$conf" | grep -q 'ca_file\|verify_name' && fail "relay_conf: ca_file with verify = pin"
conf=$(relay_conf main 2525)
printf '%s\n' "$conf" | grep -q "ca_file = \"$CERTS/ca.pem\"" || fail "relay_conf: default ca_file"
printf '%s\n' "$conf" | grep -q 'verify_name = "localhost"' || fail "relay_conf: default verify_name"
[ "$(RELAY_HOST=localhost RELAY_POLICY=no relay_conf b 1 | grep -c 'tls_policy\|host = "localhost"')" = 1 ] ||
	fail "relay_conf: RELAY_HOST/RELAY_POLICY"
ok "relay_conf routes keys to relay and tls_policy"
