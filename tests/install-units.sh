#!/bin/sh
# tests/install-units.sh - the generated systemd units carry the configured
# paths and the sandbox the issue asks for in the right sections (parsed
# here, so this holds where systemd is not installed, e.g. a Debian 13
# minbase root), pass systemd-analyze verify without a single complaint,
# and score an exposure of at most 2.0 in systemd-analyze security
# (offline); only those two steps are skipped without systemd-analyze.
# The sysusers.d and tmpfiles.d snippets name the worker user and the spool
# modes of doc/spool-format.md.
. "$top_srcdir/tests/lib.sh"
E=$top_builddir/etc

# unit_keys FILE: "Section Key=Value" per setting; exit 1 saying why for
# a line outside a section, a line that is no setting, a continuation
# line (none of ours has one) or a section this unit type does not have.
unit_keys() {
	case $1 in
	*.service) _own=Service ;; *.timer) _own=Timer ;; *.path) _own=Path ;; *) _own=- ;;
	esac
	awk -v own="$_own" -v f="$1" '
	function bad(why) { printf "%s:%d: %s\n", f, NR, why > "/dev/stderr"; err = 1; exit 1 }
	/^[ \t]*([#;]|$)/ { next }
	/\\$/ { bad("continuation line") }
	/^\[[A-Za-z]+\]$/ {
		sec = substr($0, 2, length($0) - 2)
		if (sec != "Unit" && sec != "Install" && sec != own) bad("section [" sec "] in a ." tolower(own) " unit")
		next
	}
	/^[A-Za-z][A-Za-z0-9]*=/ { if (sec == "") bad("setting before any section"); print sec " " $0; next }
	{ bad("not a setting: " $0) }
	END { exit err }' "$1"
}
printf '[Unit]\nDescription=x\n[Timer]\nOnBootSec=1\n' > "$T/bad.service"
printf 'Description=x\n[Unit]\n' > "$T/bad2.service"
printf '[Service]\nExecStart /bin/true\n' > "$T/bad3.service"
for b in bad bad2 bad3; do
	unit_keys "$T/$b.service" > /dev/null 2>&1 && fail "unit_keys accepts $b.service"
done
for f in sealpostd.service sealpostd-once.service sealpostd-once.timer sealpostd-once.path \
	sealpost.sysusers sealpost.tmpfiles; do
	[ -f "$E/$f" ] || skip "$E/$f is not generated (make all)"
	grep -n '@[a-z]*@' "$E/$f" && fail "$f: unsubstituted variable"
done
spool=$(sed -n 's/^ReadWritePaths=//p' "$E/sealpostd.service")
[ -n "$spool" ] && grep -q "^d $spool/queue *0700 " "$E/sealpost.tmpfiles" || fail "spool paths disagree"
grep -q "^d $spool/maildrop *1730 " "$E/sealpost.tmpfiles" || fail "tmpfiles: no maildrop 1730"
for u in sealpostd.service sealpostd-once.service sealpostd-once.timer sealpostd-once.path; do
	unit_keys "$E/$u" > "$T/$u.keys" || fail "$u does not parse"
	grep -q '^Unit Description=.' "$T/$u.keys" || fail "$u: no Description"
done
for u in sealpostd.service sealpostd-once.timer sealpostd-once.path; do # the once service is started by them
	grep -q '^Install WantedBy=[a-z-]*\.target$' "$T/$u.keys" || fail "$u: no WantedBy target"
done
for u in sealpostd.service sealpostd-once.service; do
	for want in 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' 'ProtectSystem=strict' 'ProtectHome=yes' \
		'PrivateTmp=yes' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
		'SystemCallFilter=@system-service' 'User=sealpost' 'UMask=0027'; do
		grep -qx "Service $want" "$T/$u.keys" || fail "$u lacks $want in [Service]"
	done
	grep -q '^Service ExecStart=/[^ ]*/sealpostd\( \|$\)' "$T/$u.keys" || fail "$u: ExecStart is not an absolute sealpostd"
done
for u in sealpostd-once.timer sealpostd-once.path; do
	case $u in *.timer) sec=Timer ;; *) sec=Path ;; esac
	unit=$(sed -n "s/^$sec Unit=//p" "$T/$u.keys")
	[ -n "$unit" ] && [ -f "$E/$unit" ] || fail "$u: starts '$unit', which is not one of the generated units"
done
grep -q '^u sealpost ' "$E/sealpost.sysusers" || fail "sysusers: no sealpost user"
grep -q '^z .*/sealpost-drop 2755 root sealpost' "$E/sealpost.tmpfiles" || fail "tmpfiles: no setgid sealpost-drop"
grep -q '^z .*/sbin/sealpost 0755 root root' "$E/sealpost.tmpfiles" || fail "tmpfiles: the front end keeps a setgid bit"
ok "units and snippets: paths substituted, every line a setting in a section of its unit type, sandbox in [Service], timer and path start a generated unit"

if ! command -v systemd-analyze >/dev/null; then
	echo "# SKIP systemd-analyze verify and security: systemd-analyze is not installed (package systemd); the units were only parsed"
	exit 0
fi
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
