#!/bin/sh
# tests/queue-throttle.sh - throttling and quota replies are deferrals of
# the relay, never bounces (issue 13, item 1), and "too many recipients" is
# a new transaction at once (item 2). Against the test smarthost with the
# providers' documented texts (tests/smarthost_throttle.py): each reply
# leaves the message deferred (no DSN queued), puts the relay in a back-off
# persisted in spool/relays/ (retry_min, doubling per throttle in a row)
# that every later message honours without contacting the relay, logs one
# line per episode, fails over to the next relay meanwhile, and ends at the
# first successful transaction. No long sleeps: the provider cases run
# with retry_min = 1m (robust on a loaded machine) and end the back-off by
# moving its end into the past (a fake clock); the doubling and the
# daemon's retry time use retry_min = 2s and wait for that point in time.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

# "LEVEL UNTIL" of relay NAME's back-off file, "none" without one
backoff_of() {
	_f="$SPOOL/relays/$1.backoff"
	[ -f "$_f" ] || { echo none; return; }
	printf '%s %s\n' "$(sed -n 's/^level //p' "$_f")" "$(sed -n 's/^until //p' "$_f")"
}

# next_attempt (Unix time) of ADDR
next_attempt() {
	"$PYTHON3" - "$SPOOL" "$1" <<'EOF'
import os, sys
q = os.path.join(sys.argv[1], "queue")
for name in os.listdir(q):
    if name.endswith(".env"):
        for line in open(os.path.join(q, name)):
            f = line.split()
            if f[0] == "rcpt" and f[5] == sys.argv[2]:
                print(f[3]); sys.exit(0)
print("gone")
EOF
}

# wait (bounded) until the Unix time $1 has passed
wait_past() {
	_n=200
	while [ "$(date +%s)" -le "$1" ] && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	[ "$(date +%s)" -gt "$1" ] || fail "clock did not pass $1"
}

mail_commands() { grep -c '"dir": "c2s".*"data": "MAIL FROM' "${1:-$SMTP_TRANSCRIPT}" || true; }
episodes() { grep -c ': throttled (' "$WLOG" || true; }
queued_messages() { ls "$SPOOL/queue" | grep -c '\.env$' || true; }

# throttle_case SCENARIO TEXT: the reply defers, the relay backs off for
# every message, the episode is logged once and ends with the delivery
throttle_case() {
	wcase "$1"
	if [ -n "${WITH_AUTH:-}" ]; then
		start_smarthost --scenario "$1" --auth "app:secret"
		printf 'secret\n' > "$CASE/pw"
		chmod 600 "$CASE/pw"
		WRETRY_MIN=1m wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "app"' \
			"password_file = \"$CASE/pw\"")"
	else
		start_smarthost --scenario "$1"
		WRETRY_MIN=1m wconf "$(relay_conf main "$SMTP_PORT")"
	fi
	default_message | enqueue "$A" "$B" >/dev/null
	_start=$(date +%s)
	run_worker
	_end=$(date +%s)
	expect_state "$B" deferred "$2"
	[ "$(queued_messages)" = 1 ] || fail "$1: a notification was queued for a throttled message"
	set -- "$1" "$(backoff_of main)"
	case $2 in "1 "*) ;; *) fail "$1: back-off after the first throttle: '$2', want level 1" ;; esac
	_until=${2#1 }
	[ "$_until" -ge $((_start + 60)) ] && [ "$_until" -le $((_end + 60)) ] ||
		fail "$1: back-off until $_until, want the time of the throttle ($_start..$_end) + retry_min (1m)"
	[ "$(next_attempt "$B")" = "$_until" ] || fail "$1: retry at $(next_attempt "$B"), want the relay's $_until"
	[ "$(episodes)" = 1 ] || fail "$1: $(episodes) throttle lines, want 1: $(cat "$WLOG")"
	expect_log "the relay backs off for 1m"

	# a new message waits for the relay: not tried, not even connected
	_mails=$(mail_commands)
	_conns=$(transcript_events | grep -c '^conn-open')
	default_message | enqueue "$A" "$C" >/dev/null
	run_worker
	expect_state "$C" deferred "relay main is throttled"
	[ "$(next_attempt "$C")" = "$_until" ] || fail "$1: new message retries at $(next_attempt "$C"), want $_until"
	[ "$(mail_commands)" = "$_mails" ] && [ "$(transcript_events | grep -c '^conn-open')" = "$_conns" ] ||
		fail "$1: the relay was contacted during its back-off"
	[ "$(episodes)" = 1 ] || fail "$1: a second throttle line for the same episode"

	# the back-off ends (its end moved into the past: a fake clock; --flush
	# for the messages' own retry time): both go, the episode ends, once
	sed -i "s/^until .*/until $(($(date +%s) - 1))/" "$SPOOL/relays/main.backoff"
	run_worker --flush
	expect_state "$B" gone
	expect_state "$C" gone
	wait_delivered 2 5 || fail "$1: not delivered after the back-off"
	expect_log "relay main 127.0.0.1[127.0.0.1]:$SMTP_PORT: no longer throttled"
	[ "$(backoff_of main)" = none ] || fail "$1: back-off file left after a success"
	[ "$(grep -c 'status=bounced' "$WLOG")" = 0 ] || fail "$1: bounced"
	no_cleartext
}

google_421_greeting() { throttle_case throttle-421-greeting "421 4.7.0 Try again later, closing connection."; }
google_421_mail() { throttle_case throttle-421-mail "421 4.7.0 Try again later"; }
google_421_auth() { WITH_AUTH=1 throttle_case throttle-421-auth "421 4.7.0 Try again later"; }
m365_432() { throttle_case throttle-432-m365 "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"; }
ses_454_rate() { throttle_case throttle-454-ses "454 Throttling failure: Maximum sending rate exceeded"; }
ses_454_quota() { throttle_case throttle-454-ses-quota "454 Throttling failure: Daily message quota exceeded"; }
rate_451() { throttle_case throttle-451-rate "451 4.7.1 Error: too many messages, rate limit exceeded"; }
google_550_quota() { throttle_case quota-550-google "550 5.4.5 Daily user sending limit exceeded."; }
m365_554_quota() { throttle_case quota-554-m365 "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"; }

backoff_doubles() {
	# throttled again when the back-off ends: the same episode (one line),
	# twice as long (retry_min 2s -> 4s), then over
	wcase backoff-doubles
	start_smarthost --scenario throttle-421-greeting --throttle-count 2
	WRETRY_MIN=2s wconf "$(relay_conf main "$SMTP_PORT")"
	default_message | enqueue "$A" "$B" >/dev/null
	run_worker
	_b=$(backoff_of main)
	wait_past "${_b#1 }"
	_t1=$(date +%s)
	run_worker
	_t2=$(date +%s)
	expect_state "$B" deferred "421 4.7.0"
	_b=$(backoff_of main)
	case $_b in "2 "*) ;; *) fail "second throttle: back-off '$_b', want level 2" ;; esac
	_until=${_b#2 }
	[ "$_until" -ge $((_t1 + 4)) ] && [ "$_until" -le $((_t2 + 4)) ] ||
		fail "second back-off until $_until, want the throttle ($_t1..$_t2) + 4 s (doubled)"
	[ "$(episodes)" = 1 ] || fail "$(episodes) throttle lines for one episode"
	wait_past "$_until"
	run_worker
	expect_state "$B" gone
	expect_log "no longer throttled (after"
	expect_log "2 back-off(s))"
}

failover_meanwhile() {
	# the first relay throttles (SES): the second takes the message at
	# once, and the next message goes to it without touching the first
	wcase failover-meanwhile
	start_smarthost --scenario throttle-454-ses
	_first=$SMTP_PORT _first_t=$SMTP_TRANSCRIPT
	start_smarthost
	wconf "$(relay_conf first "$_first")" "$(relay_conf second "$SMTP_PORT" | sed '/^tls_policy/,$d')"
	default_message | enqueue "$A" "$B" >/dev/null
	run_worker
	expect_state "$B" gone
	wait_delivered 1 5 || fail "not delivered via the second relay"
	case $(backoff_of first) in "1 "*) ;; *) fail "first relay not backing off" ;; esac
	expect_log "relay first 127.0.0.1[127.0.0.1]:$_first: throttled"
	default_message | enqueue "$A" "$C" >/dev/null
	run_worker
	expect_state "$C" gone
	wait_delivered 2 5 || fail "second message not delivered via the second relay"
	[ "$(mail_commands "$_first_t")" = 1 ] || fail "the throttled relay was asked again during its back-off"
	[ "$(episodes)" = 1 ] || fail "$(episodes) throttle lines"
}

daemon_sleeps_until_backoff_ends() {
	# the daemon: a throttled message is retried when the relay's back-off
	# ends (not before: the server sees exactly two transactions)
	wcase daemon-backoff
	start_smarthost --scenario throttle-421-mail
	WRETRY_MIN=2s wconf "$(relay_conf main "$SMTP_PORT")"
	start_daemon
	default_message | enqueue "$A" "$B" >/dev/null
	wait_delivered 1 15 || fail "daemon did not deliver after the back-off: $(cat "$WLOG")"
	stop_daemon
	"$PYTHON3" - "$SMTP_TRANSCRIPT" <<'EOF' || fail "retry timing"
import json, sys
thr = dlv = None
mails = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["dir"] == "event" and r["data"] == "throttled mail": thr = r["t"]
    if r["dir"] == "event" and r["data"].startswith("delivered"): dlv = r["t"]
    if r["dir"] == "c2s" and r["data"].startswith("MAIL FROM"): mails += 1
assert thr and dlv, (thr, dlv)
assert dlv - thr >= 1.0, "retried %.2f s after the throttle, before the back-off ended" % (dlv - thr)
assert mails == 2, "%d MAIL commands: the daemon tried during the back-off" % mails
EOF
	[ "$(episodes)" = 1 ] || fail "$(episodes) throttle lines"
}

# too_many CASE SCENARIO LIMIT NRCPTS WANT-SIZES: one run, one connection,
# transactions of the given recipient counts, nothing deferred or bounced
too_many() {
	wcase "$1"
	start_smarthost --scenario "$2" --rcpt-limit "$3"
	wconf "$(relay_conf main "$SMTP_PORT")"
	_rcpts=""
	_i=1
	while [ $_i -le "$4" ]; do _rcpts="$_rcpts r$_i@example.net"; _i=$((_i + 1)); done
	# shellcheck disable=SC2086
	default_message | enqueue "$A" $_rcpts >/dev/null
	run_worker
	[ "$WSTATUS" = 0 ] || fail "$1: exit $WSTATUS: $(cat "$WLOG")"
	[ "$(queued_messages)" = 0 ] || fail "$1: still queued"
	"$PYTHON3" - "$SMTP_MAILDIR" "$5" "$4" <<'EOF' || fail "$1: transactions"
import glob, json, os, sys
metas = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")),
                                             key=lambda p: int(os.path.basename(p)[:-5]))]
sizes = ",".join(str(len(m["rcpt_to"])) for m in metas)
assert sizes == sys.argv[2], "recipients per transaction %s, want %s" % (sizes, sys.argv[2])
got = sorted(r for m in metas for r in m["rcpt_to"])
assert got == sorted("r%d@example.net" % i for i in range(1, int(sys.argv[3]) + 1)), got
assert len({m["conn"] for m in metas}) == 1, "not on one connection"
EOF
	expect_no_log "status=deferred"
	expect_no_log "status=bounced"
}

rcpt_limit_rfc() { too_many rcpt-limit rcpt-limit 2 5 "2,2,1"; }
rcpt_limit_google() { too_many rcpt-limit-google rcpt-limit-google 2 3 "2,1"; }

rcpt_limit_none_accepted() {
	# a server that takes no recipient at all (452 to the first): no
	# endless new transactions; deferred like any 4xx, never bounced
	wcase rcpt-limit-zero
	start_smarthost --scenario rcpt-limit --rcpt-limit 0
	wconf "$(relay_conf main "$SMTP_PORT")"
	default_message | enqueue "$A" "$B" "$C" >/dev/null
	run_worker
	expect_state "$B" deferred "452 4.5.3 Too many recipients"
	expect_state "$C" deferred "452 4.5.3 Too many recipients"
	[ "$(mail_commands)" = 1 ] || fail "$(mail_commands) transactions for a server that takes none"
	[ "$(queued_messages)" = 1 ] || fail "a notification was queued"
}

run_cases google_421_greeting google_421_mail google_421_auth m365_432 ses_454_rate ses_454_quota rate_451 \
	google_550_quota m365_554_quota backoff_doubles failover_meanwhile daemon_sleeps_until_backoff_ends \
	rcpt_limit_rfc rcpt_limit_google rcpt_limit_none_accepted
