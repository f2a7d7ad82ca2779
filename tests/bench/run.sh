#!/bin/sh
# tests/bench/run.sh - issue 7's benchmark (`make bench` runs it): sealpost,
# and in the same run msmtp, dma, nullmailer and the Postfix null client
# (peers.py: the Debian packages of the first two are fetched with
# `apt-get download` and unpacked, never installed; each peer runs in a
# private mount namespace), against a private Postfix on 127.0.0.1 that
# requires STARTTLS with a verified certificate and AUTH
# (tests/postfix-harness.sh). sealpost is measured twice: root submitting
# into its own spool (the front end queues directly), and a scratch system
# install (make install-system under the work directory, two users made
# for the run and removed after it; system.py) where an ordinary user
# submits through the setgid sealpost-drop and the daemon's pickup.
# Prints Markdown tables, writes JSON.
# A benchmark, not a test: figures, never pass/fail; not part of make check.
#
#   usage: tests/bench/run.sh [--quick] [--runs N] [--json FILE] [--markdown FILE]
#                             [--only PHASE,...]   (method names in bench.py)
#                             [--peers dma,...]    (of dma, nullmailer, postfix)
#   env:   top_builddir (default: ./ if it holds src/sealpost/sealpost, else
#          <source>/build), top_srcdir, PYTHON3
#
# Needs root (Postfix's master), postfix, sasl2-bin, libsasl2-modules;
# installs msmtp (not msmtp-mta, which would conflict with Postfix) and
# strace with apt-get when they are missing. Exit 77 when it cannot run.
# Takes about 15 minutes on 2 cores (6 of them the peers, nullmailer's
# 7 msg/s above all; 1-2 the system install's private build); --quick
# (smaller counts) about 6.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
if [ -z "${top_builddir:-}" ]; then
	if [ -x ./src/sealpost/sealpost ]; then top_builddir=$(pwd); else top_builddir=$top_srcdir/build; fi
fi
: "${PYTHON3:=/usr/bin/python3}"
: "${CC:=cc}"

[ "$(id -u)" = 0 ] || { echo "bench: needs root (the Postfix sink runs a private master)" >&2; exit 77; }
[ -x /usr/sbin/postfix ] || { echo "bench: postfix is not installed" >&2; exit 77; }
for p in sealpost/sealpost sealpostd/sealpostd; do
	[ -x "$top_builddir/src/$p" ] || { echo "bench: $top_builddir/src/$p is not built" >&2; exit 77; }
done

apt_install() {
	command -v apt-get >/dev/null 2>&1 || return 1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1
}
command -v msmtp >/dev/null 2>&1 || apt_install msmtp ||
	echo "bench: msmtp not installed: no side-by-side figures" >&2
command -v strace >/dev/null 2>&1 || apt_install strace ||
	echo "bench: strace not installed: no syscall checks" >&2

# the system install's setgid sealpost-drop needs a mount without nosuid
# (Debian 13 mounts /tmp nosuid)
tmp=${TMPDIR:-/tmp}
if findmnt -n -o OPTIONS --target "$tmp" 2>/dev/null | tr ',' '\n' | grep -qx nosuid; then tmp=/var/tmp; fi
work=$(mktemp -d "$tmp/sealpost-bench.XXXXXX")
chmod 0755 "$work"
# bench.py stops its daemon, workers and sink itself, also on a signal;
# this is the last resort (bench.py killed): whatever still runs with a
# path under $work (daemon, one-shot workers), the users it made, then the sink.
cleanup() {
	"$PYTHON3" "$here/benchlib.py" stop-processes-under "$work" || true
	"$PYTHON3" "$here/system.py" remove-users "$work" || true
	sh "$top_srcdir/tests/postfix-harness.sh" stop "$work/pf" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The C drivers: from the build tree (make bench), else compiled here.
helper() {
	if [ -x "$top_builddir/tests/bench/$1" ]; then
		echo "$top_builddir/tests/bench/$1"
	else
		"$CC" -O2 -o "$work/$1" "$here/$1.c" && echo "$work/$1"
	fi
}
submitters=$(helper submitters)
maxrss=$(helper maxrss)
gnutls_variant=
[ -x "$top_builddir/tests/bench/sealpost-gnutls" ] &&
	gnutls_variant="--sealpost-gnutls $top_builddir/tests/bench/sealpost-gnutls"

# shellcheck disable=SC2086 # gnutls_variant is two words or none
"$PYTHON3" "$here/bench.py" \
	--sealpost "$top_builddir/src/sealpost/sealpost" \
	--sealpostd "$top_builddir/src/sealpostd/sealpostd" \
	$gnutls_variant --submitters "$submitters" --maxrss "$maxrss" \
	--harness "$top_srcdir/tests/postfix-harness.sh" --srcdir "$top_srcdir" --builddir "$top_builddir" \
	--workdir "$work" "$@" &
# In the background, so that a signal to this script is handled now (the
# shell runs traps only after a foreground child ends) and passed on to
# bench.py, which unwinds through its clean-up.
bench_pid=$!
status=
forward() {
	status=$1
	kill -TERM "$bench_pid" 2>/dev/null || true
}
trap 'forward 130' INT
trap 'forward 143' TERM
trap 'forward 129' HUP
while :; do
	if wait "$bench_pid"; then rc=0; else rc=$?; fi
	# wait returns early (>128) when a trapped signal arrives: wait again
	kill -0 "$bench_pid" 2>/dev/null || break
done
exit "${status:-$rc}"
