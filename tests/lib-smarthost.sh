# tests/lib-smarthost.sh - shell helpers for tests that talk to the test
# smarthost (tests/smarthost.py). Source it after tests/lib.sh:
#     . "$top_srcdir/tests/lib.sh"
#     . "$top_srcdir/tests/lib-smarthost.sh"
#
# Contract (functions and variables other tests rely on):
#   need_certs
#       Generates the test PKI once into "$top_builddir/tests/certs" (shared by
#       all tests, safe when tests run in parallel; see tests/mkcerts.sh for
#       the file list) and sets CERTS to that directory. Skips (77) when
#       certtool is missing.
#   start_smarthost [smarthost.py args...]
#       Starts tests/smarthost.py in the background with --cert/--key
#       ($CERTS/server.*, override by passing your own), --port-file,
#       --transcript and --maildir under $T, waits up to 10 s for its port and
#       sets SMTP_PORT, SMTP_TRANSCRIPT, SMTP_MAILDIR, SMTP_PID. Each call gets
#       fresh files (first call: $T/transcript.jsonl and $T/maildir; later
#       calls: $T/transcript.K.jsonl, $T/maildir.K). The server is stopped
#       (SIGTERM) at cleanup. If the scenario cannot run here (smarthost.py
#       exits 3, e.g. tls-old), the test is skipped (77).
#   stop_smarthost [PID]
#       Stops one smarthost now (default $SMTP_PID) and waits for it.
#   wait_delivered N [SECONDS]
#       Bounded wait (default 10 s) until $SMTP_MAILDIR holds N .json files;
#       returns 0 if it does, 1 otherwise (prints the count on failure).
#   delivered_count
#       Number of messages (.json) in $SMTP_MAILDIR.
#   transcript_cleartext [FILE]
#       Prints every client->server line sent outside TLS, one per line
#       (FILE defaults to $SMTP_TRANSCRIPT; all connections).
#   transcript_tls_c2s [FILE]
#       Prints every client->server line sent inside TLS.
#   transcript_events [FILE]
#       Prints the "data" of every event (tls-established, auth-success USER,
#       delivered N, conn-closed, ...), one per line.
#   assert_no_cleartext_beyond VERB...
#       Fails the test if any cleartext client->server line starts with a verb
#       not in the list (case-insensitive), e.g.
#       assert_no_cleartext_beyond EHLO STARTTLS QUIT
#   relay_conf NAME PORT [MODE] [EXTRA-LINE...]
#       Prints a relay "NAME" block (host 127.0.0.1, PORT, tls = MODE, default
#       "starttls") and a tls_policy "127.0.0.1" block with verify = "ca",
#       ca_file = "$CERTS/ca.pem", verify_name = "localhost". Each EXTRA-LINE
#       ("key = value") goes to the block that owns the key (SPEC section 5):
#       verify ca_file verify_name pin_sha256 min_version priority security_profile client_cert
#       client_key go to tls_policy (replacing the default of that key), any
#       other key to the relay. With verify = "pin" or "encrypt" the defaults
#       ca_file/verify_name are left out (they only go with "ca").
#       Knobs for several relays (a host may have only one tls_policy):
#       RELAY_HOST=localhost changes the host and the policy name;
#       RELAY_POLICY=no prints the relay block only. Example:
#         write_conf "$(relay_conf main "$SMTP_PORT" starttls \
#             'username = "alice"' "password_file = \"$T/pw\"" \
#             'verify = "pin"' "pin_sha256 = {\"$(cat "$CERTS/server.pin")\"}")"
#   start_postfix
#       Starts a private Postfix as the smarthost (tests/postfix-harness.sh
#       start "$T/pf"; needs root and /usr/sbin/postfix, skips (77) without
#       them or when the harness says it cannot run here, fails on any other
#       error). Runs need_certs first, so the instance uses the shared test
#       PKI. The instance is stopped at cleanup. Sources the harness's
#       assignments (kept in $T/pf.env) and exports them: PF_SUBMISSION_PORT
#       PF_SMTPS_PORT PF_USER PF_PASS PF_DOMAIN PF_MAILDIR PF_CA PF_LOG
#       (meanings: tests/postfix-harness.sh). Sets HARNESS to the harness
#       script, for `sh "$HARNESS" wait "$T/pf" N`, `payload FILE` and
#       `stop "$T/pf"`.
#
# Runs as the test's user (start_postfix: root); trusts only the files it
# creates under $T.

SMARTHOST_PY="$top_srcdir/tests/smarthost.py"
_smarthost_pids=""
_smarthost_count=0

need_certs() {
	CERTS="$top_builddir/tests/certs"
	if [ ! -f "$CERTS/.complete" ]; then
		if sh "$top_srcdir/tests/mkcerts.sh" "$CERTS"; then _rc=0; else _rc=$?; fi
		[ "$_rc" = 77 ] && skip "certtool (gnutls-bin) is not installed"
		[ "$_rc" = 0 ] || fail "mkcerts.sh failed ($_rc)"
	fi
	export CERTS
}

_smarthost_cleanup() {
	for _p in $_smarthost_pids; do kill -TERM "$_p" 2>/dev/null || true; done
	for _p in $_smarthost_pids; do wait "$_p" 2>/dev/null || true; done
	_smarthost_pids=""
}

# _pid_alive PID: running and not a zombie (dash reaps children lazily).
_pid_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

start_smarthost() {
	[ -n "${CERTS:-}" ] || need_certs
	_smarthost_count=$((_smarthost_count + 1))
	if [ "$_smarthost_count" = 1 ]; then _sfx=""; else _sfx=".$_smarthost_count"; fi
	_portfile="$T/smarthost$_sfx.port"
	SMTP_TRANSCRIPT="$T/transcript$_sfx.jsonl"
	SMTP_MAILDIR="$T/maildir$_sfx"
	rm -f "$_portfile"
	mkdir -p "$SMTP_MAILDIR"
	: > "$SMTP_TRANSCRIPT"
	# --idle-timeout 300: the idle exit is only a safety net (the cleanup
	# stops it); 30 s was outlasted by a test's setup on a loaded machine
	"$PYTHON3" "$SMARTHOST_PY" --cert "$CERTS/server.pem" --key "$CERTS/server.key" \
		--port-file "$_portfile" --transcript "$SMTP_TRANSCRIPT" \
		--maildir "$SMTP_MAILDIR" --idle-timeout 300 "$@" 2>"$T/smarthost$_sfx.stderr" &
	SMTP_PID=$!
	[ -z "$_smarthost_pids" ] && at_cleanup _smarthost_cleanup
	_smarthost_pids="$_smarthost_pids $SMTP_PID"
	_n=200
	while [ ! -s "$_portfile" ]; do
		if ! _pid_alive "$SMTP_PID"; then
			if wait "$SMTP_PID"; then _rc=0; else _rc=$?; fi
			cat "$T/smarthost$_sfx.stderr" >&2
			[ "$_rc" = 3 ] && skip "smarthost scenario cannot run here: $*"
			fail "smarthost.py exited with status $_rc: $*"
		fi
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || fail "smarthost.py did not start within 10 s: $*"
		sleep 0.05
	done
	SMTP_PORT=$(cat "$_portfile")
	export SMTP_PORT SMTP_TRANSCRIPT SMTP_MAILDIR SMTP_PID
}

stop_smarthost() {
	_p=${1:-$SMTP_PID}
	kill -TERM "$_p" 2>/dev/null || true
	wait "$_p" 2>/dev/null || true
}

delivered_count() {
	ls "$SMTP_MAILDIR" 2>/dev/null | grep -c '\.json$' || true
}

wait_delivered() {
	_want=$1; _n=$(( ${2:-10} * 20 ))
	while [ "$(delivered_count)" -lt "$_want" ] && [ "$_n" -gt 0 ]; do
		sleep 0.05; _n=$((_n - 1))
	done
	[ "$(delivered_count)" -ge "$_want" ] && return 0
	echo "wait_delivered: $(delivered_count) of $_want messages delivered" >&2
	return 1
}

# _transcript_select WHAT FILE: c2s lines with tls false/true, or events.
_transcript_select() {
	"$PYTHON3" - "$1" "$2" <<'EOF'
import json, os, sys
what, path = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as f:
        for raw in f:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue  # a line still being written
            d = rec.get("dir")
            if what == "events" and d == "event":
                print(rec["data"])
            elif d == "c2s" and what == ("tls" if rec.get("tls") else "clear"):
                print(rec["data"])
    sys.stdout.flush()
except BrokenPipeError:
    # the reader (grep -q) has seen enough
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
EOF
}

transcript_cleartext() { _transcript_select clear "${1:-$SMTP_TRANSCRIPT}"; }
transcript_tls_c2s() { _transcript_select tls "${1:-$SMTP_TRANSCRIPT}"; }
transcript_events() { _transcript_select events "${1:-$SMTP_TRANSCRIPT}"; }

assert_no_cleartext_beyond() {
	_bad=$(transcript_cleartext | while IFS= read -r _line; do
		_verb=$(printf '%s\n' "$_line" | awk '{print toupper($1)}')
		_okv=no
		for _a in "$@"; do
			[ "$_verb" = "$(printf '%s' "$_a" | tr '[:lower:]' '[:upper:]')" ] && _okv=yes
		done
		[ "$_okv" = yes ] || printf '%s\n' "$_line"
	done)
	[ -z "$_bad" ] || fail "client sent in cleartext (allowed: $*): $(printf '%s' "$_bad" | head -5)"
}

relay_conf() {
	_name=$1 _port=$2 _mode=${3:-starttls}
	[ $# -ge 3 ] && shift 3 || shift $#
	[ -n "${CERTS:-}" ] || need_certs
	_relay_extra="" _policy_extra="" _policy_keys=" " _policy_verify=""
	for _l in "$@"; do
		_k=$(printf '%s' "$_l" | sed 's/^[[:space:]]*\([A-Za-z_0-9]*\).*/\1/')
		case $_k in
		verify|ca_file|verify_name|pin_sha256|min_version|priority|security_profile|client_cert|client_key)
			_policy_extra="$_policy_extra  $_l
"
			_policy_keys="$_policy_keys$_k "
			[ "$_k" = verify ] && _policy_verify=$(printf '%s' "$_l" | sed 's/^[^=]*=[[:space:]]*"\{0,1\}\([a-z]*\).*/\1/')
			;;
		*)
			_relay_extra="$_relay_extra  $_l
" ;;
		esac
	done
	_host=${RELAY_HOST:-127.0.0.1}
	printf 'relay "%s" {\n  host = "%s"\n  port = %s\n  tls = "%s"\n%s}\n' \
		"$_name" "$_host" "$_port" "$_mode" "$_relay_extra"
	[ "${RELAY_POLICY:-yes}" = no ] && return 0
	printf 'tls_policy "%s" {\n' "$_host"
	case $_policy_keys in *" verify "*) ;; *) printf '  verify = "ca"\n' ;; esac
	# ca_file and verify_name only belong to verify = "ca" (conf rejects
	# them otherwise): no defaults when another mode is asked for.
	case $_policy_verify in ""|ca)
		case $_policy_keys in *" ca_file "*) ;; *) printf '  ca_file = "%s"\n' "$CERTS/ca.pem" ;; esac
		case $_policy_keys in *" verify_name "*) ;; *) printf '  verify_name = "localhost"\n' ;; esac
	esac
	printf '%s}\n' "$_policy_extra"
}

_postfix_cleanup() { sh "$HARNESS" stop "$T/pf"; }

start_postfix() {
	[ "$(id -u)" = 0 ] || skip "the Postfix harness needs root"
	[ -x /usr/sbin/postfix ] || skip "postfix is not installed"
	need_certs
	HARNESS="$top_srcdir/tests/postfix-harness.sh"
	if sh "$HARNESS" start "$T/pf" > "$T/pf.env"; then :; else
		_rc=$?
		[ "$_rc" = 77 ] && skip "Postfix harness cannot run here"
		fail "postfix-harness.sh start failed ($_rc)"
	fi
	at_cleanup _postfix_cleanup
	. "$T/pf.env"
	export PF_SUBMISSION_PORT PF_SMTPS_PORT PF_USER PF_PASS PF_DOMAIN PF_MAILDIR PF_CA PF_LOG
}
