#!/bin/sh
# tests/worker-preflight.sh - log truth and checks before the worker needs
# them (issue 15 item 6):
#   - an AUTH refusal inside a verified session is logged with the real
#     tls= (it said tls=none);
#   - --check-config and --probe fail, non-zero with one line why, on what
#     the worker's user cannot use: a spool directory, the lock file, a
#     password_file, a ca_file; --once exits 73 on such a spool (its man
#     page) instead of 75;
#   - started as root, the checks are made as the worker user (a private
#     build whose worker user is a test user), not as root.
# Needs root (test users); skips (77) otherwise.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
. "$top_srcdir/tests/worker-lib.sh"
. "$top_srcdir/tests/install-lib.sh"
need_root
need_certs

U=spu$INSTALL_SFX
add_user "$U"
# the test user runs a copy of the binary (not of the as-root wrapper
# $SEALPOSTD): the build tree may sit under a directory only root can
# enter (/root, mode 0700)
cp "$SEALPOSTD_BIN" "$T/sealpostd" || fail "cannot copy $SEALPOSTD_BIN"
chmod 0755 "$T/sealpostd"
USER_SEALPOSTD=$T/sealpostd

# a case directory the test user can traverse; everything in it is theirs
ucase() {
	wcase "$1"
	chmod 0755 "$CASE"
	cp "$CERTS/ca.pem" "$CASE/ca.pem"
	printf 's3cret\n' > "$CASE/secret"
	chmod 0600 "$CASE/secret"
	mkdir -p "$SPOOL/queue" "$SPOOL/tmp" "$SPOOL/corrupt"
	chown -R "$U:$U" "$SPOOL" "$CASE/secret" "$CASE/ca.pem"
}

# uconf PORT: relay with AUTH, the case's ca_file and password_file
uconf() {
	wconf "$(relay_conf main "$1" starttls 'username = "alice"' "password_file = \"$CASE/secret\"" \
		"ca_file = \"$CASE/ca.pem\"")"
	chmod 0644 "$CONF"
}

# expect_fail CODE TEXT -- CMD...: exit CODE and TEXT in the one stderr line
expect_fail() {
	_code=$1 _text=$2
	shift 3
	if "$@" > "$CASE/out" 2> "$CASE/err"; then _rc=0; else _rc=$?; fi
	[ "$_rc" = "$_code" ] || fail "$(basename "$CASE"): $*: exit $_rc, want $_code: $(cat "$CASE/err")"
	grep -qF -- "$_text" "$CASE/err" || fail "$(basename "$CASE"): $*: stderr lacks \"$_text\": $(cat "$CASE/err")"
	[ "$(grep -c . "$CASE/err")" = 1 ] || fail "$(basename "$CASE"): not one line: $(cat "$CASE/err")"
}

tls_truth_after_auth_failure() {
	wcase tls-truth
	start_smarthost --auth alice:s3cret
	wconf "$(relay_conf main "$SMTP_PORT" starttls 'username = "alice"' 'password_command = "echo wrong"')"
	default_message | enqueue alice@example.org "$B" >/dev/null
	run_worker
	expect_log "tls=TLS1.3/AES-256-GCM verified, status=deferred (authentication failed: 535"
	expect_no_log "tls=none"
}

good_spool_passes() {
	ucase good
	start_smarthost --auth alice:s3cret
	uconf "$SMTP_PORT"
	as "$U" "$USER_SEALPOSTD" -C "$CONF" --check-config > "$CASE/out" 2> "$CASE/err" ||
		fail "--check-config failed for a usable spool: $(cat "$CASE/err")"
	as "$U" "$USER_SEALPOSTD" -C "$CONF" --probe > "$CASE/out" 2> "$CASE/err" ||
		fail "--probe failed for a usable spool: $(cat "$CASE/err")"
}

unusable_spool() {
	ucase spool
	start_smarthost --auth alice:s3cret
	uconf "$SMTP_PORT"
	chown root:root "$SPOOL/queue"
	chmod 0700 "$SPOOL/queue"
	expect_fail 73 "spool $SPOOL/queue: not usable by user $U, which the worker runs as (owner uid 0 gid 0, mode 0700)" -- \
		as "$U" "$USER_SEALPOSTD" -C "$CONF" --check-config
	expect_fail 73 "spool $SPOOL/queue: not usable by user $U" -- as "$U" "$USER_SEALPOSTD" -C "$CONF" --probe
	grep -q "^relay" "$CASE/out" && fail "--probe connected although the worker cannot work"
	# --once on the same spool: 73, as sealpostd(8) says
	if as "$U" "$USER_SEALPOSTD" -C "$CONF" --once 2> "$CASE/err"; then _rc=0; else _rc=$?; fi
	[ "$_rc" = 73 ] || fail "--once: exit $_rc, want 73: $(cat "$CASE/err")"
}

unusable_lock() {
	ucase lock
	start_smarthost --auth alice:s3cret
	uconf "$SMTP_PORT"
	: > "$SPOOL/sealpostd.lock"
	chown root:root "$SPOOL/sealpostd.lock"
	chmod 0600 "$SPOOL/sealpostd.lock"
	expect_fail 73 "lock file $SPOOL/sealpostd.lock: user $U cannot open it" -- \
		as "$U" "$USER_SEALPOSTD" -C "$CONF" --check-config
}

unreadable_secret() {
	ucase secret
	start_smarthost --auth alice:s3cret
	uconf "$SMTP_PORT"
	chown root:root "$CASE/secret"
	expect_fail 78 "relay \"main\": password_file $CASE/secret: not readable by user $U" -- \
		as "$U" "$USER_SEALPOSTD" -C "$CONF" --check-config
	expect_fail 78 "password_file $CASE/secret: not readable by user $U" -- as "$U" "$USER_SEALPOSTD" -C "$CONF" --probe
}

unreadable_ca_file_as_root() {
	# started as root, the worker becomes W: the checks are W's, not root's
	# (but the trust store is root's to read: before the drop)
	wcase as-root
	chmod 0755 "$CASE"
	W=spw$INSTALL_SFX
	add_user "$W"
	mkdir -p "$CASE/build"
	(cd "$CASE/build" && "$top_srcdir/configure" -q >make.out 2>&1 &&
		pmake -j2 src/sealpostd/sealpostd SEALPOST_USER="$W" >>make.out 2>&1) ||
		{ tail -n 20 "$CASE/build/make.out" >&2; fail "private build failed"; }
	D="$CASE/build/src/sealpostd/sealpostd"
	cp "$CERTS/ca.pem" "$CASE/ca.pem"
	chmod 0600 "$CASE/ca.pem"                      # root's only
	mkdir -p "$SPOOL/queue" "$SPOOL/tmp" "$SPOOL/corrupt"
	chown -R "$W:$W" "$SPOOL"
	start_smarthost
	wconf "$(relay_conf main "$SMTP_PORT" starttls "ca_file = \"$CASE/ca.pem\"")"
	# a root-only ca_file is fine: started as root, sealpostd reads it
	# before it becomes W (tls_policy_preload)
	"$D" -C "$CONF" --check-config > "$CASE/out" 2> "$CASE/err" || fail "a root-only ca_file refused: $(cat "$CASE/err")"
	chown "$W" "$CASE/ca.pem"
	chown root:root "$SPOOL"
	chmod 0700 "$SPOOL"
	expect_fail 73 "spool_dir $SPOOL: user $W cannot enter it (owner uid 0 gid 0, mode 0700)" -- \
		"$D" -C "$CONF" --check-config
	chown "$W:$W" "$SPOOL"
	"$D" -C "$CONF" --check-config > "$CASE/out" 2> "$CASE/err" || fail "a usable setup failed: $(cat "$CASE/err")"
}

run_cases tls_truth_after_auth_failure good_spool_passes unusable_spool unusable_lock unreadable_secret \
	unreadable_ca_file_as_root
