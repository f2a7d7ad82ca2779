#!/bin/sh
# tests/ops-jsonlines.sh - sealpost -bp --json-lines in Postfix's
# postqueue -j form, read by a script written for postqueue -j output
# (tests/ops-postqueue.py): queue names (active, deferred, hold), ids,
# arrival times, sizes, the null sender, only recipients still to be
# delivered, delay_reason only with a reason; an empty queue prints
# nothing; hostile bytes stay valid JSON; --json-lines is refused without
# -bp or with --json.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
READER="$top_srcdir/tests/ops-postqueue.py"
msg() { printf 'To: bob@example.net\nSubject: %s\n\nhello\n' "$1"; }

listing() {
	wcase listing
	start_smarthost --scenario rcpt-mixed
	wconf "$(relay_conf main "$SMTP_PORT")"
	"$SEALPOST" -C "$CONF" -bp --json-lines > "$CASE/empty" || fail "empty queue: exit $?"
	[ ! -s "$CASE/empty" ] || fail "an empty queue printed: $(cat "$CASE/empty")"
	# finished (bob sent, carol bounced): no longer listed
	msg done | enqueue alice@example.org bob@example.net carol@example.net >/dev/null
	run_worker
	id_p=$(msg p | enqueue '' erin@example.net)
	id_h=$(msg h | enqueue -H alice@example.org "$(printf 'fr\377nk@example.net')")
	"$SEALPOST" -C "$CONF" -bp --json-lines > "$CASE/out" || fail "exit $?"
	[ "$(wc -l < "$CASE/out")" = 2 ] || fail "want 2 lines (the first message is done): $(cat "$CASE/out")"
	# and one deferred by the server
	stop_smarthost
	start_smarthost --scenario rcpt-4xx
	wconf "$(relay_conf main "$SMTP_PORT")"
	id_d=$(msg d2 | enqueue alice@example.org dave@example.net)
	run_worker --id "$id_d"
	"$SEALPOST" -C "$CONF" -bp --json-lines > "$CASE/out" || fail "exit $?"
	"$PYTHON3" "$READER" < "$CASE/out" > "$CASE/read" || fail "the postqueue -j reader refused: $(cat "$CASE/out")"
	_size_p=$(stat -c %s "$SPOOL/queue/$id_p.msg")
	_arr_d=$(grep '^arrival ' "$SPOOL/queue/$id_d.env" | cut -d' ' -f2)
	grep -qx "active 1" "$CASE/read" || fail "active: $(cat "$CASE/read")"
	grep -qx "deferred 1" "$CASE/read" || fail "deferred: $(cat "$CASE/read")"
	grep -qx "hold 1" "$CASE/read" || fail "hold: $(cat "$CASE/read")"
	grep -q "^$id_p active [0-9]* $_size_p <> erin@example.net -\$" "$CASE/read" || fail "pending: $(cat "$CASE/read")"
	grep -q "^$id_d deferred [0-9]* [0-9]* alice@example.org dave@example.net 127.0.0.1\[127.0.0.1\]:$SMTP_PORT: 450 4.2.0 " \
		"$CASE/read" || fail "deferred: $(cat "$CASE/read")"
	grep -q "^$id_h hold [0-9]* [0-9]* alice@example.org fr.*nk@example.net -\$" "$CASE/read" || fail "held: $(cat "$CASE/read")"
	# exact field values against the envelope
	"$PYTHON3" - "$CASE/out" "$id_d" "$_arr_d" <<'PY' || fail "fields: $(cat "$CASE/out")"
import json, sys
m = {j["queue_id"]: j for j in map(json.loads, open(sys.argv[1]))}
d = m[sys.argv[2]]
assert d["arrival_time"] == int(sys.argv[3]), d
assert d["forced_expire"] is False, d
assert [r["address"] for r in d["recipients"]] == ["dave@example.net"], d
held = [j for j in m.values() if j["queue_name"] == "hold"][0]
assert held["recipients"][0]["address"] == "fr\u00ffnk@example.net", held
assert "delay_reason" not in held["recipients"][0], held
PY
}

usage() {
	wcase usage
	wconf
	for _a in "--json-lines" "-bp --json --json-lines" "-t --json-lines"; do
		# shellcheck disable=SC2086
		if "$SEALPOST" -C "$CONF" $_a </dev/null >/dev/null 2>"$CASE/err"; then _rc=0; else _rc=$?; fi
		[ "$_rc" = 64 ] || fail "sealpost $_a: exit $_rc, want 64"
		grep -q -- "--json-lines goes with -bp" "$CASE/err" || fail "sealpost $_a: $(cat "$CASE/err")"
	done
}

run_cases ${ONLY:-listing usage}
