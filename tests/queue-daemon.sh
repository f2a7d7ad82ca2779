#!/bin/sh
# tests/queue-daemon.sh - the daemon's scheduling: a message queued on an
# idle daemon is on the wire at once (the measured figure is printed; the
# assertion is a generous 2 s), a message queued while the daemon is busy
# with a slow backlog does not wait for that backlog, no more than
# queue.concurrency connections run at once, a deferred message is retried
# when due without any new event, a restarted daemon keeps the retry
# schedule stored in the spool, bounces go out through the daemon, and
# -d --pid-file leaves a pid file that names the daemon until it stops.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
[ -x "$SEALPOST" ] || skip "sealpost is not built"

msg() { printf 'To: %s\nSubject: %s\nMessage-ID: <%s@example.org>\n\nhello\n' "$B" "$1" "$1"; }
queue_msg() { msg "$1" | "$SEALPOST" -C "$CONF" -odq -t || fail "sealpost could not queue $1"; }

# has_subject N SUBJECT: the N-th delivered message is SUBJECT
subject_of() { sed -n 's/^Subject: //p' "$SMTP_MAILDIR/$1.eml" | tr -d '\r'; }

idle_pickup() {
	wcase idle
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	start_daemon
	sleep 0.3 # let the start-up scan finish: the daemon is idle
	_all=""
	for i in 1 2 3 4 5; do
		_t0=$(date +%s%N)
		queue_msg "idle$i"
		while [ "$(delivered_count)" -lt "$i" ]; do
			[ $(( ($(date +%s%N) - _t0) / 1000000 )) -lt 2000 ] || fail "idle pickup $i: not delivered within 2 s"
			sleep 0.005
		done
		_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
		_all="$_all $_ms"
		sleep 0.2
	done
	echo "# idle daemon, queued (sealpost -odq) to stored at the smarthost, ms:$_all" >&2
	stop_daemon
	no_cleartext
}

busy_pickup() {
	# a slow server and a backlog: a new message takes the free slot
	wcase busy
	start_smarthost --scenario slow
	WCONC=2 wconf "$(relay_conf main "$SMTP_PORT")"
	for i in 1 2 3 4 5 6; do queue_msg "backlog$i"; done
	start_daemon
	_n=100
	while ! transcript_tls_c2s | grep -q '^MAIL' && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	_t0=$(date +%s%N)
	queue_msg urgent
	_n=300
	while ! grep -qs '^Subject: urgent' "$SMTP_MAILDIR"/*.eml && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	grep -qs '^Subject: urgent' "$SMTP_MAILDIR"/*.eml || fail "the new message was not delivered"
	_before=$(delivered_count)
	echo "# busy daemon (slow server, 6-message backlog): new message stored after $_ms ms, $((_before - 1)) of 6 backlog messages done by then" >&2
	[ "$_before" -lt 7 ] || fail "the new message waited for the whole backlog"
	wait_delivered 7 30 || fail "backlog not finished"
	# never more connections than queue.concurrency
	_max=$("$PYTHON3" -c '
import json, sys
m = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("data") == "conn-open":
        m = max(m, r.get("active", 0))
print(m)' "$SMTP_TRANSCRIPT")
	[ "$_max" -le 2 ] || fail "$_max connections at once with concurrency = 2"
	[ "$(transcript_events | grep -c '^delivered')" = 7 ] || fail "duplicates or losses"
	stop_daemon
}

retry_when_due() {
	wcase retry-due
	start_smarthost --fail-first 1
	WRETRY_MIN=1s wconf "$(relay_conf main "$SMTP_PORT")"
	start_daemon
	queue_msg retry
	wait_delivered 1 8 || fail "the deferred message was not retried by the daemon: $(cat "$WLOG")"
	expect_log "status=deferred (451 4.3.0"
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
	stop_daemon
}

schedule_survives_restart() {
	wcase restart
	start_smarthost --fail-first 1
	wconf "$(relay_conf main "$SMTP_PORT")"          # retry_min = 1m
	queue_msg later
	run_worker
	expect_state "$B" deferred "451 4.3.0"
	start_daemon
	sleep 1.5
	[ "$(delivered_count)" = 0 ] || fail "the restarted daemon ignored the stored retry time"
	stop_daemon
	"$SEALPOST" -C "$CONF" -q 2>>"$WLOG" || fail "sealpost -q"
	wait_delivered 1 5 || fail "not delivered by the flush"
}

bounce_through_daemon() {
	wcase bounce
	start_smarthost --scenario rcpt-mixed
	wconf "$(relay_conf main "$SMTP_PORT")"
	start_daemon
	printf 'To: a@example.net, b@example.net\nSubject: two\n\nhi\n' |
		"$SEALPOST" -C "$CONF" -odq -t -f alice@example.org || fail "queue"
	wait_delivered 2 5 || fail "message and bounce not both delivered"
	grep -q '^Action: failed' "$SMTP_MAILDIR/2.eml" || fail "second delivery is not the bounce"
	grep -q '"mail_from": ""' "$SMTP_MAILDIR/2.json" || fail "bounce not from <>"
	stop_daemon
}

odi_with_daemon() {
	# -odi while a daemon watches the spool: the exit status is still the
	# outcome of the delivery attempt (the daemon must not take the message
	# from under the worker sealpost started)
	wcase odi-daemon
	start_smarthost --scenario rcpt-mixed
	wconf "$(relay_conf main "$SMTP_PORT")"
	start_daemon
	for i in 1 2 3 4 5; do
		printf 'To: ok%s@example.net\nSubject: odi%s\n\nhi\n' "$i" "$i" |
			"$SEALPOST" -C "$CONF" -odi -t || fail "-odi delivered: exit $? (round $i)"
		if printf 'To: ok%s@example.net, no%s@example.net\nSubject: odi-mixed%s\n\nhi\n' "$i" "$i" "$i" |
			"$SEALPOST" -C "$CONF" -odi -t; then rc=0; else rc=$?; fi
		# one recipient accepted, one refused: nothing left queued, a failure
		[ "$rc" = 69 ] || fail "-odi with a failed recipient: exit $rc, want 69 (round $i)"
	done
	stop_daemon
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
}

pid_file() {
	wcase pidfile
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	"$SEALPOSTD" -C "$CONF" -d --pid-file "$CASE/sealpostd.pid" 2>>"$WLOG" || fail "-d: exit $?"
	wait_for_file "$CASE/sealpostd.pid" 5 || fail "no pid file"
	_pid=$(cat "$CASE/sealpostd.pid")
	case_owns "$_pid"
	kill -0 "$_pid" || fail "pid file names no running process"
	[ "$(cat "$SPOOL/sealpostd.lock")" = "$_pid" ] || fail "lock file does not name the daemon"
	# a second daemon must not clobber the pid file
	if "$SEALPOSTD" -C "$CONF" --pid-file "$CASE/sealpostd.pid" 2>/dev/null; then fail "second daemon ran"; fi
	[ "$(cat "$CASE/sealpostd.pid")" = "$_pid" ] || fail "second daemon rewrote the pid file"
	queue_msg detached
	wait_delivered 1 5 || fail "detached daemon did not deliver"
	kill -TERM "$_pid"
	_n=100
	while kill -0 "$_pid" 2>/dev/null && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	! kill -0 "$_pid" 2>/dev/null || fail "daemon still running after SIGTERM"
	[ ! -e "$CASE/sealpostd.pid" ] || fail "pid file left behind"
}

# QUEUE_DAEMON_CASES="name ..." runs only those cases
run_cases ${QUEUE_DAEMON_CASES:-idle_pickup busy_pickup retry_when_due schedule_survives_restart \
	bounce_through_daemon odi_with_daemon pid_file}
