# Proving it under fire (issue 6): fuzz targets (replayed by `make check`,
# run by `make fuzz`), stress tests (`make check-stress`: crashes at fault
# points and at random, full disk and I/O errors, a flaky smarthost under
# load, hostile input) and `make check-valgrind`.

# ---- fuzz targets: `make check` replays each corpus with any compiler
FUZZ_REPLAY = tests/fuzz/replay_address tests/fuzz/replay_intake tests/fuzz/replay_reply \
	tests/fuzz/replay_bs tests/fuzz/replay_conf tests/fuzz/replay_envelope
check_PROGRAMS += $(FUZZ_REPLAY)
TESTS += $(FUZZ_REPLAY)
tests_fuzz_replay_address_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_address.c
tests_fuzz_replay_address_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/address"'
tests_fuzz_replay_address_LDADD = $(COMMON_LIBS)
tests_fuzz_replay_intake_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_intake.c
tests_fuzz_replay_intake_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpost \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/intake"'
tests_fuzz_replay_intake_LDADD = src/sealpost/libintake.a $(COMMON_LIBS)
tests_fuzz_replay_reply_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_reply.c
tests_fuzz_replay_reply_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpostd \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/reply"'
tests_fuzz_replay_reply_LDADD = src/sealpostd/libworker.a $(COMMON_LIBS)
tests_fuzz_replay_bs_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_bs.c \
	src/sealpost/bs.c src/sealpost/bs_parse.c
tests_fuzz_replay_bs_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpost \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/bs"'
tests_fuzz_replay_bs_LDADD = $(COMMON_LIBS)
tests_fuzz_replay_conf_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_conf.c
tests_fuzz_replay_conf_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/conf"'
tests_fuzz_replay_conf_LDADD = $(COMMON_LIBS)
tests_fuzz_replay_envelope_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_envelope.c
tests_fuzz_replay_envelope_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/envelope"'
tests_fuzz_replay_envelope_LDADD = $(COMMON_LIBS)
EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/README \
	tests/fuzz/address tests/fuzz/intake tests/fuzz/reply tests/fuzz/bs \
	tests/fuzz/conf tests/fuzz/envelope

# `make fuzz`: every target under libFuzzer for FUZZ_SECONDS each (clang;
# FUZZ_SEED=0 for a random seed;
# skipped with a message when libFuzzer is missing).
FUZZ_SECONDS = 60
FUZZ_SEED = 1
fuzz: $(CONFIG_HEADER)
	@top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	CONFUSE_CFLAGS='$(CONFUSE_CFLAGS)' CONFUSE_LIBS='$(CONFUSE_LIBS)' \
	FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_SEED='$(FUZZ_SEED)' $(SHELL) $(top_srcdir)/tests/fuzz/run.sh
.PHONY: fuzz
clean-local: clean-local-fuzz
clean-local-fuzz:
	rm -rf tests/fuzz/bin tests/fuzz/work tests/fuzz/artifacts
.PHONY: clean-local-fuzz

# ---- stress tests: short runs in `make check`, long ones in check-stress
TESTS += tests/stress/crash.sh tests/stress/fulldisk.sh
EXTRA_DIST += tests/stress/crash.sh tests/stress/crash.py tests/stress/fulldisk.sh \
	tests/stress/failio.c

# A second tree, configured with --enable-fault-injection, for the crash
# test's named fault points (the default build never has them).
FAULT_BUILD = $(abs_top_builddir)/fault-build
fault-build:
	@mkdir -p $(FAULT_BUILD)
	@cd $(FAULT_BUILD) && { test -f Makefile || $(abs_top_srcdir)/configure -q \
		--enable-fault-injection CC='$(CC)' CFLAGS='$(CFLAGS)' LDFLAGS='$(LDFLAGS)'; } && \
	$(MAKE) $(AM_MAKEFLAGS) src/sealpost/sealpost src/sealpostd/sealpostd >/dev/null
.PHONY: fault-build
clean-local: clean-local-fault-build
clean-local-fault-build:
	rm -rf $(FAULT_BUILD) tests/stress/*.log
.PHONY: clean-local-fault-build

# `make check-stress`: the long runs; each test's log in tests/stress/NAME.log,
# its figures on the terminal, and the line "N passed, N failed".
STRESS_ENV = top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' PYTHON3='$(PYTHON3)' \
	FAULT_BUILD='$(FAULT_BUILD)' CRASH_ROUNDS=360 FLAKY_MESSAGES=10000 FLAKY_SUBMITTERS=20 \
	HOSTILE_FULL=1
STRESS_TESTS = crash fulldisk flaky hostile
check-stress: all $(check_PROGRAMS) fault-build
	@pass=0; fail=0; mkdir -p tests/stress; \
	for t in $(STRESS_TESTS); do \
		echo "=== stress: $$t"; start=$$(date +%s); \
		$(STRESS_ENV) $(SHELL) $(abs_top_srcdir)/tests/stress/$$t.sh >tests/stress/$$t.log 2>&1; rc=$$?; \
		grep -E '^[a-z]+: ' tests/stress/$$t.log | grep -v '^sealpost' | tail -n 12; \
		if [ $$rc -eq 0 ]; then pass=$$((pass + 1)); echo "PASS: $$t ($$(( $$(date +%s) - start )) s)"; \
		elif [ $$rc -eq 77 ]; then echo "SKIP: $$t"; tail -n 3 tests/stress/$$t.log; \
		else fail=$$((fail + 1)); echo "FAIL: $$t (exit $$rc)"; tail -n 40 tests/stress/$$t.log; fi; \
	done; \
	echo "$$pass passed, $$fail failed"; test $$fail -eq 0
.PHONY: check-stress
TESTS += tests/stress/flaky.sh
EXTRA_DIST += tests/stress/flaky.sh tests/stress/flaky.py
TESTS += tests/stress/hostile.sh
EXTRA_DIST += tests/stress/hostile.sh tests/stress/hostile.py tests/stress/peakrss.c

# `make check-valgrind`: unit tests, corpus replays and real runs of both
# programs under valgrind memcheck; ends with "N passed, N failed".
EXTRA_DIST += tests/stress/valgrind.sh tests/stress/valgrind.supp
check-valgrind: all $(check_PROGRAMS)
	@top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' PYTHON3='$(PYTHON3)' \
		$(SHELL) $(abs_top_srcdir)/tests/stress/valgrind.sh
.PHONY: check-valgrind
