#!/bin/sh
# tests/install-units.sh - the generated systemd units carry the configured
# paths and the sandbox the issue asks for, pass systemd-analyze verify
# without a single complaint, and score an exposure of at most 2.0 in
# systemd-analyze security (offline). The sysusers.d and tmpfiles.d
# snippets name the worker user and the spool modes of doc/spool-format.md.
. "$top_srcdir/tests/lib.sh"
E=$top_builddir/etc
for f in sealpostd.service sealpostd-once.service sealpostd-once.timer sealpostd-once.path \
	sealpost.sysusers sealpost.tmpfiles; do
	[ -f "$E/$f" ] || skip "$E/$f is not generated (make all)"
	grep -n '@[a-z]*@' "$E/$f" && fail "$f: unsubstituted variable"
done
spool=$(sed -n 's/^ReadWritePaths=//p' "$E/sealpostd.service")
[ -n "$spool" ] && grep -q "^d $spool/queue *0700 " "$E/sealpost.tmpfiles" || fail "spool paths disagree"
grep -q "^d $spool/maildrop *1730 " "$E/sealpost.tmpfiles" || fail "tmpfiles: no maildrop 1730"
for u in sealpostd.service sealpostd-once.service; do
	for want in 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' 'ProtectSystem=strict' 'ProtectHome=yes' \
		'PrivateTmp=yes' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
		'SystemCallFilter=@system-service' 'User=sealpost' 'UMask=0027'; do
		grep -qx "$want" "$E/$u" || fail "$u lacks $want"
	done
done
grep -q '^u sealpost ' "$E/sealpost.sysusers" || fail "sysusers: no sealpost user"
grep -q '^z .*/sealpost-drop 2755 root sealpost' "$E/sealpost.tmpfiles" || fail "tmpfiles: no setgid sealpost-drop"
grep -q '^z .*/sbin/sealpost 0755 root root' "$E/sealpost.tmpfiles" || fail "tmpfiles: the front end keeps a setgid bit"
ok "units and snippets: paths substituted, sandbox present"

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
mkdir -p "$T/units"
for f in sealpostd.service sealpostd-once.service sealpostd-once.timer sealpostd-once.path; do
	sed "s|^ExecStart=[^ ]*/sealpostd|ExecStart=$top_builddir/src/sealpostd/sealpostd|" "$E/$f" > "$T/units/$f"
done
(cd "$T/units" && systemd-analyze verify --man=no ./*.service ./*.timer ./*.path) > "$T/verify" 2>&1 ||
	{ cat "$T/verify" >&2; fail "systemd-analyze verify"; }
[ ! -s "$T/verify" ] || { cat "$T/verify" >&2; fail "systemd-analyze verify complains"; }
ok "systemd-analyze verify: clean"
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
	for u in sealpostd.service sealpostd-once.service; do
		systemd-analyze security --offline=yes --man=no --threshold=20 "$T/units/$u" > "$T/sec" 2>&1 ||
			{ tail -n 3 "$T/sec" >&2; fail "$u: exposure above 2.0"; }
		ok "$u: $(sed -n 's/.*Overall exposure level for [^:]*: //p' "$T/sec")"
	done
fi
