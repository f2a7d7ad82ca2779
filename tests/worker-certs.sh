#!/bin/sh
# tests/worker-certs.sh - certificate verification to the letter (issue 17)
# and resumption keyed by the policy (issue 11): the test smarthost serves
# each class of tests/mkcerts-corpus.sh; sealpostd --once must accept the
# good ones and refuse the others with the reason that names the fact, in
# the log line and in mailq's last_error, having sent nothing inside the
# refused session (no EHLO, no AUTH: the relay has credentials to leak).
# Then resumed sessions: verified again under the policy, and never
# resumed under another policy.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs
CORPUS="$T/corpus"
sh "$top_srcdir/tests/mkcerts-corpus.sh" "$CERTS" "$CORPUS" || fail "mkcerts-corpus.sh failed"

queue_one() { default_message | enqueue alice@example.org bob@example.net >/dev/null; }

# serve NAME [smarthost args]: the smarthost presents corpus chain NAME
serve() {
	_n=$1; shift
	start_smarthost --cert "$CORPUS/$_n.pem" --key "$CORPUS/$_n.key" --weak-certs "$@"
}

# policy [LINES]: relay with AUTH, trusting the corpus CAs
policy() {
	echo "s3cret-password" > "$CASE/pw"
	wconf "$(relay_conf main "$SMTP_PORT" starttls "ca_file = \"$CORPUS/trust.pem\"" 'username = "alice"' \
		"password_file = \"$CASE/pw\"" "$@")"
}

# refused NAME REASON [policy lines]
refused() {
	wcase "$1"
	_why=$2
	serve "$1"
	shift 2
	policy "$@"
	queue_one
	run_worker
	[ "$WSTATUS" = 0 ] || fail "$(basename "$CASE"): exit $WSTATUS"
	expect_state bob@example.net deferred "$_why"
	expect_log "$_why"
	expect_log "status=deferred ("
	[ "$(delivered_count)" = 0 ] || fail "$(basename "$CASE"): delivered"
	no_cleartext
	no_tls_c2s
	no_auth_attempt
	expect_no_log "s3cret"
}

# accepted NAME [policy lines]
accepted() {
	wcase "$1-ok"
	serve "$1" --auth alice:s3cret-password
	shift
	policy "$@"
	queue_one
	run_worker
	[ "$WSTATUS" = 0 ] || fail "$(basename "$CASE"): exit $WSTATUS"
	expect_state bob@example.net gone
	wait_delivered 1 5 || fail "$(basename "$CASE"): not delivered; log: $(cat "$WLOG")"
	expect_log "verified, status=sent"
}

good_chain() { accepted good-chain; }
ed25519_leaf() { accepted ed25519; }
wildcard_one_label() { accepted wildcard 'verify_name = "mx.example.test"'; }
rsa_1024_explicit_low() {
	# only the policy's own key weakens the profile, and it is warned about
	accepted rsa1024 'security_profile = "low"'
	expect_log 'tls_policy "127.0.0.1": security_profile = "low" accepts certificates and keys weaker than the default "medium"'
	"$SEALPOSTD" -C "$CONF" --check-config >/dev/null 2>"$CASE/check.err" || fail "check-config: $(cat "$CASE/check.err")"
	grep -qF 'warning: tls_policy "127.0.0.1": security_profile = "low" accepts' "$CASE/check.err" ||
		fail "no --check-config warning: $(cat "$CASE/check.err")"
}

eku_client_only() {
	refused eku-client 'certificate not valid for TLS server use: certificate 0 "CN=localhost" not for TLS servers (extended key usage: TLS client)'
}
rsa_1024() {
	refused rsa1024 'certificate 0 "CN=localhost" 1024-bit RSA key, security_profile "medium" needs 2048'
}
rsa_1024_priority_cannot_weaken() {
	# a priority asking for a weaker profile does not get it
	refused rsa1024 '1024-bit RSA key, security_profile "medium" needs 2048' 'priority = "NORMAL:%PROFILE_LOW"'
	expect_log "priority's %PROFILE_LOW is ignored"
}
sha1_leaf() { refused sha1-leaf 'certificate 0 "CN=localhost" signed with RSA-SHA1, an insecure algorithm'; }
md5_leaf() { refused md5-leaf 'certificate 0 "CN=localhost" signed with RSA-MD5, an insecure algorithm'; }
sha1_intermediate() { refused sha1-inter 'certificate 1 "CN=SHA-1 intermediate" signed with ECDSA-SHA1'; }
v1_intermediate() {
	refused v1-inter 'certificate signer is not a CA: certificate 1 "CN=v1 intermediate" an X.509 v1 certificate cannot be a CA'
}
intermediate_not_ca() {
	refused noca-inter 'certificate signer is not a CA: certificate 1 "CN=not a CA" issues certificates but is not a CA (basicConstraints CA:FALSE)'
}
name_constraints() { refused nc-inter 'certificate signer constraints violated'; }
expired_intermediate() { refused expired-inter 'certificate expired: certificate 1 "CN=expired intermediate" expired'; }
missing_intermediate() {
	refused no-inter 'certificate signed by unknown authority: the server sent no intermediate certificate; its issuer "CN=corpus intermediate" is not in the trust store'
}
wildcard_two_labels() {
	refused wildcard 'certificate name mismatch: expected "a.b.example.test", certificate has "*.example.test" (set verify_name if this is intended)' \
		'verify_name = "a.b.example.test"'
}
wildcard_tld() {
	refused wildcard-tld 'certificate name mismatch: expected "mx.test", certificate has "*.test"' 'verify_name = "mx.test"'
}

nul_in_name() {
	# "localhost\0.evil.test" is neither localhost nor anything else
	refused nul-name 'certificate name mismatch: expected "localhost", certificate has '
}

probe_names_refusals() {
	wcase probe-refusals
	serve rsa1024
	policy
	if "$SEALPOSTD" -C "$CONF" --probe > "$CASE/probe.out" 2>>"$WLOG"; then fail "probe accepted RSA-1024"; fi
	for want in "key: RSA 1024 bits" "purpose: TLS server" "signature: ECDSA-SHA256" \
		'REFUSED by the policy: 1024-bit RSA key, security_profile "medium" needs 2048' "result: FAILED"; do
		grep -qF "$want" "$CASE/probe.out" || fail "probe lacks \"$want\": $(cat "$CASE/probe.out")"
	done
	[ "$(delivered_count)" = 0 ] || fail "probe sent mail"
	no_tls_c2s
}

# mark: remember where the transcript ends; since_mark FILE: what came after
mark() { _mark=$(wc -l < "$SMTP_TRANSCRIPT"); }
since_mark() { tail -n +$((_mark + 1)) "$SMTP_TRANSCRIPT" > "$1"; }

# trust.pem trusts both test CAs, only.pem the one that did not sign the
# server: the untrusted-chain server is accepted under the first only
trust_files() {
	cat "$CERTS/ca.pem" "$CERTS/other-ca.pem" > "$CASE/both.pem"
	cp "$CERTS/ca.pem" "$CASE/only.pem"
}
conf_ca() { wconf "$(relay_conf main "$SMTP_PORT" starttls "ca_file = \"$1\"")"; }

resumed_verified_again() {
	# the same policy (same ca_file path) whose trust store lost the CA:
	# the resumed session's recorded chain is verified again and refused
	wcase resumed-reverified
	start_smarthost --cert "$CERTS/untrusted-chain.pem" --key "$CERTS/untrusted.key"
	trust_files
	cp "$CASE/both.pem" "$CASE/trust.pem"
	conf_ca "$CASE/trust.pem"
	queue_one
	run_worker
	wait_delivered 1 5 || fail "first delivery failed: $(cat "$WLOG")"
	[ -n "$(ls "$SPOOL/tls-cache" 2>/dev/null)" ] || fail "no resumption data stored"
	cp "$CASE/only.pem" "$CASE/trust.pem"
	mark
	queue_one
	run_worker
	since_mark "$CASE/second.jsonl"
	expect_state bob@example.net deferred "certificate signed by unknown authority"
	expect_log "is not in the trust store (resumed session)"
	grep -q '"resumed": true' "$CASE/second.jsonl" || fail "the second session was not a resumption"
	[ -z "$(transcript_tls_c2s "$CASE/second.jsonl")" ] || fail "sent inside the refused resumed session"
	[ "$(delivered_count)" = 1 ] || fail "delivered under the refused session"
}

# resumed_refused NAME REASON: the same verdict on a resumed session. A
# session with chain NAME is made under verify = "encrypt"; its resumption
# data (tls_cache.h: a header line naming the key, then GnuTLS's data) is
# relabelled with the strict policy's key, taken from a session with a
# good server; the strict policy then resumes it (no certificate crosses)
# and must refuse the recorded chain for the same reason.
strict_conf() {
	wconf "$(relay_conf main "$1" starttls "ca_file = \"$CORPUS/trust.pem\"" 'verify_name = "127.0.0.1"')"
}
resumed_refused() {
	wcase "resumed-$1"
	_why=$2
	start_smarthost
	_good_port=$SMTP_PORT
	strict_conf "$_good_port"
	queue_one
	run_worker
	wait_delivered 1 5 || fail "good server: $(cat "$WLOG")"
	_head=$(head -n 1 "$SPOOL/tls-cache/main")
	serve "$1"
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'verify = "encrypt"')"
	queue_one
	run_worker
	wait_delivered 1 5 || fail "encrypt-only session: $(cat "$WLOG")"
	{ printf '%s\n' "$_head" | sed "s/:$_good_port:/:$SMTP_PORT:/"; tail -n +2 "$SPOOL/tls-cache/main"; } \
		> "$CASE/relabelled"
	cat "$CASE/relabelled" > "$SPOOL/tls-cache/main" # same owner and mode 0600
	strict_conf "$SMTP_PORT"
	mark
	queue_one
	run_worker
	since_mark "$CASE/third.jsonl"
	expect_state bob@example.net deferred "$_why"
	expect_log "$_why"
	expect_log "(resumed session)"
	grep -q '"resumed": true' "$CASE/third.jsonl" || fail "not a resumption: $(cat "$WLOG")"
	[ -z "$(transcript_tls_c2s "$CASE/third.jsonl")" ] || fail "sent inside the refused resumed session"
	[ "$(delivered_count)" = 1 ] || fail "delivered under the refused session"
}
resumed_eku_client_only() { resumed_refused eku-client 'certificate not valid for TLS server use: certificate 0 "CN=localhost" not for TLS servers'; }
resumed_rsa_1024() { resumed_refused rsa1024 'certificate 0 "CN=localhost" 1024-bit RSA key, security_profile "medium" needs 2048'; }
resumed_sha1_leaf() { resumed_refused sha1-leaf 'certificate 0 "CN=localhost" signed with RSA-SHA1'; }
resumed_md5_leaf() { resumed_refused md5-leaf 'certificate 0 "CN=localhost" signed with RSA-MD5'; }
resumed_sha1_intermediate() { resumed_refused sha1-inter 'certificate 1 "CN=SHA-1 intermediate" signed with ECDSA-SHA1'; }
resumed_v1_intermediate() { resumed_refused v1-inter 'an X.509 v1 certificate cannot be a CA'; }
resumed_intermediate_not_ca() { resumed_refused noca-inter 'certificate 1 "CN=not a CA" issues certificates but is not a CA'; }
resumed_name_constraints() { resumed_refused nc-inter 'certificate signer constraints violated'; }
resumed_expired_intermediate() { resumed_refused expired-inter 'certificate 1 "CN=expired intermediate" expired'; }
resumed_missing_intermediate() { resumed_refused no-inter 'the server sent no intermediate certificate; its issuer "CN=corpus intermediate"'; }

no_resumption_across_policies() {
	# issue 11: a session made under one ca_file is never resumed under
	# another, though host, port and relay name are the same
	wcase policy-key
	start_smarthost --cert "$CERTS/untrusted-chain.pem" --key "$CERTS/untrusted.key"
	trust_files
	conf_ca "$CASE/both.pem"
	queue_one
	run_worker
	wait_delivered 1 5 || fail "first delivery failed: $(cat "$WLOG")"
	conf_ca "$CASE/only.pem"
	mark
	queue_one
	run_worker
	since_mark "$CASE/second.jsonl"
	expect_state bob@example.net deferred "certificate signed by unknown authority"
	expect_no_log "(resumed session)"
	! grep -q '"resumed": true' "$CASE/second.jsonl" || fail "resumed a session made under another ca_file"
	[ -z "$(transcript_tls_c2s "$CASE/second.jsonl")" ] || fail "sent inside the refused session"
	# the first policy again: its session resumes (so the test can fail)
	conf_ca "$CASE/both.pem"
	mark
	run_worker --flush
	since_mark "$CASE/third.jsonl"
	grep -q '"resumed": true' "$CASE/third.jsonl" || fail "the first policy's session did not resume: $(cat "$WLOG")"
	wait_delivered 2 5 || fail "third run did not deliver"
}

no_resumption_across_identities() {
	# issue 11: two relays on one host:port under one policy but with
	# different AUTH users never share a session, even in one process
	wcase identity-key
	start_smarthost --auth alice:s3cret-password
	echo "s3cret-password" > "$CASE/pw"
	wconf "$(relay_conf a "$SMTP_PORT" starttls 'username = "alice"' "password_file = \"$CASE/pw\"" \
		'senders = {"alice@example.org"}')" \
		"$(RELAY_POLICY=no relay_conf c "$SMTP_PORT" starttls 'username = "carol"' "password_file = \"$CASE/pw\"" \
		'senders = {"carol@example.org"}')"
	default_message | enqueue alice@example.org bob@example.net >/dev/null
	default_message | enqueue carol@example.org dave@example.net >/dev/null
	run_worker
	[ "$(grep -c 'tls-established' "$SMTP_TRANSCRIPT")" -ge 2 ] || fail "two sessions expected"
	! grep -q '"resumed": true' "$SMTP_TRANSCRIPT" || fail "a session was shared across AUTH users"
	wait_delivered 1 5 || fail "alice's message not delivered: $(cat "$WLOG")"
	# the same user again: resumes (so the test can fail)
	mark
	default_message | enqueue alice@example.org bob@example.net >/dev/null
	run_worker
	since_mark "$CASE/again.jsonl"
	grep -q '"resumed": true' "$CASE/again.jsonl" || fail "alice's session did not resume: $(cat "$WLOG")"
}

run_cases good_chain ed25519_leaf wildcard_one_label rsa_1024_explicit_low eku_client_only rsa_1024 \
	rsa_1024_priority_cannot_weaken sha1_leaf md5_leaf sha1_intermediate v1_intermediate intermediate_not_ca \
	name_constraints expired_intermediate missing_intermediate wildcard_two_labels wildcard_tld \
	nul_in_name probe_names_refusals resumed_verified_again no_resumption_across_policies \
	resumed_eku_client_only resumed_rsa_1024 resumed_sha1_leaf resumed_md5_leaf resumed_sha1_intermediate \
	resumed_v1_intermediate resumed_intermediate_not_ca resumed_name_constraints resumed_expired_intermediate \
	resumed_missing_intermediate no_resumption_across_identities
