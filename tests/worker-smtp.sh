#!/bin/sh
# tests/worker-smtp.sh - sealpostd --once against the test smarthost: the
# SMTP dialogue once the session is secure. Replies at MAIL/RCPT/DATA/end
# of data, mixed recipients, dropped and silent servers (bounded by short
# timeouts), odd greetings, PIPELINING on and off, SIZE, 8BITMIME,
# SMTPUTF8, DSN parameters, dot-stuffing, connection reuse, failover and
# parallel workers. Every case also asserts nothing but EHLO/STARTTLS/QUIT
# went out in cleartext.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

queue_one() { default_message | enqueue "$@" alice@example.org "$B" >/dev/null; }

# scenario NAME [smarthost args]: a case with one relay and one message.
scenario() {
	wcase "$1"
	shift
	start_smarthost "$@"
	wconf "$(relay_conf main "$SMTP_PORT")"
}

finish() {
	[ "$WSTATUS" = 0 ] || fail "$(basename "$CASE"): exit $WSTATUS; log: $(cat "$WLOG")"
	no_cleartext
}

expect_delivered_body() {
	wait_delivered "${1:-1}" 5 || fail "$(basename "$CASE"): not delivered; log: $(cat "$WLOG")"
	cmp -s "$SMTP_MAILDIR/1.eml" "$CASE/sent.msg" || fail "$(basename "$CASE"): delivered body differs"
}

# one_reply NAME SCENARIO STATE TEXT: the reply at one step decides.
one_reply() {
	scenario "$1" --scenario "$2"
	queue_one
	run_worker
	finish
	if [ "$3" = failed ]; then
		expect_state "$B" gone
		expect_log "status=bounced ($4"
	else
		expect_state "$B" "$3" "$4"
		expect_log "status=deferred ($4"
	fi
	[ "$(delivered_count)" = 0 ] || fail "$1: delivered"
}
mail_4xx() { one_reply mail-4xx mail-4xx deferred "451 4.3.0 Temporary failure at MAIL (scenario) (in reply to MAIL FROM)"; }
mail_5xx() { one_reply mail-5xx mail-5xx failed "550 5.7.1 Sender rejected (scenario) (in reply to MAIL FROM)"; }
rcpt_4xx() { one_reply rcpt-4xx rcpt-4xx deferred "450 4.2.0 Mailbox temporarily unavailable (scenario) (in reply to RCPT TO)"; }
rcpt_5xx() { one_reply rcpt-5xx rcpt-5xx failed "550 5.1.1 No such user (scenario) (in reply to RCPT TO)"; }
data_4xx() { one_reply data-4xx data-4xx deferred "451 4.3.0 Temporary failure at DATA (scenario) (in reply to DATA)"; }
data_5xx() { one_reply data-5xx data-5xx failed "554 5.3.0 Not accepting data (scenario) (in reply to DATA)"; }
eod_4xx() { one_reply eod-4xx eod-4xx deferred "451 4.3.0 Try again later (scenario) (in reply to end of data)"; }
eod_5xx() { one_reply eod-5xx eod-5xx failed "554 5.7.1 Message rejected (scenario) (in reply to end of data)"; }

deferred_then_backoff() {
	# a deferred recipient is not retried before its time, but is with --flush
	one_reply backoff rcpt-4xx deferred "450 4.2.0"
	_before=$(rcpt_state "$B")
	run_worker
	[ "$(rcpt_state "$B")" = "$_before" ] || fail "retried before next_attempt"
	run_worker --flush
	case $(rcpt_state "$B") in deferred\|2\|*) ;; *) fail "not retried with --flush: $(rcpt_state "$B")" ;; esac
}

mixed() { # NAME [smarthost args]: first recipient accepted, second refused
	_name=$1
	shift
	scenario "$_name" --scenario rcpt-mixed "$@"
	default_message | enqueue alice@example.org "$B" "$C" >/dev/null
	run_worker
	finish
	expect_state "$B" gone
	expect_log "to=<$B>, relay=127.0.0.1[127.0.0.1]:$SMTP_PORT"
	expect_log "status=sent (250 2.0.0"
	expect_log "to=<$C>"
	expect_log "status=bounced (550 5.1.1 No such user (scenario) (in reply to RCPT TO))"
	expect_delivered_body
	grep -q "\"rcpt_to\": \[\"$B\"\]" "$SMTP_MAILDIR/1.json" ||
		tr -d ' \n' < "$SMTP_MAILDIR/1.json" | grep -q "\"rcpt_to\":\[\"$B\"\]" || fail "envelope: $(cat "$SMTP_MAILDIR/1.json")"
}
rcpt_mixed() { mixed rcpt-mixed; }
rcpt_mixed_no_pipelining() { mixed rcpt-mixed-nopipe --no-ext PIPELINING; }

partial_retry() {
	# one recipient deferred, one delivered: only the deferred one is retried
	wcase partial
	start_smarthost --scenario rcpt-4xx
	_p1=$SMTP_PORT
	wconf "$(relay_conf main "$_p1")"
	default_message | enqueue alice@example.org "$B" >/dev/null
	run_worker
	expect_state "$B" deferred "450 4.2.0"
	start_smarthost
	sed -i "s/port = $_p1/port = $SMTP_PORT/" "$CONF"
	run_worker --flush
	finish
	expect_state "$B" gone
	wait_delivered 1 5 || fail "not delivered on retry"
}

drop_mid_data() {
	scenario drop-mid-data --scenario drop-mid-data
	queue_one
	run_worker
	finish
	expect_state "$B" deferred "connection closed"
	[ "$(delivered_count)" = 0 ] || fail "delivered"
}

drop_after_eod() {
	scenario drop-after-eod --scenario drop-after-eod
	queue_one
	run_worker
	finish
	expect_state "$B" deferred "the message may have been delivered"
}

silent_before_greeting() {
	wcase silent-greeting
	start_smarthost --scenario silent-before-greeting
	WTIMEOUT=2s wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	run_worker
	finish
	expect_state "$B" deferred "greeting: timed out"
	[ "$WMS" -lt 8000 ] || fail "took $WMS ms"
	[ -z "$(transcript_cleartext)" ] || fail "client spoke before the greeting"
}

connect_refused() {
	wcase refused
	_port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	wconf "$(relay_conf main "$_port")"
	queue_one
	run_worker
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS"
	expect_state "$B" deferred "cannot connect: Connection refused"
	expect_log "delivery not possible (connect): cannot connect: Connection refused"
}

talk_before_greeting() {
	scenario talk-before-greeting --scenario talk-before-greeting
	queue_one
	run_worker
	finish
	expect_state "$B" deferred "invalid greeting: 250 early"
	[ -z "$(transcript_cleartext | grep -v '^QUIT$')" ] || fail "spoke after a bad greeting"
}

close_after_greeting() {
	scenario close-after-greeting --scenario close-after-greeting
	queue_one
	run_worker
	finish
	expect_state "$B" deferred "connection closed by server"
}

multiline() {
	scenario multiline --scenario multiline-greeting
	queue_one
	run_worker
	finish
	expect_state "$B" gone
	expect_log "status=sent (250 2.0.0 Message accepted Ok: queued as 1)"
	expect_delivered_body
}

no_pipelining() {
	scenario no-pipelining --no-ext PIPELINING --no-ext ENHANCEDSTATUSCODES --no-ext DSN --no-ext SIZE
	queue_one
	run_worker
	finish
	expect_state "$B" gone
	expect_delivered_body
	grep -q '"mail_params": \[\]' "$SMTP_MAILDIR/1.json" || fail "parameters sent to a server without them"
}

size_limit() {
	scenario size --size 50
	queue_one
	run_worker
	finish
	expect_state "$B" gone
	expect_log "status=bounced (message size exceeds the server's SIZE limit)"
	[ -z "$(transcript_tls_c2s | grep '^MAIL')" ] || fail "MAIL sent for an oversized message"
}

size_param() {
	scenario size-param
	queue_one
	run_worker
	finish
	expect_delivered_body
	_size=$(wc -c < "$CASE/sent.msg")
	grep -q "\"SIZE=$_size\"" "$SMTP_MAILDIR/1.json" || fail "SIZE=$_size not sent: $(cat "$SMTP_MAILDIR/1.json")"
}

eightbit() {
	scenario 8bit
	printf 'Subject: caf\303\251\n\nd\303\251j\303\240 vu\n' | enqueue -8 alice@example.org "$B" >/dev/null
	run_worker
	finish
	expect_delivered_body
	grep -q '"BODY=8BITMIME"' "$SMTP_MAILDIR/1.json" || fail "BODY=8BITMIME missing"
}

eightbit_not_offered() {
	scenario 8bit-not-offered --no-ext 8BITMIME
	printf 'Subject: x\n\nd\303\251j\303\240 vu\n' | enqueue -8 alice@example.org "$B" >/dev/null
	run_worker
	finish
	expect_delivered_body
	expect_log "does not offer 8BITMIME"
}

smtputf8() {
	scenario smtputf8
	printf 'Subject: x\n\nhi\n' | enqueue -u "j\303\266rg@example.org" "m\303\274ller@example.net" >/dev/null
	run_worker
	finish
	wait_delivered 1 5 || fail "not delivered: $(cat "$WLOG")"
	grep -q '"SMTPUTF8"' "$SMTP_MAILDIR/1.json" || fail "SMTPUTF8 missing"
}

smtputf8_missing() {
	scenario smtputf8-missing --no-ext SMTPUTF8
	printf 'Subject: x\n\nhi\n' | enqueue -u "j\303\266rg@example.org" "$B" >/dev/null
	run_worker
	finish
	expect_state "$B" gone
	expect_log "status=bounced (server lacks SMTPUTF8"
	# only the DSN went out: it needs no SMTPUTF8 (the sender is ASCII)
	[ "$(delivered_count)" -le 1 ] || fail "delivered"
	[ "$(delivered_count)" = 0 ] || grep -q '"mail_from": ""' "$SMTP_MAILDIR/1.json" || fail "the original was delivered"
}

dsn_params() {
	scenario dsn
	default_message | enqueue -R HDRS -V "env+id=1" -N 6 alice@example.org "$B" >/dev/null
	run_worker
	finish
	expect_delivered_body
	_j=$(tr -d ' \n' < "$SMTP_MAILDIR/1.json")
	for want in '"RET=HDRS"' '"ENVID=env+2Bid+3D1"' '"NOTIFY=SUCCESS,FAILURE"' "\"ORCPT=rfc822;$B\""; do
		case $_j in *"$want"*) ;; *) fail "DSN parameter $want missing: $_j" ;; esac
	done
}

dsn_not_offered() {
	scenario dsn-off --no-ext DSN
	default_message | enqueue -R FULL -N 14 alice@example.org "$B" >/dev/null
	run_worker
	finish
	expect_delivered_body
	! grep -q 'NOTIFY\|RET=' "$SMTP_MAILDIR/1.json" || fail "DSN parameters sent without DSN"
}

dot_stuffing_and_line_ends() {
	scenario dots
	printf '.\n..\n. x\nline\n.\n' | enqueue alice@example.org "$B" >/dev/null
	run_worker
	finish
	expect_delivered_body
	# on the wire every line that starts with a dot got one more
	transcript_tls_c2s | grep -qx '\.\.\.' || fail "'..' not stuffed"
	transcript_events | grep -q 'bare-' && fail "bare CR or LF on the wire"
	return 0
}

no_final_newline() {
	scenario no-final-newline
	printf 'Subject: x\n\nno newline at the end' | enqueue alice@example.org "$B" >/dev/null
	run_worker
	finish
	wait_delivered 1 5 || fail "not delivered"
	printf 'Subject: x\r\n\r\nno newline at the end\r\n' | cmp -s - "$SMTP_MAILDIR/1.eml" || fail "body: $(od -c "$SMTP_MAILDIR/1.eml" | tail -3)"
}

null_sender() {
	scenario null-sender
	default_message | enqueue "" "$B" >/dev/null
	run_worker
	finish
	expect_delivered_body
	grep -q '"mail_from": ""' "$SMTP_MAILDIR/1.json" || fail "null sender: $(cat "$SMTP_MAILDIR/1.json")"
}

connection_reuse() {
	scenario reuse
	for i in 1 2 3 4 5; do default_message | enqueue alice@example.org "$B" >/dev/null; done
	run_worker
	finish
	wait_delivered 5 5 || fail "not all delivered"
	_conns=$(transcript_events | grep -c '^conn-open')
	[ "$_conns" = 1 ] || fail "$_conns connections for 5 messages"
	[ "$(transcript_tls_c2s | grep -c '^RSET')" = 4 ] || fail "RSET between messages expected"
	[ "$(transcript_tls_c2s | grep -c '^EHLO')" = 1 ] || fail "one session expected"
}

reused_connection_dropped() {
	# the server drops each kept connection at its next MAIL: every
	# message goes out on a new connection at once, none is deferred and
	# the relay is never taken for down
	scenario reuse-dropped --scenario close-on-reuse
	for i in 1 2 3; do default_message | enqueue alice@example.org "$B" >/dev/null; done
	run_worker
	finish
	wait_delivered 3 5 || fail "not all delivered; log: $(cat "$WLOG")"
	[ "$(queued_count)" = 0 ] || fail "$(queued_count) left queued; log: $(cat "$WLOG")"
	_conns=$(transcript_events | grep -c '^conn-open')
	[ "$_conns" = 3 ] || fail "$_conns connections for 3 messages"
	[ "$(grep -c 'reused session lost' "$WLOG")" = 2 ] || fail "two dropped reuses expected; log: $(cat "$WLOG")"
	grep -q "status=deferred" "$WLOG" && fail "a message was deferred; log: $(cat "$WLOG")"
	true
}

failover() {
	wcase failover
	start_smarthost --scenario no-starttls
	_first=$SMTP_PORT
	start_smarthost
	wconf "$(relay_conf first "$_first")" "$(relay_conf second "$SMTP_PORT" | sed '/^tls_policy/,$d')"
	default_message | enqueue alice@example.org "$B" >/dev/null
	default_message | enqueue alice@example.org "$C" >/dev/null
	run_worker
	finish
	expect_state "$B" gone
	expect_state "$C" gone
	wait_delivered 2 5 || fail "not delivered via the second relay"
	expect_log "relay first 127.0.0.1[127.0.0.1]:$_first: delivery not possible (STARTTLS): STARTTLS not offered"
	# the first relay is tried once per run, not once per message
	[ "$(grep -c 'relay first' "$WLOG")" = 1 ] || fail "failed relay retried in the same run"
}

sender_routing() {
	wcase senders
	start_smarthost
	_p1=$SMTP_PORT
	start_smarthost
	wconf "$(relay_conf tenant "$_p1" starttls 'senders = {"*@tenant.example"}')" \
		"$(relay_conf main "$SMTP_PORT" | sed '/^tls_policy/,$d')"
	default_message | enqueue alice@example.org "$B" >/dev/null
	default_message | enqueue bob@tenant.example "$C" >/dev/null
	run_worker
	finish
	wait_delivered 1 5 || fail "main relay got nothing"
	grep -q '"mail_from": "alice@example.org"' "$SMTP_MAILDIR/1.json" || fail "wrong relay for alice"
	grep -q '"mail_from": "bob@tenant.example"' "$T/maildir/1.json" || fail "wrong relay for the tenant"
}

concurrency() {
	wcase concurrency
	start_smarthost
	WCONC=4 wconf "$(relay_conf main "$SMTP_PORT")"
	_i=0
	while [ $_i -lt 20 ]; do default_message | enqueue alice@example.org "$B" >/dev/null; _i=$((_i + 1)); done
	run_worker
	finish
	wait_delivered 20 10 || fail "not all delivered"
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
	_conns=$(transcript_events | grep -c '^conn-open')
	[ "$_conns" -ge 2 ] && [ "$_conns" -le 4 ] || fail "$_conns connections (want 2..4)"
	[ "$(transcript_events | grep -c '^delivered')" = 20 ] || fail "duplicates or losses"
}

id_exit_status() {
	# --id: the exit status tells -odi callers what happened
	scenario id-status --scenario rcpt-4xx
	_id=$(default_message | enqueue alice@example.org "$B")
	run_worker --id "$_id"
	[ "$WSTATUS" = 75 ] || fail "deferred: exit $WSTATUS"
	start_smarthost --scenario rcpt-5xx
	sed -i "s/port = [0-9]*/port = $SMTP_PORT/" "$CONF"
	run_worker --id "$_id"
	[ "$WSTATUS" = 69 ] || fail "failed: exit $WSTATUS"
	start_smarthost
	sed -i "s/port = [0-9]*/port = $SMTP_PORT/" "$CONF"
	_id=$(default_message | enqueue alice@example.org "$B")
	run_worker --id "$_id"
	[ "$WSTATUS" = 0 ] || fail "delivered: exit $WSTATUS"
}

run_cases mail_4xx mail_5xx rcpt_4xx rcpt_5xx data_4xx data_5xx eod_4xx eod_5xx deferred_then_backoff \
	rcpt_mixed rcpt_mixed_no_pipelining partial_retry drop_mid_data drop_after_eod \
	silent_before_greeting connect_refused talk_before_greeting close_after_greeting multiline \
	no_pipelining size_limit size_param eightbit eightbit_not_offered smtputf8 smtputf8_missing \
	dsn_params dsn_not_offered dot_stuffing_and_line_ends no_final_newline null_sender \
	connection_reuse reused_connection_dropped failover sender_routing concurrency id_exit_status
