#!/bin/sh
# tests/ops-health.sh - sealpostd --health (SPEC section 8): exit 0 with
# "OK: ..." when mail flows; exit 1 with one line on stdout for a message
# older than --max-age (held ones do not count), and for a relay whose
# last attempt failed for a reason a person must fix: certificate refused,
# AUTH refused, configuration error, OAuth token refused (from the state
# file: the OAuth code reports it); a later success clears it; a
# transient failure does not count; a broken config is exit 1 too; a
# damaged state file is rewritten. Reads only: no daemon is running.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
FILL="$top_srcdir/tests/ops-fill.py"

# health [ARGS]: HOUT (stdout), HRC (exit status)
health() {
	if HOUT=$("$SEALPOSTD" -C "$CONF" --health "$@" 2>"$CASE/health.err"); then HRC=0; else HRC=$?; fi
}
expect_health() {
	[ -n "${SHOW:-}" ] && echo "# $*" >&2
	_rc=$1 _text=$2
	shift 2
	health "$@"
	[ -n "${SHOW:-}" ] && echo "#   -> $HRC $HOUT" >&2
	[ "$HRC" = "$_rc" ] || fail "$(basename "$CASE"): --health $* exit $HRC, want $_rc: $HOUT"
	[ "$(printf '%s\n' "$HOUT" | wc -l)" = 1 ] || fail "$(basename "$CASE"): not one line: $HOUT"
	case $HOUT in *"$_text"*) ;; *) fail "$(basename "$CASE"): \"$HOUT\" lacks \"$_text\"" ;; esac
}
msg() { printf 'To: bob@example.net\nSubject: %s\n\nhello\n' "$1"; }

queue_age() {
	wcase age
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	expect_health 0 "OK: 0 message(s) in the queue, none waiting more than 1h"
	# held a day ago: a person decided, it does not count
	"$PYTHON3" "$FILL" "$SPOOL" 0 1 90000 >/dev/null
	expect_health 0 "OK: 1 message(s) in the queue"
	_id=$("$PYTHON3" "$FILL" "$SPOOL" 3 0 7200)
	expect_health 1 "CRITICAL: message $_id has been queued for 2h0m (more than 1h); 4 in the queue"
	expect_health 0 "none waiting more than 3h" --max-age 3h
	expect_health 1 "more than 90m" --max-age 90m
	# a usage error is not a health verdict
	if "$SEALPOSTD" -C "$CONF" --health --max-age soon >/dev/null 2>&1; then _rc=0; else _rc=$?; fi
	[ "$_rc" = 64 ] || fail "--max-age soon: exit $_rc, want 64"
	if "$SEALPOSTD" -C "$CONF" --once --max-age 1h >/dev/null 2>&1; then _rc=0; else _rc=$?; fi
	[ "$_rc" = 64 ] || fail "--max-age without --health: exit $_rc, want 64"
	# delivered: healthy again
	run_worker --flush
	expect_health 0 "OK: 1 message(s) in the queue"
	# a spool it cannot read is not healthy
	if [ "$(id -u)" != 0 ]; then
		chmod 000 "$SPOOL/queue"
		expect_health 1 "UNKNOWN: cannot read the spool"
		chmod 770 "$SPOOL/queue"
	fi
}

certificate_refused() {
	wcase certificate
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'verify_name = "wrong.example"')"
	msg c | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	expect_health 1 "CRITICAL: relay main (127.0.0.1): certificate refused at "
	case $HOUT in *"name"*) ;; *) fail "the reason is not passed on: $HOUT" ;; esac
	# and a message too old: the relay comes first, the rest is counted
	"$PYTHON3" "$FILL" "$SPOOL" 1 0 7200 >/dev/null
	expect_health 1 "certificate name mismatch"
	case $HOUT in *"(and 1 more problem)") ;; *) fail "the second problem is not counted: $HOUT" ;; esac
	# fixed by a person: the next attempt succeeds, the verdict clears
	wconf "$(relay_conf main "$SMTP_PORT")"
	run_worker --flush
	expect_health 0 "OK: 0 message(s) in the queue"
}

auth_refused() {
	wcase auth
	start_smarthost --auth app:right
	printf 'wrong\n' > "$CASE/pw"
	chmod 600 "$CASE/pw"
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "app"' "password_file = \"$CASE/pw\"")"
	msg a | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	expect_health 1 "relay main (127.0.0.1): AUTH refused"
	# a temporary failure afterwards (server gone) is not for a person
	stop_smarthost
	run_worker --flush
	expect_health 0 "OK: 1 message(s) in the queue"
}

config_error() {
	wcase config
	start_smarthost --auth app:right
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "app"' "password_file = \"$CASE/missing\"")"
	msg k | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	expect_health 1 "relay main (127.0.0.1): configuration error"
	# a config file that does not load
	printf 'relay "x" {\n' > "$CONF"
	expect_health 1 "CRITICAL: configuration error: $CONF"
}

token_refused_and_damaged_state() {
	wcase token
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	mkdir -p "$SPOOL/state"
	# as the OAuth code records it (opslog_note_class OPS_TOKEN)
	printf 'sealpost-metrics 1\nrelay main 0 0 0 0 0 0 %s token invalid_grant: run sealpostd --oauth-login main\nend\n' \
		"$(date +%s)" > "$SPOOL/state/metrics"
	expect_health 1 "relay main (127.0.0.1): OAuth token refused at "
	case $HOUT in *"--oauth-login main"*) ;; *) fail "no hint: $HOUT" ;; esac
	# a relay no longer configured does not count
	sed -i 's/relay main /relay gone /' "$SPOOL/state/metrics"
	expect_health 0 "OK"
	# damaged: reported, never misread; the next worker rewrites it
	printf 'sealpost-metrics 1\nrelay main 1 2\n' > "$SPOOL/state/metrics"
	expect_health 0 "the metrics state is damaged"
	msg t | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	expect_log "starting the metrics state afresh"
	expect_health 0 "OK: 0 message(s) in the queue"
	grep -q '^relay main 1 0 0 ' "$SPOOL/state/metrics" || fail "state not rewritten: $(cat "$SPOOL/state/metrics")"
}

run_cases ${ONLY:-queue_age certificate_refused auth_refused config_error token_refused_and_damaged_state}
