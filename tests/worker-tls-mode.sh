#!/bin/sh
# tests/worker-tls-mode.sh - a tls mode that does not match the port is
# named, with what to set, in the log line and in mailq's last_error
# (issue 15 item 4), under the DEFAULT timeouts (command = 5m):
#   tls = "starttls" against an implicit-TLS port (the test smarthost in
#   implicit mode, Postfix's smtps port): said in under 10 s;
#   a server that sends a TLS record where the greeting belongs;
#   tls = "implicit" against a port that greets in plaintext (the test
#   smarthost, Postfix's submission port): the reverse hint;
#   a plaintext server that is merely slow to greet is NOT misdiagnosed.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

# the default timeouts: nothing but the relay and spool
dconf() {
	{
		echo "hostname = \"client.example.org\""
		echo "domain = \"example.org\""
		echo "spool_dir = \"$SPOOL\""
		echo "log = \"stderr\""
		for l in "$@"; do printf '%s\n' "$l"; done
	} > "$CONF"
}

# expect_hint TEXT: in the log line and in mailq's last_error
expect_hint() {
	expect_log "$1"
	"$SEALPOST" -C "$CONF" -bp --json > "$CASE/mailq.json" 2>&1 || fail "mailq failed: $(cat "$CASE/mailq.json")"
	grep -qF -- "$(printf '%s' "$1" | sed 's/"/\\"/g')" "$CASE/mailq.json" ||
		fail "$(basename "$CASE"): mailq lacks \"$1\": $(cat "$CASE/mailq.json")"
}

# attempt_hint TEXT CONF-LINE...: with a config of the lines, one attempt at
# one message ends in under 10 s with the hint TEXT (expect_hint)
attempt_hint() {
	_hint=$1; shift
	dconf "$@"
	default_message | enqueue alice@example.org "$B" >/dev/null
	run_worker
	[ "$WMS" -lt 10000 ] || fail "took $WMS ms"
	expect_hint "$_hint"
}

starttls_on_implicit_port() {
	wcase starttls-on-465
	start_smarthost --mode implicit
	attempt_hint "port $SMTP_PORT expects TLS from the first byte: set tls = \"implicit\"" \
		"$(relay_conf main "$SMTP_PORT" starttls)"
	expect_state "$B" deferred
	expect_log "no greeting after 3 s, and the port answers a TLS handshake"
	[ "$(delivered_count)" = 0 ] || fail "delivered"
}

tls_record_before_greeting() {
	wcase tls-record
	"$PYTHON3" - "$CASE/port" <<'PY' &
import socket, sys, os
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(30)
c, _ = s.accept()
c.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # a TLS alert record
c.settimeout(10)
try:
    c.recv(100)
except OSError:
    pass
PY
	case_owns $!
	wait_for_file "$CASE/port" 10 || fail "no server"
	attempt_hint "the server sent a TLS record instead of a greeting: port $(cat "$CASE/port") expects TLS from the first byte: set tls = \"implicit\"" \
		"$(relay_conf main "$(cat "$CASE/port")" starttls)"
}

implicit_on_starttls_port() {
	wcase implicit-on-587
	start_smarthost
	attempt_hint "An unexpected TLS packet was received.: port $SMTP_PORT greets in plaintext (STARTTLS): set tls = \"starttls\"" \
		"$(relay_conf main "$SMTP_PORT" implicit)"
	expect_state "$B" deferred
}

slow_greeting_is_not_tls() {
	# greets after 3.2 s in plaintext: the probe finds no TLS, the session
	# goes on and the message is delivered
	wcase slow-greeting
	start_smarthost --delay 3.2
	dconf "$(relay_conf main "$SMTP_PORT" starttls)"
	default_message | enqueue alice@example.org "$B" >/dev/null
	run_worker
	expect_state "$B" gone
	expect_no_log "expects TLS from the first byte"
}

postfix_ports() {
	wcase postfix
	start_postfix
	_policy="tls_policy \"127.0.0.1\" { verify = \"ca\" ca_file = \"$PF_CA\" verify_name = \"localhost\" }"
	attempt_hint "port $PF_SMTPS_PORT expects TLS from the first byte: set tls = \"implicit\"" \
		"$(RELAY_POLICY=no relay_conf smtps "$PF_SMTPS_PORT" starttls)" "$_policy"
	wcase postfix-reverse
	attempt_hint "greets in plaintext (STARTTLS): set tls = \"starttls\"" \
		"$(RELAY_POLICY=no relay_conf submission "$PF_SUBMISSION_PORT" implicit)" "$_policy"
}

run_cases starttls_on_implicit_port tls_record_before_greeting implicit_on_starttls_port \
	slow_greeting_is_not_tls postfix_ports
