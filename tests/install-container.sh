#!/bin/sh
# tests/install-container.sh - the container recipe (contrib/container/)
# without Docker: the same recipe.sh build and setup steps, under a
# temporary root instead of /, then the image's main process (app.sh) as
# its non-root user, with no daemon and no syslog (log = "stderr"). The
# message must reach the test smarthost over verified STARTTLS with AUTH,
# delivered by the one-shot worker that sendmail starts. Then the sidecar
# pattern: the application's config has no relay (sendmail only queues),
# and sealpostd runs as a separate process with its own config and the
# secret, sharing the spool.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/install-lib.sh"
need_root
need_certs
command -v setpriv >/dev/null || skip "setpriv is not installed"

U=spc$INSTALL_SFX
forget_user "$U"
R=$T/root
C=$top_srcdir/contrib/container
export PREFIX="$R/usr" SYSCONFDIR="$R/etc" SPOOL_DIR="$R/var/spool/sealpost" \
	APP_USER="$U" APP_UID="" APP_HOME="$T/home/$U" BUILD_DIR="$T/build"
mkdir -p "$T/home"
chmod 0755 "$T/home"

# ---- the Dockerfile's RUN steps -------------------------------------------------
pmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES "$@"; }
pmake sh "$C/recipe.sh" build "$top_srcdir" >"$T/build.out" 2>&1 ||
	{ tail -n 30 "$T/build.out" >&2; fail "recipe.sh build"; }
sh "$C/recipe.sh" setup || fail "recipe.sh setup"
# COPY app.sh /usr/local/bin/: the app user reads it there, not in the tree
# (which may sit under a directory only root can enter)
mkdir -p "$R/usr/local/bin"
cp "$C/app.sh" "$R/usr/local/bin/app.sh"
chmod 0755 "$R/usr/local/bin/app.sh"
[ "$(readlink "$R/usr/sbin/sendmail")" = sealpost ] || fail "no sendmail link"
[ "$(stat -c '%a %U' "$R/usr/sbin/sealpost")" = "755 root" ] || fail "the container's front end is not a plain binary"
[ "$(stat -c '%a %U' "$SPOOL_DIR")" = "700 $U" ] || fail "spool: $(stat -c '%a %U' "$SPOOL_DIR")"
ok "recipe.sh build and setup under $R"

# ---- the image's config and the mounted secret -------------------------------------
SECRET=container-$INSTALL_SFX
start_smarthost --auth "appuser:$SECRET"
mkdir -p "$R/run/secrets" "$R/etc"   # /etc exists in the image
printf '%s\n' "$SECRET" > "$R/run/secrets/smtp_password"
chown "$U" "$R/run/secrets/smtp_password"
chmod 0400 "$R/run/secrets/smtp_password"
cp "$CERTS/ca.pem" "$R/etc/relay-ca.pem"
relay=$(relay_conf main "$SMTP_PORT" starttls 'username = "appuser"' \
	"password_file = \"$R/run/secrets/smtp_password\"" "ca_file = \"$R/etc/relay-ca.pem\"")
# the example config with this run's paths and relay instead of its placeholder
sed -e "s|\"/var/spool/sealpost\"|\"$SPOOL_DIR\"|" -e '/^relay "main"/,$d' "$C/sealpost.conf" \
	> "$R/etc/sealpost.conf"
grep -q '^log *= *"stderr"' "$R/etc/sealpost.conf" || fail "the example config does not log to stderr"
printf '%s\n' "$relay" >> "$R/etc/sealpost.conf"
chmod 0644 "$R/etc/sealpost.conf"

# ---- CMD: app.sh as the application user, a bare environment -------------------------
run_app() {
	setpriv --reuid="$U" --regid="$U" --init-groups env -i PATH="$R/usr/sbin:$R/usr/bin:/usr/bin:/bin" \
		HOME="$APP_HOME" MAIL_TO="$1" sh "$R/usr/local/bin/app.sh" true
}
(cd / && run_app alice@example.net) 2>"$T/app.err" || { cat "$T/app.err" >&2; fail "app.sh"; }
grep -q 'queued' "$T/app.err" || fail "app.sh did not report the message"
wait_delivered 1 20 || fail "the one-shot worker did not deliver"
transcript_events | grep -q '^auth-success appuser' || fail "no AUTH"
assert_no_cleartext_beyond EHLO STARTTLS QUIT
grep -l 'This message left the container' "$SMTP_MAILDIR"/*.eml >/dev/null || fail "wrong message delivered"
n=100; while [ "$(ls "$SPOOL_DIR/queue" | wc -l)" != 0 ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
[ "$(ls "$SPOOL_DIR/queue" | wc -l)" = 0 ] || fail "the delivered message is still queued"
out=$(setpriv --reuid="$U" --regid="$U" --init-groups "$R/usr/sbin/mailq")
[ "$out" = "Mail queue is empty" ] || fail "mailq: $out"
ok "app.sh as $U: sendmail queued, the one-shot worker delivered (no daemon, no syslog)"

# ---- HEALTHCHECK: the Dockerfile's command, as the application user --------------------
hc=$(sed -n 's/^ *CMD \["\/usr\/sbin\/sealpostd", "--health", "--max-age", "\([0-9a-z]*\)"\]$/\1/p' "$C/Dockerfile")
[ -n "$hc" ] || fail "no HEALTHCHECK with sealpostd --health in the Dockerfile"
out=$(setpriv --reuid="$U" --regid="$U" --init-groups "$R/usr/sbin/sealpostd" -C "$R/etc/sealpost.conf" \
	--health --max-age "$hc") || fail "HEALTHCHECK: $out"
case $out in "OK: 0 message(s) in the queue"*) ;; *) fail "HEALTHCHECK said: $out" ;; esac
ok "HEALTHCHECK (sealpostd --health --max-age $hc) as $U: $out"

# ---- the sidecar: the application has no relay and no secret --------------------------
mv "$R/etc/sealpost.conf" "$R/etc/sidecar.conf"
sed -e '/^relay "main"/,$d' -e '/^tls_policy/,$d' "$R/etc/sidecar.conf" > "$R/etc/sealpost.conf"
chmod 0644 "$R/etc/sealpost.conf" "$R/etc/sidecar.conf"
grep -q '^relay' "$R/etc/sealpost.conf" && fail "the application config still has a relay"
setpriv --reuid="$U" --regid="$U" --init-groups "$R/usr/sbin/sealpostd" -C "$R/etc/sidecar.conf" \
	2>"$T/sidecar.log" &
SPID=$!
n=200; while [ ! -e "$SPOOL_DIR/sealpostd.lock" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
(cd / && run_app bob@example.net) 2>>"$T/app.err" || fail "app.sh (sidecar)"
wait_delivered 2 20 || { cat "$T/sidecar.log" >&2; fail "the sidecar did not deliver"; }
kill -TERM "$SPID"
wait "$SPID" || fail "the sidecar did not stop cleanly"
grep -q 'to=<bob@example.net>.*status=sent' "$T/sidecar.log" ||
	fail "the sidecar's log on stderr lacks the delivery: $(cat "$T/sidecar.log")"
grep -F "$SECRET" "$T/sidecar.log" "$T/app.err" && fail "the secret was logged"
ok "sidecar: sendmail only queues, sealpostd in the foreground delivers and logs to stderr"
