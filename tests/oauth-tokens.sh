#!/bin/sh
# tests/oauth-tokens.sh - the token life cycle of the helper sealpost-oauth
# against the test token endpoint (tests/oauth-endpoint.py), no SMTP:
# caching, rotation, one refresh at a time across workers, classified
# failures (invalid_grant, invalid_client, dropped, slow, oversized, 503)
# with back-off, an untrusted endpoint certificate that never receives the
# client secret, kill -9 during a refresh, sign-in by device flow and by
# code + PKCE (sealpostd --oauth-login), and secrets absent from
# /proc/PID/cmdline and /proc/PID/environ. Runs as any user.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/oauth-lib.sh"

HELPER="$top_builddir/src/oauth/sealpost-oauth"
[ -x "$HELPER" ] || skip "built without OAuth (libcurl, json-c)"
need_certs
start_oauth_endpoint --rotate --refresh-token rt-initial --slow 20
TOK="$SPOOL/oauth"

# cfg GRANT [EXTRA oauth2 lines]: relay "r" with an oauth2 block.
cfg() {
	_g=$1; shift
	write_conf "relay \"r\" {
  host = \"127.0.0.1\"
  username = \"u@example.org\"
$(oauth_block x "$_g" "$@")
}
queue { retry_min = 1h retry_max = 2h }
timeouts { connect = 3s }"
}
token() { "$HELPER" -C "$CONF" token r "$@"; }
seed() { # a refresh token as --oauth-login stores it
	rm -rf "$TOK"; mkdir -p "$TOK"
	printf 'sealpost-oauth 1\nrefresh_token %s\n' "$1" > "$TOK/r"; chmod 600 "$TOK/r"
}
field() { sed -n "s/^$1 //p" "$TOK/r"; }

# -- client_credentials: cached, one request for many tokens
cfg client_credentials
b=$(oauth_stat client_credentials)
for i in 1 2 3 4 5; do token > "$T/out" || fail "token $i: $(cat "$T/out")"; done
head -1 "$T/out" | grep -q '^ok 1 ' || fail "not cached: $(head -1 "$T/out")"
[ "$(oauth_stat client_credentials)" = $((b + 1)) ] || fail "5 tokens cost $(($(oauth_stat client_credentials) - b)) requests"
ok "client_credentials: 5 token requests by workers, 1 request to the endpoint"

# a refused token (generation 1): a new one, once
token 1 | head -1 | grep -q '^ok 2 ' || fail "refused generation 1 did not give generation 2"
token 1 | head -1 | grep -q '^ok 2 ' || fail "a second worker refreshed again"
[ "$(oauth_stat client_credentials)" = $((b + 2)) ] || fail "refresh after refusal: wrong request count"
ok "a refused token is replaced once; a second worker reporting the same token gets the new one"

# -- refreshed shortly before expiry, not on every use
cfg client_credentials
rm -rf "$TOK"
token > /dev/null || fail "expiry: first token"
now=$(date +%s)
set_times() { # EXPIRES OBTAINED
	sed -i "s/^expires .*/expires $1/; s/^obtained .*/obtained $2/" "$TOK/r"
}
gen=$(field generation)
set_times $((now + 1000)) "$now"
token | head -1 | grep -q "^ok $gen " || fail "a token with 1000 s left was refreshed"
set_times $((now + 200)) $((now - 3400))
token | head -1 | grep -q "^ok $((gen + 1)) " || fail "a token with 200 s of 3600 left was not refreshed"
ok "the access token is reused while fresh and refreshed within min(5 min, a quarter of its life) of expiry"

# -- --check-config shows the block and the token file, never the secret
"$SEALPOSTD" -C "$CONF" --check-config > "$T/check.out" 2>&1 || fail "check-config: $(cat "$T/check.out")"
grep -q "# token file: $TOK/r" "$T/check.out" || fail "check-config: no token file"
grep -q "client_secret_file = \"$T/client-secret\"" "$T/check.out" || fail "check-config: no secret file name"
for s in "$OAUTH_SECRET" "$(field access_token)"; do
	grep -qF "$s" "$T/check.out" && fail "check-config shows a secret"
done
mv "$T/client-secret" "$T/client-secret.away"
if "$SEALPOSTD" -C "$CONF" --check-config > /dev/null 2> "$T/check.err"; then rc=0; else rc=$?; fi
mv "$T/client-secret.away" "$T/client-secret"
[ "$rc" = 78 ] && grep -q 'oauth2 client_secret_file' "$T/check.err" ||
	fail "check-config with a missing client secret file: exit $rc: $(cat "$T/check.err")"
ok "--check-config: the oauth2 block, the secret file by name and the token file; no secret; a missing secret file is exit 78"

# -- the SMTP side: no token is even fetched for a session that failed
# TLS verification, or whose server offers no token mechanism
cfg_smtp() { # PORT
	write_conf "$(relay_conf pf "$1" starttls 'username = "u@example.org"')"
	# with the oauth2 block inside the relay, after username
	"$PYTHON3" - "$CONF" "$(oauth_block x client_credentials)" <<'PYEOF2'
import sys
path, block = sys.argv[1], sys.argv[2]
text = open(path).read()
i = text.index('  username = "u@example.org"\n') + len('  username = "u@example.org"\n')
open(path, "w").write(text[:i] + block + "\n" + text[i:])
PYEOF2
}
b=$(oauth_stat token)
start_smarthost --cert "$CERTS/untrusted.pem" --key "$CERTS/untrusted.key" --auth u:p
cfg_smtp "$SMTP_PORT"
rm -rf "$TOK"
printf 'Subject: t\n\nt\n' | "$SEALPOST" -C "$CONF" -odq -f s@example.org r@example.net || fail "queue"
"$SEALPOSTD" -C "$CONF" --once 2> "$T/w1.log" || fail "worker: $(cat "$T/w1.log")"
grep -q 'status=deferred' "$T/w1.log" || fail "untrusted smarthost: not deferred: $(cat "$T/w1.log")"
transcript_tls_c2s | grep -qi '^AUTH' && fail "AUTH sent to an untrusted server"
[ "$(oauth_stat token)" = "$b" ] || fail "a token was fetched for a server that failed verification"
ok "a relay whose certificate fails: no AUTH, and no token even fetched"

start_smarthost --auth u:p
cfg_smtp "$SMTP_PORT"
"$SEALPOSTD" -C "$CONF" --once --flush 2> "$T/w2.log" || fail "worker: $(cat "$T/w2.log")"
grep -q 'server does not offer AUTH OAUTHBEARER or XOAUTH2 (offers: PLAIN LOGIN)' "$T/w2.log" ||
	fail "no token mechanism: $(cat "$T/w2.log")"
grep -q 'status=deferred' "$T/w2.log" || fail "no token mechanism: not deferred"
transcript_tls_c2s | grep -qi '^AUTH' && fail "AUTH sent although no token mechanism is offered"
[ "$(oauth_stat token)" = "$b" ] || fail "a token was fetched although the server offers no token mechanism"
ok "a server without XOAUTH2/OAUTHBEARER: deferred with the reason, no password mechanism tried, no token fetched"

# -- --health names the token, not AUTH, when the token is the cause. The
# server offers XOAUTH2 and refuses every token (none is "never-issued").
start_smarthost --oauth-token never-issued
cfg_smtp "$SMTP_PORT"
run_health() { # STEP: the worker once, then --health into $T/health.out, exit in $hrc
	"$SEALPOSTD" -C "$CONF" --once --flush 2> "$T/wh.log" || fail "$1: worker: $(cat "$T/wh.log")"
	grep -q 'status=deferred' "$T/wh.log" || fail "$1: not deferred: $(cat "$T/wh.log")"
	if "$SEALPOSTD" -C "$CONF" --health > "$T/health.out" 2>&1; then hrc=0; else hrc=$?; fi
}
fresh_token() { # a cached access token, then the endpoint in scenario $1
	oauth_ctl scenario=ok
	rm -rf "$TOK"
	"$HELPER" -C "$CONF" token pf > /dev/null || fail "fresh_token: no token"
	oauth_ctl scenario="$1"
}
rm -rf "$TOK"
oauth_ctl scenario=invalid_grant
run_health "no token"
[ "$hrc" = 1 ] && grep -q '^CRITICAL: relay pf (127.0.0.1): OAuth token refused at .*invalid_grant.*run sealpostd --oauth-login pf' "$T/health.out" ||
	fail "invalid_grant at the first request: --health exit $hrc: $(cat "$T/health.out")"
fresh_token invalid_grant
run_health "refused, then invalid_grant"
transcript_events | grep -q 'auth-failure' || fail "the server was not offered the cached token"
[ "$hrc" = 1 ] && grep -q '^CRITICAL: relay pf (127.0.0.1): OAuth token refused at .*invalid_grant.*run sealpostd --oauth-login pf (after the server refused the cached token: .*535' "$T/health.out" ||
	fail "a refused token, refresh refused: --health exit $hrc: $(cat "$T/health.out")"
fresh_token unavailable
run_health "refused, then the endpoint down"
[ "$hrc" = 0 ] && grep -q '^OK: ' "$T/health.out" ||
	fail "a refused token, token endpoint down (retried by itself): --health exit $hrc: $(cat "$T/health.out")"
grep -q '^relay pf .* transient OAuth token for relay pf: the token endpoint is unavailable' "$SPOOL/state/metrics" || fail "endpoint down: not transient: $(cat "$SPOOL/state/metrics")"
fresh_token ok
run_health "refused with a new token too"
[ "$hrc" = 1 ] && grep -q '^CRITICAL: relay pf (127.0.0.1): AUTH refused at .*also with a newly refreshed token' "$T/health.out" ||
	fail "refused with a refreshed token: --health exit $hrc: $(cat "$T/health.out")"
oauth_ctl scenario=ok
ok "--health: invalid_grant (first, or after the server refused the cached token) is 'OAuth token refused' with what to run; the token endpoint down is temporary; a new token refused too is 'AUTH refused'"

# -- refresh_token: rotation saved before use
cfg refresh_token
seed rt-initial
token > "$T/out" || fail "refresh: $(cat "$T/out")"
new=$(field refresh_token)
case $new in rt-*) [ "$new" != rt-initial ] ;; *) false ;; esac || fail "rotation not saved: $new"
[ "$(stat -c %a "$TOK/r")" = 600 ] || fail "mode $(stat -c %a "$TOK/r")"
[ "$(sed -n 2p "$T/out")" = "$(field access_token)" ] || fail "the token returned is not the one saved"
ok "refresh_token: the rotated refresh token is in the 0600 file with the access token it came with"

# -- one refresh at a time: 6 workers report the same refused token
b=$(oauth_stat refresh_token)
gen=$(field generation)
pids=""
for i in 1 2 3 4 5 6; do token "$gen" > "$T/par.$i" & pids="$pids $!"; done
for p in $pids; do wait "$p" || fail "a parallel helper failed"; done
[ "$(oauth_stat refresh_token)" = $((b + 1)) ] || fail "6 workers caused $(($(oauth_stat refresh_token) - b)) refreshes"
[ "$(cat "$T"/par.* | grep -c '^ok ')" = 6 ] || fail "not every worker got a token"
ok "6 workers at once, one refresh (flock on the relay's lock file)"

# -- failures are classified, saved, and backed off
check_fail() { # SCENARIO CLASS TEXT
	seed "$(field refresh_token 2>/dev/null || echo rt-x)"
	oauth_ctl scenario="$1"
	b=$(oauth_stat token)
	token > "$T/out" && fail "$1: succeeded"
	grep -q "^error $2 .*$3" "$T/out" || fail "$1: $(cat "$T/out")"
	token > "$T/out2" && fail "$1: second attempt succeeded"
	[ "$(oauth_stat token)" = $((b + 1)) ] || fail "$1: no back-off ($(($(oauth_stat token) - b)) requests)"
	grep -q "no new attempt before" "$T/out2" || fail "$1: back-off not said: $(cat "$T/out2")"
	oauth_ctl scenario=ok
}
check_fail invalid_grant grant "invalid_grant.*run sealpostd --oauth-login r"
check_fail invalid_client client "invalid_client.*check client_id and client_secret_file"
check_fail unavailable unreachable "HTTP 503"
check_fail drop unreachable "cannot reach the token endpoint"
check_fail oversize protocol "larger than 65536 bytes"
ok "invalid_grant, invalid_client, 503, dropped, oversized: classified, what to do said, backed off"

# slow: bounded by the timeout (connect 3s + 10s); secrets not in /proc while it waits
valid=$(field refresh_token)
seed rt-slow-1
oauth_ctl scenario=slow
"$HELPER" -C "$CONF" token r > "$T/out" &
hp=$!
pid=$hp
if [ -r "/proc/$pid/environ" ]; then
	for s in "$OAUTH_SECRET" rt-slow-1; do
		tr '\0' '\n' < "/proc/$pid/cmdline" | grep -qF "$s" && fail "secret in cmdline"
		tr '\0' '\n' < "/proc/$pid/environ" | grep -qF "$s" && fail "secret in environ"
	done
	checked=yes
fi
wait "$hp" && fail "slow: succeeded"
oauth_ctl scenario=ok
grep -q "^error unreachable .*no answer within" "$T/out" || fail "slow: $(cat "$T/out")"
[ "${checked:-}" = yes ] || fail "could not inspect the helper process"
ok "a slow endpoint: bounded, classified; no secret in /proc/PID/cmdline or environ"

# -- kill -9 during a refresh (answer not yet received): the file is intact
seed "$valid"
token >/dev/null || fail "reset: $(cat "$TOK/r" | grep last_error)"
good=$(field refresh_token)
oauth_ctl scenario=slow
b0=$(oauth_stat token)
"$HELPER" -C "$CONF" token r "$(field generation)" > /dev/null &
hp=$!
n=600 # until its request reached the endpoint (bounded: 30 s and more)
while [ "$(oauth_stat token)" = "$b0" ] && [ "$n" -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
[ "$n" -gt 0 ] || fail "kill -9: the refresh never reached the endpoint"
kill -9 "$hp" || fail "kill -9: the helper was not running"
wait "$hp" 2>/dev/null
oauth_ctl scenario=ok
[ "$(field refresh_token)" = "$good" ] || fail "kill -9: refresh token changed"
gen=$(field generation)
token "$gen" > "$T/out" || fail "after kill -9: $(cat "$T/out")"
ok "kill -9 during a refresh: the token file is intact and the next refresh works"

# kill -9 between each step of saving a rotated refresh token: after the
# answer (before writing), after writing the temporary file, after its
# fsync (before the rename), after the rename (before the directory fsync).
# The shim (tests/unit/crashshim.c) kills the helper at that call.
SHIM="$top_builddir/tests/unit/crashshim.so"
[ -f "$SHIM" ] || fail "tests/unit/crashshim.so not built"
for point in mkdir:2 fsync:1 rename:1 fsync:2; do
	gen=$(field generation)
	old=$(field refresh_token)
	if CRASH_AT=$point LD_PRELOAD=$SHIM ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
		"$HELPER" -C "$CONF" token r "$gen" > /dev/null 2>&1; then rc=0; else rc=$?; fi
	[ "$rc" = 137 ] || fail "crash at $point: the helper was not killed there (exit $rc)"
	now_rt=$(field refresh_token) || fail "crash at $point: the token file is unreadable"
	case $point in
	fsync:2) [ "$now_rt" != "$old" ] || fail "crash at $point: the rotated token was not in place" ;;
	*) [ "$now_rt" = "$old" ] || fail "crash at $point: the file changed before its rename" ;;
	esac
	token "$gen" > "$T/out" || fail "after a crash at $point: $(cat "$T/out")"
	ls "$TOK" | grep -q '\.tmp\.' && fail "a temporary file survived the next write ($point)"
done
ok "kill -9 at each step of saving a rotated refresh token: the old or the new one is in place, and works"

# -- sign-in: device flow (authorization_pending, then slow_down, then tokens)
cfg refresh_token "device_url = \"$OAUTH_URL/device\""
rm -rf "$TOK"
"$SEALPOSTD" -C "$CONF" --oauth-login r > "$T/login.out" 2>&1 || fail "device login: $(cat "$T/login.out")"
grep -q 'enter the code WDJB-MJHT' "$T/login.out" || fail "no user code printed: $(cat "$T/login.out")"
grep -q 'refresh token: received' "$T/login.out" || fail "device: $(cat "$T/login.out")"
grep -q '^refresh_token rt-' "$TOK/r" || fail "device: no refresh token stored"
grep -qF "$(field refresh_token)" "$T/login.out" && fail "the refresh token was printed"
grep -qF "$(field access_token)" "$T/login.out" && fail "the access token was printed"
ok "sealpostd --oauth-login, device flow: pending and slow_down handled, token stored, never printed"

# -- sign-in: authorization code + PKCE, loopback redirect; a script plays the browser
cfg refresh_token "authorize_url = \"$OAUTH_URL/authorize\""
rm -rf "$TOK"
: > "$T/login2.out"
"$SEALPOSTD" -C "$CONF" --oauth-login r > "$T/login2.out" 2>&1 &
lp=$!
n=600
while ! grep -q '^https://.*code_challenge=' "$T/login2.out" && [ "$n" -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
url=$(grep '^https://.*code_challenge=' "$T/login2.out")
[ -n "$url" ] || fail "no URL printed: $(cat "$T/login2.out")"
"$PYTHON3" - "$url" "$CERTS/ca.pem" <<'PYEOF2' || fail "the browser step failed"
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
# the provider redirects to http://127.0.0.1:PORT/?code=...&state=...
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a):
        return None
op = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))
try:
    op.open(sys.argv[1], timeout=10)
    sys.exit("no redirect")
except urllib.error.HTTPError as e:
    loc = e.headers["Location"]
assert loc.startswith("http://127.0.0.1:"), loc
# a wrong state is refused, then the real redirect is taken
bad = loc.replace("state=", "state=x")
try:
    urllib.request.urlopen(bad, timeout=10)
    sys.exit("a wrong state was accepted")
except urllib.error.HTTPError as e:
    assert e.code == 400
urllib.request.urlopen(loc, timeout=10).read()
PYEOF2
wait "$lp" || fail "code+PKCE login: $(cat "$T/login2.out")"
grep -q 'refresh token: received' "$T/login2.out" || fail "pkce: $(cat "$T/login2.out")"
token > "$T/out" || fail "after PKCE sign-in: $(cat "$T/out")"
ok "sealpostd --oauth-login, code + PKCE: loopback redirect, state checked, verifier accepted by the endpoint"

# -- an endpoint whose certificate we do not trust never sees the secret
start_oauth_endpoint --cert "$CERTS/untrusted.pem" --key "$CERTS/untrusted.key"
cfg client_credentials
rm -rf "$TOK"
token > "$T/out" && fail "untrusted endpoint: token obtained"
grep -q '^error unreachable .*certificate not trusted' "$T/out" || fail "untrusted: $(cat "$T/out")"
[ ! -s "$OAUTH_LOG" ] || fail "the untrusted endpoint received a request: $(cat "$OAUTH_LOG")"
ok "an endpoint with an untrusted certificate receives nothing (no client secret)"
