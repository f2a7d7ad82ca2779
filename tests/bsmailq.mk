# -bs dialogue and mailq: unit tests (parser, JSON escaper, layout) and
# integration tests driving the real binary.
check_PROGRAMS += tests/unit/test_bs tests/unit/test_mailq
TESTS += tests/unit/test_bs tests/unit/test_mailq tests/frontend-bs.sh tests/frontend-mailq.sh
EXTRA_DIST += tests/frontend-bs.sh tests/frontend-mailq.sh tests/bs-client.py
tests_unit_test_bs_SOURCES = tests/unit/test_bs.c src/sealpost/bs.c src/sealpost/bs_parse.c
tests_unit_test_bs_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpost
tests_unit_test_bs_LDADD = src/common/libcommon.a $(CONFUSE_LIBS)
tests_unit_test_mailq_SOURCES = tests/unit/test_mailq.c src/sealpost/mailq.c src/sealpost/mailq_jsonl.c
tests_unit_test_mailq_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpost
tests_unit_test_mailq_LDADD = src/common/libcommon.a $(CONFUSE_LIBS)
