# tests/lib.sh - shared shell helpers for the integration tests.
# Source it from a test script: . "$top_srcdir/tests/lib.sh"
# Each test gets its own directory ($T) with a spool and a config, removed
# on exit. Exit 77 means "skipped" to the automake harness.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON3:=/usr/bin/python3}"
SEALPOST="$top_builddir/src/sealpost/sealpost"
SEALPOSTD="$top_builddir/src/sealpostd/sealpostd"
export SEALPOST SEALPOSTD PYTHON3

T=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-test.XXXXXX")
SPOOL="$T/spool"
CONF="$T/sealpost.conf"
mkdir -p "$SPOOL"
# as root, sealpostd needs --allow-root to stay root (tests run it on
# spools root owns); the install tests run the installed one instead
SEALPOSTD_BIN=$SEALPOSTD ALLOW_ROOT=
if [ "$(id -u)" = 0 ]; then
	ALLOW_ROOT=--allow-root
	printf '#!/bin/sh\nexec "%s" --allow-root "$@"\n' "$SEALPOSTD" > "$T/sealpostd-as-root"
	chmod 0755 "$T/sealpostd-as-root"
	SEALPOSTD=$T/sealpostd-as-root
fi
_lib_cleanup_hooks=""
_lib_cleanup() {
	for h in $_lib_cleanup_hooks; do "$h" || true; done
	# background helpers started by the test (smarthosts, daemons)
	jobs -p | xargs -r kill 2>/dev/null || true
	if [ "${KEEP_TEST_DIR:-}" = "" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap _lib_cleanup EXIT
at_cleanup() { _lib_cleanup_hooks="$_lib_cleanup_hooks $1"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
pass_count=0
ok() { pass_count=$((pass_count + 1)); echo "ok $pass_count - $*"; }

# write_conf [extra config text...]: a minimal config for the test spool.
write_conf() {
	{
		echo "hostname = \"test.example.org\""
		echo "domain = \"example.org\""
		echo "spool_dir = \"$SPOOL\""
		echo "log = \"stderr\""
		for extra in "$@"; do printf '%s\n' "$extra"; done
	} > "$CONF"
}

# expect_exit CODE command...: run, assert the exit status.
expect_exit() {
	want=$1; shift
	set +e
	"$@"
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "expected exit $want, got $got: $*"
}

# queued_count: messages in the spool.
queued_count() { ls "$SPOOL/queue" 2>/dev/null | grep -c '\.env$' || true; }

# wait_for_file FILE [SECONDS]: bounded wait for a file to appear.
wait_for_file() {
	_f=$1; _n=$(( ${2:-10} * 20 ))
	while [ ! -s "$_f" ] && [ "$_n" -gt 0 ]; do sleep 0.05; _n=$((_n - 1)); done
	[ -s "$_f" ]
}
