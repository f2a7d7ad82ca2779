#!/bin/sh
# contrib/bootstrap.sh - install what building and testing sealpost needs on
# Debian 12 (as root; skipped when everything is present), then configure
# and build into a build directory.
#   usage: contrib/bootstrap.sh [BUILD_DIR] [configure args...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$top/build"}
[ $# -gt 0 ] && shift

pkgs="build-essential autoconf automake libtool pkg-config libgnutls28-dev
 libconfuse-dev gnutls-bin python3 postfix sasl2-bin libsasl2-modules
 php-cli bsd-mailx mandoc clang libclang-rt-14-dev valgrind strace"
pkgs="$pkgs libidn-dev" # SASLprep for SCRAM (src/sealpostd/scram.c)
pkgs="$pkgs libcurl4-gnutls-dev libjson-c-dev dovecot-core" # OAuth helper (src/oauth), its tests
pkgs="$pkgs python3-prometheus-client" # tests/ops-prom.py reads metrics_file with it
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "bootstrap: missing packages:$missing (run as root on Debian, or install them)" >&2
		exit 1
	fi
	echo "bootstrap: installing$missing" >&2
	# Postfix is only a test peer: never let it configure or start the system MTA.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null 2>&1
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ -n "$*" ]; then
	"$top/configure" -q "$@"
fi
make -j"$(nproc)" >/dev/null
