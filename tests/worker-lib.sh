# tests/worker-lib.sh - helpers for the relay worker's integration tests.
# Source after tests/lib.sh and tests/lib-smarthost.sh. Each case gets its
# own directory, spool, config and log under $T, so one script can run many
# cases in sequence; cases run in subshells so a failing or skipped case
# never leaks state into the next.
#
#   wcase NAME          start a case: sets CASE (also T), SPOOL, CONF, WLOG
#   wconf LINES...      write $CONF: test defaults (short timeouts) + LINES;
#                       WCONC (concurrency), WRETRY_MIN and WQUEUE (more
#                       queue keys, e.g. "delay_warning = 1m ") adjust it
#   enqueue [worker_enqueue options] SENDER RCPT...   (message on stdin)
#                       prints the id; the stored message is kept in
#                       $CASE/sent.msg for byte comparisons
#   run_worker [ARGS]   sealpostd -C $CONF --once ARGS; log in $WLOG,
#                       status in WSTATUS, wall time (ms) in WMS
#   rcpt_state ADDR     "STATE|ATTEMPTS|LAST_ERROR" of ADDR in the spool,
#                       "gone" when the message is no longer queued
#   expect_state ADDR STATE [TEXT]   assert state (and TEXT in last_error)
#   expect_log TEXT     assert a log line contains TEXT (fixed string)
#   expect_no_log TEXT
#   no_cleartext        nothing but EHLO/STARTTLS/QUIT went out in cleartext
#   no_tls_c2s          the client sent nothing at all inside TLS
#   no_auth_attempt     no AUTH reached the server
#   case_owns PID       stop PID (SIGTERM) when the case ends, even when it
#                       fails (daemons started in a case)
#   start_daemon [ARGS] sealpostd -C $CONF ARGS in the background, log in
#                       $WLOG, pid in DPID, owned by the case (case_owns);
#                       waits (up to 5 s) for its "started" line, else fails
#   stop_daemon         SIGTERM to $DPID, wait; fails unless it exits 0
#   run_cases FUNC...   run each case function in a subshell, report
#                       ok/skip/FAIL per case, fail the script if one failed
#   helper_ready PID READY ERR WHAT   wait (up to 5 s) for the helper PID
#                       to write READY; skip saying WHAT and its stderr (the
#                       file ERR) when it dies first
#   A, B, C             the test addresses: A a sender of the local domain,
#                       B and C recipients elsewhere

A=alice@example.org
B=bob@example.net
C=carol@example.net
ENQUEUE="$top_builddir/tests/unit/worker_enqueue"
[ -x "$SEALPOSTD" ] || skip "sealpostd is not built"
[ -x "$ENQUEUE" ] || skip "tests/unit/worker_enqueue is not built (make check builds it)"

helper_ready() {
	_n=100
	while [ ! -s "$2" ] && [ $_n -gt 0 ]; do
		kill -0 "$1" 2>/dev/null || skip "$4: $(cat "$3")"
		sleep 0.05
		_n=$((_n - 1))
	done
}

wcase() {
	: "${T_ROOT:=$T}"
	CASE="$T_ROOT/$1"
	T=$CASE # the case's smarthost files (transcript, maildir) go here too
	SPOOL="$CASE/spool"
	CONF="$CASE/sealpost.conf"
	WLOG="$CASE/worker.log"
	mkdir -p "$SPOOL"
	: > "$WLOG"
}

wconf() {
	{
		echo "hostname = \"client.example.org\""
		echo "domain = \"example.org\""
		echo "spool_dir = \"$SPOOL\""
		echo "log = \"stderr\""
		echo "timeouts { connect = 3s command = ${WTIMEOUT:-3s} data = ${WTIMEOUT:-3s} }"
		echo "queue { retry_min = ${WRETRY_MIN:-1m} retry_max = 1h lifetime = 5d concurrency = ${WCONC:-1} ${WQUEUE:-}}"
		for l in "$@"; do printf '%s\n' "$l"; done
	} > "$CONF"
}

default_message() {
	printf 'From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: test %s\nMessage-ID: <%s@example.org>\n\nHello Bob.\n.a line starting with a dot\n..two dots\n.\nlast line\n' \
		"$(basename "$CASE")" "$(basename "$CASE")"
}

enqueue() {
	_id=$("$ENQUEUE" "$SPOOL" "$@") || fail "worker_enqueue failed"
	cp "$SPOOL/queue/$_id.msg" "$CASE/sent.msg"
	echo "$_id"
}

run_worker() {
	_t0=$(date +%s%N)
	if "$SEALPOSTD" -C "$CONF" --once "$@" 2>>"$WLOG"; then WSTATUS=0; else WSTATUS=$?; fi
	WMS=$(( ($(date +%s%N) - _t0) / 1000000 ))
}

rcpt_state() {
	"$PYTHON3" - "$SPOOL" "$1" <<'EOF'
import os, re, sys
spool, addr = sys.argv[1], sys.argv[2]
def dec(f):
    if f == "-": return ""
    if f == "=": return ""
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), f)
q = os.path.join(spool, "queue")
for name in sorted(os.listdir(q)) if os.path.isdir(q) else []:
    if not name.endswith(".env"):
        continue
    for line in open(os.path.join(q, name)):
        f = line.rstrip("\n").split(" ")
        if f[0] == "rcpt" and dec(f[5]) == addr:
            print("%s|%s|%s" % (f[1], f[2], dec(f[7])))
            sys.exit(0)
print("gone")
EOF
}

expect_state() {
	_got=$(rcpt_state "$1")
	case $_got in
	"$2"|"$2|"*) ;;
	*) fail "$(basename "$CASE"): $1: state \"$_got\", want $2 (log: $(tail -3 "$WLOG"))" ;;
	esac
	if [ $# -ge 3 ]; then
		case $_got in
		*"$3"*) ;;
		*) fail "$(basename "$CASE"): $1: last_error \"$_got\" lacks \"$3\"" ;;
		esac
	fi
}

expect_log() {
	grep -qF -- "$1" "$WLOG" || fail "$(basename "$CASE"): log lacks \"$1\"; log was:
$(cat "$WLOG")"
}

expect_no_log() {
	! grep -qF -- "$1" "$WLOG" || fail "$(basename "$CASE"): log has \"$1\""
}

no_cleartext() { assert_no_cleartext_beyond EHLO STARTTLS QUIT; }

no_tls_c2s() {
	_l=$(transcript_tls_c2s)
	[ -z "$_l" ] || fail "$(basename "$CASE"): client sent inside an unaccepted TLS session: $_l"
}

no_auth_attempt() {
	! transcript_events | grep -q '^auth-' || fail "$(basename "$CASE"): credentials were offered"
}

_case_pids=""
_case_cleanup() {
	for _p in $_case_pids; do kill -TERM "$_p" 2>/dev/null || true; done
	_smarthost_cleanup
}
case_owns() {
	_case_pids="$_case_pids $1"
	trap '_case_cleanup' EXIT
}

start_daemon() {
	"$SEALPOSTD" -C "$CONF" "$@" 2>>"$WLOG" &
	DPID=$!
	case_owns "$!"
	_n=100
	while ! grep -q "started" "$WLOG" && [ $_n -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	grep -q "started" "$WLOG" || fail "daemon did not start: $(cat "$WLOG")"
}

stop_daemon() {
	kill -TERM "$DPID"
	if wait "$DPID"; then _rc=0; else _rc=$?; fi
	[ "$_rc" = 0 ] || fail "daemon exit $_rc after SIGTERM"
}

run_cases() {
	_failed=""
	for _c in "$@"; do
		# traps are reset in a subshell: stop the case's smarthosts there
		if ( trap '_smarthost_cleanup' EXIT; "$_c" ); then _rc=0; else _rc=$?; fi
		case $_rc in
		0) ok "$_c" ;;
		77) echo "skip - $_c" ;;
		*) echo "not ok - $_c" >&2; _failed="$_failed $_c" ;;
		esac
	done
	[ -z "$_failed" ] || fail "failed cases:$_failed"
}
