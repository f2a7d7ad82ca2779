#!/bin/sh
# tests/worker-reuse.sh - the daemon's workers keep their relay
# connections between batches: 20 messages queued one at a time (each
# delivered before the next is queued) use at most 2 connections at the
# smarthost; an idle worker QUITs after a few seconds; a new daemon
# (another process, no ticket in memory) resumes the TLS session from the
# spool's tls-cache/, and the resumed session's certificate is still
# checked (a resumed session that verifies against another CA fails).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
[ -x "$SEALPOST" ] || skip "sealpost is not built"

msg() { printf 'To: bob@example.net\nSubject: %s\n\nhello\n' "$1"; }

start_daemon() {
	"$SEALPOSTD" -C "$CONF" -v -v 2>>"$WLOG" &
	DPID=$!
	case_owns "$DPID"
	_n=100
	while [ "$(grep -c "started" "$WLOG")" -lt "$1" ] && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	[ "$(grep -c "started" "$WLOG")" -ge "$1" ] || fail "daemon did not start: $(cat "$WLOG")"
}

stop_daemon() {
	kill -TERM "$DPID"
	if wait "$DPID"; then rc=0; else rc=$?; fi
	[ "$rc" = 0 ] || fail "daemon exit $rc after SIGTERM"
}

conn_opens() { grep -c '"conn-open"' "$SMTP_TRANSCRIPT" || true; }

one_at_a_time() {
	wcase reuse
	start_smarthost
	WCONC=2 wconf "$(relay_conf main "$SMTP_PORT")"
	start_daemon 1
	i=1
	while [ $i -le 20 ]; do
		msg "m$i" | "$SEALPOST" -C "$CONF" -odq -t || fail "queue m$i"
		wait_delivered $i 5 || fail "m$i not delivered"
		i=$((i + 1))
	done
	_c=$(conn_opens)
	echo "# 20 messages one at a time: $_c connection(s)" >&2
	[ "$_c" -le 2 ] || fail "$_c connections for 20 messages queued one at a time"
	# the idle worker says goodbye on its own (after 5 s)
	_n=200
	while ! grep -q '"QUIT' "$SMTP_TRANSCRIPT" && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	grep -q '"QUIT' "$SMTP_TRANSCRIPT" || fail "the idle worker did not QUIT"
	kill -0 "$DPID" || fail "daemon gone"
	# the session data is in the spool, for the worker's user only
	[ -f "$SPOOL/tls-cache/main" ] || fail "no tls-cache/main"
	[ "$(stat -c %a "$SPOOL/tls-cache/main")" = 600 ] || fail "tls-cache/main is not 0600"
	[ "$(stat -c %a "$SPOOL/tls-cache")" = 700 ] || fail "tls-cache is not 0700"
	stop_daemon
	# a new process resumes from the spool's copy
	start_daemon 2
	msg resumed | "$SEALPOST" -C "$CONF" -odq -t || fail "queue"
	wait_delivered 21 5 || fail "not delivered after the restart"
	_n=100
	while ! grep -q "resumed session" "$WLOG" && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	grep -q "connected, .*(resumed session)" "$WLOG" || fail "the new daemon did not resume: $(grep connected "$WLOG")"
	stop_daemon
	no_cleartext
}

resumed_still_verified() {
	# the cached session holds the server's certificate; the same policy
	# whose trust store no longer holds its CA must refuse the resumed
	# session too (another ca_file is another policy: never resumed, see
	# worker-certs.sh), and the refusal must be of a resumption
	wcase reverify
	start_smarthost
	[ -f "$CERTS/other-ca.pem" ] || skip "no second CA in the test certificates"
	cp "$CERTS/ca.pem" "$CASE/trust.pem"
	wconf "$(relay_conf main "$SMTP_PORT" starttls "ca_file = \"$CASE/trust.pem\"")"
	msg first | "$SEALPOST" -C "$CONF" -odq -t || fail "queue"
	run_worker
	wait_delivered 1 5 || fail "first not delivered"
	[ -f "$SPOOL/tls-cache/main" ] || fail "no tls-cache/main"
	# a one-shot worker (another process) resumes from the spool's copy
	msg again | "$SEALPOST" -C "$CONF" -odq -t || fail "queue"
	run_worker -v -v
	wait_delivered 2 5 || fail "second not delivered"
	expect_log "(resumed session)"
	cp "$CERTS/other-ca.pem" "$CASE/trust.pem"
	msg second | "$SEALPOST" -C "$CONF" -odq -t || fail "queue"
	run_worker -v -v
	[ "$(delivered_count)" = 2 ] || fail "delivered over a session verified against another CA"
	expect_state bob@example.net deferred "certificate signed by unknown authority"
	expect_log "is not in the trust store (resumed session)"
}

run_cases one_at_a_time resumed_still_verified
