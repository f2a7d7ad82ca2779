#!/bin/sh
# tests/worker-daemon.sh - sealpostd together with the front end: the
# one-shot worker `sealpost` starts when no daemon runs, -odi exit
# statuses, `sealpost -q`, mailq's last_error, --check-config, usage
# errors, and the daemon (immediate pickup via inotify, one daemon per
# spool, SIGHUP with a broken config, SIGTERM).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
[ -x "$SEALPOST" ] || skip "sealpost is not built"

msg() { printf 'To: %s\nSubject: %s\n\nhello\n' "$B" "$1"; }
submit() { msg "$1" | "$SEALPOST" -C "$CONF" -t "$@"; }

background_kick() {
	# no daemon: sealpost returns at once and a detached worker delivers
	wcase kick
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	_t0=$(date +%s%N)
	msg kick | "$SEALPOST" -C "$CONF" -t || fail "sealpost failed"
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	wait_delivered 1 10 || fail "not delivered by the background worker"
	echo "# sealpost returned after $_ms ms; delivered by the one-shot worker" >&2
	no_cleartext
}

odi_status() {
	wcase odi
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	msg odi | "$SEALPOST" -C "$CONF" -odi -t || fail "-odi: exit $? on delivery"
	wait_delivered 1 5 || fail "not delivered"
	start_smarthost --scenario rcpt-4xx
	wconf "$(relay_conf main "$SMTP_PORT")"
	if msg odi2 | "$SEALPOST" -C "$CONF" -odi -t; then rc=0; else rc=$?; fi
	[ "$rc" = 75 ] || fail "-odi deferred: exit $rc"
	start_smarthost --scenario rcpt-5xx
	wconf "$(relay_conf main "$SMTP_PORT")"
	if msg odi3 | "$SEALPOST" -C "$CONF" -odi -t; then rc=0; else rc=$?; fi
	[ "$rc" = 69 ] || fail "-odi failed: exit $rc"
}

mailq_reason_and_q() {
	wcase mailq
	start_smarthost --scenario no-starttls
	wconf "$(relay_conf main "$SMTP_PORT")"
	msg one | "$SEALPOST" -C "$CONF" -odq -t || fail "queue"
	"$SEALPOST" -C "$CONF" -q 2>>"$WLOG" || fail "sealpost -q: exit $?"
	"$SEALPOST" -C "$CONF" -bp --json > "$CASE/q.json"
	grep -q '"state": "deferred"' "$CASE/q.json" || fail "not deferred: $(cat "$CASE/q.json")"
	grep -q 'STARTTLS not offered' "$CASE/q.json" || fail "reason missing: $(cat "$CASE/q.json")"
	"$SEALPOST" -C "$CONF" -bp | grep -q 'STARTTLS not offered' || fail "mailq lacks the reason"
	no_cleartext
	# fixed relay: -q honours the backoff, --flush does not
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	"$SEALPOSTD" -C "$CONF" --once 2>>"$WLOG"
	[ "$(delivered_count)" = 0 ] || fail "retried before its time"
	"$SEALPOSTD" -C "$CONF" --once --flush 2>>"$WLOG"
	wait_delivered 1 5 || fail "not delivered after --flush"
}

check_config() {
	wcase check-config
	printf 'hunter2-secret\n' > "$CASE/pw"
	wconf "$(relay_conf main 587 starttls 'username = "u"' "password_file = \"$CASE/pw\"")"
	"$SEALPOSTD" -C "$CONF" --check-config > "$CASE/out" 2>&1 || fail "--check-config: exit $?"
	grep -q 'relay "main"' "$CASE/out" || fail "no relay in the dump"
	grep -q 'verify *= "ca"' "$CASE/out" || fail "no policy in the dump"
	! grep -q hunter2 "$CASE/out" || fail "secret printed"
	wconf
	if "$SEALPOSTD" -C "$CONF" --once 2>"$CASE/err"; then rc=0; else rc=$?; fi
	[ "$rc" = 78 ] || fail "no relay: exit $rc"
	grep -q "no relay configured" "$CASE/err" || fail "message: $(cat "$CASE/err")"
	echo 'relay "x" { host = "a" tls = "none" }' >> "$CONF"
	if "$SEALPOSTD" -C "$CONF" --check-config >/dev/null 2>&1; then rc=0; else rc=$?; fi
	[ "$rc" = 78 ] || fail "plaintext relay accepted: exit $rc"
	if "$SEALPOSTD" --bogus-option 2>/dev/null; then rc=0; else rc=$?; fi
	[ "$rc" = 64 ] || fail "unknown option: exit $rc"
	if "$SEALPOSTD" -C "$CONF" --once --probe 2>/dev/null; then rc=0; else rc=$?; fi
	[ "$rc" = 64 ] || fail "conflicting options: exit $rc"
	"$SEALPOSTD" --help | grep -q -- "--once" || fail "--help"
	"$SEALPOSTD" --version | grep -q "^sealpostd " || fail "--version"
}

daemon() {
	wcase daemon
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	start_daemon
	# a second daemon on the same spool refuses to run
	if "$SEALPOSTD" -C "$CONF" 2>"$CASE/second.err"; then rc=0; else rc=$?; fi
	[ "$rc" = 75 ] || fail "second daemon: exit $rc"
	grep -q "another sealpostd daemon" "$CASE/second.err" || fail "$(cat "$CASE/second.err")"
	# pickup latency: queued with -odq (no kick), delivered by the daemon
	_t0=$(date +%s%N)
	msg first | "$SEALPOST" -C "$CONF" -odq -t || fail "queue"
	wait_delivered 1 5 || fail "daemon did not deliver"
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	echo "# queued-to-delivered through the daemon: $_ms ms" >&2
	[ "$_ms" -lt 3000 ] || fail "pickup took $_ms ms"
	# SIGHUP with a broken config: keeps running on the old one
	cp "$CONF" "$CASE/good.conf"
	echo 'this is { not valid' >> "$CONF"
	kill -HUP "$DPID"
	sleep 0.3
	kill -0 "$DPID" || fail "daemon died on a bad reload"
	grep -q "reload failed, keeping the running configuration" "$WLOG" || fail "no reload error logged"
	msg second | "$SEALPOST" -C "$CASE/good.conf" -odq -t || fail "queue"
	wait_delivered 2 5 || fail "not delivered after the failed reload"
	cp "$CASE/good.conf" "$CONF"
	kill -HUP "$DPID"
	sleep 0.3
	grep -q "configuration reloaded" "$WLOG" || fail "good reload not logged"
	stop_daemon
	grep -q "stopped" "$WLOG" || fail "no stop line"
	no_cleartext
}

sigterm_mid_delivery() {
	# every message ends delivered or still queued: never both, never lost
	wcase sigterm
	start_smarthost --scenario slow
	wconf "$(relay_conf main "$SMTP_PORT")"
	for i in 1 2 3 4 5 6; do msg "m$i" | "$SEALPOST" -C "$CONF" -odq -t || fail "queue"; done
	start_daemon
	_n=100
	while ! transcript_tls_c2s | grep -q '^MAIL' && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	kill -TERM "$DPID"
	_t0=$(date +%s%N)
	if wait "$DPID"; then rc=0; else rc=$?; fi
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	[ "$rc" = 0 ] || fail "daemon exit $rc after SIGTERM"
	[ "$_ms" -lt 5000 ] || fail "stopping took $_ms ms"
	_done=$(transcript_events | grep -c '^delivered')
	_left=$(queued_count)
	[ "$_done" -ge 1 ] || fail "the message in flight was abandoned"
	[ $((_done + _left)) = 6 ] || fail "$_done delivered + $_left queued != 6"
	grep -q "stopping: the remaining messages stay queued" "$WLOG" || [ "$_left" = 0 ] || fail "no stop notice"
}

run_cases background_kick odi_status mailq_reason_and_q check_config daemon sigterm_mid_delivery
