#!/bin/sh
# tests/oauth-postfix.sh - OAuth 2.0 against a server stack we did not
# write: a private Postfix whose SASL is a private Dovecot with the oauth2
# passdb, which validates every token through the test token endpoint's
# introspection URL (tests/oauth-endpoint.py). sealpost queues, sealpostd
# gets its tokens itself and delivers with XOAUTH2 and OAUTHBEARER, with
# the client_credentials and the refresh_token grants. Also: one refresh
# serves many messages; a token the server refuses is refreshed once and
# retried; a refused refresh defers (never bounces) and mailq says what to
# run; no secret in argv, environment, logs, mailq or the spool.
# Skips (77) unless root with Postfix and Dovecot installed.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/oauth-lib.sh"

[ -x "$SEALPOST" ] && [ -x "$SEALPOSTD" ] || skip "sealpost/sealpostd not built"
[ -x "$top_builddir/src/oauth/sealpost-oauth" ] || skip "built without OAuth (libcurl, json-c)"
need_certs
[ "$(id -u)" = 0 ] || skip "needs root (Postfix, Dovecot)"
command -v dovecot >/dev/null 2>&1 || skip "dovecot-core is not installed"
USER_ADDR=sealtest@sealpost.test
start_oauth_endpoint --user "$USER_ADDR" --rotate --refresh-token rt-initial
start_postfix_oauth

# conf NAME GRANT AUTH: a relay to Postfix's submission port with oauth2.
conf() {
	spool="$T/spool.$1"
	mkdir -p "$spool"
	cat > "$T/conf.$1" <<EOF
hostname = "client.example.org"
domain = "example.org"
spool_dir = "$spool"
metrics_file = "$T/metrics.$1.prom"
log = "stderr"
relay "pf" {
  host = "127.0.0.1"
  port = $PF_SUBMISSION_PORT
  username = "$USER_ADDR"
  auth = "$3"
$(oauth_block x "$2")
}
tls_policy "127.0.0.1" { verify = "ca" ca_file = "$PF_CA" verify_name = "localhost" }
queue { retry_min = 1m retry_max = 1h }
timeouts { connect = 10s command = 30s data = 30s }
EOF
}

# send NAME N: queue N messages for distinct recipients.
send() {
	i=1
	while [ "$i" -le "$2" ]; do
		printf 'Subject: oauth %s %s\n\nbody %s\n' "$1" "$i" "$i" |
			"$SEALPOST" -C "$T/conf.$1" -odq -f "sender@example.org" "r-$1-$i@$PF_DOMAIN" ||
			fail "$1: cannot queue"
		i=$((i + 1))
	done
}

delivered=0
# logins MECH: how many SASL logins with MECH the Postfix log has so far.
logins() { grep -c "sasl_method=$1, sasl_username=$USER_ADDR" "$PF_LOG" || true; }
# run NAME GRANT AUTH MECH N: deliver N messages, check Postfix saw MECH.
run() {
	seen=$(logins "$4")
	conf "$1" "$2" "$3"
	if [ "$2" = refresh_token ]; then
		# the first refresh token, as --oauth-login would store it
		mkdir -p "$T/spool.$1/oauth"
		printf 'sealpost-oauth 1\nrefresh_token rt-initial\n' > "$T/spool.$1/oauth/pf"
		chmod 600 "$T/spool.$1/oauth/pf"
	fi
	send "$1" "$5"
	"$SEALPOSTD" -C "$T/conf.$1" --once 2> "$T/worker.$1.log" || fail "$1: sealpostd exit $?"
	[ "$(ls "$T/spool.$1/queue" | wc -l)" = 0 ] || fail "$1: still queued: $(cat "$T/worker.$1.log")"
	delivered=$((delivered + $5))
	sh "$HARNESS" wait "$T/pf" "$delivered" 30 || fail "$1: not delivered (see $PF_LOG)"
	[ "$(logins "$4")" -gt "$seen" ] ||
		fail "$1: no new $4 login in the Postfix log: $(grep sasl "$PF_LOG" | tail -3)"
}

before=$(oauth_stat client_credentials)
run cc client_credentials xoauth2 XOAUTH2 3
[ "$(oauth_stat client_credentials)" = $((before + 1)) ] ||
	fail "client_credentials: $(($(oauth_stat client_credentials) - before)) token requests for 3 messages"
ok "client_credentials + XOAUTH2 via Postfix/Dovecot: 3 messages, one token request"
exp=$(sed -n 's/^expires //p' "$T/spool.cc/oauth/pf")
grep -qx "sealpost_oauth2_token_expiry_timestamp_seconds{relay=\"pf\"} $exp" "$T/metrics.cc.prom" ||
	fail "metrics: no token expiry $exp: $(grep oauth2 "$T/metrics.cc.prom")"
ok "metrics_file: sealpost_oauth2_token_expiry_timestamp_seconds is the cached token's expiry"

"$SEALPOSTD" -C "$T/conf.cc" --probe > "$T/probe.out" 2>&1 || fail "probe: $(cat "$T/probe.out")"
grep -q 'OAuth: refresh token none, access token valid until' "$T/probe.out" || fail "probe: no token state: $(cat "$T/probe.out")"
grep -q 'AUTH XOAUTH2 as .*: ok' "$T/probe.out" || fail "probe: AUTH not shown: $(cat "$T/probe.out")"
grep -q 'XOAUTH2' "$T/probe.out" && grep -q 'OAUTHBEARER' "$T/probe.out" || fail "probe: mechanisms not shown"
grep -qF "$(sed -n 's/^access_token //p' "$T/spool.cc/oauth/pf")" "$T/probe.out" && fail "probe shows the token"
ok "--probe: token state and expiry, the mechanisms offered, AUTH ok; no token shown"

run ccb client_credentials oauthbearer OAUTHBEARER 2
ok "client_credentials + OAUTHBEARER via Postfix/Dovecot"

run rt refresh_token auto OAUTHBEARER 2
grep -q '^refresh_token rt-' "$T/spool.rt/oauth/pf" && ! grep -q 'rt-initial' "$T/spool.rt/oauth/pf" ||
	fail "refresh_token: the rotated refresh token was not saved"
[ "$(stat -c %a "$T/spool.rt/oauth/pf")" = 600 ] || fail "token file mode $(stat -c %a "$T/spool.rt/oauth/pf")"
ok "refresh_token + auto (OAUTHBEARER) via Postfix/Dovecot; rotated refresh token saved, mode 0600"

# refresh_token + XOAUTH2 reuses relay "rt"'s rotated token in a new spool
conf rtx refresh_token xoauth2
mkdir -p "$T/spool.rtx/oauth"
grep '^refresh_token ' "$T/spool.rt/oauth/pf" | sed '1i sealpost-oauth 1' > "$T/spool.rtx/oauth/pf"
chmod 600 "$T/spool.rtx/oauth/pf"
send rtx 1
seen=$(logins XOAUTH2)
"$SEALPOSTD" -C "$T/conf.rtx" --once 2> "$T/worker.rtx.log" || fail "rtx: exit $?"
delivered=$((delivered + 1))
sh "$HARNESS" wait "$T/pf" "$delivered" 30 || fail "rtx: not delivered: $(cat "$T/worker.rtx.log")"
[ "$(logins XOAUTH2)" -gt "$seen" ] || fail "rtx: no new XOAUTH2 login"
ok "refresh_token + XOAUTH2 via Postfix/Dovecot"

# A token the server refuses (revoked at the provider): refresh once, retry.
oauth_ctl revoke=all
before=$(oauth_stat refresh_token)
send rt 1
"$SEALPOSTD" -C "$T/conf.rt" --once 2> "$T/worker.rt2.log" || fail "revoked: exit $?"
delivered=$((delivered + 1))
sh "$HARNESS" wait "$T/pf" "$delivered" 30 || fail "revoked: not delivered: $(cat "$T/worker.rt2.log")"
[ "$(oauth_stat refresh_token)" = $((before + 1)) ] || fail "revoked: not exactly one refresh"
grep -q 'retrying once with a new token' "$T/worker.rt2.log" || fail "revoked: no retry logged"
ok "a refused cached token: one refresh, one retry, delivered"

# Refused again and the refresh is refused too (invalid_grant): deferred.
oauth_ctl revoke=all scenario=invalid_grant
send rt 1
"$SEALPOSTD" -C "$T/conf.rt" --once 2> "$T/worker.rt3.log" || fail "invalid_grant: exit $?"
[ "$(ls "$T/spool.rt/queue" | grep -c '\.env$')" = 1 ] || fail "invalid_grant: message not kept"
grep -q 'status=deferred' "$T/worker.rt3.log" || fail "invalid_grant: not deferred: $(cat "$T/worker.rt3.log")"
grep -q 'status=bounced' "$T/worker.rt3.log" && fail "invalid_grant: bounced"
grep -q 'run sealpostd --oauth-login pf' "$T/worker.rt3.log" || fail "invalid_grant: log does not say what to run"
"$SEALPOST" -C "$T/conf.rt" -bp > "$T/mailq.txt" 2>&1
grep -q 'oauth-login pf' "$T/mailq.txt" || fail "mailq does not say what to run: $(cat "$T/mailq.txt")"
ls "$T/spool.rt/queue" | grep -q bounce && fail "a bounce was queued"
ok "refused token + invalid_grant: deferred, never bounced; log and mailq say 'run sealpostd --oauth-login pf'"
oauth_ctl scenario=ok

# No secret in logs, mailq, spool metadata, Postfix or Dovecot logs.
secrets_of() {
	cat "$T"/spool.*/oauth/pf | sed -n 's/^\(access\|refresh\)_token //p'
	echo "$OAUTH_SECRET"
}
for s in $(secrets_of); do
	for f in "$T"/worker.*.log "$T/mailq.txt" "$PF_LOG" "$DOVECOT_LOG"; do
		grep -qF "$s" "$f" && fail "a secret appears in $f"
	done
	grep -rqF "$s" "$T"/spool.*/queue && fail "a secret appears in the queue"
done
ok "no token or client secret in worker logs, mailq, the queue, Postfix or Dovecot logs"
