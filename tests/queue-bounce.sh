#!/bin/sh
# tests/queue-bounce.sh - delivery status notifications end to end: a 5xx
# makes an RFC 3464 bounce that is itself queued and delivered (checked
# with tests/queue-dsn.py), RET=HDRS returns only the header, NOTIFY=NEVER
# and NOTIFY without FAILURE suppress it, only failed recipients are
# listed, no bounce to <> or about a bounce (a failed bounce is kept and
# retried, then given up loudly), expiry after queue.lifetime bounces with
# 4.4.7 (held messages too, at the due moment, the daemon waking for it),
# one delay warning per message, NOTIFY=SUCCESS through a relay without
# DSN gives "relayed"; one DSN per message across relays and attempts; a
# relay refusing MAIL FROM:<> gets bounce_sender; returned content capped
# at 50 kB, headers only for a size refusal; no SMTPUTF8 inherited.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

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
	grep -q '^From: Mail Delivery System <MAILER-DAEMON@example.org>' "$SMTP_MAILDIR/1.eml" ||
		fail "From: is not bounce_sender's default"
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
	[ "$(dsn_count)" = 0 ] || fail "a bounce of a bounce was queued"
	expect_log "to=<$B>: failed; no notification possible (the sender is the null sender <>)"
	# a notification is never bounced: kept and retried until its lifetime ends
	expect_state "$C" deferred "(a delivery status notification: kept and retried)"
	[ "$(queued_count)" = 1 ] || fail "want the notification kept, have $(queued_count) queued"
	[ "$(delivered_count)" = 0 ] || fail "something reached the DSN relay"
}

failed_bounce_kept() {
	# the bounce itself is refused: kept, retried, never bounced; at the
	# end of its lifetime given up with a loud line, still no DSN of a DSN
	wcase bounce-fails
	start_smarthost --scenario rcpt-5xx
	wconf "$(relay_conf main "$SMTP_PORT")"
	default_message | enqueue "$A" "$B" >/dev/null
	run_worker
	run_worker --flush
	[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) notifications, want exactly 1"
	expect_state "$A" deferred "550 5.1.1"
	[ "$(queued_count)" = 1 ] || fail "the undeliverable notification was not kept"
	expect_no_log "dropped"
	_env=$(ls "$SPOOL/queue/"*.env)
	sed -i 's/^arrival .*/arrival 1000/' "$_env"   # its lifetime is over
	run_worker
	[ "$(queued_count)" = 0 ] || fail "the expired notification is still queued"
	expect_log "to=<$A>: delivery status notification UNDELIVERABLE, given up; its sender was never told"
	[ "$(dsn_count)" = 1 ] || fail "a notification about a notification was made"
}

one_dsn_failover() {
	# relay 1 refuses C and closes at DATA (B fails over);
	# relay 2 refuses B: one DSN listing both (two before)
	wcase one-dsn-failover
	start_smarthost --scenario rcpt-mixed-close-at-data
	_p1=$SMTP_PORT
	start_smarthost --scenario rcpt-5xx
	_p2=$SMTP_PORT
	start_smarthost
	wconf "$(relay_conf one "$_p1" starttls 'senders = {"*@example.org"}')" \
		"$(relay_conf two "$_p2" starttls 'senders = {"*@example.org"}' | sed '/^tls_policy/,$d')" \
		"$(relay_conf dsn "$SMTP_PORT" starttls 'senders = {"<>"}' | sed '/^tls_policy/,$d')"
	default_message | enqueue "$A" "$B" "$C" >/dev/null
	run_worker
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
	wait_delivered 1 5 || fail "no DSN"
	[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) notifications for one message"
	dsn_of 1 >/dev/null
	has_fact 1 "rcpt $B action=failed status=5.1.1"
	has_fact 1 "rcpt $C action=failed status=5.1.1"
}

one_dsn_across_attempts() {
	# attempt 1: C refused, B deferred (session lost); attempt 2: B
	# refused. One DSN, sent when the message is done, lists both.
	wcase one-dsn-attempts
	start_smarthost --scenario rcpt-mixed-close-at-data
	_p1=$SMTP_PORT
	start_smarthost
	wconf "$(relay_conf main "$_p1" starttls 'senders = {"*@example.org"}')" \
		"$(relay_conf dsn "$SMTP_PORT" starttls 'senders = {"<>"}' | sed '/^tls_policy/,$d')"
	default_message | enqueue "$A" "$B" "$C" >/dev/null
	run_worker
	expect_state "$B" deferred
	expect_state "$C" failed "550 5.1.1"
	[ "$(dsn_count)" = 0 ] || fail "a DSN before the message is done"
	start_smarthost --scenario rcpt-5xx
	sed -i "s/port = $_p1/port = $SMTP_PORT/" "$CONF"
	SMTP_MAILDIR=$T/dsn-maildir
	run_worker --flush
	[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) notifications for one message"
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
}

null_sender_refused() {
	# Amazon SES answers 501 to MAIL FROM:<>: the DSN goes from
	# bounce_sender, learnt from that refusal, only through that relay
	wcase null-sender-501
	start_smarthost --scenario null-sender-501
	wconf 'bounce_sender = "bounces@example.org"' "$(relay_conf ses "$SMTP_PORT")"
	default_message | enqueue "$A" "$B" >/dev/null
	_dsn=$(default_message | enqueue -B "" "$C")
	run_worker
	[ "$(queued_count)" = 0 ] || fail "left in the queue: $(cat "$WLOG")"
	expect_log "refuses the null sender <> (501 Invalid MAIL FROM address provided (in reply to MAIL FROM)); notifications through it go from <bounces@example.org> (bounce_sender)"
	wait_delivered 2 5 || fail "not both delivered"
	[ "$(cat "$SMTP_MAILDIR"/*.json | grep -c '"mail_from": *"bounces@example.org"')" = 1 ] ||
		fail "the DSN not from bounce_sender: $(cat "$SMTP_MAILDIR"/*.json)"
	[ "$(grep -c 'refuses the null sender' "$WLOG")" = 1 ] || fail "not learnt once"
	# the original's sender is kept: only notifications change
	cat "$SMTP_MAILDIR"/*.json | grep -q "\"mail_from\": *\"$A\"" || fail "the original lost its sender"
	# default: MAILER-DAEMON@domain
	wcase null-sender-default
	start_smarthost --scenario null-sender-501
	wconf "$(relay_conf ses "$SMTP_PORT")"
	default_message | enqueue -B "" "$C" >/dev/null
	run_worker
	wait_delivered 1 5 || fail "not delivered"
	envelope_of 1 | grep -q '"mail_from":"MAILER-DAEMON@example.org"' || fail "not from MAILER-DAEMON@domain"
}

content_capped() {
	# a 200 kB message: its DSN returns at most 50 kB, cut at a line end,
	# and says so
	wcase capped
	two_relays rcpt-5xx
	{ printf 'From: %s\r\nSubject: big\r\n\r\n' "$A"; i=0
	  while [ $i -lt 2500 ]; do printf 'line %05d of a long message, padded to be eighty bytes long..........\r\n' $i; i=$((i + 1)); done
	} | enqueue "$A" "$B" >/dev/null
	run_worker
	wait_delivered 1 5 || fail "no DSN"
	dsn_of 1 >/dev/null
	has_fact 1 "part3 message/rfc822"
	_size=$(wc -c < "$SMTP_MAILDIR/1.eml")
	[ "$_size" -lt 54000 ] || fail "DSN is $_size bytes"
	grep -q "^What is returned here is cut after 4[0-9]\{4\} bytes of the message (of" "$SMTP_MAILDIR/1.eml" ||
		fail "the cut is not said"
	grep -q "^line 00000 of" "$SMTP_MAILDIR/1.eml" || fail "the start is not returned"
	! grep -q "^line 02499 of" "$SMTP_MAILDIR/1.eml" || fail "the end is returned"
}

size_refusal_headers_only() {
	# a message over the relay's SIZE: 5.3.4 before sending, the DSN
	# returns the header only
	wcase size-hdrs
	start_smarthost --size 100000 --scenario good
	BAD_PORT=$SMTP_PORT
	start_smarthost
	wconf "$(relay_conf bad "$BAD_PORT" starttls 'senders = {"*@example.org"}')" \
		"$(relay_conf dsn "$SMTP_PORT" starttls 'senders = {"<>"}' | sed '/^tls_policy/,$d')"
	{ printf 'From: %s\r\nSubject: too big\r\n\r\n' "$A"; head -c 150000 /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/$/\r/'; } |
		enqueue "$A" "$B" >/dev/null
	run_worker
	wait_delivered 1 5 || fail "no DSN"
	dsn_of 1 >/dev/null
	has_fact 1 "part3 text/rfc822-headers"
	has_fact 1 "status=5.3.4"
	grep -q "^The message was refused for its size, so only its header is" "$SMTP_MAILDIR/1.eml" || fail "not said"
	[ "$(wc -c < "$SMTP_MAILDIR/1.eml")" -lt 5000 ] || fail "DSN too big"
}

utf8_downgraded() {
	# the original needs SMTPUTF8 and bounces; the DSN to an ASCII sender
	# does not: report in ASCII (utf-8-addr-xtext), original header base64
	wcase utf8-down
	two_relays rcpt-5xx
	printf 'From: %s\r\nTo: j\303\266rg@example.net\r\nSubject: utf8\r\n\r\nbody\r\n' "$A" |
		enqueue -u "$A" "j$(printf '\303\266')rg@example.net" >/dev/null
	run_worker
	wait_delivered 1 5 || fail "no DSN"
	! grep -q "SMTPUTF8" "$SMTP_MAILDIR/1.json" || fail "DSN sent with SMTPUTF8"
	dsn_of 1 >/dev/null
	has_fact 1 "part2 message/delivery-status"
	has_fact 1 "part3 text/rfc822-headers"
	grep -q '^Final-Recipient: utf-8; j\\x{F6}rg@example.net' "$SMTP_MAILDIR/1.eml" || fail "no xtext address"
	# only the human-readable text/plain part (utf-8, 8bit) may hold UTF-8
	sed -n '/^Content-Description: Delivery report/,$p' "$SMTP_MAILDIR/1.eml" > "$CASE/tail"
	! LC_ALL=C grep -q "$(printf '\303')" "$CASE/tail" || fail "raw UTF-8 in the report or the returned header"
	grep -q '^Content-Transfer-Encoding: base64' "$CASE/tail" || fail "header not encoded"
}

expiry_held() {
	# a held message expires at its lifetime too
	wcase expiry-held
	two_relays good
	default_message | enqueue -H -a 500000 "$A" "$B" >/dev/null
	run_worker
	expect_log "message expired after 5d in the queue; last error: the message was on hold"
	wait_delivered 1 5 || fail "no DSN"
	dsn_of 1 >/dev/null
	has_fact 1 "rcpt $B action=failed status=4.4.7"
}

expiry_due_moment() {
	# deferred with its next attempt an hour away, the message expires at
	# arrival + lifetime: --once expires it then, and the daemon wakes for it
	wcase expiry-due
	WRETRY_MIN=1h two_relays mail-4xx
	# 10 s before 5d: room for the first attempt on a loaded machine
	default_message | enqueue -a 431990 "$A" "$B" >/dev/null
	run_worker
	expect_state "$B" deferred "451 4.3.0"
	start_daemon
	_n=400
	while ! grep -q "message expired after 5d" "$WLOG" && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	expect_log "message expired after 5d in the queue; last error: "
	wait_delivered 1 10 || fail "no DSN from the daemon"
	stop_daemon
	# --once: the same, without a daemon
	wcase expiry-due-once
	WRETRY_MIN=1h two_relays mail-4xx
	default_message | enqueue -a 431990 "$A" "$B" >/dev/null
	run_worker
	expect_state "$B" deferred
	_n=300
	while [ "$(( $(date +%s) ))" -lt "$(( $(sed -n 's/^arrival //p' "$(ls "$SPOOL"/queue/*.env)") + 432000 ))" ] && [ $_n -gt 0 ]; do
		sleep 0.05; _n=$((_n - 1)); done
	run_worker
	expect_log "message expired after 5d in the queue"
	wait_delivered 1 5 || fail "no DSN"
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
	no_bounce_of_bounce failed_bounce_kept expiry delay_warning success_relayed one_dsn_failover \
	one_dsn_across_attempts null_sender_refused content_capped size_refusal_headers_only utf8_downgraded \
	expiry_held expiry_due_moment
