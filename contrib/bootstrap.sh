#!/bin/sh
# contrib/bootstrap.sh - install what building and testing sealpost needs on
# Debian 12 or 13 (as root; skipped when everything is present), then
# configure and build into a build directory.
#   usage: contrib/bootstrap.sh [BUILD_DIR] [configure args...]
#
# Package names are chosen by what the release has, never baked in where
# the release decides them:
#   - a word "a|b" in pkgs means the first of a, b this release offers
#     (library names that gained t64 on Debian 13, say);
#   - the compiler runtime (libFuzzer and the sanitizer runtimes clang links)
#     is libclang-rt-N-dev for the N of the clang installed: 14 on Debian
#     12, 19 on Debian 13.
# It prints each package it installs and what for. The Postfix package is
# a test peer only: it is preseeded never to configure or start the system
# MTA.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$top/build"}
[ $# -gt 0 ] && shift

# One package (or "a|b" choice) per line: add yours on a line of its own.
pkgs="
build-essential
autoconf
automake
libtool
pkg-config
libgnutls28-dev
libconfuse-dev
gnutls-bin
python3
ca-certificates
postfix
sasl2-bin
libsasl2-modules
php-cli
bsd-mailx
mandoc
clang
valgrind
libidn-dev
strace
python3-prometheus-client
libcurl4-gnutls-dev
libjson-c-dev
dovecot-core
"

# why PACKAGE: what it is needed for (printed before installing)
why() {
	case $1 in
	build-essential|autoconf|automake|libtool|pkg-config) echo "building from git (autotools, C compiler)" ;;
	libgnutls28-dev) echo "TLS library of sealpostd" ;;
	libconfuse-dev) echo "configuration parser" ;;
	gnutls-bin) echo "certtool: the tests' own CA and certificates" ;;
	python3) echo "the test smarthost (tests/smarthost.py)" ;;
	ca-certificates) echo "the system trust store (sealpostd verifies relays against it by default)" ;;
	postfix|sasl2-bin|libsasl2-modules) echo "a private Postfix on loopback as a real smarthost in the tests (the system MTA stays unconfigured)" ;;
	php-cli|bsd-mailx) echo "real callers of sendmail in the tests" ;;
	mandoc) echo "man page lint" ;;
	clang) echo "libFuzzer targets (make fuzz)" ;;
	libcurl4-gnutls-dev|libjson-c-dev) echo "HTTPS and JSON of the OAuth 2.0 helper (src/oauth), never linked into sealpostd" ;;
	dovecot-core) echo "a private Dovecot validating OAuth tokens for the private Postfix in the tests" ;;
	libclang-rt-*-dev) echo "clang's runtime: libFuzzer and the sanitizer runtimes" ;;
	libevent-*|libdb5*) echo "libraries of the test's OpenSMTPD" ;;
	valgrind) echo "make check-valgrind" ;;
	libidn-dev) echo "SASLprep for SCRAM (src/sealpostd/scram.c)" ;;
	strace) echo "syscall checks in the tests" ;;
	python3-prometheus-client) echo "tests/ops-prom.py reads metrics_file with it" ;;
	*) echo "the build or the tests" ;;
	esac
}

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# has_candidate NAME: this release's archive offers NAME
has_candidate() {
	apt-cache policy "$1" 2>/dev/null | grep -q '^ *Candidate: [^(]'
}

apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
updated=""
# ensure_pkgs WORD...: install every word (package or "a|b" choice) not present
ensure_pkgs() {
	missing=""
	for w in "$@"; do
		found=""
		for p in $(echo "$w" | tr '|' ' '); do
			if is_installed "$p"; then found=$p; break; fi
		done
		[ -n "$found" ] || missing="$missing $w"
	done
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "bootstrap: missing packages:$missing (run as root on Debian, or install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "$updated" ]; then
		echo "bootstrap: apt-get update" >&2
		apt_get update -qq >/dev/null
		updated=yes
	fi
	names=""
	for w in $missing; do
		pick=""
		for p in $(echo "$w" | tr '|' ' '); do
			if has_candidate "$p"; then pick=$p; break; fi
		done
		[ -n "$pick" ] || { echo "bootstrap: this release offers none of: $w" >&2; exit 1; }
		echo "bootstrap: installing $pick: $(why "$pick")" >&2
		names="$names $pick"
	done
	# Postfix is only a test peer: never let it configure or start the system MTA.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt_get install -y -qq --no-install-recommends $names >/dev/null
}

ensure_pkgs $pkgs
clang_major=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
case $clang_major in
'' | *[!0-9]*) echo "bootstrap: cannot tell clang's version (clang -dumpversion)" >&2; exit 1 ;;
esac
ensure_pkgs "libclang-rt-$clang_major-dev"

# OpenSMTPD as a second real smarthost in the tests (tests/worker-opensmtpd.sh),
# from 7.0 on (Debian 13; Debian 12's 6.8 has broken TLS). It conflicts with
# Postfix, so its package is only unpacked into the build directory, never
# installed; the libraries it links are installed.
fetch_opensmtpd() {
	dest=$build/tests/opensmtpd
	[ -x "$dest/usr/sbin/smtpd" ] && return 0
	command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] || return 0
	ver=$(apt-cache policy opensmtpd 2>/dev/null | sed -n 's/^ *Candidate: //p')
	case $ver in '' | '(none)') return 0 ;; esac
	dpkg --compare-versions "$ver" ge 7 || return 0
	echo "bootstrap: unpacking opensmtpd $ver into $dest: a second real smarthost in the tests" >&2
	rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
	(cd "$dest.tmp" && apt_get -o APT::Sandbox::User=root download -q opensmtpd >/dev/null) || { rm -rf "$dest.tmp"; return 1; }
	libs=$(dpkg-deb -f "$dest.tmp"/opensmtpd_*.deb Depends | tr ',' '\n' |
		sed 's/([^)]*)//; s/|.*//; s/ //g' | grep -E '^(lib|zlib)')
	ensure_pkgs $libs
	dpkg-deb -x "$dest.tmp"/opensmtpd_*.deb "$dest.tmp/root" && rm -rf "$dest" &&
		mv "$dest.tmp/root" "$dest" && rm -rf "$dest.tmp"
}
mkdir -p "$build"
fetch_opensmtpd || echo "bootstrap: could not fetch opensmtpd: tests/worker-opensmtpd.sh will skip" >&2

cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null 2>&1
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ -n "$*" ]; then
	"$top/configure" -q "$@"
fi
make -j"$(nproc)" >/dev/null
