#!/bin/sh
# tests/postfix-harness.sh - a PRIVATE Postfix instance on loopback, used as
# a real smarthost by the integration tests. Never touches the system
# Postfix: its own config_directory, queue_directory, data_directory and log
# file, all under DIR; unchrooted; ports bound on 127.0.0.1 only.
#
# Needs root (Postfix's master runs as root and drops to mail_owner) and the
# Debian packages postfix, sasl2-bin, libsasl2-modules, gnutls-bin.
#
# Usage (the contract other tests rely on):
#   postfix-harness.sh start DIR
#       Builds and starts the instance, waits (bounded) until both ports
#       answer, and prints shell assignments on stdout (also kept in DIR/env):
#         PF_SUBMISSION_PORT  STARTTLS required (smtpd_tls_security_level
#                             = encrypt), SMTP AUTH required, PLAIN/LOGIN
#                             offered only inside TLS
#         PF_SMTPS_PORT       implicit TLS (smtpd_tls_wrappermode), AUTH required
#         PF_USER PF_PASS     the SASL credentials (Cyrus sasldb in DIR)
#         PF_DOMAIN           every address @PF_DOMAIN is delivered to ...
#         PF_MAILDIR          ... this Maildir: messages appear in
#                             $PF_MAILDIR/new/, each starting with
#                             Return-Path: <envelope sender>,
#                             Delivered-To: and X-Original-To: <recipient>,
#                             then the received headers and the body as sent
#         PF_CA               the CA that signed the server certificate
#         PF_LOG              the instance's log file (maillog_file)
#       The environment may set PF_MESSAGE_SIZE_LIMIT (message_size_limit)
#       and PF_SMTPUTF8_ENABLE (yes/no) for the instance.
#       Certificates: $CERTS (a tests/mkcerts.sh directory) when set, else
#       generated into DIR/certs. The server certificate names localhost,
#       127.0.0.1 and ::1.
#       PF_MAIN_EXTRA (environment, optional): more main.cf lines, appended
#       last, one setting per line, e.g. the limits a provider enforces:
#         PF_MAIN_EXTRA="smtpd_client_connection_count_limit = 2
#         smtpd_client_event_limit_exceptions =
#         smtpd_recipient_limit = 3"
#       (loopback is in mynetworks, which the event limits exempt unless
#       smtpd_client_event_limit_exceptions is emptied).
#   postfix-harness.sh stop DIR
#       Stops the instance (bounded wait, then SIGKILL) and leaves DIR.
#   postfix-harness.sh wait DIR N [SECONDS]
#       Bounded wait (default 20 s) until N messages are in $PF_MAILDIR/new;
#       exit 0 if so, 1 otherwise.
#   postfix-harness.sh payload FILE
#       Prints a delivered message as the client sent it: without the lines
#       Postfix prepends (Return-Path, X-Original-To, Delivered-To and its
#       own Received header) and with CRLF line ends again, so it can be
#       compared byte for byte with the DATA the client transmitted
#       (unstuffed). Postfix adds no other header (no Message-Id, Date or
#       From is added: local_header_rewrite_clients is empty).
# Exit status: 0 ok, 77 cannot run here (not root, Postfix or SASL tools
# missing), 1 failure (the log tail is printed on stderr).
set -eu

die() { echo "postfix-harness: $*" >&2; exit 1; }
cannot() { echo "postfix-harness: $*" >&2; exit 77; }

usage() { echo "usage: $0 start|stop DIR | wait DIR N [SECONDS] | payload FILE" >&2; exit 64; }
[ $# -ge 1 ] || usage
case $1:$# in start:2|stop:2|payload:2|wait:3|wait:4) ;; *) usage ;; esac
action=$1
case $2 in /*) dir=$2 ;; *) dir=$(pwd)/$2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
PYTHON3=${PYTHON3:-/usr/bin/python3}
POSTFIX=${POSTFIX:-/usr/sbin/postfix}
# The instance lives in DIR, unless the postfix user cannot reach DIR (a
# test's mktemp directory is 0700): then in a side directory named in
# DIR/instance, removed again by "stop".
inst=$dir
[ -f "$dir/instance" ] && inst=$(cat "$dir/instance")
conf="$inst/etc"

# postfix_can_enter PATH: the mail_owner can traverse PATH.
postfix_can_enter() {
	"$PYTHON3" - "$1" <<'EOF'
import os, pwd, sys
pw = pwd.getpwnam("postfix")
os.setgroups([])
os.setgid(pw.pw_gid)
os.setuid(pw.pw_uid)
sys.exit(0 if os.access(sys.argv[1], os.X_OK) else 1)
EOF
}

# master_pid: the running master of this instance, if any.
master_pid() {
	pid=$(sed -n 's/^ *\([0-9][0-9]*\).*/\1/p' "$inst/queue/pid/master.pid" 2>/dev/null || true)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
	return 0
}

stop() {
	[ -f "$conf/main.cf" ] || return 0
	pid=$(master_pid)
	[ -n "$pid" ] || return 0
	"$POSTFIX" -c "$conf" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
	n=100
	while kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	if kill -0 "$pid" 2>/dev/null; then
		echo "postfix-harness: master $pid did not stop; killing it" >&2
		"$POSTFIX" -c "$conf" abort >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
	fi
}

# stop_and_clean: stop, and remove a side directory (nobody else will).
stop_and_clean() {
	stop
	if [ "$inst" != "$dir" ]; then
		case $inst in */sealpost-postfix.*) rm -rf "$inst" ;; esac
		rm -f "$dir/instance"
		inst=$dir
		conf="$inst/etc"
	fi
}

# free_ports N: N distinct free TCP ports on 127.0.0.1 (bound, then released).
free_ports() {
	"$PYTHON3" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_smtp PORT TLS: bounded wait for an SMTP greeting (TLS: implicit).
wait_smtp() {
	"$PYTHON3" - "$1" "$2" <<'EOF'
import socket, ssl, sys, time
port, tls = int(sys.argv[1]), sys.argv[2] == "1"
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        if tls:
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
            s = c.wrap_socket(s)
        if s.recv(512).startswith(b"220"):
            s.sendall(b"QUIT\r\n")
            s.close()
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

write_main_cf() {
	cat > "$conf/main.cf" <<EOF
# Private test instance generated by tests/postfix-harness.sh. Do not edit.
compatibility_level = 3.6
config_directory = $conf
queue_directory = $inst/queue
data_directory = $inst/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-sealpost-test
maillog_file = $inst/maillog
maillog_file_prefixes = $inst
myhostname = pf.sealpost.test
mydomain = sealpost.test
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
alias_maps =
alias_database =
local_recipient_maps =
relayhost =
biff = no
append_dot_mydomain = no
# Deliver what the client sent: no headers added or rewritten.
local_header_rewrite_clients =
always_add_missing_headers = no
smtputf8_enable = ${PF_SMTPUTF8_ENABLE:-yes}
message_size_limit = ${PF_MESSAGE_SIZE_LIMIT:-52428800}
virtual_mailbox_limit = 0

virtual_mailbox_domains = $PF_DOMAIN
virtual_mailbox_base = $inst/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:$pf_uid
virtual_gid_maps = static:$pf_gid
virtual_minimum_uid = 1
enable_original_recipient = yes

smtpd_tls_cert_file = $conf/server.pem
smtpd_tls_key_file = $conf/server.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $conf/sasl
smtpd_sasl_local_domain = pf.sealpost.test
smtpd_sasl_auth_enable = no
smtpd_sasl_authenticated_header = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_client_restrictions = permit_sasl_authenticated, reject
EOF
	[ -z "${PF_MAIN_EXTRA:-}" ] || printf '%s\n' "$PF_MAIN_EXTRA" >> "$conf/main.cf"
}

# write_master_cf SUBMISSION-PORT SMTPS-PORT
write_master_cf() {
	auth='-o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject'
	cat > "$conf/master.cf" <<EOF
# service type private unpriv chroot wakeup maxproc command
127.0.0.1:$1 inet n - n - - smtpd
  -o syslog_name=postfix-sealpost-test/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  $auth
127.0.0.1:$2 inet n - n - - smtpd
  -o syslog_name=postfix-sealpost-test/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  $auth
EOF
	cat "$here/postfix-services.cf" >> "$conf/master.cf"
}

start() {
	[ "$(id -u)" = 0 ] || cannot "needs root (Postfix's master runs as root)"
	[ -x "$POSTFIX" ] || cannot "postfix is not installed"
	command -v saslpasswd2 >/dev/null 2>&1 || cannot "saslpasswd2 missing (apt-get install sasl2-bin)"
	pf_uid=$(id -u postfix 2>/dev/null) || cannot "no postfix user"
	pf_gid=$(id -g postfix)
	getent group postdrop >/dev/null || cannot "no postdrop group"
	plain=no
	for f in /usr/lib/*/sasl2/libplain.so* /usr/lib/sasl2/libplain.so*; do
		[ -e "$f" ] && plain=yes
	done
	[ "$plain" = yes ] ||
		cannot "Cyrus SASL PLAIN plugin missing (apt-get install libsasl2-modules)"
	stop_and_clean

	mkdir -p "$dir"
	if ! postfix_can_enter "$dir"; then
		inst=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-postfix.XXXXXX")
		chmod 0755 "$inst"
		postfix_can_enter "$inst" || die "user postfix cannot enter $dir nor $inst"
		echo "$inst" > "$dir/instance"
		conf="$inst/etc"
	fi
	rm -rf "$conf" "$inst/queue" "$inst/data" "$inst/mail" "$inst/maillog"
	mkdir -p "$conf/sasl" "$inst/queue" "$inst/data" "$inst/mail"
	chown root:root "$inst/queue"
	chmod 0755 "$inst" "$inst/queue"
	chown postfix:postfix "$inst/data" "$inst/mail"
	chmod 0700 "$inst/data"

	if [ -n "${CERTS:-}" ] && [ -f "$CERTS/.complete" ]; then
		certs=$CERTS
	else
		certs="$dir/certs"
		sh "$here/mkcerts.sh" "$certs" || die "mkcerts.sh failed"
	fi
	install -m 0644 "$certs/server.pem" "$conf/server.pem"
	install -m 0600 "$certs/server.key" "$conf/server.key"

	PF_DOMAIN=sealpost.test
	PF_USER=sealtest
	PF_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	printf '%s' "$PF_PASS" | saslpasswd2 -p -f "$inst/sasldb2" -u pf.sealpost.test -c "$PF_USER" ||
		die "saslpasswd2 failed"
	chown root:postfix "$inst/sasldb2"
	chmod 0640 "$inst/sasldb2"
	cat > "$conf/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $inst/sasldb2
EOF
	write_main_cf

	# Free ports can be taken between the check and master's bind: retry.
	tries=3
	while :; do
		set -- $(free_ports 2)
		write_master_cf "$1" "$2"
		if "$POSTFIX" -c "$conf" start >"$dir/start.log" 2>&1 &&
			wait_smtp "$1" 0 && wait_smtp "$2" 1; then
			break
		fi
		stop
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			cat "$dir/start.log" >&2
			tail -n 30 "$inst/maillog" >&2 2>/dev/null || true
			die "could not start the private Postfix instance"
		fi
	done
	{
		echo "PF_SUBMISSION_PORT=$1"
		echo "PF_SMTPS_PORT=$2"
		echo "PF_MAILDIR=$inst/mail/inbox"
		echo "PF_USER=$PF_USER"
		echo "PF_PASS=$PF_PASS"
		echo "PF_DOMAIN=$PF_DOMAIN"
		echo "PF_CA=$certs/ca.pem"
		echo "PF_LOG=$inst/maillog"
	} > "$dir/env"
	cat "$dir/env"
}

# payload FILE: the message as transmitted (see the usage above).
payload() {
	"$PYTHON3" - "$1" <<'EOF'
import sys
with open(sys.argv[1], "rb") as f:
    lines = f.read().split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
i = 0
for name in (b"Return-Path:", b"X-Original-To:", b"Delivered-To:"):
    if i < len(lines) and lines[i].startswith(name):
        i += 1
if i < len(lines) and lines[i].startswith(b"Received:") and b"(Postfix)" in b"".join(lines[i:i + 8]):
    i += 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
sys.stdout.buffer.write(b"".join(l + b"\r\n" for l in lines[i:]))
EOF
}

# wait_messages N SECONDS
wait_messages() {
	n=$(( $2 * 10 ))
	while :; do
		count=$(ls "$inst/mail/inbox/new" 2>/dev/null | wc -l)
		[ "$count" -ge "$1" ] && return 0
		[ "$n" -gt 0 ] || break
		sleep 0.1; n=$((n - 1))
	done
	echo "postfix-harness: $count of $1 messages delivered" >&2
	return 1
}

case $action in
start) start ;;
stop) stop_and_clean ;;
wait) wait_messages "$3" "${4:-20}" ;;
payload) payload "$2" ;;
*) usage ;;
esac
