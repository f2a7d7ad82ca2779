# Benchmarks (issue 7): figures, never pass/fail, never part of `make check`.
# `make bench` runs tests/bench/run.sh against a private Postfix smarthost
# (root only; see README "Performance"); `make bench-quick` uses smaller
# counts; `make bench-intake` is the front end alone, no root needed.
EXTRA_DIST += tests/bench/intake_bench.py tests/bench/maxrss.c \
	tests/bench/submitters.c tests/bench/run.sh tests/bench/bench.py \
	tests/bench/benchlib.py tests/bench/report.py tests/bench/sink.py \
	tests/bench/tracing.py tests/bench/peers.py tests/bench/system.py

# Helpers built only for the benchmark: the C parents that measure rusage
# and peak RSS, and the front end linked with GnuTLS (never installed) to
# measure what loading it would cost.
EXTRA_PROGRAMS = tests/bench/maxrss tests/bench/submitters tests/bench/sealpost-gnutls
tests_bench_maxrss_SOURCES = tests/bench/maxrss.c
tests_bench_submitters_SOURCES = tests/bench/submitters.c
tests_bench_sealpost_gnutls_SOURCES = $(src_sealpost_sealpost_SOURCES)
tests_bench_sealpost_gnutls_LDADD = $(src_sealpost_sealpost_LDADD) $(GNUTLS_LIBS)
tests_bench_sealpost_gnutls_LDFLAGS = -Wl,--no-as-needed
CLEANFILES += bench-intake.json bench-results.json bench-results.md \
	tests/bench/maxrss$(EXEEXT) tests/bench/submitters$(EXEEXT) \
	tests/bench/sealpost-gnutls$(EXEEXT)

bench_deps = src/sealpost/sealpost$(EXEEXT) src/sealpostd/sealpostd$(EXEEXT) \
	tests/bench/maxrss$(EXEEXT) tests/bench/submitters$(EXEEXT) \
	tests/bench/sealpost-gnutls$(EXEEXT)
BENCH_ENV = top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' PYTHON3='$(PYTHON3)'

bench: $(bench_deps)
	$(BENCH_ENV) $(SHELL) $(top_srcdir)/tests/bench/run.sh --json bench-results.json --markdown bench-results.md $(BENCH_FLAGS)
bench-quick: $(bench_deps)
	$(BENCH_ENV) $(SHELL) $(top_srcdir)/tests/bench/run.sh --quick --json bench-results.json --markdown bench-results.md $(BENCH_FLAGS)
bench-intake: src/sealpost/sealpost$(EXEEXT)
	$(PYTHON3) $(top_srcdir)/tests/bench/intake_bench.py --sealpost src/sealpost/sealpost --json bench-intake.json
.PHONY: bench bench-quick bench-intake
