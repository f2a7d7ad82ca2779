#!/bin/sh
# tests/deb/install-remove.sh - install, use, remove and purge the sealpost
# .deb in a fresh minimal root of a Debian release (piuparts-style), as
# root on the host:
#   tests/deb/install-remove.sh RELEASE DEB [BUILD_DIR]
# RELEASE is bookworm or trixie; DEB must be built on that release (make
# deb there). The test PKI is made in BUILD_DIR/tests/certs (default build/).
#
# In the root (.ci/chroot.sh: debootstrap --variant=minbase, no MTA):
#   1. apt-get install ./DEB: no error from any maintainer script; the
#      user, the setgid front end, the spool modes, the sendmail names;
#   2. bsd-mailx, which needs an MTA, installs without pulling another;
#   3. one message through mail(1) reaches tests/smarthost.py (on the
#      host's loopback) over verified STARTTLS, nothing but EHLO and
#      STARTTLS in cleartext;
#   4. apt-get remove: binaries gone, the queue and config kept;
#      apt-get purge: spool, config, user and group gone;
#   5. purge with a message queued keeps the spool (and says so);
#      reinstalled over it, purge with SEALPOST_PURGE_SPOOL=yes removes it;
#   6. after all that the root holds what it held before (file list with
#      owners, modes and checksums, /etc/passwd and /etc/group) but for a
#      file the admin created, which stays.
# Prints "ok N - ..." per check and ends with "N passed, N failed".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
rel=${1:?usage: install-remove.sh RELEASE DEB [BUILD_DIR]}
deb=${2:?usage: install-remove.sh RELEASE DEB [BUILD_DIR]}
top_builddir=${3:-$top_srcdir/build}
[ -f "$deb" ] || { echo "install-remove: $deb: no such file" >&2; exit 1; }
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
export top_srcdir top_builddir
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/.ci/chroot.sh"
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed"

failed=1
summary() { echo "$pass_count passed, $failed failed"; }
at_cleanup summary
R=$T/root
destroy_root() { chroot_destroy "$R"; }
at_cleanup destroy_root
trap 'exit 130' INT TERM HUP

chroot_create "$rel" "$R" || fail "cannot make a $rel root"
in_root() { chroot_run "$R" "$@"; }
# apt_step LOG CMD...: run in the root; the step must succeed and no
# maintainer script may complain
apt_step() {
	_log=$1; shift
	if in_root env DEBIAN_FRONTEND=noninteractive "$@" >"$T/$_log" 2>&1; then :; else
		tail -n 30 "$T/$_log" >&2; fail "$*: exit status $?"
	fi
	if grep -Ein 'dpkg: (error|warning)|(postinst|postrm|prerm|preinst).*(error|warning|fail)|subprocess .* returned' "$T/$_log" >&2; then
		fail "$*: a maintainer script complained"
	fi
}
have_pkg() { in_root dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# mode_of PATH: "mode owner group" inside the root
mode_of() { in_root stat -c '%a %U %G' "$1" 2>/dev/null; }

# ---- the state before: a system with no MTA ---------------------------------
apt_step update.log apt-get -o DPkg::Lock::Timeout=600 update
# The package's dependencies (and recommendations) are there first: what
# they leave on purge is theirs, and their own purge is not under test.
deps=$(dpkg-deb -f "$deb" Depends Recommends | sed 's/^[A-Za-z]*: //; s/([^)]*)//g; s/|[^,]*//g' | tr ',\n' '  ')
apt_step deps.log apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $deps
in_root sh -c 'test ! -e /usr/sbin/sendmail' || fail "the fresh root already has /usr/sbin/sendmail"
snapshot() { # the files of the root that a package may touch, with content
	in_root sh -c 'find / -xdev \( -path /proc -o -path /dev -o -path /sys -o -path /run -o -path /tmp \
		-o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log \
		-o -path /etc/ld.so.cache -o -path "/etc/*-" \) -prune -o -printf "%p %y %m %u %g %l\n" | LC_ALL=C sort
		find / -xdev \( -path /proc -o -path /dev -o -path /sys -o -path /run -o -path /tmp \
		-o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log \
		-o -path /etc/ld.so.cache -o -path "/etc/*-" \) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum' >"$1"
}
snapshot "$T/before"
ok "fresh $rel root ($(cat "$R/etc/debian_version")), no MTA; the package's dependencies:$(echo " $deps" | tr -s ' ')"

# ---- 1. install the package ----------------------------------------------------
cp "$deb" "$R/tmp/"
apt_step install.log apt-get -o DPkg::Lock::Timeout=600 install -y "/tmp/$(basename "$deb")"
have_pkg sealpost || fail "sealpost is not installed"
uid=$(in_root id -u sealpost) || fail "no sealpost user"
[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "sealpost has uid $uid, not a system uid"
[ "$(mode_of /usr/sbin/sealpost)" = "755 root root" ] || fail "front end: $(mode_of /usr/sbin/sealpost)"
drop=/usr/libexec/sealpost/sealpost-drop
[ "$(mode_of $drop)" = "2755 root sealpost" ] || fail "sealpost-drop: $(mode_of $drop)"
[ "$(mode_of /usr/sbin/sealpostd)" = "755 root root" ] || fail "worker: $(mode_of /usr/sbin/sealpostd)"
for d in "/var/spool/sealpost 711" "/var/spool/sealpost/maildrop 1730" "/var/spool/sealpost/queue 700" \
	"/var/spool/sealpost/tmp 700" "/etc/sealpost 750"; do
	set -- $d
	case $(mode_of "$1") in "$2 "*" sealpost") ;; *) fail "$1: $(mode_of "$1"), want $2 .. sealpost" ;; esac
done
for n in /usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases; do
	[ "$(in_root readlink -f "$n")" = /usr/sbin/sealpost ] || fail "$n does not lead to sealpost"
done
in_root mailq | grep -q 'Mail queue is empty' || fail "mailq: $(in_root mailq 2>&1)"
in_root newaliases || fail "newaliases failed"
in_root dpkg-query -S /usr/sbin/sendmail | grep -q '^sealpost:' || fail "dpkg does not know sealpost owns sendmail"
ok "installed: user $uid, setgid sealpost-drop, spool modes, sendmail, mailq, newaliases"

# ---- 2. bsd-mailx, which needs an MTA ----------------------------------------------
apt_step mailx.log apt-get -o DPkg::Lock::Timeout=600 install -y bsd-mailx
have_pkg bsd-mailx || fail "bsd-mailx is not installed"
mtas=$(in_root dpkg-query -W -f='${Package} ${db:Status-Abbrev} ${Provides}\n' |
	awk '$2 == "ii" && /mail-transport-agent/ { print $1 }')
[ "$mtas" = sealpost ] || fail "MTAs installed: $mtas"
ok "bsd-mailx installed, no other MTA pulled in"

# ---- 3. one message through mail(1) to the test smarthost ----------------------------
start_smarthost
mkdir -p "$R/usr/local/share/sealpost-test"
cp "$CERTS/ca.pem" "$R/usr/local/share/sealpost-test/ca.pem" # the admin's file
cat >"$R/etc/sealpost.conf" <<EOF
hostname = "client.example.org"
domain = "example.org"
log = "stderr"
relay "main" {
  host = "127.0.0.1"
  port = $SMTP_PORT
  tls = "starttls"
}
tls_policy "127.0.0.1" {
  verify = "ca"
  ca_file = "/usr/local/share/sealpost-test/ca.pem"
  verify_name = "localhost"
}
EOF
MARK=deb-$rel-$$
printf 'Hello from the %s package.\n%s\n' "$rel" "$MARK" |
	in_root mail -s "sealpost $rel package" alice@example.net 2>"$T/mail.err" ||
	{ cat "$T/mail.err" >&2; fail "mail(1) failed"; }
wait_delivered 1 30 || { cat "$T/mail.err" >&2; in_root mailq >&2; fail "the message did not arrive"; }
grep -q "$MARK" "$SMTP_MAILDIR/1.eml" || fail "the body did not arrive"
grep -q "^Subject: sealpost $rel package" "$SMTP_MAILDIR/1.eml" || fail "no subject"
grep -q '"rcpt_to": \[' "$SMTP_MAILDIR/1.json" && grep -q '"alice@example.net"' "$SMTP_MAILDIR/1.json" ||
	fail "envelope: $(cat "$SMTP_MAILDIR/1.json")"
grep -q '"tls": true' "$SMTP_MAILDIR/1.json" || fail "not over TLS"
transcript_events | grep -q tls-established || fail "no TLS handshake"
assert_no_cleartext_beyond EHLO STARTTLS
ok "mail(1) -> sendmail -> smarthost over verified STARTTLS"

# ---- 4. remove, then purge ---------------------------------------------------------------
apt_step remove.log apt-get -o DPkg::Lock::Timeout=600 remove -y sealpost
have_pkg sealpost && fail "still installed after remove"
for f in /usr/sbin/sealpost /usr/sbin/sealpostd /usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq; do
	in_root test ! -e "$f" -a ! -L "$f" || fail "$f is left after remove"
done
in_root test -d /var/spool/sealpost/queue || fail "remove took the spool"
in_root test -f /etc/sealpost.conf || fail "remove took the configuration"
ok "remove: programs gone, spool and configuration kept"
apt_step purge.log apt-get -o DPkg::Lock::Timeout=600 purge -y sealpost
for f in /var/spool/sealpost /etc/sealpost /etc/sealpost.conf; do
	in_root test ! -e "$f" || fail "$f is left after purge"
done
in_root getent passwd sealpost >/dev/null && fail "the sealpost user is left after purge"
in_root getent group sealpost >/dev/null && fail "the sealpost group is left after purge"
ok "purge: empty spool, configuration, user and group gone"

# ---- 5. purge with mail in the queue -----------------------------------------------------
apt_step install2.log apt-get -o DPkg::Lock::Timeout=600 install -y "/tmp/$(basename "$deb")"
printf 'Subject: kept\n\nnot delivered\n' | in_root /usr/sbin/sendmail -odq bob@example.net ||
	fail "sendmail -odq failed"
apt_step purge2.log apt-get -o DPkg::Lock::Timeout=600 purge -y sealpost
grep -q 'still holds' "$T/purge2.log" || fail "purge did not say it kept the queue"
queued=$(in_root find /var/spool/sealpost/maildrop /var/spool/sealpost/queue -type f | wc -l)
[ "$queued" -ge 1 ] || fail "purge threw the queued message away"
in_root getent passwd sealpost >/dev/null || fail "the user went while its spool stays"
ok "purge with a message queued keeps the spool and says so"
apt_step install3.log apt-get -o DPkg::Lock::Timeout=600 install -y "/tmp/$(basename "$deb")"
[ "$(mode_of $drop)" = "2755 root sealpost" ] || fail "reinstall: $(mode_of $drop)"
[ "$(in_root find /var/spool/sealpost/maildrop /var/spool/sealpost/queue -type f | wc -l)" = "$queued" ] ||
	fail "the kept message is gone after reinstall"
apt_step purge3.log env SEALPOST_PURGE_SPOOL=yes apt-get -o DPkg::Lock::Timeout=600 purge -y sealpost
in_root test ! -e /var/spool/sealpost || fail "SEALPOST_PURGE_SPOOL=yes kept the spool"
in_root getent passwd sealpost >/dev/null && fail "the sealpost user is left"
ok "reinstalled over the kept spool; purge with SEALPOST_PURGE_SPOOL=yes removes it"

# ---- 6. nothing left behind ---------------------------------------------------------------
apt_step mailx-purge.log apt-get -o DPkg::Lock::Timeout=600 purge -y --autoremove bsd-mailx
in_root test -f /usr/local/share/sealpost-test/ca.pem || fail "the admin's file went"
rm -r "$R/usr/local/share/sealpost-test"
snapshot "$T/after"
if ! diff "$T/before" "$T/after" >"$T/diff"; then
	head -n 40 "$T/diff" >&2
	fail "the root differs from before the install"
fi
ok "after purge: the root is as before (but for the admin's file, which stayed)"
failed=0
