#!/bin/sh
# tests/run.sh - build sealpost and run the whole test suite; the README's
# test command. Prints the automake summary and a final "N passed, N failed".
#   usage: tests/run.sh [--sanitize]   (--sanitize: ASan+UBSan build in build-asan/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--sanitize" ]; then
	build="$top/build-asan"
	san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	"$top/contrib/bootstrap.sh" "$build" CFLAGS="-g -O1 $san" LDFLAGS="$san"
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
else
	build="$top/build"
	"$top/contrib/bootstrap.sh" "$build"
fi
cd "$build"
status=0
make -j"$(nproc)" check >make-check.out 2>&1 || status=$?
sed -n '/^===*$/,$p' make-check.out | grep -E '^(# |FAIL|ERROR)' || true
if [ $status -ne 0 ]; then
	for log in $(grep -lE '^:test-result: (FAIL|ERROR)' $(find tests -name '*.trs') 2>/dev/null | sed 's/\.trs$/.log/'); do
		echo "---- $log"; tail -n 40 "$log"
	done
fi
pass=$(sed -n 's/^# PASS: *//p' make-check.out | tail -n1)
fail=$(sed -n 's/^# FAIL: *//p' make-check.out | tail -n1)
err=$(sed -n 's/^# ERROR: *//p' make-check.out | tail -n1)
xpass=$(sed -n 's/^# XPASS: *//p' make-check.out | tail -n1)
skip=$(sed -n 's/^# SKIP: *//p' make-check.out | tail -n1)
failed=$(( ${fail:-0} + ${err:-0} + ${xpass:-0} ))
[ -n "$pass" ] || failed=$((failed + 1)) # the harness did not even run
echo "${pass:-0} passed, $failed failed, ${skip:-0} skipped"
exit $status
