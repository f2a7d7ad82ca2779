#!/bin/sh
# tests/worker-dualstack.sh - dual-stack connects (RFC 8305): the relay's
# name resolves to a black-holed IPv6 address first and a live 127.0.0.1;
# the worker races them (250 ms apart), delivers over IPv4 within about a
# second instead of the 20 s connect timeout, remembers that IPv6 lost
# (the next connections go to IPv4 first, logged once), and still verifies
# the certificate against the configured name, not the address it reached.
#
# The name comes from a private /etc/hosts (a mount namespace: needs root,
# like tests/worker-dns.sh). The black hole is a listener on [::1] at the
# smarthost's port whose accept queue is full: the kernel drops every
# further SYN without an answer, exactly what a dead route looks like to
# the client (no RST, no ICMP), and nothing leaves loopback.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
need_certs

WRONG=wrongname.sealpost-test.invalid

need_private_hosts() {
	[ "$(id -u)" = 0 ] || skip "a private /etc/hosts needs root"
	command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is missing"
}

# black_hole PORT: a listener on [::1]:PORT that answers no SYN; owned by
# the case. Skips when this kernel answers them after all.
black_hole() {
	"$PYTHON3" - "$1" "$CASE/hole.ready" 2>"$CASE/hole.err" <<'EOF' &
import socket, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
l.bind(("::1", port))
l.listen(0)
filler = socket.create_connection(("::1", port))  # fills the accept queue
probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
probe.settimeout(0.5)
try:
    probe.connect(("::1", port))
    open(ready, "w").write("answers\n")  # not a black hole here
except socket.timeout:
    open(ready, "w").write("ready\n")
probe.close()
time.sleep(120)  # bounded: the case stops it long before
EOF
	_hole=$!
	case_owns "$_hole"
	helper_ready "$_hole" "$CASE/hole.ready" "$CASE/hole.err" "no black hole on [::1]:$1"
	[ "$(cat "$CASE/hole.ready" 2>/dev/null)" = ready ] || skip "this kernel answers SYNs to a full accept queue"
}

# dual_conf HOST: the relay by name, its certificate checked against HOST
# (no verify_name), a connect timeout far above the stagger.
dual_conf() {
	wconf "relay \"main\" {
  host = \"$1\"
  port = $SMTP_PORT
  tls = \"starttls\"
}
tls_policy \"$1\" {
  verify = \"ca\"
  ca_file = \"$CERTS/ca.pem\"
}"
	sed -i 's/connect = 3s/connect = 20s/' "$CONF"
	printf '::1 localhost %s\n127.0.0.1 localhost %s\n' "$WRONG" "$WRONG" > "$CASE/hosts"
}

# run_worker_hosts: run_worker with $CASE/hosts as /etc/hosts.
run_worker_hosts() {
	_t0=$(date +%s%N)
	if unshare --mount --propagation private sh -c \
		'mount --bind "$1" /etc/hosts && exec "$2" -C "$3" --once' sh \
		"$CASE/hosts" "$SEALPOSTD" "$CONF" 2>>"$WLOG"; then WSTATUS=0; else WSTATUS=$?; fi
	WMS=$(( ($(date +%s%N) - _t0) / 1000000 ))
	grep -q '^mount:\|^unshare:' "$WLOG" && skip "no private /etc/hosts here: $(cat "$WLOG")"
	true
}

ipv6_black_hole() {
	need_private_hosts
	wcase ipv6-black-hole
	# every kept connection is dropped at the next MAIL: three messages
	# take three connects, so the memory of the lost race shows
	start_smarthost --scenario close-on-reuse
	black_hole "$SMTP_PORT"
	dual_conf localhost
	for i in 1 2 3; do default_message | enqueue alice@example.org "$B" >/dev/null; done
	run_worker_hosts
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	wait_delivered 3 5 || fail "not delivered; log: $(cat "$WLOG")"
	_conns=$(transcript_events | grep -c '^conn-open')
	[ "$_conns" = 3 ] || fail "$_conns connections for 3 messages; log: $(cat "$WLOG")"
	expect_log "relay=localhost[127.0.0.1]:$SMTP_PORT"
	# IPv6 was tried first and lost once; later connects went to IPv4 first
	_fb="relay host localhost: connected to 127.0.0.1; ::1 failed or was slower than 250 ms"
	expect_log "$_fb; IPv4 goes first for 10 min"
	[ "$(grep -cF "$_fb" "$WLOG")" = 1 ] || fail "IPv6 was raced again: $(grep -F "$_fb" "$WLOG")"
	[ "$(transcript_events | grep -c '^tls-established')" = 3 ] || fail "TLS not on every connection"
	no_cleartext
	echo "3 messages over 3 connects in $WMS ms (connect timeout 20 s)"
	[ "$WMS" -lt 10000 ] || fail "took $WMS ms: the black-holed IPv6 cost the connect timeout"
}

name_still_verified() {
	need_private_hosts
	wcase name-still-verified
	# the same two addresses under a name the certificate does not carry
	# (it does carry IP 127.0.0.1): the connect succeeds, TLS must not
	start_smarthost
	black_hole "$SMTP_PORT"
	dual_conf "$WRONG"
	default_message | enqueue alice@example.org "$B" >/dev/null
	run_worker_hosts
	[ "$WSTATUS" = 0 ] || fail "exit $WSTATUS; log: $(cat "$WLOG")"
	expect_log "connected to 127.0.0.1"
	expect_state "$B" deferred
	_err=$(rcpt_state "$B")
	case $_err in
	*"certificate name mismatch"*) ;;
	*) fail "not a name mismatch: $_err" ;;
	esac
	[ "$(delivered_count)" = 0 ] || fail "delivered despite the wrong name"
	no_tls_c2s
	no_cleartext
}

run_cases ipv6_black_hole name_still_verified
