#!/bin/sh
# config-errors.sh - the real programs on bad configs (SPEC section 5): the
# front end and `sealpostd --check-config` exit 78 with "FILE:LINE:" on
# stderr, and --check-config prints a good config's effective settings with
# secrets masked, the TLS policy that applies to each relay, as a config
# that loads again. The error cases themselves are covered one by one in
# tests/unit/test_conf.c; this checks the exit status and plumbing.
. "$top_srcdir/tests/lib.sh"
set -e

[ -x "$SEALPOST" ] || skip "sealpost not built"

# bad_conf NAME LINE TEXT: write $T/NAME.conf; remember the expected line.
bad_conf() {
	printf '%s\n' "$3" > "$T/$1.conf"
}

bad_conf tls_none 4 'hostname = "h.example"
relay "r" {
  host = "smtp.example.net"
  tls = "none"
}'
bad_conf unknown_key 3 '# comment lines count
spool_dir = "/tmp"
colour = "blue"'
bad_conf duplicate_relay 4 'relay "r" { host = "a.example" }

# the same title again
relay "r" { host = "b.example" }'
bad_conf missing_host 2 '
relay "r" {
  port = 587
}'

# check_bad NAME LINE command...: exit 78, message names NAME.conf:LINE.
check_bad() {
	name=$1 line=$2
	shift 2
	set +e
	"$@" > "$T/out" 2> "$T/err"
	rc=$?
	set -e
	[ "$rc" = 78 ] || fail "$name: exit $rc, want 78 ($*): $(cat "$T/err")"
	grep -q "$T/$name.conf:$line: " "$T/err" ||
		fail "$name: stderr lacks $T/$name.conf:$line: $(cat "$T/err")"
	ok "$name: exit 78 with file:line ($(basename "$1"))"
}

for case in "tls_none 4" "unknown_key 3" "duplicate_relay 4" "missing_host 2"; do
	set -- $case
	check_bad "$1" "$2" "$SEALPOST" -C "$T/$1.conf" -bp
done

set +e
"$SEALPOST" -C "$T/no-such.conf" -bp > /dev/null 2> "$T/err"
rc=$?
set -e
[ "$rc" = 78 ] || fail "missing -C file: exit $rc, want 78"
grep -q "$T/no-such.conf" "$T/err" || fail "missing -C file: $(cat "$T/err")"
ok "a missing -C file is an error naming the file"

# sealpostd --check-config: the effective settings, secrets masked, and the
# TLS policy that applies to each relay.
[ -x "$SEALPOSTD" ] || { echo "# sealpostd not built: its cases skipped"; exit 0; }
write_conf 'relay "main" {' '  host = "smtp.example.net"' '  username = "u@example.net"' \
	'  password_command = "/usr/bin/pass show very-secret"' '}' \
	'relay "backup" {' '  host = "mx.example.com"' '  tls = "implicit"' '}' \
	'tls_policy "mx.example.com" {' '  verify = "encrypt"' '}'
set +e
"$SEALPOSTD" --check-config -C "$CONF" > "$T/dump" 2> "$T/err"
rc=$?
set -e
[ "$rc" = 0 ] || fail "--check-config on a good config: exit $rc: $(cat "$T/err")"
grep -q "^# sealpost configuration from $CONF" "$T/dump" ||
	fail "--check-config printed no settings: $(cat "$T/dump")"
grep -q 'password_command = "<command, masked>"' "$T/dump" || fail "command not masked"
! grep -q 'very-secret' "$T/dump" "$T/err" || fail "--check-config printed a secret"
ok "--check-config prints the effective settings, secrets masked"

# Each relay is followed by its policy: "main" has none (built-in default),
# "backup" has its own, which is unauthenticated and says so.
sed -n '/^relay "main"/,/^}/p' "$T/dump" > "$T/main"
sed -n '/^relay "backup"/,/^}/p' "$T/dump" > "$T/backup"
grep -q '# TLS policy: built-in default' "$T/main" || fail "main: no built-in policy: $(cat "$T/main")"
grep -q '#   verify      = ca ' "$T/main" || fail "main: not verify = ca: $(cat "$T/main")"
grep -q '# TLS policy: tls_policy "mx.example.com"' "$T/backup" ||
	fail "backup: not its own policy: $(cat "$T/backup")"
grep -q 'verify      = encrypt (WARNING: encrypted but NOT authenticated)' "$T/backup" ||
	fail "backup: unauthenticated TLS not flagged: $(cat "$T/backup")"
grep -q 'port             = 465' "$T/backup" || fail "backup: implicit TLS port not 465"
ok "--check-config shows the TLS policy that applies to each relay"

# What it prints is a config that gives the same settings again.
cp "$T/dump" "$T/again.conf"
"$SEALPOSTD" --check-config -C "$T/again.conf" > "$T/dump2" 2> "$T/err" ||
	fail "the printed settings do not load: $(cat "$T/err")"
sed 1d "$T/dump" > "$T/a"
sed 1d "$T/dump2" > "$T/b"
cmp -s "$T/a" "$T/b" || fail "printed settings change when loaded again: $(diff "$T/a" "$T/b")"
ok "--check-config output loads again to the same settings"

for case in "tls_none 4" "unknown_key 3" "duplicate_relay 4" "missing_host 2"; do
	set -- $case
	check_bad "$1" "$2" "$SEALPOSTD" --check-config -C "$T/$1.conf"
done
