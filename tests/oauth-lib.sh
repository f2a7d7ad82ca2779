# tests/oauth-lib.sh - shell helpers for the OAuth 2.0 tests. Source after
# tests/lib.sh and tests/lib-smarthost.sh.
#
#   start_oauth_endpoint [oauth-endpoint.py args...]
#       Starts tests/oauth-endpoint.py (HTTPS on 127.0.0.1, $CERTS/server.*
#       unless --cert/--key are given later in the args), client secret
#       $OAUTH_SECRET (also written to $T/client-secret, mode 0600); sets
#       OAUTH_PORT, OAUTH_URL (https://localhost:PORT), OAUTH_LOG (its
#       request log), OAUTH_PID. Stopped at cleanup.
#   oauth_ctl KEY=VALUE...       POST /control (scenario=..., revoke=all)
#   oauth_stat NAME              a counter of GET /stats (token, refresh_token,
#                                client_credentials, issued, introspect...)
#   oauth_block NAME GRANT [EXTRA-LINES]
#       Prints an oauth2 { } block for the endpoint (provider "custom").
#   start_dovecot
#       A private Dovecot (own base_dir, config and log in a side directory;
#       never the system one) whose oauth2 passdb validates tokens with the
#       endpoint's /introspect; sets DOVECOT_SOCKET (its auth socket for
#       Postfix) and DOVECOT_LOG. Needs root and dovecot-core (skips 77).
#   start_postfix_oauth
#       start_dovecot, then the private Postfix (lib-smarthost.sh
#       start_postfix) with Dovecot as its SASL server.
OAUTH_SECRET="cs-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
_oauth_pids=""

_oauth_cleanup() {
	for _p in $_oauth_pids; do kill -TERM "$_p" 2>/dev/null || true; done
	for _p in $_oauth_pids; do wait "$_p" 2>/dev/null || true; done
}

start_oauth_endpoint() {
	[ -n "${CERTS:-}" ] || need_certs
	printf '%s\n' "$OAUTH_SECRET" > "$T/client-secret"
	chmod 600 "$T/client-secret"
	_pf="$T/oauth.port.$$.${#_oauth_pids}"
	OAUTH_LOG="$T/oauth-requests.${#_oauth_pids}.jsonl"
	: > "$OAUTH_LOG"
	"$PYTHON3" "$top_srcdir/tests/oauth-endpoint.py" --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
		--port-file "$_pf" --log "$OAUTH_LOG" --client-secret "$OAUTH_SECRET" "$@" \
		2>>"$T/oauth-endpoint.stderr" &
	OAUTH_PID=$!
	[ -z "$_oauth_pids" ] && at_cleanup _oauth_cleanup
	_oauth_pids="$_oauth_pids $OAUTH_PID"
	wait_for_file "$_pf" 10 || fail "oauth-endpoint.py did not start: $(cat "$T/oauth-endpoint.stderr")"
	OAUTH_PORT=$(cat "$_pf")
	OAUTH_URL="https://localhost:$OAUTH_PORT"
	export OAUTH_PORT OAUTH_URL OAUTH_LOG OAUTH_PID
}

# _oauth_http METHOD PATH [FORM]: one request to the endpoint, body on stdout.
_oauth_http() {
	"$PYTHON3" - "$1" "$OAUTH_URL$2" "${3:-}" "$CERTS/ca.pem" <<'PYEOF'
import ssl, sys, urllib.request
method, url, form, ca = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
req = urllib.request.Request(url, data=form.encode() if method == "POST" else None, method=method)
print(urllib.request.urlopen(req, context=ctx, timeout=10).read().decode())
PYEOF
}

oauth_ctl() {
	_form=$(printf '%s&' "$@")
	_oauth_http POST /control "${_form%&}" >/dev/null || fail "oauth_ctl $*"
}

oauth_stat() {
	_oauth_http GET /stats | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

oauth_block() {
	_grant=$2; shift 2
	printf '  oauth2 {\n    provider = "custom"\n    grant = "%s"\n    client_id = "sealpost-test"\n' "$_grant"
	printf '    client_secret_file = "%s"\n    token_url = "%s/token"\n    ca_file = "%s"\n    scope = "mail"\n' \
		"$T/client-secret" "$OAUTH_URL" "$CERTS/ca.pem"
	for _l in "$@"; do printf '    %s\n' "$_l"; done
	printf '  }\n'
}

_dovecot_cleanup() {
	if [ -n "${_dovecot_dir:-}" ]; then
		_dp=$(cat "$_dovecot_dir/run/master.pid" 2>/dev/null || true)
		[ -n "$_dp" ] && kill -TERM "$_dp" 2>/dev/null
		_n=100
		while [ -n "$_dp" ] && kill -0 "$_dp" 2>/dev/null && [ "$_n" -gt 0 ]; do sleep 0.1; _n=$((_n - 1)); done
		case $_dovecot_dir in */sealpost-dovecot.*) rm -rf "$_dovecot_dir" ;; esac
	fi
}

# _dovecot_introspection CA-KEY: how Dovecot checks a token at the
# endpoint's /introspect (2.3 and 2.4 name the CA setting differently)
_dovecot_introspection() {
	cat <<DVEOF
introspection_mode = post
introspection_url = $OAUTH_URL/introspect
$1 = $CERTS/ca.pem
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
DVEOF
}

# _dovecot_conf FIRST PROTOCOLS AUTH: dovecot.conf, what both versions say
# alike around the lines that differ: FIRST (may be empty), PROTOCOLS (how
# to say "none") and AUTH (how a token is checked and the user mapped)
_dovecot_conf() {
	{
		[ -z "$1" ] || printf '%s\n' "$1"
		cat <<DVEOF
base_dir = $_dovecot_dir/run
state_dir = $_dovecot_dir/state
log_path = $DOVECOT_LOG
$2
listen = 127.0.0.1
ssl = no
auth_mechanisms = xoauth2 oauthbearer
auth_verbose = yes
auth_cache_size = 0
$3
service auth {
  unix_listener $DOVECOT_SOCKET {
    mode = 0666
  }
}
DVEOF
	} > "$_dovecot_dir/dovecot.conf"
}

# Dovecot 2.3 (Debian 12): the oauth2 passdb, its settings in a file of
# their own
_dovecot_conf_23() {
	_dovecot_introspection tls_ca_cert_file > "$_dovecot_dir/oauth2.conf.ext"
	_dovecot_conf "" "protocols =" "passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $_dovecot_dir/oauth2.conf.ext
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$_dovecot_dir/home
}"
}

# Dovecot 2.4 (Debian 13): a versioned config (the version comes first); the
# OAuth2 mechanisms check the token through the oauth2 settings, no passdb
_dovecot_conf_24() {
	_dovecot_conf "dovecot_config_version = 2.4.1
dovecot_storage_version = 2.4.1" "protocols {
}" "oauth2 {
$(_dovecot_introspection ssl_client_ca_file | sed 's/^/  /')
}
userdb static {
  fields {
    uid = dovecot
    gid = dovecot
    home = $_dovecot_dir/home
  }
}"
}

start_dovecot() {
	[ "$(id -u)" = 0 ] || skip "the private Dovecot needs root"
	command -v dovecot >/dev/null 2>&1 || skip "dovecot-core is not installed"
	id dovecot >/dev/null 2>&1 || skip "no dovecot user"
	[ -n "${OAUTH_URL:-}" ] || fail "start_oauth_endpoint first"
	# a side directory Postfix's user can reach ($T is 0700)
	_dovecot_dir=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-dovecot.XXXXXX")
	chmod 0755 "$_dovecot_dir"
	at_cleanup _dovecot_cleanup
	mkdir -p "$_dovecot_dir/run" "$_dovecot_dir/state"
	DOVECOT_LOG="$_dovecot_dir/dovecot.log"
	DOVECOT_SOCKET="$_dovecot_dir/auth-client"
	case $(dovecot --version) in
	2.[0-3].*) _dovecot_conf_23 ;;
	*) _dovecot_conf_24 ;;
	esac
	dovecot -c "$_dovecot_dir/dovecot.conf" 2>"$T/dovecot.stderr" ||
		fail "dovecot did not start: $(cat "$T/dovecot.stderr")"
	_n=100
	while [ ! -S "$DOVECOT_SOCKET" ] && [ "$_n" -gt 0 ]; do sleep 0.1; _n=$((_n - 1)); done
	[ -S "$DOVECOT_SOCKET" ] || fail "dovecot: no auth socket: $(cat "$DOVECOT_LOG")"
	export DOVECOT_SOCKET DOVECOT_LOG
}

start_postfix_oauth() {
	start_dovecot
	PF_SASL_DOVECOT=$DOVECOT_SOCKET
	export PF_SASL_DOVECOT
	start_postfix
}
