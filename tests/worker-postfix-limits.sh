#!/bin/sh
# tests/worker-postfix-limits.sh - a real Postfix smarthost that enforces
# what providers enforce (issue 13): at most 2 connections per client
# (smtpd_client_connection_count_limit, loopback not exempted) and 3
# recipients per transaction (smtpd_recipient_limit: "452 4.5.3 Error: too
# many recipients"). 20 messages of 5 recipients, 4 workers:
#   - with limits { connections = 2 }: Postfix never refuses a connection,
#     and every recipient is delivered (the 452s go into new transactions);
#   - without it (4 sessions for 2 slots): Postfix's 421 puts the relay in
#     back-off, nothing bounces, and all arrive after it.
# Skips (77) unless run as root with Postfix installed.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"

PF_MAIN_EXTRA="smtpd_client_connection_count_limit = 2
smtpd_client_event_limit_exceptions =
smtpd_recipient_limit = 3"
export PF_MAIN_EXTRA
start_postfix
printf '%s\n' "$PF_PASS" > "$T/pf.secret"
chmod 600 "$T/pf.secret"
T_ROOT=$T

# run_case NAME [LIMITS-LINE]: 20 messages x 5 recipients through Postfix
run_case() {
	wcase "$1"
	RELAY_HOST=localhost
	export RELAY_HOST
	WCONC=4 WRETRY_MIN=2s wconf "$(relay_conf postfix "$PF_SUBMISSION_PORT" starttls \
		"username = \"$PF_USER\"" "password_file = \"$T_ROOT/pf.secret\"" "ca_file = \"$PF_CA\"" ${2:+"$2"})"
	_i=1
	while [ $_i -le 20 ]; do
		printf 'Subject: %s %d\n\nbody %d\n' "$1" $_i $_i |
			"$SEALPOST" -C "$CONF" -odq -f "sender@example.org" \
				"$1-$_i-a@$PF_DOMAIN" "$1-$_i-b@$PF_DOMAIN" "$1-$_i-c@$PF_DOMAIN" \
				"$1-$_i-d@$PF_DOMAIN" "$1-$_i-e@$PF_DOMAIN" || fail "$1: sealpost could not queue"
		_i=$((_i + 1))
	done
	_before=$(ls "$PF_MAILDIR/new" | wc -l)
	# runs until the queue is empty (a back-off makes a run leave mail
	# deferred: the next run after it takes it), bounded
	_n=0
	while [ "$(ls "$SPOOL/queue" | grep -c '\.env$')" != 0 ] && [ $_n -lt 10 ]; do
		[ $_n = 0 ] || sleep 1
		run_worker
		[ "$WSTATUS" = 0 ] || fail "$1: sealpostd exit $WSTATUS: $(tail -5 "$WLOG")"
		_n=$((_n + 1))
	done
	sh "$HARNESS" wait "$T_ROOT/pf" $((_before + 100)) 30 ||
		fail "$1: $(($(ls "$PF_MAILDIR/new" | wc -l) - _before)) of 100 recipients arrived: $(tail -5 "$WLOG")"
	expect_no_log "status=bounced"
	[ "$(grep -c 'status=sent' "$WLOG")" = 100 ] || fail "$1: $(grep -c 'status=sent' "$WLOG") sent lines, want 100"
	expect_log "more in a new transaction"
	[ "$(ls "$SPOOL/queue" | grep -c '\.env$')" = 0 ] || fail "$1: notifications or mail left in the queue"
}

within_limits() {
	_refused=$(grep -c "too many connections" "$PF_LOG" || true)
	run_case within 'limits { connections = 2 }'
	[ "$(grep -c "too many connections" "$PF_LOG" || true)" = "$_refused" ] ||
		fail "Postfix refused connections although limits.connections = 2: $(grep "too many connections" "$PF_LOG" | tail -2)"
	expect_no_log "throttled"
}

beyond_limits() {
	run_case beyond
	# 4 workers for 2 slots: Postfix says 421 to some, the relay backs off,
	# nothing is lost or bounced (run_case checked); when Postfix let every
	# session in anyway, there was nothing to back off from
	if grep -q "421 4.7.0" "$WLOG"; then
		expect_log "throttled (service not available): server refused the session: 421 4.7.0"
	fi
}

run_cases within_limits beyond_limits
