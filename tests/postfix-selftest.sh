#!/bin/sh
# tests/postfix-selftest.sh - checks the private Postfix harness
# (tests/postfix-harness.sh): STARTTLS is required and AUTH is offered only
# inside TLS on the submission port; implicit TLS works on the smtps port;
# a message sent with Python's smtplib arrives byte for byte with its
# envelope visible. Skips unless run as root with Postfix installed.
set -eu
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"

start_postfix
ok "private Postfix started (submission $PF_SUBMISSION_PORT, smtps $PF_SMTPS_PORT)"

# send.py MODE MSGFILE: MODE starttls|implicit; sends MSGFILE's bytes.
cat > "$T/send.py" <<'EOF'
import os, smtplib, ssl, sys
mode, path = sys.argv[1], sys.argv[2]
env = os.environ
ctx = ssl.create_default_context(cafile=env["PF_CA"])
if mode == "starttls":
    s = smtplib.SMTP("127.0.0.1", int(env["PF_SUBMISSION_PORT"]), timeout=20)
    s.ehlo("client.test")
    assert "starttls" in s.esmtp_features and "auth" not in s.esmtp_features, s.esmtp_features
    code, _ = s.mail("early@example.org")
    assert code == 530, "cleartext MAIL accepted: %d" % code
    s.rset()
    s._host = "localhost"
    s.starttls(context=ctx)
else:
    # verified against the certificate's IP address SAN
    s = smtplib.SMTP_SSL("127.0.0.1", int(env["PF_SMTPS_PORT"]), context=ctx, timeout=20)
s.ehlo("client.test")
assert "PLAIN" in s.esmtp_features.get("auth", ""), s.esmtp_features
try:
    s.sendmail("nobody@example.org", ["x@" + env["PF_DOMAIN"]], b"x\r\n")
    raise SystemExit("sent without AUTH")
except smtplib.SMTPRecipientsRefused:
    pass
s.rset()
s.login(env["PF_USER"], env["PF_PASS"])
with open(path, "rb") as f:
    body = f.read()
refused = s.sendmail("%s-sender@example.org" % mode,
                     ["%s-rcpt@%s" % (mode, env["PF_DOMAIN"])], body)
assert refused == {}, refused
s.quit()
EOF

# A message with the awkward bytes: a leading dot, 8-bit text, a long
# header line, a blank line inside the body.
printf 'Subject: sealpost harness %s\r\nFrom: <%s-sender@example.org>\r\nX-Long: %s\r\n\r\n.leading dot\r\ncaf\303\251\r\n\r\nend\r\n' \
	starttls starttls "$(printf '%0400d' 7)" > "$T/msg.starttls"
printf 'Subject: sealpost harness %s\r\n\r\nimplicit body\r\n' implicit > "$T/msg.implicit"

for mode in starttls implicit; do
	"$PYTHON3" "$T/send.py" "$mode" "$T/msg.$mode" || fail "$mode: smtplib dialogue failed"
	n=$(if [ "$mode" = starttls ]; then echo 1; else echo 2; fi)
	sh "$HARNESS" wait "$T/pf" "$n" 20 || fail "$mode: not delivered (see $PF_LOG)"
	file=$(grep -l "^Delivered-To: $mode-rcpt@$PF_DOMAIN\$" "$PF_MAILDIR"/new/* | head -1)
	[ -n "$file" ] || fail "$mode: no message for $mode-rcpt@$PF_DOMAIN"
	head -n 1 "$file" | grep -qx "Return-Path: <$mode-sender@example.org>" ||
		fail "$mode: envelope sender: $(head -n 1 "$file")"
	grep -qx "X-Original-To: $mode-rcpt@$PF_DOMAIN" "$file" || fail "$mode: no X-Original-To"
	grep -q "Authenticated sender: $PF_USER@" "$file" || fail "$mode: not authenticated"
	sh "$HARNESS" payload "$file" > "$T/got.$mode"
	cmp "$T/msg.$mode" "$T/got.$mode" || fail "$mode: body differs"
	ok "$mode: AUTH required and only inside TLS; delivered byte for byte"
done

pidfile="$(dirname "$PF_LOG")/queue/pid/master.pid"
pid=$(sed -n 's/^ *\([0-9][0-9]*\).*/\1/p' "$pidfile")
[ -n "$pid" ] && kill -0 "$pid" || fail "no running master in $pidfile"
sh "$HARNESS" stop "$T/pf"
if kill -0 "$pid" 2>/dev/null; then fail "master $pid still running"; fi
ok "stopped"
