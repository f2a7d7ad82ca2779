#!/bin/sh
# frontend-bs.sh - `sealpost -bs` as Symfony Mailer and scripts drive it:
# a HELO session turn by turn, several messages in one session, pipelined
# batches answered in one write, errors in the middle of a session, a
# client gone mid-DATA, size limits, DSN parameters, long lines. Each case
# checks the reply codes, the queued envelope and message, and that stderr
# stays empty (Symfony treats any stderr output as failure).
. "$top_srcdir/tests/lib.sh"
set -e
INSPECT="$PYTHON3 $top_srcdir/tests/spool_inspect.py"
CLIENT="$PYTHON3 $top_srcdir/tests/bs-client.py"
[ -x "$SEALPOST" ] || skip "sealpost not built"

write_conf 'max_message_size = 20000' 'alias "root" { to = {"ops@example.org"} }'
BS_STDERR="$T/stderr"
export BS_STDERR
reset_spool() { rm -rf "$SPOOL"; mkdir -p "$SPOOL"; : > "$BS_STDERR"; }
no_stderr() { [ ! -s "$BS_STDERR" ] || { cat "$BS_STDERR"; fail "$1: stderr not empty"; }; }
no_leftovers() {
	[ -z "$($INSPECT "$SPOOL" leftovers)" ] || fail "$1: files left in tmp/"
}
# session NAME: run the bs-client script on stdin against sealpost -bs
session() { $CLIENT - -- "$SEALPOST" -C "$CONF" -bs "$@" > "$T/transcript" || { cat "$T/transcript"; fail "session"; }; }
# check NAME PYTHON-EXPR: evaluate with m = the list of queued messages
check() {
	$INSPECT "$SPOOL" json > "$T/spool.json"
	$PYTHON3 - "$T/spool.json" "$2" <<'EOF' || fail "$1"
import json, sys
m = json.load(open(sys.argv[1]))
m.sort(key=lambda e: e["id"])
def body(e):
    return e["msg"].split("\r\n\r\n", 1)[1]
def hdr(e, name):
    for line in e["msg"].split("\r\n\r\n", 1)[0].split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None
ok = eval("(" + sys.argv[2] + ")")
if not ok:
    print(json.dumps(m, indent=1)[:3000])
    sys.exit("check failed: " + sys.argv[2])
EOF
}

# ---- Symfony Mailer: HELO (its first try is EHLO only with TLS), turn by turn
reset_spool
session <<'EOF'
E 220
Q ESMTP sealpost
S HELO [127.0.0.1]
E 250
S MAIL FROM:<app@example.org>
E 250
S RCPT TO:<user@example.net>
E 250
S RCPT TO:<root>
E 250
S DATA
E 354
B b"From: App <app@example.org>\r\nTo: user@example.net\r\nSubject: Symfony\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHello\r\n..dot line\r\n.\r\n"
E 250
Q queued as
S QUIT
E 221
X 0
EOF
no_stderr symfony
no_leftovers symfony
check symfony 'len(m) == 1 and m[0]["sender"] == "app@example.org"
  and [r["addr"] for r in m[0]["rcpts"]] == ["user@example.net", "ops@example.org"]
  and body(m[0]) == "Hello\r\n.dot line\r\n" and hdr(m[0], "Subject") == "Symfony"'
id=$(sed -n 's/.*queued as \([0-9A-F]*\).*/\1/p' "$T/transcript")
[ -f "$SPOOL/queue/$id.env" ] || fail "reply names $id, not in the queue"
ok "Symfony-style HELO session queues the message"

# ---- several messages in one session, written all at once (printf | sealpost -bs)
reset_spool
printf 'EHLO client\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nSubject: two\n\nsecond, LF only\n.\nRSET\r\nMAIL FROM:<d@example.org>\r\nRCPT TO:<e@example.net>\r\nRSET\r\nQUIT\r\n' |
	"$SEALPOST" -C "$CONF" -bs > "$T/out" 2> "$BS_STDERR"
no_stderr several
codes=$(sed -n 's/^\([0-9][0-9][0-9]\) .*/\1/p' "$T/out" | tr -d '\r' | tr '\n' ' ')
[ "$codes" = "220 250 250 250 354 250 250 250 354 250 250 250 250 250 221 " ] || fail "several: codes $codes"
[ "$(grep -c 'queued as' "$T/out")" = 2 ] || fail "several: two messages"
check several 'len(m) == 2 and sorted(e["sender"] for e in m) == ["", "a@example.org"]
  and sorted(body(e) for e in m) == ["first\r\n", "second, LF only\r\n"]'
ok "several messages in one session, null sender, RSET drops the third"

# ---- pipelining: a batch's replies come back in one write
reset_spool
session <<'EOF'
E 220
S EHLO client
E 250
Q ENHANCEDSTATUSCODES
S MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=100 RET=HDRS ENVID=e+2B1
S RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2Bx@example.net
S RCPT TO:<bad address@example.net>
S RCPT TO:<c@example.net> NOTIFY=NEVER
S DATA
E 250
E 250
E 501
E 250
E 354
E1
B b"Subject: pipelined\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n"
E 250
E 250
E 221
E1
X 0
EOF
no_stderr pipelining
check pipelining 'len(m) == 1 and m[0]["ret"] == "HDRS" and m[0]["envid"] == "e+1"
  and [(r["addr"], r["notify"], r["orcpt"]) for r in m[0]["rcpts"]]
      == [("b@example.net", 6, "orig+x@example.net"), ("c@example.net", 1, None)]'
ok "pipelined batches answered in one write; DSN parameters stored"

# ---- errors in the middle of a session do not end it
reset_spool
session <<'EOF'
E 220
S MAIL FROM:<a@example.org>
E 503
S HELO client
E 250
S RCPT TO:<b@example.net>
E 503
S DATA
E 503
S BOGUS command
E 500
S MAIL FROM a@example.org
E 501
S MAIL FROM:<a@example.org> FOO=bar
E 555
S MAIL FROM:<a@example.org>
E 250
S MAIL FROM:<a@example.org>
E 503
S RCPT TO:<with space@example.net>
E 501
S DATA
E 554
S RCPT TO:<ok@example.net>
E 250
S STARTTLS
E 502
S VRFY root
E 252
S DATA
E 354
B b"Subject: after errors\r\n\r\nstill fine\r\n.\r\n"
E 250
S QUIT
E 221
X 0
EOF
no_stderr errors
check errors 'len(m) == 1 and [r["addr"] for r in m[0]["rcpts"]] == ["ok@example.net"]
  and body(m[0]) == "still fine\r\n"'
ok "bad commands answered 5xx, the session goes on"

# ---- a client that goes away in the middle of DATA leaves nothing
reset_spool
session <<'EOF'
E 220
S HELO client
E 250
S MAIL FROM:<a@example.org>
E 250
S RCPT TO:<b@example.net>
E 250
S DATA
E 354
B b"Subject: cut\r\n\r\nhalf a message\r\n"
C
X 75
EOF
no_stderr disconnect
[ "$(queued_count)" = 0 ] || fail "disconnect: something was queued"
no_leftovers disconnect
ok "disconnect mid-DATA: nothing in the spool, exit 75"

# ---- size limits: SIZE= announced too big, then an actual message too big
reset_spool
$PYTHON3 -c 'import sys; sys.stdout.write("line of text " * 20 + "\r\n")' > "$T/line"
{
	printf 'HELO c\r\nMAIL FROM:<a@example.org> SIZE=20001\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'
	i=0; while [ $i -lt 100 ]; do cat "$T/line"; i=$((i + 1)); done
	printf '.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nsmall\r\n.\r\nQUIT\r\n'
} | "$SEALPOST" -C "$CONF" -bs > "$T/out" 2> "$BS_STDERR"
no_stderr size
codes=$(sed -n 's/^\([0-9][0-9][0-9]\) .*/\1/p' "$T/out" | tr -d '\r' | tr '\n' ' ')
[ "$codes" = "220 250 552 250 250 354 552 250 250 354 250 221 " ] || fail "size: codes $codes"
check size 'len(m) == 1 and "small" in m[0]["msg"]'
no_leftovers size
ok "SIZE= over the limit and a message over the limit: 552, nothing left"

# ---- a command line over 1000 bytes: 500, then the session resynchronises
reset_spool
{
	printf 'HELO c\r\nNOOP '
	$PYTHON3 -c 'import sys; sys.stdout.write("x" * 200000)'
	printf '\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'
	$PYTHON3 -c 'import sys; sys.stdout.write("y" * 5000 + "\r\n")'
	printf '.\r\nQUIT\r\n'
} | "$SEALPOST" -C "$CONF" -bs > "$T/out" 2> "$BS_STDERR"
no_stderr long
codes=$(sed -n 's/^\([0-9][0-9][0-9]\) .*/\1/p' "$T/out" | tr -d '\r' | tr '\n' ' ')
[ "$codes" = "220 250 500 250 250 354 250 221 " ] || fail "long: codes $codes"
grep -q '^500 5.5.2 Error: line too long' "$T/out" || fail "long: reply text"
check long 'len(m) == 1 and max(len(l) for l in m[0]["msg"].split("\r\n")) <= 998
  and "y" * 70 in m[0]["msg"].replace("=\r\n", "")'
ok "long command line refused and skipped; a long body line is stored safely"

# ---- recipients on the command line are ignored with -bs (sendmail)
reset_spool
printf 'HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' |
	"$SEALPOST" -C "$CONF" -bs extra@example.net > "$T/out" 2> "$BS_STDERR"
no_stderr cmdline
check cmdline '[r["addr"] for r in m[0]["rcpts"]] == ["b@example.net"]'
ok "command-line recipients ignored with -bs"

# ---- end of input without QUIT after a message: queued, exit 0
reset_spool
printf 'HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n' |
	"$SEALPOST" -C "$CONF" -bs > "$T/out" 2> "$BS_STDERR" || fail "eof: exit $?"
no_stderr eof
[ "$(queued_count)" = 1 ] || fail "eof: not queued"
ok "end of input after the final dot: queued, exit 0"

# ---- stdout closed by the client early: no stderr, no crash, nothing half-queued
reset_spool
set +e
printf 'HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n' |
	"$SEALPOST" -C "$CONF" -bs 2> "$BS_STDERR" | head -c 1 > /dev/null
set -e
no_stderr closed-stdout
[ "$(queued_count)" = 0 ] || fail "closed stdout: queued"
no_leftovers closed-stdout
ok "reader gone: no stderr output, nothing queued"
