#!/bin/sh
# tests/queue-limits.sh - a relay's limits { connections messages } (issue
# 13, item 3; SPEC section 7) are kept across the workers of one run, across
# one-shot workers running at the same time and by the daemon's workers:
# with 20 messages queued and 4 workers, the test smarthost never sees more
# than `connections` sessions at once nor more than `messages` deliveries
# in any window of the period, counted from its own transcript
# (tests/smarthost_throttle.py check-limits). Also: --check-config shows
# the limits, and bad values are config errors with file and line.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

LIMITS='limits { connections = 2  messages = "5/1s" }'

check_limits() {
	"$PYTHON3" "$top_srcdir/tests/smarthost_throttle.py" check-limits "$SMTP_TRANSCRIPT" \
		--connections 2 --messages 5/1 --expect-delivered 20 > "$CASE/limits.out" ||
		fail "$(basename "$CASE"): $(cat "$CASE/limits.out")"
	grep -q "max at once 2" "$CASE/limits.out" ||
		fail "$(basename "$CASE"): never 2 sessions at once, the test proves little: $(cat "$CASE/limits.out")"
}

queue_twenty() {
	_i=1
	while [ $_i -le 20 ]; do
		default_message | enqueue "$A" "r$_i@example.net" >/dev/null
		_i=$((_i + 1))
	done
}

all_sent() {
	[ "$(ls "$SPOOL/queue" | grep -c '\.env$')" = 0 ] || fail "$(basename "$CASE"): still queued: $(tail -5 "$WLOG")"
	[ "$(grep -c 'status=sent' "$WLOG")" = 20 ] || fail "$(basename "$CASE"): $(grep -c 'status=sent' "$WLOG") sent lines"
	expect_no_log "status=bounced"
}

one_run_four_workers() {
	wcase one-run
	start_smarthost --no-data-transcript
	WCONC=4 wconf "$(relay_conf main "$SMTP_PORT" starttls "$LIMITS")"
	queue_twenty
	run_worker
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS: $(tail -5 "$WLOG")"
	wait_delivered 20 5 || fail "not all delivered"
	all_sent
	check_limits
}

concurrent_one_shot_workers() {
	wcase one-shots
	start_smarthost --no-data-transcript
	WCONC=2 wconf "$(relay_conf main "$SMTP_PORT" starttls "$LIMITS")"
	queue_twenty
	"$SEALPOSTD" -C "$CONF" --once 2>>"$WLOG" & _p1=$!
	"$SEALPOSTD" -C "$CONF" --once 2>>"$WLOG" & _p2=$!
	"$SEALPOSTD" -C "$CONF" --once 2>>"$WLOG" & _p3=$!
	wait $_p1 && wait $_p2 && wait $_p3 || fail "a one-shot worker failed: $(tail -5 "$WLOG")"
	wait_delivered 20 5 || fail "not all delivered"
	all_sent
	check_limits
}

daemon_four_workers() {
	wcase daemon
	start_smarthost --no-data-transcript
	WCONC=4 wconf "$(relay_conf main "$SMTP_PORT" starttls "$LIMITS")"
	# queued before the start: the first scan hands batches to three
	# workers at once (8, 8, 4), which must share the 2 slots; mail
	# queued one by one while the daemon runs may, on a loaded machine,
	# be delivered as it comes and never need a second slot
	queue_twenty
	start_daemon
	wait_delivered 20 30 || fail "daemon did not deliver all: $(tail -5 "$WLOG")"
	stop_daemon
	all_sent
	check_limits
}

shown_and_checked() {
	wcase config
	wconf "$(relay_conf main 2525 starttls "$LIMITS")"
	"$SEALPOSTD" -C "$CONF" --check-config > "$CASE/dump" 2>&1 || fail "--check-config: $(cat "$CASE/dump")"
	grep -q '^    connections = 2$' "$CASE/dump" || fail "connections not shown: $(cat "$CASE/dump")"
	grep -q '^    messages    = "5/1s"$' "$CASE/dump" || fail "messages not shown"
	# the dump is a valid config again
	cp "$CASE/dump" "$CASE/again.conf"
	"$SEALPOSTD" -C "$CASE/again.conf" --check-config >/dev/null 2>&1 || fail "the dump does not load"
	for bad in 'limits { connections = 0 }|connections = "0": must be a number from 1 to 64' \
		'limits { messages = "30" }|messages = "30": must be "N/PERIOD"' \
		'limits { messages = "0/1m" }|messages = "0/1m"' \
		'limits { messages = "30/8d" }|messages = "30/8d"' \
		'limits { messages = "30/1m" messages = "5/1s" }|messages is set twice' \
		'limits { connections = 2 }
  limits { connections = 3 }|limits is given twice' \
		'limits { burst = 2 }|burst'; do
		wconf "$(relay_conf main 2525 starttls "${bad%%|*}")"
		if "$SEALPOSTD" -C "$CONF" --check-config > "$CASE/err" 2>&1; then _rc=0; else _rc=$?; fi
		[ "$_rc" = 78 ] || fail "'${bad%%|*}': exit $_rc, want 78"
		grep -qF "${bad#*|}" "$CASE/err" || fail "'${bad%%|*}': message lacks '${bad#*|}': $(cat "$CASE/err")"
		grep -q "$CONF:[0-9]" "$CASE/err" || fail "'${bad%%|*}': no file:line: $(cat "$CASE/err")"
	done
	# two relays, each with its own limits: fine
	wconf "$(relay_conf a 2525 starttls "$LIMITS")" \
		"$(RELAY_POLICY=no relay_conf b 2526 starttls 'limits { connections = 3 }')"
	"$SEALPOSTD" -C "$CONF" --check-config > "$CASE/dump" 2>&1 || fail "two relays with limits: $(cat "$CASE/dump")"
	grep -q '^    connections = 3$' "$CASE/dump" || fail "second relay's limits not shown"
}

run_cases shown_and_checked one_run_four_workers concurrent_one_shot_workers daemon_four_workers
