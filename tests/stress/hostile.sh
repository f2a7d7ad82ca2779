#!/bin/sh
# tests/stress/hostile.sh - hostile input at intake: megabyte lines, a
# million recipients, deep nesting, invalid UTF-8, binary bodies; bounded
# time and memory, a clear error or correct queuing, never a crash (cases
# and checks in tests/stress/hostile.py). HOSTILE_FULL=1 (check-stress)
# uses the big sizes.
. "$top_srcdir/tests/lib.sh"
[ -x "$SEALPOST" ] || skip "sealpost not built"
write_conf
cc=${CC:-cc}
command -v "$cc" >/dev/null || cc=gcc
"$cc" -o "$T/peakrss" "$top_srcdir/tests/stress/peakrss.c" || skip "cannot build tests/stress/peakrss.c"
mkdir -p "$SPOOL/queue" "$SPOOL/tmp"
full=""
[ -n "${HOSTILE_FULL:-}" ] && full=--full
exec "$PYTHON3" "$top_srcdir/tests/stress/hostile.py" --sealpost "$SEALPOST" --conf "$CONF" \
	--spool "$SPOOL" --tmp "$T" --peakrss "$T/peakrss" $full
