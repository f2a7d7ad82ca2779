#!/bin/sh
# frontend-callers.sh - sealpost as its real callers use it (SPEC section 2):
# PHP mail(), cron, mailx/mail, sudo/fail2ban (no -i), mdadm (-t),
# git send-email, with their exact arguments and quirks. Each case asserts
# the envelope and the stored message byte for byte.
. "$top_srcdir/tests/lib.sh"
set -e
INSPECT="$PYTHON3 $top_srcdir/tests/spool_inspect.py"

write_conf 'alias "root" { to = {"ops@example.org"} }' \
	'alias "team" { to = {"ann", "bob@example.net"} }' \
	"aliases = \"$T/aliases\""
printf '# test alias file\npostmaster: root\nwebmaster:\n  web1@example.net,\n  web2@example.net\n' > "$T/aliases"

# the From: sealpost generates for this user (GECOS name, if any)
me=$(id -un)
gecos=$(getent passwd "$me" | cut -d: -f5 | cut -d, -f1)
if [ -n "$gecos" ]; then GEN_FROM="$gecos <$me@example.org>"; else GEN_FROM="$me@example.org"; fi
reset_spool() { rm -rf "$SPOOL"; mkdir -p "$SPOOL"; }
sp() { "$SEALPOST" -C "$CONF" "$@"; }

# normalised stored message: generated Date/Message-ID values replaced
stored() {
	$INSPECT "$SPOOL" msg | sed -e 's/^Date: .*\r$/Date: DATE\r/' \
		-e 's/^Message-ID: <[0-9A-Za-z.=_-]*@test\.example\.org>\r$/Message-ID: MSGID\r/' \
		-e "s/^From: $GEN_FROM\r\$/From: FROMLINE\r/"
}
# expect_stored: compare with stdin, whose LF line ends become CRLF
expect_stored() {
	sed 's/$/\r/' > "$T/want"
	stored > "$T/got"
	cmp "$T/want" "$T/got" || { diff -u "$T/want" "$T/got" | cat -A | head -40; fail "$1: stored message differs"; }
}
expect_rcpts() { # name rcpt...
	n=$1; shift
	printf '%s\n' "$@" > "$T/want-rcpts"
	$INSPECT "$SPOOL" rcpts > "$T/got-rcpts"
	cmp -s "$T/want-rcpts" "$T/got-rcpts" || { diff -u "$T/want-rcpts" "$T/got-rcpts"; fail "$n: recipients"; }
}
expect_sender() { got=$($INSPECT "$SPOOL" sender); [ "$got" = "$2" ] || fail "$1: sender '$got', want '$2'"; }

# ---- PHP 8 mail(): -t -i, CRLF headers and LF body, exit status checked
if command -v php >/dev/null 2>&1; then
	reset_spool
	out=$(php -n -d sendmail_path="$SEALPOST -C $CONF -t -i" -r \
		'var_dump(mail("to@example.net", "Hello from PHP", "line one\nline two\n.\nafter dot", "From: Web <web@example.org>\r\nCc: cc@example.net"));')
	[ "$out" = "bool(true)" ] || fail "php mail() returned $out"
	expect_rcpts php to@example.net cc@example.net
	expect_sender php "$(id -un)@example.org"
	expect_stored php <<'MSG'
To: to@example.net
Subject: Hello from PHP
From: Web <web@example.org>
Cc: cc@example.net
Date: DATE
Message-ID: MSGID

line one
line two
.
after dot
MSG
	ok "PHP mail() with -t -i"

	reset_spool
	out=$(php -n -d sendmail_path="$SEALPOST -C $CONF -t -i" -r \
		'var_dump(mail("to@example.net", "S", "b", "From: a@example.org", "-fbounce@example.org"));')
	[ "$out" = "bool(true)" ] || fail "php mail() with -f returned $out"
	expect_sender "php -f" bounce@example.org
	ok "PHP mail() additional_params -f"

	reset_spool
	out=$(php -n -d sendmail_path="$SEALPOST -C $CONF -t -i" -r \
		'var_dump(mail("", "S", "b"));' 2>/dev/null)
	[ "$out" = "bool(false)" ] || fail "php mail() without recipients must return false, got $out"
	[ "$($INSPECT "$SPOOL" count)" = 0 ] || fail "php: queued without recipients"
	ok "PHP mail() without recipients returns false"
else
	echo "# php not installed: PHP cases skipped"
fi

# ---- cron: -FCronDaemon -i -B8BITMIME -oem user, env stripped, cwd /,
# no Date/Message-ID, a line over 1000 bytes
reset_spool
long=$(head -c 1500 /dev/zero | tr '\0' 'x')
printf 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@web1> backup\nContent-Type: text/plain; charset=UTF-8\n\nshort line\n%s\n' "$long" > "$T/cron.msg"
env -i /bin/sh -c "cd / && exec '$SEALPOST' -C '$CONF' -FCronDaemon -i -B8BITMIME -oem root" < "$T/cron.msg" \
	|| fail "cron-style invocation failed"
expect_rcpts cron ops@example.org
expect_sender cron root@example.org
$INSPECT "$SPOOL" msg > "$T/cron.stored"
grep -q '^Content-Transfer-Encoding: quoted-printable' "$T/cron.stored" || fail "cron: long line not re-encoded"
awk '{ if (length($0) > 999) bad = 1 } END { exit bad }' "$T/cron.stored" || fail "cron: a stored line is over 998 octets"
grep -q "^Date: " "$T/cron.stored" && grep -q "^Message-ID: <" "$T/cron.stored" || fail "cron: Date/Message-ID not added"
# decoding the QP body gives back the original line
$PYTHON3 -c '
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
body = m.get_payload(decode=True).decode()
assert body.replace("\r\n", "\n") == "short line\n" + "x" * 1500 + "\n", repr(body[:80])
' "$T/cron.stored" || fail "cron: QP body does not decode to the original"
ok "cron invocation: alias, qualification, QP for a 1500-byte line"

# ---- sudo/fail2ban: no -i, a lone "." ends the message; no final newline
reset_spool
printf 'Subject: sudo\n\nfirst\n.\nnot part of it\n' | sp admin@example.net || fail "sudo-style"
expect_stored "lone dot" <<'MSG'
Subject: sudo
From: FROMLINE
Date: DATE
Message-ID: MSGID

first
MSG
ok "without -i a lone dot ends the message"

reset_spool
printf 'Subject: no newline\n\nlast line without newline' | sp admin@example.net || fail "no final newline"
expect_stored "no final newline" <<'MSG'
Subject: no newline
From: FROMLINE
Date: DATE
Message-ID: MSGID

last line without newline
MSG
ok "message without a final newline gets CRLF"

# ---- mdadm: sendmail -t (no -i), recipients only in the header
reset_spool
printf 'From: mdadm monitoring <root>\nTo: root\nSubject: Fail event on /dev/md0\n\nA Fail event had been detected.\n' | sp -t \
	|| fail "mdadm -t"
expect_rcpts mdadm ops@example.org
ok "mdadm -t with a bare name in To:"

# ---- git send-email: -i rcpt1 rcpt2; a comma list in one argument (fail2ban)
reset_spool
printf 'From: dev@example.org\nSubject: [PATCH] x\n\npatch\n' | sp -i a@example.net b@example.net "c@example.net, d@example.net" \
	|| fail "git send-email style"
expect_rcpts "several arguments" a@example.net b@example.net c@example.net d@example.net
ok "several recipient arguments and a comma list in one"

# ---- -t: To/Cc/Bcc with display names, groups, folding; Bcc removed; args added
reset_spool
cat > "$T/t.msg" <<'MSG'
From: Sender <s@example.org>
To: "Doe, John" <john@example.net>, undisclosed-recipients:;
Cc: team: x@example.net, "y z"@example.net;,
  (comment) w@example.net
Bcc: secret@example.net,
	hidden@example.net
Subject: t
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <fixed@example.org>

body
MSG
sp -t -i extra@example.net < "$T/t.msg" || fail "-t"
expect_rcpts "-t" extra@example.net john@example.net x@example.net '"y z"@example.net' w@example.net secret@example.net hidden@example.net
expect_stored "-t Bcc removed" <<'MSG'
From: Sender <s@example.org>
To: "Doe, John" <john@example.net>, undisclosed-recipients:;
Cc: team: x@example.net, "y z"@example.net;,
  (comment) w@example.net
Subject: t
Date: DATE
Message-ID: <fixed@example.org>

body
MSG
$INSPECT "$SPOOL" msg | grep -q '^Date: Sat, 28 Nov 2026 12:00:00 +0000' || fail "-t: the caller's Date: was not kept"
[ "$($INSPECT "$SPOOL" msg | grep -c '^Date:')" = 1 ] || fail "-t: a second Date: was added"
ok "-t: display names, groups, folded Bcc removed, arguments added"

# ---- Resent-* take precedence with -t
reset_spool
printf 'From: a@example.org\nTo: old@example.net\nResent-To: new@example.net\nResent-Bcc: rb@example.net\nSubject: fwd\n\nx\n' | sp -t \
	|| fail "Resent"
expect_rcpts "Resent-*" new@example.net rb@example.net
$INSPECT "$SPOOL" msg | grep -qi '^Resent-Bcc' && fail "Resent-Bcc kept"
ok "-t with Resent-* headers"

# ---- aliases: file, inline, nested, and -bv shows the routing
reset_spool
printf 'Subject: a\n\nx\n' | sp postmaster webmaster team || fail "aliases"
expect_rcpts aliases ops@example.org web1@example.net web2@example.net ann@example.org bob@example.net
out=$(sp -bv postmaster) || fail "-bv"
echo "$out" | grep -q '^ops@example.org' || fail "-bv output: $out"
[ "$($INSPECT "$SPOOL" count)" = 1 ] || fail "-bv queued something"
ok "aliases (file, inline, nested) and -bv"

# ---- null sender, -F name, sender_rewrite
reset_spool
printf 'Subject: bounce\n\nx\n' | sp -f '<>' a@example.net || fail "null sender"
expect_sender "null sender" ""
reset_spool
printf 'Subject: n\n\nx\n' | sp -F 'Web "Server"' -f www-data a@example.net || fail "-F"
expect_sender "-f bare name" www-data@example.org
$INSPECT "$SPOOL" msg | grep -q '^From: "Web \\"Server\\"" <www-data@example.org>' || { $INSPECT "$SPOOL" msg | head -5; fail "-F From: header"; }
ok "null sender, -f qualification, -F quoted in From:"

# ---- stdout and stderr closed (mailutils mail): the message is queued and
# nothing is written into a file that got fd 1 or 2
reset_spool
printf 'Subject: closed\n\nx\n' > "$T/closed.msg"
( exec >&- 2>&-; "$SEALPOST" -C "$CONF" -oi -t a@example.net < "$T/closed.msg"; echo $? > "$T/closed.rc" )
[ "$(cat "$T/closed.rc")" = 0 ] || fail "stdout/stderr closed: exit $(cat "$T/closed.rc")"
[ "$($INSPECT "$SPOOL" count)" = 1 ] || fail "stdout/stderr closed: not queued"
ok "stdout and stderr closed"

# ---- real mail(1) (bsd-mailx calls /usr/sbin/sendmail -i -t): bind-mount a
# wrapper over it in a private mount namespace, if we may
if command -v mail >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then
	reset_spool
	printf '#!/bin/sh\nexec "%s" -C "%s" "$@"\n' "$SEALPOST" "$CONF" > "$T/sendmail"
	chmod 755 "$T/sendmail"
	echo "hello from mailx" | unshare --mount sh -c "mount --bind '$T/sendmail' /usr/sbin/sendmail && mail -s 'mailx test' someone@example.net" \
		|| fail "mail(1)"
	expect_rcpts mailx someone@example.net
	$INSPECT "$SPOOL" msg | grep -q '^Subject: mailx test' || fail "mailx: subject"
	ok "mail(1) through /usr/sbin/sendmail"
else
	echo "# mail(1) case skipped (needs root, mailx and unshare)"
fi

# ---- every bad input: a clear message, the documented exit code, nothing queued
bad() { # name expected-exit stdin-file args...
	n=$1 want=$2 input=$3; shift 3
	reset_spool
	set +e
	"$SEALPOST" -C "$CONF" "$@" < "$input" > "$T/bad.out" 2> "$T/bad.err"
	got=$?
	set -e
	[ "$got" = "$want" ] || { cat "$T/bad.err"; fail "$n: exit $got, want $want"; }
	[ -s "$T/bad.err" ] || fail "$n: no message on stderr"
	[ "$($INSPECT "$SPOOL" count)" = 0 ] || fail "$n: something was queued"
	[ -z "$($INSPECT "$SPOOL" leftovers)" ] || fail "$n: left files in tmp/"
	ok "rejected: $n ($(head -c 100 "$T/bad.err"))"
}
printf 'Subject: x\n\nbody\n' > "$T/ok.msg"
printf 'Subject: x\n\nbo\000dy\n' > "$T/nul.msg"
bad "CR/LF in -f" 65 "$T/ok.msg" -f "$(printf 'a@x\r\nRCPT TO:<evil@x>')" a@example.net
bad "LF in -F" 65 "$T/ok.msg" -F "$(printf 'Name\nBcc: evil@x')" a@example.net
bad "LF in a recipient" 65 "$T/ok.msg" "$(printf 'a@example.net\nDATA')"
bad "NUL byte" 65 "$T/nul.msg" a@example.net
bad "no recipients" 64 "$T/ok.msg"
bad "-t finds none" 65 "$T/ok.msg" -t
bad "unparseable address" 65 "$T/ok.msg" 'a@@b'
printf 'To: <unterminated@x\n\nb\n' > "$T/badto.msg"
bad "unparseable To: with -t" 65 "$T/badto.msg" -t
bad "unknown option" 64 "$T/ok.msg" -k a@example.net
cp "$CONF" "$T/small.conf"; echo "max_message_size = 100" >> "$T/small.conf"
head -c 5000 /dev/zero | tr '\0' 'y' | fold -w 70 > "$T/big.body"
{ printf 'Subject: big\n\n'; cat "$T/big.body"; } > "$T/big.msg"
CONF_SAVE=$CONF; CONF="$T/small.conf"
bad "over max_message_size" 65 "$T/big.msg" a@example.net
CONF=$CONF_SAVE
printf 'spool_dir = "/dev/null/spool"\n' > "$T/nospool.conf"
CONF_SAVE=$CONF; CONF="$T/nospool.conf"
set +e; "$SEALPOST" -C "$CONF" a@example.net < "$T/ok.msg" 2> "$T/bad.err"; got=$?; set -e
[ "$got" = 73 ] || fail "unwritable spool: exit $got, want 73"
grep -q spool "$T/bad.err" || grep -q /dev/null "$T/bad.err" || fail "unwritable spool: message: $(cat "$T/bad.err")"
ok "unwritable spool exits 73"
CONF=$CONF_SAVE
printf 'hostname = "x"\nbogus_key = 1\n' > "$T/broken.conf"
set +e; "$SEALPOST" -C "$T/broken.conf" a@example.net < "$T/ok.msg" 2> "$T/bad.err"; got=$?; set -e
[ "$got" = 78 ] || fail "bad config: exit $got"
grep -q "broken.conf:2" "$T/bad.err" || fail "bad config: no file:line in: $(cat "$T/bad.err")"
ok "bad config exits 78 with file and line"

# ---- -bi / newaliases and --version
sp -bi || fail "-bi"
ln -s "$SEALPOST" "$T/newaliases"
"$T/newaliases" -C "$CONF" || fail "newaliases"
ok "-bi and newaliases exit 0"
echo "$pass_count passed"
