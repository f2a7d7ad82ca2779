#!/bin/sh
# tests/ops-logs.sh - log lines that existing tools parse: the TLS session
# line in Postfix's form (Verified for verify = ca and pin, Untrusted for
# encrypt; TLS 1.3 and 1.2) matched against the TLS statistics pattern;
# log_format = "json": every line one valid object, the delivery and TLS
# facts as fields; a certificate expiring within 14 days warned about
# once a day (the time kept in the spool's metrics state).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
CHECK="$top_srcdir/tests/ops-logcheck.py"
msg() { printf 'To: bob@example.net\nSubject: %s\n\nhello\n' "$1"; }

# deliver_one [relay_conf policy lines]: one message through the smarthost
deliver_one() {
	wconf "$(relay_conf main "$SMTP_PORT" starttls "$@")"
	msg one | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	[ "$WSTATUS" = 0 ] || fail "$(basename "$CASE"): worker exit $WSTATUS: $(cat "$WLOG")"
	expect_state bob@example.net gone
}

tls_verified() {
	wcase verified
	start_smarthost
	deliver_one
	"$PYTHON3" "$CHECK" tls "$WLOG" Verified TLSv1.3 >/dev/null || fail "TLS line"
	# word for word as Postfix writes it, with what the server negotiated
	_c=$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tls_cipher"])' "$SMTP_MAILDIR/1.json")
	expect_log "Verified TLS connection established to 127.0.0.1[127.0.0.1]:$SMTP_PORT: TLSv1.3 with cipher $_c ("
}

tls_pinned() {
	wcase pinned
	start_smarthost
	deliver_one 'verify = "pin"' "pin_sha256 = {\"$(cat "$CERTS/server.pin")\"}"
	"$PYTHON3" "$CHECK" tls "$WLOG" Verified TLSv1.3 >/dev/null || fail "TLS line"
}

tls_untrusted_tls12() {
	wcase untrusted
	start_smarthost --tls-max 1.2
	deliver_one 'verify = "encrypt"'
	"$PYTHON3" "$CHECK" tls "$WLOG" Untrusted TLSv1.2 >/dev/null || fail "TLS line"
	expect_log "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:$SMTP_PORT: TLSv1.2 with cipher TLS_"
}

json_lines() {
	wcase json
	start_smarthost --scenario rcpt-mixed
	# log = "stderr" (wconf): the worker's stderr is the JSON log
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'verify = "pin"' "pin_sha256 = {\"$(cat "$CERTS/server.pin")\"}")" \
		'log_format = "json"'
	# a hostile byte (not UTF-8) in an address still gives valid JSON
	msg j | enqueue alice@example.org bob@example.net "carol@example.net" "$(printf 'd\377ve@example.net')" >/dev/null
	run_worker
	[ -s "$WLOG" ] || fail "no JSON log"
	"$PYTHON3" "$CHECK" json "$WLOG" > "$CASE/events" || fail "invalid JSON log line"
	"$PYTHON3" - "$CASE/events" "$SMTP_PORT" <<'PY' || fail "JSON fields: $(cat "$CASE/events")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
tls = [e for e in ev if e["event"] == "tls"]
dl = {e["to"]: e for e in ev if e["event"] == "delivery"}
assert len(tls) == 1, tls
t = tls[0]
assert t["relay"] == "main" and t["ip"] == "127.0.0.1" and t["port"] == int(sys.argv[2]), t
assert t["tls_version"] == "TLSv1.3" and t["cipher"].startswith("TLS_") and t["bits"] >= 128, t
assert t["verified"] is False and t["pin_matched"] is True and t["tls_level"] == "Verified", t
assert t["message"].startswith("Verified TLS connection established to 127.0.0.1[127.0.0.1]:"), t
s, b = dl["bob@example.net"], dl["carol@example.net"]
for e in (s, b):
    assert e["relay"] == "main" and e["ip"] == "127.0.0.1" and e["host"] == "127.0.0.1", e
    assert e["tls_version"] == "TLSv1.3" and e["cipher"] == t["cipher"], e
    assert e["pin_matched"] is True and e["verified"] is False, e
    assert isinstance(e["delay"], float) and 0 <= e["delay"] < 60, e
    assert len(e["queue_id"]) == 16, e
assert s["status"] == "sent" and s["dsn"] == "2.0.0", s
assert b["status"] == "bounced" and b["dsn"] == "5.1.1" and "550" in b["reason"], b
assert "status=bounced" in b["message"], b
assert dl["d\ufffdve@example.net"]["status"] in ("bounced", "deferred"), dl
PY
}

cert_expiry_warning() {
	wcase expiry
	# a server certificate from the test CA that expires in 5 days
	_d=$CASE/cert
	mkdir -p "$_d"
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$_d/s.key" 2>/dev/null
	printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nexpiration_days = 5\n' > "$_d/t"
	certtool --generate-certificate --load-privkey "$_d/s.key" --load-ca-certificate "$CERTS/ca.pem" \
		--load-ca-privkey "$CERTS/ca.key" --template "$_d/t" --outfile "$_d/s.pem" 2>/dev/null ||
		fail "certtool"
	"$PYTHON3" "$SMARTHOST_PY" --cert "$_d/s.pem" --key "$_d/s.key" --port-file "$_d/port" \
		--maildir "$CASE/md" --transcript "$CASE/tr" 2>"$CASE/sh.err" &
	case_owns $!
	wait_for_file "$_d/port" 10 || fail "smarthost"
	SMTP_PORT=$(cat "$_d/port")
	deliver_one
	expect_log "relay main (127.0.0.1): the server's certificate expires at "
	grep -qE "\(in [45] days\)" "$WLOG" || fail "no day count: $(cat "$WLOG")"
	[ "$(grep -c "certificate expires at" "$WLOG")" = 1 ] || fail "warned $(grep -c "certificate expires at" "$WLOG") times"
	# the same day: not again
	msg two | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	[ "$(grep -c "certificate expires at" "$WLOG")" = 1 ] || fail "warned again the same day"
	# a day later (the time kept in the state, moved back): again
	_w=$(awk '$1 == "relay" && $2 == "main" { print $8 }' "$SPOOL/state/metrics")
	[ "$_w" -gt 0 ] || fail "no warning time in the state: $(cat "$SPOOL/state/metrics")"
	sed -i "s/^\(relay main \([0-9]* \)\{5\}\)$_w /\1$((_w - 86401)) /" "$SPOOL/state/metrics"
	msg three | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	[ "$(grep -c "certificate expires at" "$WLOG")" = 2 ] || fail "not warned after a day: $(cat "$SPOOL/state/metrics")"
	# a certificate good for years: never
	wcase expiry-far
	start_smarthost
	deliver_one
	expect_no_log "certificate expires at"
}

run_cases ${ONLY:-tls_verified tls_pinned tls_untrusted_tls12 json_lines cert_expiry_warning}
