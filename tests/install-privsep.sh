#!/bin/sh
# tests/install-privsep.sh - the installed system keeps callers away from
# each other's mail and from the relay password (SPEC sections 4 and 6).
# As root: builds sealpost for a prefix under $T, runs make install and the
# post-install step (make install-system) with a worker user unique to this
# run, then, as two unprivileged users:
#   - both submit mail successfully (the front end holds no privilege;
#     the setgid sealpost-drop writes the maildrop, owner the submitter);
#   - the attacker cannot read the victim's queued message, the spool, or
#     the relay's password file, neither directly nor through any option of
#     sealpost (-bv, -v, -bs, -bp, -q, -C with crafted configs pointing at
#     the secret or at a queued message), nor sealpostd, nor environment
#     tricks (LD_PRELOAD, LD_LIBRARY_PATH, TMPDIR, TZ, HOSTALIASES), nor
#     descriptors passed in;
# and finally sealpostd, started as root, drops to the worker user, picks
# the maildrop up and delivers every message (one queued by the layout
# before the maildrop too) to the test smarthost with AUTH over STARTTLS.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/install-lib.sh"
need_root
need_certs

install_users sp
SECRET=pw-$INSTALL_SFX-Tr0ub4dor
MARK=victim-body-$INSTALL_SFX

# ---- build, install, post-install -------------------------------------------
install_prefix
SECRET_FILE=$ETC/sealpost/relay.secret
ok "make install into $P"

start_smarthost --auth "relayuser:$SECRET"
mkdir -p "$ETC/sealpost"
printf '%s\n' "$SECRET" > "$SECRET_FILE"
chmod 0644 "$SECRET_FILE"    # wrong on purpose: the post-install step fixes it
cp "$CERTS/ca.pem" "$ETC/sealpost/ca.pem"
chmod 0644 "$ETC/sealpost/ca.pem"
install_conf 'alias "root" { to = {"ops@example.net"} }' \
	"$(relay_conf main "$SMTP_PORT" starttls 'username = "relayuser"' \
		"password_file = \"$SECRET_FILE\"" "ca_file = \"$ETC/sealpost/ca.pem\"")"

for run in 1 2; do # idempotent: an upgrade runs it again
	install_system "$T/postinst.$run.out" "make install-system (run $run)"
done
getent passwd "$W" >/dev/null || fail "post-install did not create the user $W"
WUID=$(id -u "$W")
WGID=$(getent group "$W" | cut -d: -f3)
expect_mode() { # PATH "MODE OWNER GROUP"
	got=$(stat -c '%a %U %G' "$1")
	[ "$got" = "$2" ] || fail "$1: $got, want $2"
}
expect_mode "$P/sbin/sealpost" "755 root root"
expect_mode "$P/libexec/sealpost/sealpost-drop" "2755 root $W"
expect_mode "$SPOOL" "711 $W $W"
expect_mode "$SPOOL/maildrop" "1730 $W $W"
expect_mode "$SPOOL/tmp" "700 $W $W"
expect_mode "$SPOOL/queue" "700 $W $W"
expect_mode "$SPOOL/corrupt" "700 $W $W"
expect_mode "$ETC/sealpost" "750 root $W"
expect_mode "$SECRET_FILE" "600 $W $W"
[ "$(readlink "$P/sbin/sendmail")" = sealpost ] || fail "sendmail link missing"
ok "post-install: user $W, setgid sealpost-drop only, spool and secret modes (twice, idempotent)"

# ---- both users submit ------------------------------------------------------
msg() { printf 'To: root\nSubject: %s\n\n%s\n' "$1" "$2"; }
dropped_count() { ls "$SPOOL/maildrop" | grep -c '^[0-9A-F]\{16\}$' || true; }
msg "from the victim" "$MARK" | as "$V" "$SBIN/sendmail" -t -i -odq || fail "victim: submit"
VID=$(ls "$SPOOL/maildrop" | head -n1)
[ -n "$VID" ] || fail "the victim's message is not in the maildrop"
expect_mode "$SPOOL/maildrop/$VID" "640 $V $W"
head -n 2 "$SPOOL/maildrop/$VID" | tr '\n' ' ' | grep -qx "sealpost-drop 1 uid $(id -u "$V") " ||
	fail "drop file header: $(head -n 2 "$SPOOL/maildrop/$VID")"
[ "$(queued_count)" = 0 ] || fail "the front end wrote queue/ itself"
# the attacker's own message, in the default (background) mode: no worker
# can run as the attacker on this spool; exit 0 all the same
msg "from the attacker" "attacker-body-$INSTALL_SFX" | as "$A" "$SBIN/sendmail" -t -i ||
	fail "attacker: submit"
[ "$(dropped_count)" = 2 ] || fail "expected 2 dropped messages, got $(dropped_count)"
ok "unprivileged users submit mail (maildrop files 0640, owner the submitter, uid recorded by sealpost-drop)"

# ---- direct access ------------------------------------------------------------
for target in "$SPOOL/maildrop/$VID" "$SECRET_FILE"; do
	as "$A" cat "$target" >/dev/null 2>&1 && fail "attacker can read $target"
done
for d in "$SPOOL" "$SPOOL/maildrop" "$SPOOL/queue" "$SPOOL/tmp" "$SPOOL/corrupt" "$ETC/sealpost"; do
	as "$A" ls "$d" >/dev/null 2>&1 && fail "attacker can list $d"
done
as "$A" sh -c "echo x > '$SPOOL/maildrop/$VID'" 2>/dev/null && fail "attacker can write the maildrop"
as "$A" sh -c "echo x > '$SPOOL/queue/x'" 2>/dev/null && fail "attacker can write the queue"
as "$V" cat "$SECRET_FILE" >/dev/null 2>&1 && fail "victim can read the secret"
ok "no direct access to the spool, another's message, or the secret"

# ---- through sealpost's options ------------------------------------------------
OUT=$T/attempts.out
: > "$OUT"
chmod 0666 "$OUT"
attempt() { # attempt what... (as the attacker; every byte of output collected)
	as "$A" "$@" >>"$OUT" 2>&1 </dev/null || true
}
attempt_in() { # attempt_in INPUT what...
	_in=$1; shift
	printf '%b' "$_in" | as "$A" "$@" >>"$OUT" 2>&1 || true
}
printf 'aliases = "%s"\nspool_dir = "%s"\n' "$SECRET_FILE" "$SPOOL" > "$AH/secret-aliases.conf"
printf 'aliases = "%s"\nspool_dir = "%s"\n' "$SPOOL/maildrop/$VID" "$SPOOL" > "$AH/msg-aliases.conf"
printf 'spool_dir = "%s/spool"\nlog = "stderr"\n%s\n' "$AH" \
	"$(relay_conf evil "$SMTP_PORT" starttls 'username = "relayuser"' "password_file = \"$SECRET_FILE\"")" \
	> "$AH/secret-relay.conf"
chown "$A:$A" "$AH"/*.conf
for c in secret-aliases msg-aliases secret-relay; do
	attempt "$SBIN/sealpost" -C "$AH/$c.conf" -bv root "$A" ops@example.net
done
attempt "$SBIN/sealpost" -C "$SECRET_FILE" -bv root
attempt "$SBIN/sealpost" -C "$SPOOL/maildrop/$VID" -bv root
attempt "$SBIN/sealpost" -C "$SPOOL/maildrop/$VID" -bp
attempt "$SBIN/sealpost" -bv root "$SECRET_FILE" "$SPOOL/maildrop/$VID"
: > "$AH/plain.conf"
attempt_in "$MARK" "$P/libexec/sealpost/sealpost-drop" /etc
attempt_in "$MARK" "$P/libexec/sealpost/sealpost-drop" "$SPOOL/queue/.."
attempt "$SBIN/sealpost" -bp
attempt "$SBIN/sealpost" -bp --json
attempt "$SBIN/sealpost" -v -q
attempt "$SBIN/sealpost" -qf
attempt "$SBIN/sealpost" -qI"$VID"
attempt "$SBIN/sealpost" -X "$SECRET_FILE" -bv root
attempt_in 'x\n' "$SBIN/sealpost" -C "$AH/secret-aliases.conf" -i root
attempt_in 'x\n' "$SBIN/sealpost" -C "$AH/msg-aliases.conf" -i root
attempt_in 'x\n' "$SBIN/sealpost" -C "$AH/secret-relay.conf" -odi -v -i root
attempt_in 'x\n' "$SBIN/sealpost" -odi -v -i root
attempt_in "EHLO x\r\nVRFY root\r\nEXPN root\r\nHELP\r\nMAIL FROM:<$SECRET_FILE>\r\nQUIT\r\n" \
	"$SBIN/sealpost" -bs
attempt_in "EHLO x\r\nVRFY root\r\nQUIT\r\n" "$SBIN/sealpost" -C "$AH/secret-aliases.conf" -bs
attempt "$SBIN/sealpostd" -C "$AH/secret-relay.conf" --check-config
attempt "$SBIN/sealpostd" -C "$AH/secret-relay.conf" --probe -v -v
attempt "$SBIN/sealpostd" -C "$SECRET_FILE" --check-config
attempt "$SBIN/sealpostd" -v -v --once
grep -F -e "$SECRET" -e "$MARK" "$OUT" && fail "an option leaked the secret or the victim's message"
grep -q 'deliverable via relay' "$OUT" || fail "-bv did not run at all: $(head -c 2000 "$OUT")"
grep -q '^220 ' "$OUT" || fail "-bs did not run at all"
# sealpost-drop pointed at another directory drops its group first
[ -z "$(find /etc "$SPOOL/queue" -newer "$AH/plain.conf" -user "$A" 2>/dev/null)" ] ||
	fail "sealpost-drop wrote outside the maildrop"
ok "no option of sealpost, sealpost-drop or sealpostd reveals the secret or another's message"

# ---- environment and descriptor tricks ----------------------------------------
CC=${CC:-cc}
if command -v "$CC" >/dev/null; then
	cat > "$T/leak.c" <<'EOF'
/* An LD_PRELOAD payload: report that it ran, then copy out the relay secret
 * and every spool file it can reach. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void copy(const char *path, FILE *out)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, out);
	close(fd);
}
__attribute__((constructor)) static void leak(void)
{
	const char *o = getenv("LEAK_OUT"), *s = getenv("LEAK_SECRET"), *q = getenv("LEAK_QUEUE");
	if (!o)
		return;
	FILE *out = fopen(o, "a");
	if (!out)
		return;
	fprintf(out, "preload ran in %d\n", (int)getpid());
	if (s)
		copy(s, out);
	DIR *d = q ? opendir(q) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", q, e->d_name);
		copy(p, out);
	}
	if (d)
		closedir(d);
	fclose(out);
}
EOF
	"$CC" -shared -fPIC -o "$T/leak.so" "$T/leak.c" || fail "cannot build the preload payload"
	chmod 0755 "$T/leak.so"
	mkdir -p "$AH/tmp"
	chown "$A:$A" "$AH/tmp"
	tricks() { # tricks PROGRAM ARGS...: run as the attacker with every trick set
		as "$A" env LEAK_OUT="$AH/leak" LEAK_SECRET="$SECRET_FILE" LEAK_QUEUE="$SPOOL/queue" \
			sh -c 'lib=$0 home=$1 sec=$2; shift 2
				LD_PRELOAD=$lib LD_LIBRARY_PATH=$home TMPDIR=$home/tmp TZ=$sec \
				HOSTALIASES=$sec LOCPATH=$home GCONV_PATH=$home NLSPATH=$sec exec "$@"' \
			"$T/leak.so" "$AH" "$SECRET_FILE" "$@"
	}
	# the payload works: it runs in an ordinary program
	tricks /bin/true || fail "control run"
	before=$(dropped_count)
	grep -q 'preload ran' "$AH/leak" || fail "the LD_PRELOAD payload does not run at all"
	rm -f "$AH/leak"
	# the front end is an ordinary program now (the payload runs there,
	# with the attacker's rights only); in the setgid sealpost-drop the
	# loader ignores it
	msg "env tricks" "tricks-$INSTALL_SFX" | tricks "$SBIN/sendmail" -t -i -odq >>"$OUT" 2>&1 ||
		fail "submit with environment tricks"
	tricks "$SBIN/sendmail" -bp >/dev/null 2>&1 || true
	printf 'EHLO x\r\nQUIT\r\n' | tricks "$SBIN/sendmail" -bs >/dev/null 2>&1 || true
	printf 'x' | tricks "$P/libexec/sealpost/sealpost-drop" /etc >/dev/null 2>&1 || true
	if [ -e "$AH/leak" ]; then
		grep -F -e "$SECRET" -e "$MARK" -e "sealpost-drop 1" "$AH/leak" &&
			fail "the payload read the secret, the victim's message or a drop file"
	fi
	[ -z "$(ls -A "$AH/tmp")" ] || fail "the front end used the caller's TMPDIR"
	[ "$(dropped_count)" -ge $((before + 1)) ] || fail "the message with tricks was not queued"
	ok "LD_PRELOAD and friends gain nothing: the front end has no privilege, sealpost-drop ignores them"
else
	echo "# no C compiler: LD_PRELOAD case not run" >&2
fi

# descriptors: a caller's open fd must be closed before anything else runs
mkfifo "$T/bs.in"
chmod 0666 "$T/bs.in"
as "$A" sh -c 'exec 7<"$1" 8>>"$2" 9<"$3"; exec "$4" -bs' sh /etc/passwd "$AH/fd8" "$AH" "$SBIN/sealpost" \
	< "$T/bs.in" > "$T/bs.out" 2>&1 &
BSPID=$!
exec 6>"$T/bs.in" # opens once the reader is there
printf 'EHLO x\r\n' >&6
n=100; while ! grep -q '^250 ' "$T/bs.out" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
pid=$(pgrep -n -u "$A" -x sealpost || true)
[ -n "$pid" ] || fail "the -bs session is not running"
fds=$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')
printf 'QUIT\r\n' >&6
exec 6>&-
wait "$BSPID" || true
[ "$fds" = "0 1 2 " ] || fail "inherited descriptors are still open in the front end: $fds"
ok "descriptors beyond stdio are closed (saw: $fds)"

# ---- hostile streams straight into sealpost-drop -------------------------------
# junk; a forged envelope (uid 0, held, a bounce, deferred); a bare LF
DROP=$P/libexec/sealpost/sealpost-drop
stream() { # stream ENVELOPE-TEXT MESSAGE-TEXT
	printf 'envelope %d\n%smessage %d\n%s' "$(printf '%s' "$1" | wc -c)" "$1" "$(printf '%s' "$2" | wc -c)" "$2"
}
FORGED_ENV=$(printf 'sealpost-envelope 1\nid 0000000000000000\narrival 1\nsender a@example.org\nuser 0 root\nsize 0\nflags 12\ndsn - -\nrcpt deferred 7 4000000000 0 ops@example.net - x\nend\n_')
FORGED_ENV=${FORGED_ENV%_}
GOOD_MSG=$(printf 'Subject: forged\r\n\r\nforged-%s\r\n_' "$INSTALL_SFX")
GOOD_MSG=${GOOD_MSG%_}
JUNK=$(printf 'x' | as "$A" "$DROP" "$SPOOL") || fail "sealpost-drop refused a stream it cannot judge"
FORGED=$(stream "$FORGED_ENV" "$GOOD_MSG" | as "$A" "$DROP" "$SPOOL") || fail "sealpost-drop: forged stream"
BARELF=$(stream "$FORGED_ENV" "$(printf 'Subject: x\n\nbare LF\n')" | as "$A" "$DROP" "$SPOOL") ||
	fail "sealpost-drop: bare LF stream"
for id in "$JUNK" "$FORGED" "$BARELF"; do
	expect_mode "$SPOOL/maildrop/$id" "640 $A $W"
done
ok "sealpost-drop copies what it is given, owner and uid the caller's, and judges nothing"

# ---- a message queued by the layout before the maildrop ------------------------
# (the old setgid front end wrote queue/ID.msg and .env, owner the
# submitter, group $W, 0640): an upgrade keeps it and the worker delivers it
OLD=$T/old-layout
mkdir -p "$OLD/spool"
printf 'spool_dir = "%s"\naliases = ""\ndomain = "example.org"\n' "$OLD/spool" > "$OLD/c.conf"
msg "old layout" "old-layout-$INSTALL_SFX" | "$top_builddir/src/sealpost/sealpost" -C "$OLD/c.conf" -odq -t ||
	fail "cannot make an old-layout message"
for f in "$OLD"/spool/queue/*; do
	install -o "$V" -g "$W" -m 0640 "$f" "$SPOOL/queue/${f##*/}"
done
install_system "$T/postinst.3.out" "make install-system over an old-layout queue"

# ---- delivery by sealpostd as the worker user ------------------------------------
[ "$(delivered_count)" = 0 ] || fail "a worker running as the caller delivered mail"
N=$(( $(queued_count) + $(dropped_count) - 2 )) # JUNK and BARELF go aside
"$SBIN/sealpostd" 2>"$T/worker.log" &
DPID=$!
wait_delivered "$N" 20 || { cat "$T/worker.log" >&2; fail "sealpostd did not deliver"; }
ids=$(awk '/^(Uid|Gid):/ {print $2, $3, $4, $5}' "/proc/$DPID/status" | tr '\n' ' ')
groups=$(awk '/^Groups:/ {$1=""; print}' "/proc/$DPID/status" | tr -d ' ')
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$DPID/status")
kill -TERM "$DPID"
wait "$DPID" || fail "sealpostd did not stop cleanly on SIGTERM: $?"
[ "$ids" = "$WUID $WUID $WUID $WUID $WGID $WGID $WGID $WGID " ] ||
	fail "sealpostd ids (real effective saved fs): $ids, want $WUID/$WGID"
[ "$groups" = "$WGID" ] || fail "sealpostd supplementary groups: $groups"
[ "$capeff" = 0000000000000000 ] || fail "sealpostd keeps capabilities: $capeff"
[ "$(queued_count)" = 0 ] || fail "messages left in the queue"
transcript_events | grep -q '^auth-success relayuser' || fail "no AUTH with the relay's password"
assert_no_cleartext_beyond EHLO STARTTLS QUIT
grep -F "$SECRET" "$T/worker.log" && fail "the worker logged the secret"
grep -l "attacker-body-$INSTALL_SFX" "$SMTP_MAILDIR"/*.eml >/dev/null || fail "the attacker's message was not delivered"
grep -l "$MARK" "$SMTP_MAILDIR"/*.eml >/dev/null || fail "the victim's message was not delivered"
grep -l "old-layout-$INSTALL_SFX" "$SMTP_MAILDIR"/*.eml >/dev/null || fail "the old-layout message was not delivered"
[ "$(dropped_count)" = 0 ] || fail "the maildrop was not emptied"
for id in "$JUNK" "$BARELF"; do
	[ -f "$SPOOL/corrupt/$id.drop" ] || fail "damaged drop $id not in corrupt/"
	grep -q "$id: damaged maildrop file moved to" "$T/worker.log" || fail "damaged drop $id not logged"
done
grep -q "$FORGED: uid=$(id -u "$A") user=root queued from the maildrop" "$T/worker.log" ||
	fail "the forged envelope's uid was believed: $(grep "$FORGED" "$T/worker.log")"
grep -l "forged-$INSTALL_SFX" "$SMTP_MAILDIR"/*.eml >/dev/null ||
	fail "the forged message (held, deferred, a bounce by its own account) was not delivered at once"
ok "the worker picks up every drop as hostile input: damaged ones aside, forged uid and state ignored"
ok "sealpostd started as root runs as $W (uid $WUID, no groups, no capabilities) and delivered all $N"

# ---- uninstall --------------------------------------------------------------------
(cd "$T/build" && pmake uninstall SEALPOST_USER="$W" >/dev/null 2>&1) || fail "make uninstall"
left=$(find "$P" ! -type d | head -5)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make uninstall removes everything it installed"
