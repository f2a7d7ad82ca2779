#!/bin/sh
# tests/mkcerts-corpus.sh CERTS DIR - the certificate classes of issue 17,
# made with certtool at test time under the test CA of tests/mkcerts.sh
# (CERTS/ca.pem, ca.key), one per RFC 5280 / RFC 6125 / CA/B requirement.
# Runs unprivileged; test material only (keys 0644). Prints nothing on
# success. Every NAME.pem is what the server sends (leaf first, then any
# intermediate), NAME.key its leaf's key. All leaves are for
# localhost/127.0.0.1 unless said otherwise.
#
#   good-chain     ECDSA leaf via an intermediate CA      accepted
#   ed25519        Ed25519 leaf via the intermediate      accepted
#   no-inter       good-chain's leaf alone                refused: intermediate missing
#   eku-client     extended key usage clientAuth only     refused: purpose
#   rsa1024        RSA-1024 leaf                          refused: key size
#   sha1-leaf      leaf signed with RSA-SHA1 (RSA CA)     refused: signature
#   md5-leaf       leaf signed with RSA-MD5               refused: signature
#   sha1-inter     intermediate signed with SHA-1         refused: signature
#   v1-inter       X.509 v1 intermediate                  refused: not a CA
#   noca-inter     intermediate without basicConstraints  refused: not a CA
#   nc-inter       intermediate permitting example.org    refused: name constraints
#   expired-inter  intermediate expired in 2016           refused: expired
#   wildcard       leaf for *.example.test                accepted as mx.example.test,
#                                                         refused as a.b.example.test
#   wildcard-tld   leaf for *.test                        refused as mx.test
#   nul-name       SAN dNSName "localhost\0.evil.test"    refused as localhost
#                  (certtool only writes it as a raw extension)
# rsa-ca.pem is the RSA CA of the sha1/md5 leaves; trust.pem holds both CAs
# (the ca_file of the tests).
set -eu
[ $# -eq 2 ] || { echo "usage: $0 CERTS DIR" >&2; exit 64; }
certs=$1 dir=$2
mkdir -p "$dir"
log="$dir/.certtool.log"
: > "$log"

# key NAME [certtool key options]
key() {
	_n=$1; shift
	certtool --generate-privkey "$@" --outfile "$dir/$_n.key" >>"$log" 2>&1
}

# cert NAME ISSUER-PEM ISSUER-KEY [--hash H] [--v1] -- TEMPLATE-LINES...
cert() {
	_n=$1 _ipem=$2 _ikey=$3; shift 3
	_opts=""
	while [ "$1" != "--" ]; do _opts="$_opts $1"; shift; done
	shift
	printf '%s\n' "$@" > "$dir/$_n.tmpl"
	# shellcheck disable=SC2086
	certtool --generate-certificate $_opts --load-privkey "$dir/$_n.key" \
		--load-ca-certificate "$_ipem" --load-ca-privkey "$_ikey" \
		--template "$dir/$_n.tmpl" --outfile "$dir/$_n.crt" >>"$log" 2>&1
}

names='dns_name = "localhost"
ip_address = "127.0.0.1"'
server='tls_www_server
signing_key
encryption_key'
ca='ca
cert_signing_key'
ec='--key-type ecdsa --curve secp256r1'

run() {
	# the intermediate CAs, each signed by the test CA
	key inter $ec
	cert inter "$certs/ca.pem" "$certs/ca.key" -- 'cn = "corpus intermediate"' "$ca" 'expiration_days = 3650'
	key sha1-ica --key-type rsa --bits 2048
	cert sha1-ica "$certs/ca.pem" "$certs/ca.key" --hash SHA1 -- 'cn = "SHA-1 intermediate"' "$ca" 'expiration_days = 3650'
	key v1-ica $ec
	cert v1-ica "$certs/ca.pem" "$certs/ca.key" --v1 -- 'cn = "v1 intermediate"' 'expiration_days = 3650'
	key noca-ica $ec
	cert noca-ica "$certs/ca.pem" "$certs/ca.key" -- 'cn = "not a CA"' 'expiration_days = 3650'
	key nc-ica $ec
	cert nc-ica "$certs/ca.pem" "$certs/ca.key" -- 'cn = "constrained intermediate"' "$ca" \
		'nc_permit_dns = "example.org"' 'expiration_days = 3650'
	key expired-ica $ec
	cert expired-ica "$certs/ca.pem" "$certs/ca.key" -- 'cn = "expired intermediate"' "$ca" \
		'activation_date = "2015-01-01 00:00:00"' 'expiration_date = "2016-01-01 00:00:00"'
	# an RSA CA for the RSA-signed leaves (a trust anchor: its own SHA-256 self-signature)
	key rsa-ca --key-type rsa --bits 2048
	printf '%s\n' 'cn = "corpus RSA CA"' ca cert_signing_key 'expiration_days = 3650' > "$dir/rsa-ca.tmpl"
	certtool --generate-self-signed --load-privkey "$dir/rsa-ca.key" --template "$dir/rsa-ca.tmpl" \
		--outfile "$dir/rsa-ca.pem" >>"$log" 2>&1

	leaf() { # NAME KEYOPTS ISSUER [certtool opts] -- TEMPLATE-LINES
		_l=$1 _k=$2 _i=$3; shift 3
		# shellcheck disable=SC2086
		key "$_l" $_k
		_ipem="$dir/$_i.crt"; [ -f "$_ipem" ] || _ipem="$dir/$_i.pem"
		[ "$_i" = ca ] && _ipem="$certs/ca.pem"
		_ikey="$dir/$_i.key"; [ "$_i" = ca ] && _ikey="$certs/ca.key"
		cert "$_l" "$_ipem" "$_ikey" "$@"
	}
	leaf good-chain "$ec" inter -- 'cn = "localhost"' "$names" "$server" 'expiration_days = 365'
	leaf ed25519 "--key-type ed25519" inter -- 'cn = "localhost"' "$names" "$server" 'expiration_days = 365'
	leaf eku-client "$ec" ca -- 'cn = "localhost"' "$names" tls_www_client signing_key 'expiration_days = 365'
	leaf rsa1024 "--key-type rsa --bits 1024" ca -- 'cn = "localhost"' "$names" "$server" 'expiration_days = 365'
	leaf sha1-leaf "--key-type rsa --bits 2048" rsa-ca --hash SHA1 -- 'cn = "localhost"' "$names" "$server" \
		'expiration_days = 365'
	leaf md5-leaf "--key-type rsa --bits 2048" rsa-ca --hash MD5 -- 'cn = "localhost"' "$names" "$server" \
		'expiration_days = 365'
	for i in sha1 v1 noca nc expired; do
		leaf "$i-inter" "$ec" "$i-ica" -- 'cn = "localhost"' "$names" "$server" 'expiration_days = 365'
	done
	leaf wildcard "$ec" ca -- 'cn = "*.example.test"' 'dns_name = "*.example.test"' "$server" 'expiration_days = 365'
	leaf wildcard-tld "$ec" ca -- 'cn = "*.test"' 'dns_name = "*.test"' "$server" 'expiration_days = 365'
	# SEQUENCE { [2] IA5String "localhost" NUL ".evil.test" }, DER in hex
	leaf nul-name "$ec" ca -- 'cn = "localhost"' \
		'add_extension = "2.5.29.17 0x301682146c6f63616c686f7374002e6576696c2e74657374"' "$server" \
		'expiration_days = 365'

	# what each server sends: the leaf, then its intermediate when there is one
	for n in good-chain ed25519 sha1-inter v1-inter noca-inter nc-inter expired-inter; do
		_ica=inter
		case $n in *-inter) _ica=${n%-inter}-ica ;; esac
		cat "$dir/$n.crt" "$dir/$_ica.crt" > "$dir/$n.pem"
	done
	for n in eku-client rsa1024 sha1-leaf md5-leaf wildcard wildcard-tld nul-name; do cp "$dir/$n.crt" "$dir/$n.pem"; done
	cat "$certs/ca.pem" "$dir/rsa-ca.pem" > "$dir/trust.pem"
	cp "$dir/good-chain.crt" "$dir/no-inter.pem"
	cp "$dir/good-chain.key" "$dir/no-inter.key"
	rm -f "$dir"/*.tmpl
	chmod 0644 "$dir"/*
}

if ! ( run ); then
	echo "mkcerts-corpus.sh: certificate generation failed:" >&2
	cat "$log" >&2
	exit 1
fi
rm -f "$log"
