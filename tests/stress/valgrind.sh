#!/bin/sh
# tests/stress/valgrind.sh - `make check-valgrind`: the unit tests, the
# fuzz corpus replays and real runs of sealpost (queue, -t, -bs, mailq,
# -bv) and sealpostd (--check-config, --once delivering over TLS to the
# test smarthost) under valgrind memcheck: any invalid read or write, use
# of uninitialised memory, or definite/indirect leak fails the run.
# Prints one line per program and "N passed, N failed". Skips (77)
# without valgrind. Runs as the test's user; files under $T only.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
command -v valgrind >/dev/null || skip "valgrind is not installed"
VG="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
 --errors-for-leak-kinds=definite,indirect --suppressions=$top_srcdir/tests/stress/valgrind.supp
 --log-file=$T/vg.%p.log"
pass=0 failed=0

# vg NAME EXPECTED_STATUS COMMAND...: run under memcheck (stdin inherited)
vg() {
	_name=$1 _want=$2; shift 2
	rm -f "$T"/vg.*.log
	if $VG "$@" >"$T/out" 2>"$T/err"; then _rc=0; else _rc=$?; fi
	_errs=$(cat "$T"/vg.*.log 2>/dev/null)
	if [ "$_rc" = 99 ] || [ -n "$_errs" ]; then
		echo "not ok - $_name: memcheck errors"
		printf '%s\n' "$_errs" | head -n 40
		failed=$((failed + 1))
	elif [ "$_rc" != "$_want" ]; then
		echo "not ok - $_name: exit $_rc, want $_want"
		tail -n 5 "$T/err"
		failed=$((failed + 1))
	else
		echo "ok - $_name"
		pass=$((pass + 1))
	fi
}

# unit tests and corpus replays (built by make check)
for t in "$top_builddir"/tests/unit/test_* "$top_builddir"/tests/fuzz/replay_*; do
	[ -x "$t" ] || continue
	case $t in *.o|*.c) continue ;; esac
	vg "$(basename "$t")" 0 "$t" </dev/null
done

# the front end, for real
start_smarthost --no-data-transcript --idle-timeout 120 --lifetime 600
write_conf "$(relay_conf main "$SMTP_PORT")" 'timeouts { connect = 5s command = 20s data = 20s }' \
	'alias "root" { to = {"ops@example.org"} }'
mkdir -p "$SPOOL/queue" "$SPOOL/tmp"
printf 'Subject: plain\n\nhello\n' | vg "sealpost queue" 0 "$SEALPOST" -C "$CONF" -odq -i b@example.net
printf 'From: A <a@example.org>\nTo: "B" <b@example.net>, grp: c@example.net, root;\nBcc: d@example.net\nSubject: =?utf-8?q?t=C3=A9st?= caf\303\251\n\n%s\n' \
	"$(head -c 3000 /dev/zero | tr '\0' 'x')" | vg "sealpost -t (groups, Bcc, long line, UTF-8)" 0 "$SEALPOST" -C "$CONF" -odq -t
printf 'Subject: x\n\nnul\0byte\n' | vg "sealpost refusing a NUL" 65 "$SEALPOST" -C "$CONF" -odq b@example.net
vg "sealpost bad address" 65 "$SEALPOST" -C "$CONF" -odq 'a@@b' </dev/null
printf 'EHLO c\r\nMAIL FROM:<a@example.org> BODY=8BITMIME\r\nRCPT TO:<b@example.net> NOTIFY=SUCCESS\r\nDATA\r\nSubject: bs\r\n\r\n..dot\r\n.\r\nQUIT\r\n' |
	vg "sealpost -bs" 0 "$SEALPOST" -C "$CONF" -odq -bs
vg "sealpost -bp (mailq)" 0 "$SEALPOST" -C "$CONF" -bp </dev/null
vg "sealpost -bp --json" 0 "$SEALPOST" -C "$CONF" -bp --json </dev/null
vg "sealpost -bv" 0 "$SEALPOST" -C "$CONF" -bv root b@example.net </dev/null
queued=$(queued_count)

# the worker, for real: config check, then a delivery run over STARTTLS
vg "sealpostd --check-config" 0 "$SEALPOSTD_BIN" $ALLOW_ROOT -C "$CONF" --check-config </dev/null
vg "sealpostd --once (deliver $queued messages over TLS)" 0 "$SEALPOSTD_BIN" $ALLOW_ROOT -C "$CONF" --once --flush </dev/null
[ "$(queued_count)" = 0 ] || { echo "not ok - the worker left $(queued_count) message(s) queued"; failed=$((failed + 1)); }
wait_delivered "$queued" 10 || failed=$((failed + 1))

echo "valgrind: $pass programs clean, $failed with errors"
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
