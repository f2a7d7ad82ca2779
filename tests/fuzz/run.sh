#!/bin/sh
# tests/fuzz/run.sh - `make fuzz`: build every libFuzzer target with clang
# (-fsanitize=fuzzer,address,undefined) and run each for FUZZ_SECONDS
# (default 60) over a scratch copy of its seed corpus. A crash leaves its
# input in tests/fuzz/artifacts/ (build tree) and fails the run: fix the
# bug, then add the input to tests/fuzz/TARGET/ as a regression case.
# Without clang or libFuzzer it says so and exits 0 (skipped).
#   env: top_srcdir top_builddir CONFUSE_CFLAGS CONFUSE_LIBS [FUZZ_CC]
#        [FUZZ_SECONDS] [FUZZ_TARGETS]
#        [FUZZ_SEED] (default 1: a run is repeatable, so CI does not fail
#        by chance; 0 = a new random seed each run, for longer sessions)
# Prints per target: runs (execs), corpus size, crashes; then the line
# "N passed, N failed". Runs unprivileged code only; writes under the
# build tree.
set -u
src=${top_srcdir:?}
bld=${top_builddir:?}
cc=${FUZZ_CC:-clang}
secs=${FUZZ_SECONDS:-60}
seed=${FUZZ_SEED:-1}
targets=${FUZZ_TARGETS:-"address intake reply bs conf envelope"}
out="$bld/tests/fuzz/bin"
work="$bld/tests/fuzz/work"
art="$bld/tests/fuzz/artifacts"
mkdir -p "$out" "$work" "$art"

probe="$out/probe.c"
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$probe"
if ! command -v "$cc" >/dev/null 2>&1 ||
   ! "$cc" -fsanitize=fuzzer,address,undefined "$probe" -o "$out/probe" >/dev/null 2>&1; then
	echo "fuzz: SKIPPED: $cc with libFuzzer (-fsanitize=fuzzer) is not available"
	echo "  (Debian: apt-get install clang libclang-rt-14-dev)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
inc="-DSYSCONFDIR=\"/etc\" -DSPOOLDIR=\"/var/spool/sealpost\" -DSBINDIR=\"/usr/sbin\" -I$bld -I$src/src/common -I$src/src/sealpost -I$src/src/sealpostd ${CONFUSE_CFLAGS:-}"
# libcommon's sources as src/common/local.mk lists them (one list, no drift)
common=$(sed -n '/^src_common_libcommon_a_SOURCES/,/^[^[:space:]]/p' "$src/src/common/local.mk" |
	tr ' \t\\' '\n\n\n' | sed -n 's|^src/common/\(.*\.c\)$|\1|p' | tr '\n' ' ')
intake="intake.c headers.c mime.c encode.c"

# one instrumented archive per library: archive semantics let a target
# replace a function (fuzz_intake's spool_writer_restart) like the tests do
build_lib() { # name dir files...
	name=$1 dir=$2; shift 2
	objs=""
	for f in "$@"; do
		o="$out/$name-${f%.c}.o"
		$cc $flags -c $inc "$src/src/$dir/$f" -o "$o" || return 1
		objs="$objs $o"
	done
	rm -f "$out/lib$name.a"
	ar cr "$out/lib$name.a" $objs
}
echo "fuzz: building with $cc"
build_lib common common $common && build_lib intake sealpost $intake || {
	echo "fuzz: build failed"; echo "0 passed, 1 failed"; exit 1; }

build_target() { # target
	extra=""
	case $1 in
	bs) extra="$src/src/sealpost/bs.c $src/src/sealpost/bs_parse.c" ;;
	reply) extra="$src/src/sealpostd/reply.c" ;;
	esac
	$cc $flags $inc "$src/tests/fuzz/fuzz_$1.c" $extra "$out/libintake.a" "$out/libcommon.a" \
		${CONFUSE_LIBS:-} -o "$out/fuzz_$1"
}

pass=0 fail=0
for t in $targets; do
	if ! build_target "$t"; then
		echo "fuzz_$t: build FAILED"; fail=$((fail + 1)); continue
	fi
	rm -rf "$work/$t"; mkdir -p "$work/$t"
	log="$out/fuzz_$t.log"
	# new inputs go to the scratch corpus; the seeds are read only
	"$out/fuzz_$t" -seed="$seed" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/$t-" "$work/$t" "$src/tests/fuzz/$t" \
		>"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	corpus=$(ls "$work/$t" | wc -l)
	if [ $rc -eq 0 ]; then
		echo "fuzz_$t: ${runs:-?} runs in ${secs} s, $corpus new corpus inputs, 0 crashes"
		pass=$((pass + 1))
	else
		echo "fuzz_$t: CRASH (exit $rc) after ${runs:-?} runs; input: $(ls "$art" | grep "^$t-" | head -n3 | tr '\n' ' ')"
		grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$log" | head -n 15
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
