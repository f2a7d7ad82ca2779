#!/bin/sh
# tests/ops-metrics.sh - metrics_file (SPEC section 8), read with the
# Prometheus project's own text parser (tests/ops-prom.py): the counters
# and queue figures after deliveries, deferrals, bounces and a hold, the
# relay's last success and its certificate's expiry, mode 0644, the
# counters kept across a daemon restart, and the daemon rewriting the file
# soon after a change (the measured delay is printed; the bound is a
# generous wait for the event, not a timing assertion).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
PROM=/usr/bin/python3
[ -x "$PROM" ] && "$PROM" -c 'import prometheus_client' 2>/dev/null ||
	skip "python3-prometheus-client is not installed"
PROMPY="$top_srcdir/tests/ops-prom.py"

mconf() { wconf "metrics_file = \"$CASE/sealpost.prom\"" "$@"; }
# metric NAME [L=V...]: the sample's value ("absent" when missing)
metric() { "$PROM" "$PROMPY" "$CASE/sealpost.prom" "$@" 2>/dev/null || echo absent; }
expect_metric() {
	_want=$1
	shift
	_got=$(metric "$@")
	[ "$_got" = "$_want" ] || fail "$(basename "$CASE"): $* = $_got, want $_want; file:
$(cat "$CASE/sealpost.prom")"
}
# wait_metric WANT NAME [L=V...]: until the file says so (bounded:
# WAIT_S seconds, 10 by default; the 10,000-message case gives a loaded
# machine or a sanitizer build more)
wait_metric() {
	_w=$1
	shift
	_end=$(( $(date +%s) + ${WAIT_S:-10} ))
	while [ "$(metric "$@")" != "$_w" ] && [ "$(date +%s)" -le "$_end" ]; do
		sleep 0.02
	done
}
msg() { printf 'To: bob@example.net\nSubject: %s\n\nhello\n' "$1"; }

deliveries() {
	wcase deliveries
	start_smarthost
	mconf "$(relay_conf main "$SMTP_PORT")"
	msg one | enqueue alice@example.org bob@example.net >/dev/null
	msg two | enqueue alice@example.org bob@example.net carol@example.net >/dev/null
	run_worker
	[ "$WSTATUS" = 0 ] || fail "worker exit $WSTATUS"
	expect_metric 3 sealpost_deliveries_total relay=main status=sent
	expect_metric 0 sealpost_deliveries_total relay=main status=deferred
	expect_metric 0 sealpost_deliveries_total relay=main status=bounced
	for st in pending deferred held; do expect_metric 0 sealpost_queue_messages state=$st; done
	expect_metric 0 sealpost_queue_oldest_seconds
	_ls=$(metric sealpost_relay_last_success_timestamp_seconds relay=main)
	_now=$(date +%s)
	[ "$_ls" != absent ] && [ $((_now - _ls)) -ge 0 ] && [ $((_now - _ls)) -lt 60 ] ||
		fail "last success $_ls, now $_now"
	# the certificate the smarthost presented: its notAfter
	_exp=$(openssl x509 -in "$CERTS/server.pem" -noout -enddate | sed 's/^notAfter=//')
	_exp=$(date -d "$_exp" +%s)
	expect_metric "$_exp" sealpost_tls_peer_cert_expiry_timestamp_seconds relay=main
	[ "$(stat -c %a "$CASE/sealpost.prom")" = 644 ] || fail "mode $(stat -c %a "$CASE/sealpost.prom")"
	# nothing left over from the atomic replacement
	[ "$(ls "$CASE" | grep -c 'sealpost.prom.*tmp')" = 0 ] || fail "temporary file left: $(ls "$CASE")"
	[ "$(ls "$SPOOL/state" | grep -c 'tmp')" = 0 ] || fail "temporary state file left: $(ls "$SPOOL/state")"
	# a second run adds to the counters kept in the spool, and removes what a
	# writer killed mid-write left beside the file (an old one, not a fresh one)
	touch -d '-1 hour' "$CASE/sealpost.prom.99998.tmp"
	touch "$CASE/sealpost.prom.99999.tmp"
	msg three | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	[ ! -e "$CASE/sealpost.prom.99998.tmp" ] || fail "stale temporary file left"
	[ -e "$CASE/sealpost.prom.99999.tmp" ] || fail "a fresh temporary file (a writer at work) was removed"
	expect_metric 4 sealpost_deliveries_total relay=main status=sent
	# that run resumed the TLS session (spool/tls-cache): the expiry stays known
	expect_metric "$_exp" sealpost_tls_peer_cert_expiry_timestamp_seconds relay=main
}

deferrals_bounces_hold() {
	wcase deferrals
	start_smarthost --scenario rcpt-4xx
	mconf "$(relay_conf main "$SMTP_PORT")"
	msg d1 | enqueue alice@example.org bob@example.net >/dev/null
	msg d2 | enqueue -a 600 alice@example.org bob@example.net >/dev/null
	msg h1 | enqueue -H alice@example.org bob@example.net >/dev/null
	run_worker
	expect_metric 2 sealpost_deliveries_total relay=main status=deferred
	expect_metric 0 sealpost_deliveries_total relay=main status=sent
	expect_metric 2 sealpost_queue_messages state=deferred
	expect_metric 0 sealpost_queue_messages state=pending
	expect_metric 1 sealpost_queue_messages state=held
	_old=$(metric sealpost_queue_oldest_seconds)
	[ "$_old" -ge 600 ] && [ "$_old" -lt 700 ] || fail "oldest $_old s, want about 600"
	expect_metric absent sealpost_relay_last_success_timestamp_seconds relay=main
	stop_smarthost

	wcase bounces
	start_smarthost --scenario rcpt-5xx
	mconf "$(relay_conf main "$SMTP_PORT")"
	msg b1 | enqueue '' bob@example.net >/dev/null  # null sender: no DSN
	msg b2 | enqueue '' bob@example.net carol@example.net >/dev/null
	run_worker
	expect_metric 3 sealpost_deliveries_total relay=main status=bounced
	expect_metric 0 sealpost_queue_messages state=pending
}

# A relay that cannot be reached: the deferral counts against it too.
unreachable() {
	wcase unreachable
	start_smarthost
	_port=$SMTP_PORT
	stop_smarthost
	mconf "$(relay_conf main "$_port")"
	msg u1 | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	expect_metric 1 sealpost_deliveries_total relay=main status=deferred
	expect_metric 1 sealpost_queue_messages state=deferred
	expect_metric absent sealpost_tls_peer_cert_expiry_timestamp_seconds relay=main
}

daemon_restart() {
	wcase daemon
	start_smarthost
	mconf "$(relay_conf main "$SMTP_PORT")"
	start_daemon
	wait_for_file "$CASE/sealpost.prom" 10 || fail "no metrics file"
	expect_metric 0 sealpost_deliveries_total relay=main status=sent
	_t0=$(date +%s%N)
	msg r1 | "$SEALPOST" -C "$CONF" -odq -t || fail "sealpost -odq"
	wait_metric 1 sealpost_deliveries_total relay=main status=sent
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	expect_metric 1 sealpost_deliveries_total relay=main status=sent
	echo "# daemon: queued to the metrics file saying sent: $_ms ms" >&2
	wait_metric 0 sealpost_queue_messages state=pending
	expect_metric 0 sealpost_queue_messages state=pending
	# a held message appears; deleted, it goes (no delivery involved)
	_h=$(msg h | enqueue -H alice@example.org bob@example.net)
	wait_metric 1 sealpost_queue_messages state=held
	expect_metric 1 sealpost_queue_messages state=held
	"$SEALPOST" -C "$CONF" --delete "$_h" >/dev/null || fail "sealpost --delete"
	wait_metric 0 sealpost_queue_messages state=held
	expect_metric 0 sealpost_queue_messages state=held
	stop_daemon
	: > "$WLOG"
	start_daemon
	msg r2 | "$SEALPOST" -C "$CONF" -odq -t || fail "sealpost -odq"
	wait_metric 2 sealpost_deliveries_total relay=main status=sent
	expect_metric 2 sealpost_deliveries_total relay=main status=sent
	stop_daemon
}

# 10,000 queued: the figures are right, and a hold is in the file within
# a bounded wait (the measured delay is printed).
full_spool() {
	wcase full
	start_smarthost
	mconf "$(relay_conf main "$SMTP_PORT")"
	_oldest=$("$PROM" "$top_srcdir/tests/ops-fill.py" "$SPOOL" 6000 4000 5000)
	WAIT_S=120 # each rewrite reads 10,000 envelopes: slow under ASan on a busy machine
	start_daemon
	wait_metric 6000 sealpost_queue_messages state=deferred
	expect_metric 6000 sealpost_queue_messages state=deferred
	expect_metric 4000 sealpost_queue_messages state=held
	expect_metric 0 sealpost_queue_messages state=pending
	_old=$(metric sealpost_queue_oldest_seconds)
	[ "$_old" -ge 5000 ] && [ "$_old" -lt 5300 ] || fail "oldest $_old s, want about 5000"
	_t0=$(date +%s%N)
	"$SEALPOST" -C "$CONF" --hold "$_oldest" >/dev/null || fail "sealpost --hold $_oldest"
	wait_metric 4001 sealpost_queue_messages state=held
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	expect_metric 4001 sealpost_queue_messages state=held
	expect_metric 5999 sealpost_queue_messages state=deferred
	echo "# 10,000 queued: a hold reached the metrics file after $_ms ms" >&2
	_t0=$(date +%s%N)
	msg new | "$SEALPOST" -C "$CONF" -odq -t || fail "sealpost -odq"
	wait_metric 1 sealpost_deliveries_total relay=main status=sent
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	expect_metric 1 sealpost_deliveries_total relay=main status=sent
	echo "# 10,000 queued: a new message delivered and counted in the file after $_ms ms" >&2
	stop_daemon
	# --health over the same spool (its run time is a benchmark figure)
	_t0=$(date +%s%N)
	"$SEALPOSTD" -C "$CONF" --health --max-age 2h >/dev/null || fail "--health: unhealthy"
	echo "# 10,000 queued: sealpostd --health took $(( ($(date +%s%N) - _t0) / 1000000 )) ms" >&2
}

# metrics_file in a directory that does not exist: mail flows, and the
# problem is logged once, not on every rewrite.
unwritable() {
	wcase unwritable
	start_smarthost
	wconf "metrics_file = \"$CASE/missing/sealpost.prom\"" "$(relay_conf main "$SMTP_PORT")"
	start_daemon
	for i in 1 2 3; do
		msg "u$i" | "$SEALPOST" -C "$CONF" -odq -t || fail "sealpost -odq"
		wait_delivered "$i" 20 || fail "not delivered"
	done
	stop_daemon
	_n=$(grep -c "metrics_file: cannot create $CASE/missing/sealpost.prom" "$WLOG")
	[ "$_n" = 1 ] || fail "warned $_n times: $(cat "$WLOG")"
}

run_cases ${ONLY:-deliveries deferrals_bounces_hold unreachable daemon_restart unwritable full_spool}
