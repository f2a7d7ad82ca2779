#!/bin/sh
# tests/queue-retry.sh - retries and failover: a 4xx is retried after
# retry_min and then delivered; the backoff doubles per attempt up to
# retry_max and is kept in the spool (each run is a new process); relays
# are tried in config order and a first relay that refuses STARTTLS, shows
# a bad certificate, is down or answers 421 at the greeting passes the
# message to the second within the same attempt; sender-dependent relays
# fail over only to relays that may carry that sender.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

# next_attempt of ADDR minus now, in seconds
wait_left() {
	"$PYTHON3" - "$SPOOL" "$1" <<'EOF'
import os, sys, time
spool, addr = sys.argv[1], sys.argv[2]
q = os.path.join(spool, "queue")
for name in os.listdir(q):
    if name.endswith(".env"):
        for line in open(os.path.join(q, name)):
            f = line.split()
            if f[0] == "rcpt" and f[5] == addr:
                print(int(f[3]) - int(time.time()))
                sys.exit(0)
print("gone")
EOF
}

retry_then_success() {
	wcase retry
	start_smarthost --fail-first 1
	# 8 s: room for the early run below on a loaded machine (next_attempt
	# has whole seconds, so a short retry_min can fall due within ~1 s)
	WRETRY_MIN=8s wconf "$(relay_conf main "$SMTP_PORT")"
	default_message | enqueue "$A" "$B" >/dev/null
	run_worker
	expect_state "$B" deferred "451 4.3.0"
	case $(rcpt_state "$B") in deferred\|1\|*) ;; *) fail "attempts: $(rcpt_state "$B")" ;; esac
	# not before its time: a run while it is not due leaves it alone
	[ "$(wait_left "$B")" -ge 2 ] || fail "retry_min 8s left under 2 s: $(wait_left "$B")"
	run_worker
	case $(rcpt_state "$B") in deferred\|1\|*) ;; *) fail "retried early: $(rcpt_state "$B")" ;; esac
	# wait for the due time (bounded), then a run delivers it
	_n=240
	while [ "$(wait_left "$B")" -gt 0 ] && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	run_worker
	expect_state "$B" gone
	wait_delivered 1 5 || fail "not delivered on the retry"
	[ "$(transcript_events | grep -c '^delivered')" = 1 ] || fail "delivered more than once"
	no_cleartext
}

backoff_doubles() {
	wcase backoff
	start_smarthost --scenario mail-4xx
	WRETRY_MIN=10s wconf "$(relay_conf main "$SMTP_PORT")"
	sed -i 's/retry_max = 1h/retry_max = 35s/' "$CONF"
	default_message | enqueue "$A" "$B" >/dev/null
	for want in 10 20 35 35; do
		run_worker --flush
		_left=$(wait_left "$B")
		[ "$_left" -ge $((want - 2)) ] && [ "$_left" -le "$want" ] ||
			fail "after attempt: next in $_left s, want about $want (retry_min 10s doubling, retry_max 35s)"
	done
	case $(rcpt_state "$B") in deferred\|4\|*) ;; *) fail "attempts: $(rcpt_state "$B")" ;; esac
}

# failover_case NAME [smarthost args for the first relay]: the first relay
# fails in that way, the second delivers; prints nothing, asserts the log.
failover_case() {
	wcase "failover-$1"
	shift
	if [ "$1" = down ]; then
		_first=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	else
		start_smarthost "$@"
		_first=$SMTP_PORT
	fi
	start_smarthost
	wconf "$(relay_conf first "$_first")" "$(relay_conf second "$SMTP_PORT" | sed '/^tls_policy/,$d')"
	default_message | enqueue "$A" "$B" >/dev/null
	run_worker
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS"
	expect_state "$B" gone
	wait_delivered 1 5 || fail "not delivered via the second relay; log: $(cat "$WLOG")"
	expect_log "relay first 127.0.0.1[127.0.0.1]:$_first: delivery not possible"
	expect_log "to=<$B>, relay=127.0.0.1[127.0.0.1]:$SMTP_PORT"
	no_cleartext
}

failover_starttls_refused() {
	failover_case starttls-454 --scenario starttls-454
	expect_log "STARTTLS refused: 454"
}
failover_bad_certificate() {
	failover_case bad-cert --cert "$CERTS/expired.pem" --key "$CERTS/expired.key"
	expect_log "certificate expired"
	_t=$(ls "$CASE"/transcript.jsonl)
	[ -z "$(transcript_tls_c2s "$_t")" ] || fail "client spoke inside the unverified session"
}
failover_down() {
	failover_case down down
	expect_log "Connection refused"
}
failover_greeting_421() {
	failover_case greeting-421 --max-connections 0
	expect_log "421 4.7.0 Too many connections"
}

sender_failover() {
	# a tenant's mail: its own relay first, then the generic one; other
	# senders never touch the tenant's relay
	wcase sender-failover
	_down=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	start_smarthost
	wconf "$(relay_conf tenant "$_down" starttls 'senders = {"*@tenant.example"}')" \
		"$(relay_conf main "$SMTP_PORT" | sed '/^tls_policy/,$d')"
	default_message | enqueue "$A" "$B" >/dev/null
	run_worker
	expect_no_log "relay tenant"
	wait_delivered 1 5 || fail "generic relay did not deliver"
	default_message | enqueue "x@tenant.example" "$B" >/dev/null
	run_worker
	expect_log "relay tenant 127.0.0.1[127.0.0.1]:$_down: delivery not possible"
	wait_delivered 2 5 || fail "tenant mail did not fail over to the generic relay"
	grep -q '"mail_from": "x@tenant.example"' "$SMTP_MAILDIR/2.json" || fail "wrong message at the generic relay"
}

sender_without_relay() {
	# no relay may carry this sender: it stays queued with a clear reason
	wcase no-relay-for-sender
	start_smarthost
	wconf "$(relay_conf tenant "$SMTP_PORT" starttls 'senders = {"*@tenant.example"}')"
	default_message | enqueue "$A" "$B" >/dev/null
	run_worker
	expect_state "$B" deferred "no relay is configured for sender <$A>"
	[ "$(delivered_count)" = 0 ] || fail "delivered through a relay not meant for this sender"
}

run_cases retry_then_success backoff_doubles failover_starttls_refused failover_bad_certificate \
	failover_down failover_greeting_421 sender_failover sender_without_relay
