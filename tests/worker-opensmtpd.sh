#!/bin/sh
# tests/worker-opensmtpd.sh - a second real MTA as smarthost: OpenSMTPD
# (7.x, Debian 13), a private instance with its own config, requiring
# STARTTLS and AUTH on one port and speaking implicit TLS on another.
# `sealpost` queues, `sealpostd --once` relays; the messages must arrive
# byte for byte as spooled (OpenSMTPD only prepends its trace headers),
# with the right envelope sender and recipients, after a successful AUTH.
# Then the hostile cases against the same real server: a certificate for
# another name, one from an untrusted CA, an expired one, a port that
# offers no STARTTLS, a wrong password: each leaves the message queued
# with the reason in the log, and OpenSMTPD saw no AUTH and no mail.
#
# The package is only unpacked (contrib/bootstrap.sh puts it in
# $top_builddir/tests/opensmtpd: it conflicts with Postfix). smtpd runs as
# root in a private mount namespace (unshare), where its compiled-in paths
# (/var/spool/smtpd, /var/lib/opensmtpd/empty, /run, /usr/libexec/opensmtpd)
# and /etc/passwd and /etc/group (with its users and the sink user) are
# private: nothing of the system is written. Skips (77) unless root, or
# without OpenSMTPD >= 7 (Debian 12's 6.8 has broken TLS).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"

[ -x "$SEALPOST" ] && [ -x "$SEALPOSTD" ] || skip "sealpost/sealpostd not built"
[ "$(id -u)" = 0 ] || skip "needs root (smtpd in a private mount namespace)"
command -v unshare >/dev/null || skip "unshare is not installed"
O=$top_builddir/tests/opensmtpd
[ -x "$O/usr/sbin/smtpd" ] ||
	skip "no OpenSMTPD >= 7 unpacked in $O: Debian 12 has 6.8, whose TLS is broken; on Debian 13 contrib/bootstrap.sh unpacks 7.6"
need_certs

# ---- the private instance -------------------------------------------------------
N=$T/osmtpd
mkdir -p "$N/pki" "$N/sink" "$N/spool" "$N/empty" "$N/run" "$N/libexec"
chmod 0755 "$T" "$N"
cp -r "$O/usr/libexec/opensmtpd" "$N/libexec/"
for c in server wrongname untrusted-chain expired; do
	k=$c; [ "$c" = untrusted-chain ] && k=untrusted
	cp "$CERTS/$c.pem" "$N/pki/$c.pem"
	cp "$CERTS/$k.key" "$N/pki/$c.key"
done
chmod 0600 "$N/pki"/*.key
# users: smtpd's two privilege-separation users and the sink (uids unused here)
uid=$(awk -F: 'BEGIN { m = 60000 } $3 >= m && $3 < 65000 { m = $3 + 1 } END { print m }' /etc/passwd)
cp /etc/passwd "$N/passwd"; cp /etc/group "$N/group"
for u in opensmtpd opensmtpq osmtpsink; do
	echo "$u:x:$uid:$uid::/var/lib/opensmtpd/empty:/usr/sbin/nologin" >>"$N/passwd"
	echo "$u:x:$uid:" >>"$N/group"
	eval "uid_$u=$uid"
	uid=$((uid + 1))
done
chown "$uid_osmtpsink:$uid_osmtpsink" "$N/sink"
USER_NAME=relayuser PASS=opensmtpd-$$-secret
printf '%s %s\n' "$USER_NAME" "$("$O/usr/libexec/opensmtpd/encrypt" "$PASS")" >"$N/creds"
chmod 0640 "$N/creds"
printf '%s\n' "$PASS" >"$T/relay.secret"
chmod 0600 "$T/relay.secret"
# the sink: each message with its envelope, as the sink user
cat >"$N/deliver.sh" <<EOF
#!/bin/sh
# deliver.sh SENDER RCPT: store the message as OpenSMTPD hands it over
n=\$(date +%s%N).\$\$
cat >"$N/sink/\$n.tmp" || exit 75
printf 'sender <%s>\nrcpt <%s>\n' "\$1" "\$2" >"$N/sink/\$n.env"
mv "$N/sink/\$n.tmp" "$N/sink/\$n.eml"
EOF
chmod 0755 "$N/deliver.sh"

ports=$("$PYTHON3" -c '
import socket
ss = [socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
set -- $ports
P_STARTTLS=$1 P_SMTPS=$2 P_WRONGNAME=$3 P_UNTRUSTED=$4 P_EXPIRED=$5 P_PLAIN=$6
cat >"$N/smtpd.conf" <<EOF
pki localhost cert "$N/pki/server.pem"
pki localhost key "$N/pki/server.key"
pki wrongname cert "$N/pki/wrongname.pem"
pki wrongname key "$N/pki/wrongname.key"
pki untrusted cert "$N/pki/untrusted-chain.pem"
pki untrusted key "$N/pki/untrusted-chain.key"
pki expired cert "$N/pki/expired.pem"
pki expired key "$N/pki/expired.key"
table creds file:$N/creds
listen on 127.0.0.1 port $P_STARTTLS tls-require pki localhost auth <creds> hostname localhost
listen on 127.0.0.1 port $P_SMTPS smtps pki localhost auth <creds> hostname localhost
listen on 127.0.0.1 port $P_WRONGNAME tls-require pki wrongname auth <creds>
listen on 127.0.0.1 port $P_UNTRUSTED tls-require pki untrusted auth <creds>
listen on 127.0.0.1 port $P_EXPIRED tls-require pki expired auth <creds>
listen on 127.0.0.1 port $P_PLAIN hostname localhost
table sinkuser { "@" = "osmtpsink" }
action "sink" mda "$N/deliver.sh %{sender} %{rcpt}" virtual <sinkuser>
match auth from any for any action "sink"
EOF
# in the namespace: private paths over the compiled-in ones (tmpfs mounts
# that hide the system's, never writes to them), then smtpd with ARGS
cat >"$N/ns.sh" <<EOF
set -e
mount --make-rprivate /
mount --bind "$N/passwd" /etc/passwd
mount --bind "$N/group" /etc/group
mount -t tmpfs -o mode=0755 osmtpd-lib /var/lib
mkdir -p /var/lib/opensmtpd/empty
mount -t tmpfs -o mode=0755 osmtpd-spool /var/spool
mount -t tmpfs -o mode=0755 osmtpd-run /run
mount --bind "$N/libexec" /usr/libexec
exec "$O/usr/sbin/smtpd" "\$@"
EOF
unshare --mount sh "$N/ns.sh" -n -f "$N/smtpd.conf" >"$N/check.out" 2>&1 ||
	{ cat "$N/check.out" >&2; fail "smtpd -n: config rejected"; }
LOG=$N/smtpd.log
unshare --mount sh "$N/ns.sh" -d -f "$N/smtpd.conf" >"$LOG" 2>&1 &
SMTPD_PID=$!
_stop_smtpd() { kill -TERM "$SMTPD_PID" 2>/dev/null; wait "$SMTPD_PID" 2>/dev/null || true; }
at_cleanup _stop_smtpd
# ready when every port answers
"$PYTHON3" - $ports <<'EOF' || { cat "$LOG" >&2; fail "OpenSMTPD did not start listening within 20 s"; }
import socket, sys, time
end = time.time() + 20
for p in sys.argv[1:]:
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(p)), timeout=1).close()
            break
        except OSError:
            if time.time() > end:
                sys.exit(1)
            time.sleep(0.1)
EOF
ver=$(zcat "$O/usr/share/doc/opensmtpd/changelog.Debian.gz" 2>/dev/null | sed -n '1s/.*(\(.*\)).*/\1/p')
ok "private OpenSMTPD ${ver:-7.x} listening (STARTTLS+AUTH $P_STARTTLS, smtps $P_SMTPS)"

# ---- delivery ---------------------------------------------------------------------
# relay_to NAME PORT MODE [EXTRA policy/relay lines]: a config and a spool
relay_to() {
	_name=$1 _port=$2 _mode=$3; shift 3
	SP=$T/spool.$_name C=$T/conf.$_name
	mkdir -p "$SP"
	{
		echo 'hostname = "client.example.org"'
		echo 'domain = "example.org"'
		echo "spool_dir = \"$SP\""
		echo 'log = "stderr"'
		echo 'timeouts { connect = 10s command = 30s data = 30s }'
		relay_conf osmtpd "$_port" "$_mode" "username = \"$USER_NAME\"" \
			"password_file = \"$T/relay.secret\"" "$@"
	} >"$C"
}
sink_count() { ls "$N/sink" | grep -c '\.eml$' || true; }
auth_count() { grep -c 'authentication.*result=ok' "$LOG" || true; }
wait_sink() { # N: bounded wait for N messages in the sink
	_n=200
	while [ "$(sink_count)" -lt "$1" ] && [ $_n -gt 0 ]; do sleep 0.1; _n=$((_n - 1)); done
	[ "$(sink_count)" -ge "$1" ]
}
# same_message SPOOLED DELIVERED: DELIVERED is SPOOLED (CRLF as LF, the way
# OpenSMTPD hands mail to an MDA) after trace headers OpenSMTPD prepended
same_message() {
	"$PYTHON3" - "$1" "$2" <<'EOF'
import re, sys
sent = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
got = open(sys.argv[2], "rb").read()
if not got.endswith(sent):
    sys.exit("the delivered message does not end with the spooled one")
prefix = got[:len(got) - len(sent)]
for line in prefix.split(b"\n")[:-1]:
    if line[:1] in (b" ", b"\t"):
        continue
    name = line.split(b":", 1)[0].lower()
    if name not in (b"received", b"delivered-to", b"return-path"):
        sys.exit("unexpected header added: %r" % line[:80])
EOF
}
deliver_via() { # MODE PORT
	_mode=$1 _port=$2
	relay_to "$_mode" "$_port" "$_mode"
	before=$(sink_count)
	printf 'From: Alice <alice-%s@example.org>\nTo: r1-%s@example.net, r2-%s@example.net\nSubject: sealpost via OpenSMTPD %s\nX-Long: %s\n\n.leading dot\n..two\n.\ncaf\303\251 d\303\251j\303\240 vu\n\n\nend\n' \
		"$_mode" "$_mode" "$_mode" "$_mode" "$(printf '%0500d' 5)" |
		"$SEALPOST" -C "$C" -odq -i -t -f "sender-$_mode@example.org" || fail "$_mode: sealpost could not queue"
	printf 'Subject: second %s\n\nsecond message, same connection\n' "$_mode" |
		"$SEALPOST" -C "$C" -odq -f "sender-$_mode@example.org" "r3-$_mode@example.net" ||
		fail "$_mode: sealpost could not queue the second message"
	cp "$(ls "$SP"/queue/*.msg | head -1)" "$T/sent.$_mode"
	"$SEALPOSTD" -C "$C" --once 2>"$T/worker.$_mode.log" || fail "$_mode: sealpostd exit $?: $(cat "$T/worker.$_mode.log")"
	[ "$(ls "$SP/queue" | wc -l)" = 0 ] || fail "$_mode: still queued: $(cat "$T/worker.$_mode.log")"
	grep -q "tls=TLS1.[23]/.* verified" "$T/worker.$_mode.log" || fail "$_mode: not verified TLS"
	wait_sink $((before + 3)) || fail "$_mode: $(($(sink_count) - before)) of 3 deliveries (see $LOG)"
	for r in r1 r2 r3; do
		env=$(grep -l "^rcpt <$r-$_mode@example.net>\$" "$N/sink"/*.env | head -1)
		[ -n "$env" ] || fail "$_mode: nothing for $r"
		grep -qx "sender <sender-$_mode@example.org>" "$env" || fail "$_mode: envelope sender: $(cat "$env")"
	done
	env=$(grep -l "^rcpt <r1-$_mode@example.net>\$" "$N/sink"/*.env | head -1)
	same_message "$T/sent.$_mode" "${env%.env}.eml" || fail "$_mode: body differs from the spooled message"
}
deliver_via starttls "$P_STARTTLS"
[ "$(auth_count)" -ge 1 ] || fail "OpenSMTPD logged no successful AUTH"
ok "STARTTLS (required) + AUTH: 2 messages, 3 recipients, body byte-identical, envelope right"
deliver_via implicit "$P_SMTPS"
ok "implicit TLS + AUTH: body byte-identical, envelope right"

# ---- hostile TLS, and a wrong password, against the real server ------------------------
# refused NAME PORT REASON [EXTRA lines]: the message stays queued, the log
# says REASON, OpenSMTPD saw no AUTH and delivered nothing
refused() {
	_name=$1 _port=$2 _why=$3; shift 3
	relay_to "$_name" "$_port" starttls "$@"
	before=$(sink_count) auths=$(auth_count)
	printf 'Subject: %s\n\nmust not arrive\n' "$_name" |
		"$SEALPOST" -C "$C" -odq -f sender@example.org "r-$_name@example.net" || fail "$_name: could not queue"
	"$SEALPOSTD" -C "$C" --once 2>"$T/worker.$_name.log" || true
	grep -q "$_why" "$T/worker.$_name.log" || fail "$_name: log lacks '$_why': $(cat "$T/worker.$_name.log")"
	[ "$(ls "$SP/queue" | grep -c '\.env$')" = 1 ] || fail "$_name: the message is no longer queued"
	[ "$(sink_count)" = "$before" ] || fail "$_name: OpenSMTPD delivered it"
	[ "$(auth_count)" = "$auths" ] || fail "$_name: the client authenticated"
}
refused wrongname "$P_WRONGNAME" "certificate name mismatch"
ok "certificate for another name: deferred, no AUTH"
refused untrusted "$P_UNTRUSTED" "certificate signed by unknown authority"
ok "certificate from an untrusted CA: deferred, no AUTH"
refused expired "$P_EXPIRED" "certificate expired"
ok "expired certificate: deferred, no AUTH"
refused plain "$P_PLAIN" "STARTTLS not offered"
ok "no STARTTLS offered: deferred, nothing sent in cleartext"
printf 'wrong-%s\n' "$PASS" >"$T/wrong.secret"
chmod 0600 "$T/wrong.secret"
relay_to wrongpass "$P_STARTTLS" starttls
sed -i "s|$T/relay.secret|$T/wrong.secret|" "$C"
printf 'Subject: wrong password\n\nmust not arrive\n' |
	"$SEALPOST" -C "$C" -odq -f sender@example.org r-wrongpass@example.net || fail "wrongpass: could not queue"
before=$(sink_count)
"$SEALPOSTD" -C "$C" --once 2>"$T/worker.wrongpass.log" || true
grep -qi "auth" "$T/worker.wrongpass.log" || fail "wrongpass: log: $(cat "$T/worker.wrongpass.log")"
[ "$(ls "$SP/queue" | grep -c '\.env$')" = 1 ] || fail "wrongpass: the message is no longer queued"
[ "$(sink_count)" = "$before" ] || fail "wrongpass: delivered"
grep -q 'authentication.*result=permfail\|authentication.*result=fail' "$LOG" ||
	fail "OpenSMTPD logged no failed AUTH"
ok "wrong password: refused by OpenSMTPD, the message stays queued"
