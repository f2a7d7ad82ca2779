#!/bin/sh
# tests/queue-control.sh - queue control from the front end: mailq shows
# each pending recipient's last error and next attempt; --hold keeps a
# message from every kind of delivery (-q, --flush, -qI, the daemon) and
# mailq marks it with "!"; --release sends it at once; --delete removes
# it; -qI<id> flushes one message only; and a change made while a worker
# delivers the message waits for the worker's lock and keeps what the
# worker recorded. Who may change which message is tested against the
# installed modes in tests/install-queue.sh (never on a spool opened up
# with chmod).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
[ -x "$SEALPOST" ] || skip "sealpost is not built"

msg() { printf 'To: %s\nSubject: %s\n\nhello\n' "$B" "$1"; }
# queue_id SUBJECT: queue with -odq, print the id
queue_id() {
	msg "$1" | "$SEALPOST" -C "$CONF" -odq -t || fail "queue $1"
	ls -t "$SPOOL/queue" | sed -n 's/\.env$//p' | head -1
}
free_port() { "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sp() { "$SEALPOST" -C "$CONF" "$@"; }

mailq_next_attempt() {
	wcase mailq-next
	wconf "$(relay_conf main "$(free_port)")"
	_id=$(queue_id one)
	sp -q 2>>"$WLOG" || fail "sealpost -q"
	sp -bp > "$CASE/q.txt"
	grep -q "^$_id " "$CASE/q.txt" || fail "id missing: $(cat "$CASE/q.txt")"
	grep -q "Connection refused" "$CASE/q.txt" || fail "last error missing: $(cat "$CASE/q.txt")"
	grep -q "$B.*deferred, attempt 1, next " "$CASE/q.txt" || fail "next attempt missing: $(cat "$CASE/q.txt")"
	sp -bp --json | grep -q '"next_attempt": "20[0-9-]*T' || fail "JSON next_attempt missing"
}

hold_release() {
	wcase hold
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	_id=$(queue_id held)
	sp --hold "$_id" > "$CASE/out" || fail "--hold: exit $?"
	grep -q "^$_id: held$" "$CASE/out" || fail "--hold said: $(cat "$CASE/out")"
	sp -bp | grep -q "^$_id!" || fail "mailq does not mark the held message: $(sp -bp)"
	sp -bp --json | grep -q '"held": true' || fail "JSON not held"
	# no way of running the queue delivers a held message
	sp -q 2>>"$WLOG"
	"$SEALPOSTD" -C "$CONF" --once --flush 2>>"$WLOG"
	sp "-qI$_id" 2>>"$WLOG"
	"$SEALPOSTD" -C "$CONF" 2>>"$WLOG" &
	_dpid=$!
	case_owns "$!"
	sleep 1
	[ "$(delivered_count)" = 0 ] || fail "a held message was delivered"
	# released with the daemon running: it goes out at once
	sp --release "$_id" > "$CASE/out" || fail "--release: exit $?"
	grep -q "^$_id: released$" "$CASE/out" || fail "--release said: $(cat "$CASE/out")"
	wait_delivered 1 5 || fail "not delivered after --release"
	kill -TERM "$_dpid"
	wait "$_dpid" || true
	# released without a daemon: the one-shot worker takes it
	_id=$(queue_id held2)
	sp --hold "$_id" >/dev/null || fail "--hold"
	sp --release "$_id" >/dev/null || fail "--release"
	wait_delivered 2 5 || fail "not delivered by the one-shot worker after --release"
}

release_clears_backoff() {
	wcase release-now
	_port=$(free_port)
	wconf "$(relay_conf main "$_port")"
	_id=$(queue_id deferred)
	sp -q 2>>"$WLOG"
	expect_state "$B" deferred
	start_smarthost
	sed -i "s/port = $_port/port = $SMTP_PORT/" "$CONF"
	sp --hold "$_id" >/dev/null && sp --release "$_id" >/dev/null || fail "hold/release"
	wait_delivered 1 5 || fail "a released message waited for its retry time"
}

delete() {
	wcase delete
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	_id=$(queue_id doomed)
	sp --delete "$_id" > "$CASE/out" || fail "--delete: exit $?"
	grep -q "^$_id: deleted$" "$CASE/out" || fail "--delete said: $(cat "$CASE/out")"
	[ "$(queued_count)" = 0 ] || fail "still queued"
	[ ! -e "$SPOOL/queue/$_id.msg" ] || fail "message file left"
	sp -q 2>>"$WLOG"
	[ "$(delivered_count)" = 0 ] || fail "a deleted message was delivered"
	if sp --delete "$_id" 2>"$CASE/err"; then rc=0; else rc=$?; fi
	[ "$rc" = 67 ] || fail "deleting a missing message: exit $rc"
	grep -q "no such message" "$CASE/err" || fail "message: $(cat "$CASE/err")"
	if sp --hold 2>/dev/null; then rc=0; else rc=$?; fi
	[ "$rc" = 64 ] || fail "--hold without an id: exit $rc"
}

flush_one() {
	wcase flush-one
	_port=$(free_port)
	wconf "$(relay_conf main "$_port")"
	_id1=$(queue_id first)
	_id2=$(queue_id second)
	sp -q 2>>"$WLOG"
	[ "$(queued_count)" = 2 ] || fail "want both deferred"
	start_smarthost
	sed -i "s/port = $_port/port = $SMTP_PORT/" "$CONF"
	sp "-qI$_id2" 2>>"$WLOG" || fail "-qI: exit $?"
	wait_delivered 1 5 || fail "-qI did not deliver"
	[ -e "$SPOOL/queue/$_id1.env" ] || fail "-qI flushed the other message too"
	[ ! -e "$SPOOL/queue/$_id2.env" ] || fail "-qI message still queued"
	grep -q "^Subject: second" "$SMTP_MAILDIR/1.eml" || fail "wrong message delivered"
}

hold_during_delivery() {
	# the worker holds the lock mid-delivery: --hold waits for it and then
	# applies to the state the worker wrote (attempt counted, not lost)
	wcase locked
	start_smarthost --scenario slow --fail-first 1
	wconf "$(relay_conf main "$SMTP_PORT")"
	_id=$(queue_id busy)
	"$SEALPOSTD" -C "$CONF" --once 2>>"$WLOG" &
	_wpid=$!
	case_owns "$!"
	_n=200
	while ! transcript_tls_c2s | grep -q '^MAIL' && [ $_n -gt 0 ]; do sleep 0.02; _n=$((_n - 1)); done
	kill -0 "$_wpid" 2>/dev/null || fail "the worker finished too early for this test"
	_t0=$(date +%s%N)
	sp --hold "$_id" >/dev/null || fail "--hold: exit $?"
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	wait "$_wpid" || true
	echo "# --hold waited $_ms ms for the worker's lock" >&2
	# the 451 comes 0.2 s after MAIL (scenario slow): --hold had to wait
	[ "$_ms" -ge 100 ] || fail "--hold did not wait for the worker ($_ms ms)"
	grep -q '^flags 4$' "$SPOOL/queue/$_id.env" || fail "not held"
	grep -q '^rcpt deferred 1 ' "$SPOOL/queue/$_id.env" ||
		fail "the worker's result was overwritten: $(cat "$SPOOL/queue/$_id.env")"
}

run_cases mailq_next_attempt hold_release release_clears_backoff delete flush_one hold_during_delivery
