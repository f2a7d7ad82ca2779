#!/bin/sh
# tests/man-lint.sh - the manual pages are clean under mandoc -Tlint
# (warnings and worse), render, and document every option and key that the
# code knows: sealpost's options, sealpostd's long options, and every key
# of the config schema in src/common/conf.c.
. "$top_srcdir/tests/lib.sh"
command -v mandoc >/dev/null || skip "mandoc is not installed (apt-get install mandoc)"
M=$top_srcdir/man
for page in sealpost.8 sealpostd.8 sealpost.conf.5; do
	mandoc -Tlint -W warning "$M/$page" > "$T/lint" 2>&1 || { cat "$T/lint" >&2; fail "$page: mandoc -Tlint"; }
	mandoc -Tascii "$M/$page" > "$T/$page.txt" || fail "$page does not render"
done
ok "mandoc -Tlint -W warning: no warnings"

# every key of the schema (the rules table) in sealpost.conf(5)
keys=$(sed -n 's/^[[:space:]]*{ [A-Za-z_"]*, "\([a-z_0-9]*\)", [VI]_.*/\1/p' "$top_srcdir/src/common/conf.c" | sort -u)
[ "$(echo "$keys" | wc -l)" -ge 30 ] || fail "could not read the schema from conf.c: $keys"
for k in $keys; do
	grep -qE "^\.It.*(Cm |\{ )$k = " "$M/sealpost.conf.5" || fail "sealpost.conf(5) lacks the key $k"
done
for s in relay tls_policy alias queue timeouts; do
	grep -q "^\.It Cm $s " "$M/sealpost.conf.5" || fail "sealpost.conf(5) lacks the section $s"
done
ok "sealpost.conf(5) documents the $(echo "$keys" | wc -l) keys of the schema"

# every option letter of the front end's parser
opts=$(sed -n 's/^static const char \(with_value\|flags_only\)\[\] = "\([A-Za-z]*\)";/\2/p' \
	"$top_srcdir/src/sealpost/options.c" | tr -d '\n')
[ -n "$opts" ] || fail "could not read the option letters from options.c"
for o in $(printf '%s' "$opts" | sed 's/./& /g') b q; do
	grep -q "Fl $o" "$M/sealpost.8" || fail "sealpost(8) lacks -$o"
done
for o in json help version; do
	grep -q "Fl -$o" "$M/sealpost.8" || fail "sealpost(8) lacks --$o"
done
# every long option of sealpostd
longs=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z_]*_argument,.*/\1/p' "$top_srcdir/src/sealpostd/main.c")
[ -n "$longs" ] || fail "could not read sealpostd's options"
for o in $longs; do
	grep -q "Fl -$o" "$M/sealpostd.8" || fail "sealpostd(8) lacks --$o"
done
ok "the man pages cover every option of sealpost ($opts) and sealpostd"
