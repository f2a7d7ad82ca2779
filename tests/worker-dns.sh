#!/bin/sh
# tests/worker-dns.sh - the relay's host name is resolved in a short-lived
# child, bounded by the connect timeout: a name resolves and the message
# goes out; a resolver that never answers defers the message within that
# timeout instead of holding the worker for the resolver's own retries
# (30 s with the resolv.conf used here). The silent resolver needs root:
# the worker runs in a private mount namespace whose /etc/resolv.conf
# points at a UDP socket on 127.0.0.99:53 that reads and never replies.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

name_resolves() {
	wcase name-resolves
	start_smarthost
	wconf "$(RELAY_HOST=localhost relay_conf main "$SMTP_PORT")"
	default_message | enqueue alice@example.org "$B" >/dev/null
	run_worker
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	wait_delivered 1 5 || fail "not delivered; log: $(cat "$WLOG")"
	expect_log "relay=localhost[127.0.0.1]:$SMTP_PORT"
	no_cleartext
}

silent_resolver() {
	[ "$(id -u)" = 0 ] || skip "a private /etc/resolv.conf needs root"
	command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is missing"
	wcase silent-resolver
	"$PYTHON3" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.99", 53))
open(sys.argv[1], "w").write("ready\n")
while True:
    s.recvfrom(4096)  # swallow every query, never answer
' "$CASE/dns.ready" 2>"$CASE/dns.err" &
	_dns=$!
	helper_ready "$_dns" "$CASE/dns.ready" "$CASE/dns.err" "cannot bind 127.0.0.99:53"
	printf 'nameserver 127.0.0.99\noptions timeout:10 attempts:3\n' > "$CASE/resolv.conf"
	wconf "$(RELAY_HOST=smarthost.sealpost-test.invalid RELAY_POLICY=no relay_conf main 25)"
	default_message | enqueue alice@example.org "$B" >/dev/null
	_t0=$(date +%s%N)
	if unshare --mount --propagation private sh -c \
		'mount --bind "$1" /etc/resolv.conf && exec "$2" -C "$3" --once' sh \
		"$CASE/resolv.conf" "$SEALPOSTD" "$CONF" 2>>"$WLOG"; then WSTATUS=0; else WSTATUS=$?; fi
	WMS=$(( ($(date +%s%N) - _t0) / 1000000 ))
	kill "$_dns" 2>/dev/null
	wait "$_dns" 2>/dev/null
	grep -q '^mount:\|^unshare:' "$WLOG" && skip "no private resolv.conf here: $(cat "$WLOG")"
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	expect_state "$B" deferred "cannot resolve smarthost.sealpost-test.invalid: no answer within 3 s"
	[ "$WMS" -lt 8000 ] || fail "took $WMS ms: not bounded by the 3 s connect timeout"
}

run_cases name_resolves silent_resolver
