#!/bin/sh
# tests/queue-container.sh - "no daemon, no problem", the container way:
# no sealpostd daemon, no syslog socket, a non-root user with its own
# spool, an empty environment and cwd /. `sealpost` must return before
# the delivery is done (the figure is printed), must not keep the caller's stdout/stderr pipe
# open while the detached one-shot worker delivers (a pipeline ends long
# before a slow delivery does), and the message must reach the smarthost
# shortly after, delivered by a worker running as that user. A stale
# sealpostd.lock that no daemon holds does not stop the one-shot worker.
# Needs root (to become another user); skipped otherwise.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
[ -x "$SEALPOST" ] || skip "sealpost is not built"
[ "$(id -u)" = 0 ] || skip "needs root to run as an unprivileged user"
command -v runuser >/dev/null || skip "runuser (util-linux) is missing"
USER_NAME=nobody
id "$USER_NAME" >/dev/null 2>&1 || skip "no user $USER_NAME"

# as_user CMD...: the unprivileged user, empty environment, cwd /
as_user() { (cd / && runuser -u "$USER_NAME" -- env -i "$@"); }

setup() { # setup NAME [log line] [smarthost args...]: the case, its smarthost, its config
	wcase "$1"
	_log=${2:-}
	[ $# -ge 2 ] && shift 2 || shift 1
	start_smarthost "$@"
	chmod 755 "$T_ROOT" "$CASE"
	chown "$USER_NAME" "$SPOOL"
	chmod 700 "$SPOOL"
	wconf "$(relay_conf main "$SMTP_PORT")"
	# the config key "log" left out (syslog, with no socket), or as given
	sed -i '/^log = /d' "$CONF"
	[ -n "$_log" ] && echo "$_log" >> "$CONF"
	chmod 644 "$CONF"
	[ -r "$CERTS/ca.pem" ] && runuser -u "$USER_NAME" -- test -r "$CERTS/ca.pem" ||
		skip "the test CA is not readable by $USER_NAME"
}

send_as_user() { # send_as_user SUBJECT: sets RET_MS
	_t0=$(date +%s%N)
	printf 'To: %s\nSubject: %s\n\nfrom a container\n' "$B" "$1" |
		as_user "$SEALPOST" -C "$CONF" -t 2>"$CASE/stderr" | cat >/dev/null ||
		fail "sealpost failed: $(cat "$CASE/stderr")"
	RET_MS=$(( ($(date +%s%N) - _t0) / 1000000 ))
	# (with log = "stderr" the detached worker keeps stderr for its log)
	case $_log in
	*stderr*) ;;
	*) [ ! -s "$CASE/stderr" ] || fail "sealpost wrote to stderr: $(cat "$CASE/stderr")" ;;
	esac
}

immediate_delivery() {
	setup immediate
	[ -e /dev/log ] && echo "# note: /dev/log exists here; syslog is unset in the config anyway" >&2
	send_as_user one
	_t0=$(date +%s%N)
	wait_delivered 1 10 || fail "not delivered by the one-shot worker"
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	echo "# container-style: sealpost returned after $RET_MS ms; delivered $_ms ms later (no daemon, uid $(id -u "$USER_NAME"))" >&2
	[ "$(queued_count)" = 0 ] || fail "left in the queue"
	grep -q '"mail_from": "nobody@example.org"' "$SMTP_MAILDIR/1.json" || fail "sender: $(cat "$SMTP_MAILDIR/1.json")"
	# everything in the spool belongs to the user: nothing ran as root
	[ -z "$(find "$SPOOL" -user root ! -path "$SPOOL")" ] || fail "root-owned files in the spool: $(find "$SPOOL" -user root)"
	no_cleartext
}

pipe_not_held() {
	# a slow server: the delivery takes seconds; the caller's pipeline
	# must end before it, so nothing is delivered when it does (an
	# event, not a time limit: a loaded machine is slow)
	setup slow 'log = "stderr"' --scenario slow
	send_as_user slow
	_n=$(delivered_count)
	echo "# slow server: the caller's pipeline ended after $RET_MS ms, $_n message(s) delivered by then" >&2
	[ "$_n" = 0 ] || fail "the pipeline waited for the delivery: the worker kept it open"
	wait_delivered 1 60 || fail "not delivered: $(cat "$CASE/stderr")"
}

stale_lock_file() {
	setup stale-lock
	mkdir -p "$SPOOL/queue" "$SPOOL/tmp" "$SPOOL/corrupt"
	echo 12345 > "$SPOOL/sealpostd.lock" # left by a daemon long gone
	chown -R "$USER_NAME" "$SPOOL"
	send_as_user stale
	wait_delivered 1 10 || fail "a stale lock file stopped the one-shot worker"
}

run_cases immediate_delivery pipe_not_held stale_lock_file
