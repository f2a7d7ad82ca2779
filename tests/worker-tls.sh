#!/bin/sh
# tests/worker-tls.sh - sealpostd --once against the test smarthost: every
# way to secure (or fail to secure) the session. For each case the
# smarthost's transcript proves that nothing but EHLO/STARTTLS/QUIT crossed
# in cleartext, that no credentials were offered unless inside a session
# that passed the policy, and the spool and log show the exact reason.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

queue_one() { default_message | enqueue alice@example.org bob@example.net >/dev/null; }

expect_sent() {
	[ "$WSTATUS" = 0 ] || fail "$(basename "$CASE"): exit $WSTATUS"
	expect_state bob@example.net gone
	wait_delivered 1 5 || fail "$(basename "$CASE"): not delivered; log: $(cat "$WLOG")"
	cmp -s "$SMTP_MAILDIR/1.eml" "$CASE/sent.msg" || fail "$(basename "$CASE"): delivered body differs"
	expect_log "to=<bob@example.net>, relay=127.0.0.1[127.0.0.1]:$SMTP_PORT, delay="
	expect_log "status=sent (250 2.0.0 Ok"
}

# check_deferred REASON: one run leaves the message deferred for REASON.
check_deferred() {
	run_worker
	[ "$WSTATUS" = 0 ] || fail "$(basename "$CASE"): exit $WSTATUS"
	expect_state bob@example.net deferred "$1"
	expect_log "status=deferred ("
	expect_log "$1"
	_dc=$(delivered_count); [ "$_dc" = 0 ] || fail "$(basename "$CASE"): a message was delivered ($_dc)"
	no_cleartext
	no_auth_attempt
}

good_starttls() {
	wcase good-starttls
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	run_worker
	expect_sent
	expect_log "tls=TLS1.3/AES-256-GCM verified, status=sent"
	no_cleartext
	transcript_events | grep -q '^tls-established' || fail "no TLS"
	# RFC 3207: EHLO again after the handshake, and SNI names the host
	[ "$(transcript_tls_c2s | head -1)" = "EHLO client.example.org" ] || fail "no EHLO after TLS"
	grep -q '"sni": "localhost"' "$SMTP_MAILDIR/1.json" || fail "SNI not sent"
}

good_implicit() {
	wcase good-implicit
	start_smarthost --mode implicit
	wconf "$(relay_conf main "$SMTP_PORT" implicit)"
	queue_one
	run_worker
	expect_sent
	[ -z "$(transcript_cleartext)" ] || fail "cleartext in implicit mode"
}

ipv6_loopback() {
	wcase ipv6
	[ -n "$(ip -6 addr show lo 2>/dev/null | grep '::1')" ] || exit 77
	start_smarthost --listen ::1
	wconf "$(relay_conf main "$SMTP_PORT" | sed 's/127.0.0.1/::1/')"
	queue_one
	run_worker
	[ "$WSTATUS" = 0 ] && expect_state bob@example.net gone
	expect_log "relay=::1[::1]:$SMTP_PORT"
	expect_log "verified, status=sent"
}

ip_literal_name() {
	# the certificate's IP SAN 127.0.0.1 is what is checked
	wcase ip-literal
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'verify_name = "127.0.0.1"')"
	queue_one
	run_worker
	expect_sent
	expect_log "verified, status=sent"
}

no_starttls() {
	wcase no-starttls
	start_smarthost --scenario no-starttls
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "STARTTLS not offered"
	[ "$(transcript_cleartext | tail -1)" = "QUIT" ] || fail "QUIT expected last"
}

starttls_454() {
	wcase starttls-454
	start_smarthost --scenario starttls-454
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "STARTTLS refused: 454 4.7.0"
}

starttls_bogus() {
	# the server would take the mail in cleartext: it must get none
	wcase starttls-bogus
	start_smarthost --scenario starttls-bogus
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "STARTTLS refused"
	expect_log "999"
}

inject_after_220() {
	wcase inject
	start_smarthost --scenario inject-after-220
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "plaintext after STARTTLS reply: possible injection"
	no_tls_c2s
}

caps_after_tls() {
	# before TLS: SIZE 10 and AUTH PLAIN LOGIN; after: SIZE 100000000, AUTH PLAIN
	wcase caps-after-tls
	start_smarthost --scenario caps-after-tls --auth alice:s3cret
	printf 's3cret\n' > "$CASE/pw"
	chmod 600 "$CASE/pw"
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "alice"' "password_file = \"$CASE/pw\"" \
		'auth = "auto"')"
	queue_one
	run_worker
	expect_sent
	transcript_events | grep -q '^auth-success alice' || fail "AUTH inside TLS failed"
	transcript_events | grep -q '^auth-attempt PLAIN' || fail "PLAIN expected (the only post-TLS mechanism)"
	no_cleartext
}

auth_before_tls_only() {
	wcase auth-before-tls-only
	start_smarthost --scenario auth-before-tls-only --auth alice:s3cret
	printf 's3cret\n' > "$CASE/pw"
	chmod 600 "$CASE/pw"
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "alice"' "password_file = \"$CASE/pw\"")"
	queue_one
	check_deferred "server offers no AUTH inside TLS"
	! grep -q s3cret "$SMTP_TRANSCRIPT" "$WLOG" || fail "password leaked"
}

auth_login_and_secret_hygiene() {
	wcase auth-login
	start_smarthost --auth alice:s3cret
	printf 's3cret\n' > "$CASE/pw"
	chmod 644 "$CASE/pw"
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "alice"' "password_file = \"$CASE/pw\"" \
		'auth = "login"')"
	queue_one
	run_worker -vv
	expect_sent
	transcript_events | grep -q '^auth-attempt LOGIN' || fail "LOGIN not used"
	expect_log "accessible by group or others"
	! grep -q 's3cret\|czNjcmV0' "$WLOG" || fail "password (or its base64) in the trace log"
}

auth_wrong_password() {
	wcase auth-wrong
	start_smarthost --auth alice:s3cret
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "alice"' \
		'password_command = "echo wrong"')"
	queue_one
	run_worker
	expect_state bob@example.net deferred "authentication failed: 535"
	[ "$(delivered_count)" = 0 ] || fail "delivered"
	no_cleartext
}

password_command() {
	wcase password-command
	start_smarthost --auth alice:s3cret
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "alice"' \
		'password_command = "printf s3cret"')"
	queue_one
	run_worker
	expect_sent
	transcript_events | grep -q '^auth-success alice' || fail "no AUTH"
}

bad_cert() { # NAME CERT REASON [extra smarthost args]
	wcase "$1"
	_cert=$2 _why=$3
	shift 3
	start_smarthost --cert "$CERTS/$_cert.pem" --key "$CERTS/${_cert%-chain}.key" "$@"
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "$_why"
	no_tls_c2s
}
cert_selfsigned() { bad_cert selfsigned selfsigned "self-signed certificate"; }
cert_expired() { bad_cert expired expired "certificate expired"; }
cert_notyet() { bad_cert notyet notyet "certificate not yet valid"; }
cert_wrongname() {
	bad_cert wrongname wrongname 'certificate name mismatch: expected "localhost", certificate has "wrong.example.net" (set verify_name if this is intended)'
}
cert_untrusted() { bad_cert untrusted untrusted-chain "certificate signed by unknown authority"; }
cert_expired_implicit() {
	wcase expired-implicit
	start_smarthost --mode implicit --cert "$CERTS/expired.pem" --key "$CERTS/expired.key"
	wconf "$(relay_conf main "$SMTP_PORT" implicit)"
	queue_one
	check_deferred "certificate expired"
	no_tls_c2s
	[ -z "$(transcript_cleartext)" ] || fail "cleartext in implicit mode"
}

pin_accepted() {
	# a self-signed certificate: no chain, no name, only the pinned key
	wcase pin-ok
	start_smarthost --cert "$CERTS/selfsigned.pem" --key "$CERTS/selfsigned.key"
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'verify = "pin"' \
		"pin_sha256 = {\"$(cat "$CERTS/ca.pin")\", \"$(cat "$CERTS/selfsigned.pin")\"}")"
	queue_one
	run_worker
	expect_sent
	expect_log "pinned, status=sent"
}

pin_rejected() {
	wcase pin-bad
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'verify = "pin"' "pin_sha256 = {\"$(cat "$CERTS/ca.pin")\"}")"
	queue_one
	check_deferred "certificate pin mismatch"
	expect_log "$(cat "$CERTS/server.pin")"
	no_tls_c2s
}

encrypt_only() {
	wcase encrypt
	start_smarthost --cert "$CERTS/untrusted.pem" --key "$CERTS/untrusted.key"
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'verify = "encrypt"')"
	queue_one
	run_worker
	expect_sent
	expect_log "NOT authenticated"
	expect_log "unauthenticated, status=sent"
}

tls_old() {
	wcase tls-old
	start_smarthost --scenario tls-old
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "TLS handshake failed"
	no_tls_c2s
}

min_tls13() {
	wcase min-tls13
	start_smarthost --tls-max 1.2
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'min_version = "TLS1.3"')"
	queue_one
	check_deferred 'TLS handshake failed: server accepts at most TLS 1.2, policy min_version = "TLS1.3" (server sent alert: '
}

cbc_only_server() {
	# the built-in priority offers TLS 1.2 forward-secret AEAD suites only:
	# a CBC-only server is refused with what we offered, --probe says a
	# wider priority would work, and priority = "NORMAL" widens it (warned)
	wcase cbc-only
	start_smarthost --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "TLS handshake failed: no cipher suite in common: we offered TLS1.2 and TLS1.3, forward-secret AEAD suites only (server sent alert: "
	no_tls_c2s
	if "$SEALPOSTD" -C "$CONF" --probe > "$CASE/probe.out" 2>>"$WLOG"; then fail "probe accepted"; fi
	grep -qF 'a wider priority would work: with priority = "NORMAL" the server negotiates TLS1.2/AES-128-CBC' "$CASE/probe.out" ||
		fail "probe: $(cat "$CASE/probe.out")"
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'priority = "NORMAL"')"
	"$SEALPOSTD" -C "$CONF" --check-config >/dev/null 2>"$CASE/check.err" || fail "check-config: $(cat "$CASE/check.err")"
	grep -qF 'warning: tls_policy "127.0.0.1": priority widens TLS 1.2 beyond forward-secret AEAD suites' "$CASE/check.err" ||
		fail "no warning: $(cat "$CASE/check.err")"
	run_worker --flush
	expect_state bob@example.net gone
	expect_log "tls=TLS1.2/AES-128-CBC verified, status=sent"
	expect_log "priority widens TLS 1.2"
}

client_cert_required() {
	# the server requires a client certificate (TLS 1.3: its alert comes
	# after the handshake) and the policy has none: named, with the alert
	wcase client-cert-required
	start_smarthost --ca "$CERTS/ca.pem" --require-client-cert
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "the server requires a client certificate and none is configured (set client_cert and client_key in the tls_policy)"
	# the alert is named when it is read before the server's close (a
	# loaded machine may see the reset first: then the hint stands alone)
	grep -qF "server sent alert: Certificate is required" "$WLOG" || grep -q "connection closed by server\|connection lost" "$WLOG" ||
		fail "neither the alert nor the close: $(cat "$WLOG")"
}

client_cert_other_ca() {
	# the server accepts client certificates from another CA only: the
	# log names ours and its issuer
	wcase client-cert-other-ca
	start_smarthost --ca "$CERTS/other-ca.pem" --require-client-cert
	wconf "$(relay_conf main "$SMTP_PORT" starttls "client_cert = \"$CERTS/client.pem\"" \
		"client_key = \"$CERTS/client.key\"")"
	queue_one
	check_deferred 'the server refused our client certificate (issued by "CN=sealpost test CA,O=sealpost tests": does the server trust that CA?)'
}

priority_allowlist() {
	# checked by GnuTLS against what sealpost negotiates, not by substrings
	wcase priority-allowlist
	for p in "NORMAL:+3DES-CBC|which sealpost never negotiates" "NORMAL:+ARCFOUR-128|which sealpost never negotiates" \
		"NORMAL:%VERIFY_ALLOW_BROKEN|relaxes a check" "NORMAL:%NO_EXTENSIONS|relaxes a check" \
		"NORMAL:+ANON-ECDH|which sealpost never negotiates" "NORMAL:-CIPHER-ALL|invalid TLS priority string"; do
		wconf "$(relay_conf main 1 starttls "priority = \"${p%%|*}\"")"
		if "$SEALPOSTD" -C "$CONF" --check-config >/dev/null 2>"$CASE/err"; then fail "accepted ${p%%|*}"; fi
		grep -qF "${p#*|}" "$CASE/err" || fail "${p%%|*}: $(cat "$CASE/err")"
	done
	for p in "NORMAL:%NO_TICKETS" "SECURE256:%SERVER_PRECEDENCE" "NORMAL:-VERS-TLS1.2"; do
		wconf "$(relay_conf main 1 starttls "priority = \"$p\"")"
		"$SEALPOSTD" -C "$CONF" --check-config >/dev/null 2>"$CASE/err" || fail "refused $p: $(cat "$CASE/err")"
	done
}

tls12_allowed() {
	wcase tls12
	start_smarthost --tls-max 1.2
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	run_worker
	expect_sent
	expect_log "tls=TLS1.2/"
}

custom_priority_cannot_enable_old() {
	# a priority string that asks for TLS 1.0 still never gets it
	wcase priority-old
	start_smarthost --scenario tls-old
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'priority = "NORMAL:+VERS-ALL"')"
	queue_one
	check_deferred "TLS handshake failed"
}

bad_priority() {
	wcase priority-bad
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'priority = "NORMAL:+NO-SUCH-THING"')"
	queue_one
	run_worker
	# either the config loader or the TLS layer refuses it; never plaintext
	if [ "$WSTATUS" = 0 ]; then
		expect_state bob@example.net deferred "invalid TLS priority string"
	else
		[ "$WSTATUS" = 78 ] || fail "exit $WSTATUS"
	fi
	[ "$(delivered_count)" = 0 ] || fail "delivered"
	no_cleartext
}

trust_store_unusable() {
	# a CA file without certificates: fail closed, never unverified
	wcase bad-ca-file
	start_smarthost
	: > "$CASE/empty.pem"
	wconf "$(relay_conf main "$SMTP_PORT" starttls "ca_file = \"$CASE/empty.pem\"")"
	queue_one
	check_deferred "cannot load CA file"
	no_tls_c2s
	if "$SEALPOSTD" -C "$CONF" --check-config >/dev/null 2>"$CASE/check.err"; then fail "--check-config accepted it"; fi
	grep -q "TLS policy cannot be applied: cannot load CA file" "$CASE/check.err" || fail "$(cat "$CASE/check.err")"
}

client_certificate() {
	wcase client-cert
	start_smarthost --ca "$CERTS/ca.pem"
	wconf "$(relay_conf main "$SMTP_PORT" starttls "client_cert = \"$CERTS/client.pem\"" \
		"client_key = \"$CERTS/client.key\"")"
	queue_one
	run_worker
	expect_sent
	grep -q '"client_cert": "sealpost-test-client"' "$SMTP_MAILDIR/1.json" || fail "client cert not presented"
}

secrets_read_before_drop() {
	# issue 11: sealpostd started as root reads the trust store and the
	# client key (root's, mode 0600) before it becomes the sealpost user:
	# a private mount namespace gives this machine such a user (the real
	# binary, not lib.sh's --allow-root wrapper: the drop is the point)
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is missing"
	wcase secrets-before-drop
	start_smarthost --ca "$CERTS/ca.pem" --require-client-cert
	_uid=64123
	{ grep -v '^sealpost:' /etc/passwd; echo "sealpost:x:$_uid:$_uid::/nonexistent:/usr/sbin/nologin"; } > "$CASE/passwd"
	{ grep -v '^sealpost:' /etc/group; echo "sealpost:x:$_uid:"; } > "$CASE/group"
	for f in ca.pem client.pem client.key; do install -m 0600 "$CERTS/$f" "$CASE/root-$f"; done
	wconf "$(relay_conf main "$SMTP_PORT" starttls "ca_file = \"$CASE/root-ca.pem\"" \
		"client_cert = \"$CASE/root-client.pem\"" "client_key = \"$CASE/root-client.key\"")"
	queue_one
	chown -R "$_uid:$_uid" "$SPOOL"
	chmod o+x "$T_ROOT" "$CASE"
	if unshare --mount --propagation private sh -c \
		'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && exec "$3" -C "$4" --once' sh \
		"$CASE/passwd" "$CASE/group" "$SEALPOSTD_BIN" "$CONF" 2>>"$WLOG"; then WSTATUS=0; else WSTATUS=$?; fi
	grep -q '^mount:\|^unshare:' "$WLOG" && skip "no private /etc/passwd here: $(cat "$WLOG")"
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	expect_state bob@example.net gone
	wait_delivered 1 5 || fail "not delivered: $(cat "$WLOG")"
	grep -q '"client_cert": "sealpost-test-client"' "$SMTP_MAILDIR/1.json" || fail "client cert not presented"
	# it ran as that user: the resumption data it wrote is the user's
	[ "$(stat -c %u "$SPOOL/tls-cache")" = "$_uid" ] || fail "the worker did not run as uid $_uid"
}

close_after_starttls_220() {
	wcase close-after-220
	start_smarthost --scenario close-after-starttls-220
	wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "connection closed during TLS handshake"
}

silent_after_starttls() {
	wcase silent-after-starttls
	start_smarthost --scenario silent-after-starttls
	WTIMEOUT=2s wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "STARTTLS"
	expect_log "timed out"
	[ "$WMS" -lt 8000 ] || fail "took $WMS ms"
}

silent_in_handshake() {
	wcase silent-in-handshake
	start_smarthost --scenario silent-in-handshake
	WTIMEOUT=2s wconf "$(relay_conf main "$SMTP_PORT")"
	queue_one
	check_deferred "TLS handshake timed out"
	[ "$WMS" -lt 8000 ] || fail "took $WMS ms"
}

session_resumption() {
	# 101 messages: the connection is renewed after 100 transactions and
	# the second handshake resumes the first session, verified again
	wcase resumption
	# queued first: on a loaded machine 101 enqueues took a minute
	_i=0
	while [ $_i -lt 101 ]; do default_message | enqueue alice@example.org bob@example.net >/dev/null; _i=$((_i + 1)); done
	start_smarthost --no-data-transcript
	wconf "$(relay_conf main "$SMTP_PORT")"
	run_worker -vv
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS"
	wait_delivered 101 10 || fail "not all delivered"
	[ "$(grep -c ': connected, TLS1.3/AES-256-GCM verified' "$WLOG")" = 2 ] || fail "two verified connections expected"
	expect_log "verified (resumed session)"
	no_cleartext
}

probe_reports() {
	wcase probe
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT")"
	"$SEALPOSTD" -C "$CONF" --probe > "$CASE/probe.out" 2>>"$WLOG" || fail "probe failed: $(cat "$CASE/probe.out")"
	for want in "STARTTLS" "subject: CN=localhost" "DNS:localhost" "IP:127.0.0.1" "purpose: TLS server" \
		"key: EC/ECDSA 256 bits" "signature: ECDSA-SHA256" "issuer: CN=sealpost test CA" \
		"pin-sha256: $(cat "$CERTS/server.pin")" "policy (verify = ca): ACCEPTED" "result: OK"; do
		grep -qF "$want" "$CASE/probe.out" || fail "probe output lacks \"$want\": $(cat "$CASE/probe.out")"
	done
	[ "$(delivered_count)" = 0 ] || fail "probe sent mail"
	no_cleartext
	# and a rejected certificate is described, then refused
	start_smarthost --cert "$CERTS/expired.pem" --key "$CERTS/expired.key"
	wconf "$(relay_conf main "$SMTP_PORT")"
	if "$SEALPOSTD" -C "$CONF" --probe > "$CASE/probe2.out" 2>>"$WLOG"; then fail "probe accepted an expired cert"; fi
	grep -qF "(EXPIRED)" "$CASE/probe2.out" || fail "expiry not shown: $(cat "$CASE/probe2.out")"
	grep -qF "REFUSED by the policy: expired" "$CASE/probe2.out" || fail "refusal not shown: $(cat "$CASE/probe2.out")"
	grep -qF "REJECTED" "$CASE/probe2.out" || fail "verdict not shown"
}

run_cases good_starttls good_implicit ipv6_loopback ip_literal_name no_starttls starttls_454 \
	starttls_bogus inject_after_220 caps_after_tls auth_before_tls_only auth_login_and_secret_hygiene \
	auth_wrong_password password_command cert_selfsigned cert_expired cert_notyet cert_wrongname \
	cert_untrusted cert_expired_implicit pin_accepted pin_rejected encrypt_only tls_old min_tls13 \
	tls12_allowed cbc_only_server client_cert_required client_cert_other_ca priority_allowlist custom_priority_cannot_enable_old \
	bad_priority trust_store_unusable client_certificate secrets_read_before_drop \
	close_after_starttls_220 silent_after_starttls silent_in_handshake session_resumption probe_reports
