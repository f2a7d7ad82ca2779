# Front end: option parser and spool unit tests, integration with real callers.
EXTRA_DIST += tests/unit/unit.h
UNIT_LDADD = src/common/libcommon.a $(CONFUSE_LIBS)

check_PROGRAMS += tests/unit/test_options tests/unit/test_spool
TESTS += tests/unit/test_options tests/unit/test_spool
tests_unit_test_options_SOURCES = tests/unit/test_options.c src/sealpost/options.c
tests_unit_test_options_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpost
tests_unit_test_options_LDADD = $(UNIT_LDADD)
tests_unit_test_spool_SOURCES = tests/unit/test_spool.c
tests_unit_test_spool_LDADD = $(UNIT_LDADD)

TESTS += tests/frontend-callers.sh
EXTRA_DIST += tests/frontend-callers.sh tests/spool_inspect.py

# Benchmarks: figures, never pass/fail (see README "Performance").
include $(srcdir)/tests/bench.mk
