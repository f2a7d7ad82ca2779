#!/bin/sh
# tests/mkcerts.sh DIR - generate the throwaway test PKI used by the test
# smarthost, the Postfix harness and the worker tests.
#
# Runs unprivileged; trusts nothing but certtool (gnutls-bin). Keys are
# ECDSA P-256 (fast). Everything here is test material: the keys are made
# world-readable (0644) so that tests running the worker as another user
# can read them. Never use these files for anything real.
#
# Contract (files created in DIR; all names are localhost/127.0.0.1/::1
# unless said otherwise):
#   ca.pem ca.key                 test CA (the one tests trust: ca_file)
#   server.pem server.key         signed by ca; CN=localhost, SAN dns localhost,
#                                 ip 127.0.0.1, ip ::1; valid 10 years from now
#   server-chain.pem              server.pem followed by ca.pem
#   expired.pem expired.key       signed by ca, right names, expired (2015-2016)
#   notyet.pem notyet.key         signed by ca, right names, valid from now+1 year
#   wrongname.pem wrongname.key   signed by ca, SAN only dns wrong.example.net
#   selfsigned.pem selfsigned.key self-signed, right names
#   other-ca.pem other-ca.key     a second CA that tests do NOT trust
#   untrusted.pem untrusted.key   signed by other-ca, right names
#   untrusted-chain.pem           untrusted.pem followed by other-ca.pem
#   client.pem client.key         TLS client certificate (CN=sealpost-test-client)
#                                 signed by ca
#   NAME.pin for every key NAME   base64(SHA-256(SubjectPublicKeyInfo)), one
#                                 line, the value for pin_sha256 (same as
#                                 certtool --pubkey-info "pin-sha256:")
#   .complete                     stamp: DIR is whole
#
# Idempotent and safe under parallel invocation: the files are generated in
# DIR.tmp.$$ and the directory is renamed into place in one rename(2) (which
# only replaces a missing or empty DIR); a loser of the race discards its
# copy. Prints nothing on success; exits non-zero with a message otherwise.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 64; }
dir=$1
[ -f "$dir/.complete" ] && exit 0

command -v certtool >/dev/null 2>&1 ||
	{ echo "mkcerts.sh: certtool not found (apt-get install gnutls-bin)" >&2; exit 77; }

parent=$(dirname "$dir")
mkdir -p "$parent"
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir "$tmp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

log="$tmp/.certtool.log"

# key NAME: an ECDSA P-256 private key and its SPKI pin.
key() {
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
		--outfile "$tmp/$1.key" >>"$log" 2>&1
	certtool --pubkey-info --load-privkey "$tmp/$1.key" 2>>"$log" |
		sed -n 's/^[[:space:]]*pin-sha256:\([A-Za-z0-9+/=]*\)[[:space:]]*$/\1/p' \
		> "$tmp/$1.pin"
	[ -s "$tmp/$1.pin" ] || { echo "mkcerts.sh: no pin for $1" >&2; exit 1; }
}

# template NAME LINES...: write a certtool template.
template() {
	name=$1; shift
	printf '%s\n' "$@" > "$tmp/$name.tmpl"
}

# Dates for certtool templates (UTC, "YYYY-MM-DD HH:MM:SS").
now_plus_days() { date -u -d "now + $1 days" '+%Y-%m-%d %H:%M:%S'; }
right_names='dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"'

# sign NAME CA TEMPLATE-LINES...: key + certificate for NAME signed by CA.
sign() {
	name=$1 ca=$2; shift 2
	key "$name"
	template "$name" "$@"
	certtool --generate-certificate --load-privkey "$tmp/$name.key" \
		--load-ca-certificate "$tmp/$ca.pem" --load-ca-privkey "$tmp/$ca.key" \
		--template "$tmp/$name.tmpl" --outfile "$tmp/$name.pem" >>"$log" 2>&1
}

# selfsign NAME TEMPLATE-LINES...: self-signed certificate (also the CAs).
selfsign() {
	name=$1; shift
	key "$name"
	template "$name" "$@"
	certtool --generate-self-signed --load-privkey "$tmp/$name.key" \
		--template "$tmp/$name.tmpl" --outfile "$tmp/$name.pem" >>"$log" 2>&1
}

run() {
	selfsign ca 'cn = "sealpost test CA"' 'organization = "sealpost tests"' \
		ca cert_signing_key crl_signing_key 'expiration_days = 7300' 'serial = 1'
	selfsign other-ca 'cn = "untrusted test CA"' 'organization = "elsewhere"' \
		ca cert_signing_key 'expiration_days = 7300' 'serial = 2'

	server='tls_www_server
signing_key
encryption_key'
	sign server ca 'cn = "localhost"' "$right_names" "$server" \
		'expiration_days = 3650' 'serial = 10'
	sign expired ca 'cn = "localhost"' "$right_names" "$server" \
		'activation_date = "2015-01-01 00:00:00"' \
		'expiration_date = "2016-01-01 00:00:00"' 'serial = 11'
	sign notyet ca 'cn = "localhost"' "$right_names" "$server" \
		"activation_date = \"$(now_plus_days 365)\"" \
		"expiration_date = \"$(now_plus_days 3650)\"" 'serial = 12'
	sign wrongname ca 'cn = "wrong.example.net"' 'dns_name = "wrong.example.net"' \
		"$server" 'expiration_days = 3650' 'serial = 13'
	selfsign selfsigned 'cn = "localhost"' "$right_names" "$server" \
		'expiration_days = 3650' 'serial = 14'
	sign untrusted other-ca 'cn = "localhost"' "$right_names" "$server" \
		'expiration_days = 3650' 'serial = 15'
	sign client ca 'cn = "sealpost-test-client"' tls_www_client signing_key \
		'expiration_days = 3650' 'serial = 16'

	cat "$tmp/server.pem" "$tmp/ca.pem" > "$tmp/server-chain.pem"
	cat "$tmp/untrusted.pem" "$tmp/other-ca.pem" > "$tmp/untrusted-chain.pem"
	rm -f "$tmp"/*.tmpl
	chmod 0644 "$tmp"/*
	chmod 0755 "$tmp"
	: > "$tmp/.complete"
}

if ! ( run ); then
	echo "mkcerts.sh: certificate generation failed:" >&2
	cat "$log" >&2 2>/dev/null || true
	exit 1
fi
rm -f "$log"

# Publish in one rename(2): it replaces DIR only when DIR is missing or empty.
if mv -T "$tmp" "$dir" 2>/dev/null; then
	trap - EXIT
	exit 0
fi
# Someone else won the race (or DIR holds something else).
[ -f "$dir/.complete" ] && exit 0
echo "mkcerts.sh: cannot create $dir (exists and is not a complete cert dir)" >&2
exit 1
