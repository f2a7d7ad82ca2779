#!/bin/sh
# tests/worker-postfix.sh - a real MTA as smarthost: `sealpost` queues,
# `sealpostd --once` relays to a private Postfix (tests/postfix-harness.sh)
# that requires STARTTLS and SMTP AUTH (PLAIN/LOGIN offered only inside
# TLS) on its submission port and speaks implicit TLS on its smtps port.
# Asserts the messages arrive byte for byte as spooled, with the right
# envelope sender and recipients, and authenticated. Skips (77) unless run
# as root with Postfix installed.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"

[ -x "$SEALPOST" ] && [ -x "$SEALPOSTD" ] || skip "sealpost/sealpostd not built"
start_postfix
printf '%s\n' "$PF_PASS" > "$T/pf.secret"
chmod 600 "$T/pf.secret"

# deliver_via MODE PORT: queue two messages with sealpost, relay them.
deliver_via() {
	mode=$1 port=$2
	spool="$T/spool.$mode"
	conf="$T/conf.$mode"
	mkdir -p "$spool"
	cat > "$conf" <<EOF
hostname = "client.example.org"
domain = "example.org"
spool_dir = "$spool"
log = "stderr"
relay "postfix" {
  host = "127.0.0.1"
  port = $port
  tls = "$mode"
  username = "${DV_USER:-$PF_USER}"
  password_file = "${DV_SECRET:-$T/pf.secret}"
  ${DV_AUTH:+auth = \"$DV_AUTH\"}
}
tls_policy "127.0.0.1" {
  verify = "ca"
  ca_file = "$PF_CA"
  verify_name = "localhost"
}
timeouts { connect = 10s command = 30s data = 30s }
EOF
	# awkward bytes: dots at line starts, a lone dot line (-i), 8-bit text,
	# a long header, empty lines, LF input that must become CRLF
	printf 'From: Alice <alice-%s@example.org>\nTo: r1-%s@%s, r2-%s@%s\nSubject: sealpost via postfix %s\nX-Long: %s\n\n.leading dot\n..two\n.\ncaf\303\251 d\303\251j\303\240 vu\n\n\nend\n' \
		"$mode" "$mode" "$PF_DOMAIN" "$mode" "$PF_DOMAIN" "$mode" "$(printf '%0500d' 5)" |
		"$SEALPOST" -C "$conf" -odq -i -t -f "sender-$mode@example.org" ||
		fail "$mode: sealpost could not queue"
	printf 'Subject: second %s\n\nsecond message, same connection\n' "$mode" |
		"$SEALPOST" -C "$conf" -odq -f "sender-$mode@example.org" "r3-$mode@$PF_DOMAIN" ||
		fail "$mode: sealpost could not queue the second message"
	first=$(ls "$spool"/queue/*.msg | head -1)
	cp "$first" "$T/sent.$mode"
	"$SEALPOSTD" -C "$conf" --once 2> "$T/worker.$mode.log" || fail "$mode: sealpostd exit $?"
	[ "$(ls "$spool/queue" | wc -l)" = 0 ] || fail "$mode: still queued: $(cat "$T/worker.$mode.log")"
	grep -q "status=sent (250 2.0.0 Ok" "$T/worker.$mode.log" || fail "$mode: no sent line: $(cat "$T/worker.$mode.log")"
	grep -q "tls=TLS1.[23]/.* verified" "$T/worker.$mode.log" || fail "$mode: not verified TLS"
}

check_delivered() { # MODE RCPT
	mode=$1 rcpt=$2
	file=$(grep -l "^X-Original-To: $rcpt\$" "$PF_MAILDIR"/new/* 2>/dev/null | head -1)
	[ -n "$file" ] || fail "$mode: nothing for $rcpt"
	head -n 1 "$file" | grep -qx "Return-Path: <sender-$mode@example.org>" ||
		fail "$mode: envelope sender: $(head -n 1 "$file")"
	grep -q "Authenticated sender: $PF_USER" "$file" || fail "$mode: not authenticated"
	echo "$file"
}

# delivered_via MODE PORT N: deliver through PORT with tls = MODE; Postfix
# then holds N messages, the three recipients' with the envelope right,
# and the body is the spooled one byte for byte
delivered_via() {
	deliver_via "$1" "$2"
	sh "$HARNESS" wait "$T/pf" "$3" 30 || fail "$1: not delivered (see $PF_LOG)"
	f=$(check_delivered "$1" "r1-$1@$PF_DOMAIN")
	check_delivered "$1" "r2-$1@$PF_DOMAIN" >/dev/null
	check_delivered "$1" "r3-$1@$PF_DOMAIN" >/dev/null
	sh "$HARNESS" payload "$f" > "$T/got.$1"
	cmp "$T/sent.$1" "$T/got.$1" || fail "$1: body differs from the spooled message"
}

delivered_via starttls "$PF_SUBMISSION_PORT" 3
grep -q "sasl_method=PLAIN" "$PF_LOG" || fail "starttls: no SASL PLAIN login in the Postfix log"
ok "STARTTLS + AUTH: 2 messages, 3 recipients, body byte-identical, envelope right"

delivered_via implicit "$PF_SMTPS_PORT" 6
ok "implicit TLS + AUTH: body byte-identical, envelope right"

# SCRAM-SHA-256: offered by Cyrus SASL once the mechanism list allows it;
# auth = "auto" must pick it, and the server's signature must check out.
if [ -e /usr/lib/x86_64-linux-gnu/sasl2/libscram.so ] || ls /usr/lib/*/sasl2/libscram.so >/dev/null 2>&1; then
	# the harness keeps its instance in DIR, or elsewhere (DIR/instance)
	pf_inst="$T/pf"
	[ -f "$T/pf/instance" ] && pf_inst=$(cat "$T/pf/instance")
	sed -i 's/^mech_list:.*/mech_list: SCRAM-SHA-256 PLAIN LOGIN/' "$pf_inst/etc/sasl/smtpd.conf" ||
		fail "cannot enable SCRAM in the harness"
	/usr/sbin/postfix -c "$pf_inst/etc" reload >/dev/null 2>&1 || fail "postfix reload"
	sleep 1
	deliver_via starttls "$PF_SUBMISSION_PORT"
	sh "$HARNESS" wait "$T/pf" 9 30 || fail "scram: not delivered (see $PF_LOG)"
	grep -q "sasl_method=SCRAM-SHA-256" "$PF_LOG" || fail "scram: Postfix saw no SCRAM-SHA-256 login"
	ok "SCRAM-SHA-256 chosen by auth = auto and accepted (server signature verified)"

	# a non-ASCII password, stored prepared (NFC) by the server and typed
	# decomposed (NFD), with a soft hyphen and a no-break space: only
	# SASLprep (RFC 4013) on our side makes the two hash alike
	sasldb=$(sed -n 's/^sasldb_path: *//p' "$pf_inst/etc/sasl/smtpd.conf")
	printf 'p\303\244ssw\303\266rd geheim' | saslpasswd2 -p -f "$sasldb" -u pf.sealpost.test -c sealutf8 ||
		fail "saslpasswd2 for the UTF-8 user"
	printf 'pa\314\210ss\302\255wo\314\210rd\302\240geheim\n' > "$T/utf8.secret"
	chmod 600 "$T/utf8.secret"
	DV_USER=sealutf8 DV_SECRET="$T/utf8.secret" DV_AUTH=scram-sha-256 deliver_via starttls "$PF_SUBMISSION_PORT"
	sh "$HARNESS" wait "$T/pf" 12 30 || fail "scram utf-8: not delivered (see $PF_LOG)"
	grep -q "sasl_method=SCRAM-SHA-256, sasl_username=sealutf8" "$PF_LOG" ||
		fail "scram utf-8: Postfix saw no SCRAM-SHA-256 login by sealutf8"
	ok "SCRAM-SHA-256 with a non-ASCII password in another Unicode form (SASLprep)"
else
	echo "skip - SCRAM-SHA-256: the Cyrus SCRAM plugin is not installed"
fi

# Postfix saw no mail transaction outside TLS and no failed login
! grep -q "SASL .* authentication failed" "$PF_LOG" || fail "a failed SASL login in the Postfix log"
ok "no failed logins"
