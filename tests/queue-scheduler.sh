#!/bin/sh
# tests/queue-scheduler.sh - one scheduler for the daemon and for
# `sealpostd --once`: given the same queue, both hand out the same
# batches. 40 due messages with concurrency 4 go to 4 workers, 10 each,
# over one connection per worker; 12 go to 2 workers (at least 8 per
# worker: a reused connection beats a new handshake), 8 and 4. Counted
# from the log (which worker process sent which message) and from the
# connections the smarthost saw. Each message is delivered exactly once.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

numbered() { printf 'To: bob@example.net\nSubject: n%s\nMessage-ID: <n%s@example.org>\n\nmessage %s\n' "$1" "$1" "$1"; }

conn_opens() { grep -c '"conn-open"' "$SMTP_TRANSCRIPT" || true; }

# per worker process, how many messages it sent: "10 10 10 10", sorted
shares() {
	sed -n 's/^sealpostd\[\([0-9]*\)\]: [0-9A-F]*: to=.*status=sent.*/\1/p' "$WLOG" | sort | uniq -c |
		awk '{print $1}' | sort -rn | tr '\n' ' ' | sed 's/ $//'
}

# MODE N WANT_SHARES: queue N messages, deliver them with MODE (once or
# daemon), compare the shares and the connections.
spread() {
	wcase "$1-$2"
	start_smarthost --no-data-transcript
	WCONC=4 wconf "$(relay_conf main "$SMTP_PORT")"
	_i=1
	while [ $_i -le "$2" ]; do numbered $_i | enqueue alice@example.org bob@example.net >/dev/null; _i=$((_i + 1)); done
	if [ "$1" = once ]; then
		run_worker
		[ "$WSTATUS" = 0 ] || fail "--once exit $WSTATUS: $(cat "$WLOG")"
	else
		start_daemon
		wait_delivered "$2" 30 || fail "the daemon did not deliver: $(cat "$WLOG")"
		stop_daemon
	fi
	[ "$(delivered_count)" = "$2" ] || fail "$(delivered_count) delivered, want $2"
	[ "$(queued_count)" = 0 ] || fail "$(queued_count) still queued"
	_got=$(shares)
	echo "# $1, $2 messages, concurrency 4: per worker $_got; $(conn_opens) connection(s)" >&2
	[ "$_got" = "$3" ] || fail "$1: per-worker shares '$_got', want '$3'"
	_workers=$(echo "$3" | wc -w)
	[ "$(conn_opens)" = "$_workers" ] || fail "$1: $(conn_opens) connections for $_workers workers"
}

once_40() { spread once 40 "10 10 10 10"; }
daemon_40() { spread daemon 40 "10 10 10 10"; }
once_12() { spread once 12 "8 4"; }
daemon_12() { spread daemon 12 "8 4"; }

run_cases once_40 daemon_40 once_12 daemon_12
