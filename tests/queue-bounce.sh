#!/bin/sh
# tests/queue-bounce.sh - delivery status notifications end to end: a 5xx
# makes an RFC 3464 bounce that is itself queued and delivered (checked
# with tests/queue-dsn.py), RET=HDRS returns only the header, NOTIFY=NEVER
# and NOTIFY without FAILURE suppress it, only failed recipients are
# listed, no bounce to <> or about a bounce (nor of a failed bounce),
# expiry after queue.lifetime bounces with 4.4.7, one delay warning per
# message, and NOTIFY=SUCCESS through a relay without DSN gives "relayed".
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

A=alice@example.org
B=bob@example.net
C=carol@example.net
DSNPY="$top_srcdir/tests/queue-dsn.py"

# two relays: "bad" carries alice's mail to a smarthost playing $1, "dsn"
# carries the null sender's mail (the bounces) to a good one.
two_relays() {
	start_smarthost --scenario "$1"
	BAD_PORT=$SMTP_PORT BAD_MAILDIR=$SMTP_MAILDIR
	start_smarthost
	wconf "$(relay_conf bad "$BAD_PORT" starttls 'senders = {"*@example.org"}')" \
		"$(relay_conf dsn "$SMTP_PORT" starttls 'senders = {"<>"}' | sed '/^tls_policy/,$d')"
}

# dsn_of N: facts of the N-th message at the DSN smarthost ($SMTP_MAILDIR)
dsn_of() {
	"$PYTHON3" "$DSNPY" "$SMTP_MAILDIR/$1.eml" > "$CASE/dsn$1.facts" ||
		fail "$(basename "$CASE"): message $1 is not an RFC 3464 DSN: $(cat "$SMTP_MAILDIR/$1.eml")"
	cat "$CASE/dsn$1.facts"
}

has_fact() {
	grep -qF -- "$2" "$CASE/dsn$1.facts" || fail "$(basename "$CASE"): DSN lacks \"$2\": $(cat "$CASE/dsn$1.facts")"
}

envelope_of() { tr -d ' \n' < "$SMTP_MAILDIR/$1.json"; }

dsn_count() { grep -c "sender delivery status notification" "$WLOG" || true; }

bounce_5xx() {
	wcase bounce-5xx
	two_relays rcpt-5xx
	default_message | enqueue -V ENV-1 "$A" "$B" >/dev/null
	run_worker
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS"
	[ "$(queued_count)" = 0 ] || fail "left in the queue: the bounce was not delivered in the same run"
	wait_delivered 1 5 || fail "no DSN delivered"
	envelope_of 1 | grep -q "\"mail_from\":\"\"" || fail "DSN not from <>: $(cat "$SMTP_MAILDIR/1.json")"
	envelope_of 1 | grep -q "\"rcpt_to\":\[\"$A\"\]" || fail "DSN not to the sender"
	dsn_of 1 >/dev/null
	has_fact 1 "report-type delivery-status"
	has_fact 1 "part2 message/delivery-status"
	has_fact 1 "part3 message/rfc822"
	has_fact 1 "reporting-mta dns; client.example.org"
	has_fact 1 "rcpt $B action=failed status=5.1.1 remote=dns; 127.0.0.1 diag=smtp; 550 5.1.1 No such user"
	grep -q '^Original-Envelope-Id: ENV-1' "$SMTP_MAILDIR/1.eml" || fail "no Original-Envelope-Id"
	grep -q '^Auto-Submitted: auto-replied' "$SMTP_MAILDIR/1.eml" || fail "no Auto-Submitted"
	_want=$(sha256sum < "$CASE/sent.msg" | cut -d' ' -f1)
	has_fact 1 "returned-sha256 $_want"
	[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) notifications"
	no_cleartext
}

bounce_exit_status_id() {
	# -odi's view: --id exits 69 for a bounced message, and the bounce goes out too
	wcase bounce-id
	two_relays rcpt-5xx
	_id=$(default_message | enqueue "$A" "$B")
	run_worker --id "$_id"
	[ "$WSTATUS" = 69 ] || fail "--id: exit $WSTATUS, want 69"
	wait_delivered 1 5 || fail "bounce not delivered by the --id run"
}

ret_hdrs() {
	wcase ret-hdrs
	two_relays eod-5xx
	default_message | enqueue -R HDRS "$A" "$B" >/dev/null
	run_worker
	wait_delivered 1 5 || fail "no DSN"
	dsn_of 1 >/dev/null
	has_fact 1 "part3 text/rfc822-headers"
	has_fact 1 "status=5.7.1"
	grep -q '^Subject: test ret-hdrs' "$SMTP_MAILDIR/1.eml" || fail "original header missing"
	! grep -q 'Hello Bob' "$SMTP_MAILDIR/1.eml" || fail "body returned with RET=HDRS"
}

only_failed_listed() {
	wcase mixed
	start_smarthost --scenario rcpt-mixed
	wconf "$(relay_conf main "$SMTP_PORT")"
	default_message | enqueue "$A" "$B" "$C" >/dev/null
	run_worker
	wait_delivered 2 5 || fail "message and DSN not both delivered"
	dsn_of 2 >/dev/null
	has_fact 2 "rcpt $C action=failed status=5.1.1"
	! grep -q "rcpt $B" "$CASE/dsn2.facts" || fail "a delivered recipient is in the bounce"
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
}

notify_suppresses() {
	wcase notify
	two_relays rcpt-5xx
	default_message | enqueue -N 1 "$A" "$B" >/dev/null   # NOTIFY=NEVER
	default_message | enqueue -N 2 "$A" "$C" >/dev/null   # NOTIFY=SUCCESS only
	default_message | enqueue -N 8 "$A" "$C" >/dev/null   # NOTIFY=DELAY only
	run_worker
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
	[ "$(delivered_count)" = 0 ] || fail "a DSN went out despite NOTIFY"
	[ "$(dsn_count)" = 0 ] || fail "a DSN was queued despite NOTIFY"
	expect_log "status=bounced (550 5.1.1"
}

no_bounce_of_bounce() {
	wcase no-loop
	two_relays rcpt-5xx
	# the null sender, a message flagged as a bounce, on the "bad" relay too
	sed -i 's/senders = {"\*@example.org"}/senders = {"*@example.org", "<>"}/' "$CONF"
	default_message | enqueue "" "$B" >/dev/null
	default_message | enqueue -B "$A" "$C" >/dev/null
	run_worker
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
	[ "$(dsn_count)" = 0 ] || fail "a bounce of a bounce was queued"
	expect_log "no notification sent (the sender is the null sender <>): dropped"
	expect_log "no notification sent (the message is itself a delivery status notification): dropped"
	[ "$(delivered_count)" = 0 ] || fail "something reached the DSN relay"
}

failed_bounce_dropped() {
	# the bounce itself bounces: dropped with a log line, never looped
	wcase bounce-fails
	start_smarthost --scenario rcpt-5xx
	wconf "$(relay_conf main "$SMTP_PORT")"
	default_message | enqueue "$A" "$B" >/dev/null
	run_worker
	run_worker --flush
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
	[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) notifications, want exactly 1"
	expect_log "to=<$A>: failed; no notification sent (the message is itself a delivery status notification): dropped"
}

expiry() {
	wcase expiry
	start_smarthost
	_good=$SMTP_PORT
	stop_smarthost
	wconf "$(relay_conf main "$_good")"     # nobody listens there any more
	default_message | enqueue -a 500000 "$A" "$B" >/dev/null   # older than lifetime = 5d
	run_worker
	expect_log "message expired after 5d in the queue"
	[ "$(queued_count)" = 1 ] || fail "want only the bounce queued, have $(queued_count)"
	_env=$(ls "$SPOOL/queue/"*.env)
	grep -q '^sender =$' "$_env" || fail "bounce not from <>: $(cat "$_env")"
	grep -q '^flags \(8\|9\|10\|11\)$' "$_env" || fail "bounce not flagged ENV_BOUNCE: $(cat "$_env")"
	grep -q "^rcpt deferred 1 [0-9]* 0 $A " "$_env" || fail "bounce not deferred to $A: $(cat "$_env")"
	start_smarthost
	sed -i "s/port = $_good/port = $SMTP_PORT/" "$CONF"
	run_worker --flush
	wait_delivered 1 5 || fail "the queued bounce was not delivered"
	dsn_of 1 >/dev/null
	has_fact 1 "rcpt $B action=failed status=4.4.7"
	has_fact 1 "diag=X-Sealpost; message expired after 5d in the queue; last error:"
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
}

delay_warning() {
	wcase delay
	WQUEUE="delay_warning = 1m " two_relays mail-4xx
	default_message | enqueue -a 120 "$A" "$B" >/dev/null
	default_message | enqueue "$A" "$C" >/dev/null          # young: no warning
	run_worker
	wait_delivered 1 5 || fail "no delay warning delivered"
	dsn_of 1 >/dev/null
	has_fact 1 "rcpt $B action=delayed status=4.3.0"
	grep -q '^Will-Retry-Until: ' "$SMTP_MAILDIR/1.eml" || fail "no Will-Retry-Until"
	! grep -q "rcpt $C" "$CASE/dsn1.facts" || fail "the young message was warned about"
	expect_state "$B" deferred
	run_worker --flush
	[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) warnings, want one per message"
	[ "$(delivered_count)" = 1 ] || fail "a second warning was delivered"
}

success_relayed() {
	wcase relayed
	start_smarthost --no-ext DSN
	wconf "$(relay_conf main "$SMTP_PORT")"
	default_message | enqueue -N 6 "$A" "$B" >/dev/null   # SUCCESS,FAILURE
	run_worker
	wait_delivered 2 5 || fail "message and success report not both delivered"
	dsn_of 2 >/dev/null
	has_fact 2 "rcpt $B action=relayed status=2.0.0"
	# a relay that speaks DSN gets NOTIFY=SUCCESS and reports itself
	start_smarthost
	sed -i "s/port = [0-9]*/port = $SMTP_PORT/" "$CONF"
	default_message | enqueue -N 6 "$A" "$B" >/dev/null
	run_worker
	wait_delivered 1 5 || fail "not delivered"
	sleep 0.2
	[ "$(delivered_count)" = 1 ] || fail "a success report although the relay speaks DSN"
	grep -q 'NOTIFY=SUCCESS,FAILURE' "$SMTP_MAILDIR/1.json" || fail "NOTIFY not passed on"
}

run_cases bounce_5xx bounce_exit_status_id ret_hdrs only_failed_listed notify_suppresses \
	no_bounce_of_bounce failed_bounce_dropped expiry delay_warning success_relayed
