#!/bin/sh
# tests/queue-bounce-postfix.sh - the bounces that used to be lost, against
# a real MTA: a private Postfix (tests/postfix-harness.sh) with
# message_size_limit = 200000 and smtputf8_enable = no. A message too big
# for it bounces with 5.3.4 and its DSN (headers only, a few kB) reaches
# the sender through the same Postfix; a message to an internationalized
# address bounces with 5.6.7 and its DSN to the ASCII sender goes without
# SMTPUTF8. Skips (77) unless run as root with Postfix installed.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"

[ -x "$SEALPOST" ] && [ -x "$SEALPOSTD" ] || skip "sealpost/sealpostd not built"
PF_MESSAGE_SIZE_LIMIT=200000 PF_SMTPUTF8_ENABLE=no start_postfix
printf '%s\n' "$PF_PASS" > "$T/pf.secret"
chmod 600 "$T/pf.secret"
mkdir -p "$T/spool"
cat > "$T/conf" <<EOC
hostname = "client.example.org"
domain = "example.org"
spool_dir = "$T/spool"
log = "stderr"
relay "postfix" {
  host = "127.0.0.1"
  port = $PF_SUBMISSION_PORT
  tls = "starttls"
  username = "$PF_USER"
  password_file = "$T/pf.secret"
}
tls_policy "127.0.0.1" {
  verify = "ca"
  ca_file = "$PF_CA"
  verify_name = "localhost"
}
timeouts { connect = 10s command = 30s data = 30s }
EOC
SENDER="sender@$PF_DOMAIN"

# dsn_for RCPT: the delivered DSN that reports on RCPT
dsn_for() {
	grep -l "^Final-Recipient: .*$1" "$PF_MAILDIR"/new/* 2>/dev/null | head -1
}

# 1. too big: 1 MB against message_size_limit = 200000
{ printf 'From: %s\nSubject: too big for the relay\n\n' "$SENDER"
  head -c 1000000 /dev/zero | tr '\0' 'x' | fold -w 76; } |
	"$SEALPOST" -C "$T/conf" -odq -f "$SENDER" "big@$PF_DOMAIN" || fail "cannot queue"
"$SEALPOSTD" -C "$T/conf" --once 2> "$T/w1.log" || fail "sealpostd exit $?: $(cat "$T/w1.log")"
grep -q "to=<big@$PF_DOMAIN>.*status=bounced (message size exceeds the server's SIZE limit" "$T/w1.log" ||
	fail "not refused for its size: $(cat "$T/w1.log")"
[ "$(ls "$T/spool/queue" | wc -l)" = 0 ] || fail "still queued: $(cat "$T/w1.log")"
sh "$HARNESS" wait "$T/pf" 1 30 || fail "the DSN did not arrive (see $PF_LOG)"
f=$(dsn_for "big@$PF_DOMAIN")
[ -n "$f" ] || fail "no DSN about big@"
head -n 1 "$f" | grep -qx "Return-Path: <>" || fail "DSN not from <>: $(head -n 1 "$f")"
grep -q "^X-Original-To: $SENDER" "$f" || fail "DSN not to the sender"
grep -q "^Status: 5.3.4" "$f" || fail "status not 5.3.4"
grep -q "^Content-Type: text/rfc822-headers" "$f" || fail "not headers only"
_size=$(wc -c < "$f")
[ "$_size" -lt 10000 ] || fail "DSN is $_size bytes"
ok "1 MB message over message_size_limit: DSN with status 5.3.4, headers only ($_size bytes) delivered"

# 2. SMTPUTF8 needed, relay without it: 5.6.7, the DSN goes without it
printf 'From: %s\nSubject: utf8\n\nhello\n' "$SENDER" |
	"$SEALPOST" -C "$T/conf" -odq -f "$SENDER" "j$(printf '\303\266')rg@$PF_DOMAIN" || fail "cannot queue utf8"
"$SEALPOSTD" -C "$T/conf" --once 2> "$T/w2.log" || fail "sealpostd exit $?: $(cat "$T/w2.log")"
grep -q "status=bounced (server lacks SMTPUTF8" "$T/w2.log" || fail "not bounced for SMTPUTF8: $(cat "$T/w2.log")"
[ "$(ls "$T/spool/queue" | wc -l)" = 0 ] || fail "DSN still queued: $(cat "$T/w2.log")"
sh "$HARNESS" wait "$T/pf" 2 30 || fail "the DSN did not arrive (see $PF_LOG)"
f=$(dsn_for 'j\\x{F6}rg')
[ -n "$f" ] || fail "no DSN about the UTF-8 address: $(ls "$PF_MAILDIR"/new)"
grep -q "^Status: 5.6.7" "$f" || fail "status not 5.6.7"
grep -q "^Content-Type: message/delivery-status" "$f" || fail "not a plain delivery-status"
ok "UTF-8 recipient through a relay without SMTPUTF8: 5.6.7 DSN delivered without SMTPUTF8"
