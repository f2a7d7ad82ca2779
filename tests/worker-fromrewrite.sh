#!/bin/sh
# tests/worker-fromrewrite.sh - a relay's from_rewrite (SPEC §7) against
# the test smarthost's Microsoft 365 send-as rule (scenario send-as: MAIL
# FROM must be the AUTH identity, else 550 5.7.60; after DATA the From:
# must be that mailbox, else 554 5.2.252 SendAsDenied). Without
# from_rewrite that relay refuses the mail; with it, every kind of From:
# (plain, folded and RFC 2047-encoded, several authors, none, with a
# Reply-To: already) goes through with From: and the envelope sender
# replaced, the original From: as Reply-To:, every other byte as queued,
# and SIZE= equal to the bytes sent. The spool copy is not changed: a
# failover relay without from_rewrite gets the message as queued.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

MBOX=alerts@contoso.com

# m365_relay [EXTRA-LINE...]: the smarthost as Microsoft 365, signed in as $MBOX
m365_relay() {
	start_smarthost --scenario send-as --auth "$MBOX:s3cret"
	printf 's3cret\n' > "$CASE/pw"
	chmod 600 "$CASE/pw"
	wconf "$(relay_conf m365 "$SMTP_PORT" starttls "username = \"$MBOX\"" "password_file = \"$CASE/pw\"" "$@")"
}

# msg NAME: write the test message NAME (LF line ends) to stdout.
msg() {
	case $1 in
	plain) printf 'From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: plain\nDKIM-Signature: v=1; a=rsa-sha256; d=example.org; h=from:to:subject;\n\tbh=AAAA; b=BBBB\n\nHello.\n.a dotted line\nFrom: a body line\n' ;;
	encoded) printf 'From: =?UTF-8?B?w4RsaWNlIE3DvGxsZXI=?=\n <alice@example.org>\nTo: bob@example.net\nSubject: encoded\n\nbody\n' ;;
	several) printf 'From: alice@example.org, Carol <carol@example.org>\nSender: alice@example.org\nTo: bob@example.net\nSubject: several\n\nbody\n' ;;
	nofrom) printf 'To: bob@example.net\nSubject: nofrom\n\nbody\n' ;;
	replyto) printf 'From: alice@example.org\nReply-To: list@example.org\nSubject: replyto\n\nbody\n' ;;
	esac
}

# want NAME: the message NAME as the relay must receive it (CRLF).
want() {
	case $1 in
	plain) printf 'From: %s\r\nReply-To: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: plain\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.org; h=from:to:subject;\r\n\tbh=AAAA; b=BBBB\r\n\r\nHello.\r\n.a dotted line\r\nFrom: a body line\r\n' "$MBOX" ;;
	encoded) printf 'From: %s\r\nReply-To: =?UTF-8?B?w4RsaWNlIE3DvGxsZXI=?=\r\n <alice@example.org>\r\nTo: bob@example.net\r\nSubject: encoded\r\n\r\nbody\r\n' "$MBOX" ;;
	several) printf 'From: %s\r\nReply-To: alice@example.org, Carol <carol@example.org>\r\nSender: alice@example.org\r\nTo: bob@example.net\r\nSubject: several\r\n\r\nbody\r\n' "$MBOX" ;;
	nofrom) printf 'From: %s\r\nTo: bob@example.net\r\nSubject: nofrom\r\n\r\nbody\r\n' "$MBOX" ;;
	replyto) printf 'From: %s\r\nReply-To: list@example.org\r\nSubject: replyto\r\n\r\nbody\r\n' "$MBOX" ;;
	esac
}

# delivered_as NAME: some delivered message is byte for byte want NAME.
delivered_as() {
	want "$1" > "$CASE/want.$1"
	for _f in "$SMTP_MAILDIR"/*.eml; do
		cmp -s "$_f" "$CASE/want.$1" && return 0
	done
	fail "$1: no delivered message is as expected:
$(cat "$CASE/want.$1")
--- delivered:
$(cat "$SMTP_MAILDIR"/*.eml)"
}

without_rewrite_refused() {
	wcase without-rewrite
	m365_relay
	# the envelope sender is not the mailbox: refused at MAIL
	msg plain | enqueue alice@example.org "$B" >/dev/null
	# the envelope is, the From: is not: refused after DATA
	msg plain | enqueue "$MBOX" carol@example.net >/dev/null
	run_worker
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	expect_log "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
	expect_log "554 5.2.252 SendAsDenied; $MBOX not allowed to send as alice@example.org"
	[ "$(delivered_count)" = 0 ] || fail "the smarthost let a foreign From: through"
}

rewrite_every_from() {
	wcase rewrite-every-from
	m365_relay "from_rewrite = \"$MBOX\""
	for m in plain encoded several nofrom replyto; do
		msg $m | enqueue alice@example.org "$B" >/dev/null
	done
	run_worker
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	wait_delivered 5 5 || fail "not all delivered; log: $(cat "$WLOG")"
	for m in plain encoded several nofrom replyto; do delivered_as $m; done
	# the envelope sender, and SIZE= exactly the bytes received
	"$PYTHON3" - "$SMTP_MAILDIR" "$MBOX" <<'EOF' || fail "envelope or SIZE wrong"
import glob, json, sys
maildir, mbox = sys.argv[1], sys.argv[2]
for path in glob.glob(maildir + "/*.json"):
    m = json.load(open(path))
    size = [p for p in m["mail_params"] if p.upper().startswith("SIZE=")]
    if m["mail_from"] != mbox or size != ["SIZE=%d" % m["size"]]:
        print("%s: mail_from %r, %r for %d bytes" % (path, m["mail_from"], size, m["size"]))
        sys.exit(1)
EOF
	no_cleartext
}

bounce_keeps_null_sender() {
	wcase bounce-null-sender
	m365_relay "from_rewrite = \"$MBOX\""
	printf 'From: MAILER-DAEMON@example.org\nTo: alice@example.org\nSubject: Undelivered Mail\n\nbody\n' |
		enqueue -B "" alice@example.org >/dev/null
	run_worker
	wait_delivered 1 5 || fail "not delivered; log: $(cat "$WLOG")"
	grep -q '"mail_from": ""' "$SMTP_MAILDIR/1.json" || fail "null sender lost: $(cat "$SMTP_MAILDIR/1.json")"
	printf 'From: %s\r\nReply-To: MAILER-DAEMON@example.org\r\n' "$MBOX" > "$CASE/want.head"
	head -c "$(wc -c < "$CASE/want.head")" "$SMTP_MAILDIR/1.eml" | cmp -s - "$CASE/want.head" ||
		fail "From: not rewritten: $(head -3 "$SMTP_MAILDIR/1.eml")"
}

spool_copy_unchanged() {
	# relay m365 (from_rewrite) refuses the message temporarily after
	# DATA: the queued file is as before. Then m365 is gone, and the
	# failover relay (no from_rewrite) must get the message as queued.
	wcase spool-unchanged
	start_smarthost --scenario eod-4xx --auth "$MBOX:s3cret"
	_first=$SMTP_PORT _first_pid=$SMTP_PID _first_transcript=$SMTP_TRANSCRIPT
	start_smarthost
	printf 's3cret\n' > "$CASE/pw"
	chmod 600 "$CASE/pw"
	wconf "$(relay_conf m365 "$_first" starttls "username = \"$MBOX\"" "password_file = \"$CASE/pw\"" \
		"from_rewrite = \"$MBOX\"")" "$(relay_conf other "$SMTP_PORT" | sed '/^tls_policy/,$d')"
	_id=$(msg plain | enqueue alice@example.org "$B")
	run_worker
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	expect_state "$B" deferred "451 4.3.0"
	transcript_tls_c2s "$_first_transcript" | grep -qx "From: $MBOX" ||
		fail "the first relay did not get the rewritten From:"
	transcript_tls_c2s "$_first_transcript" | grep -q "^MAIL FROM:<$MBOX> SIZE=" ||
		fail "the first relay did not get the rewritten sender"
	cmp -s "$SPOOL/queue/$_id.msg" "$CASE/sent.msg" || fail "the queued message was changed"
	stop_smarthost "$_first_pid"
	run_worker --flush
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	wait_delivered 1 5 || fail "not delivered through the second relay; log: $(cat "$WLOG")"
	cmp -s "$SMTP_MAILDIR/1.eml" "$CASE/sent.msg" || fail "the second relay got a changed message:
$(cat "$SMTP_MAILDIR/1.eml")"
	grep -q '"mail_from": "alice@example.org"' "$SMTP_MAILDIR/1.json" || fail "sender changed for relay other"
}

config_errors() {
	wcase config-errors
	for bad in 'Alerts <alerts@contoso.com>' 'alerts' 'a b@contoso.com' 'alerts@contoso.com (x)'; do
		wconf "$(relay_conf main 2525 starttls "from_rewrite = \"$bad\"")"
		if "$SEALPOSTD" -C "$CONF" --check-config >"$CASE/out" 2>&1; then
			fail "from_rewrite = \"$bad\" accepted"
		else
			_rc=$?
		fi
		[ "$_rc" = 78 ] || fail "from_rewrite = \"$bad\": exit $_rc, want 78"
		grep -q "from_rewrite" "$CASE/out" || fail "no reason: $(cat "$CASE/out")"
	done
	wconf "$(relay_conf main 2525 starttls "from_rewrite = \"$MBOX\"")"
	"$SEALPOSTD" -C "$CONF" --check-config >"$CASE/out" 2>&1 || fail "rejected: $(cat "$CASE/out")"
	grep -q "from_rewrite *= \"$MBOX\"" "$CASE/out" || fail "--check-config lacks it: $(cat "$CASE/out")"
}

run_cases without_rewrite_refused rewrite_every_from bounce_keeps_null_sender spool_copy_unchanged config_errors
