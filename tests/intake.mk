# Unit tests for the address parser, the message intake and the aliases.
INTAKE_TEST_LIBS = src/sealpost/libintake.a src/common/libcommon.a $(CONFUSE_LIBS)
check_PROGRAMS += tests/unit/test_address tests/unit/test_intake tests/unit/test_aliases
TESTS += tests/unit/test_address tests/unit/test_intake tests/unit/test_aliases

tests_unit_test_address_SOURCES = tests/unit/test_address.c tests/unit/unit.h
tests_unit_test_address_LDADD = $(INTAKE_TEST_LIBS)
tests_unit_test_intake_SOURCES = tests/unit/test_intake.c tests/unit/unit.h
tests_unit_test_intake_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpost
tests_unit_test_intake_LDADD = $(INTAKE_TEST_LIBS)
tests_unit_test_aliases_SOURCES = tests/unit/test_aliases.c tests/unit/unit.h
tests_unit_test_aliases_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpost
tests_unit_test_aliases_LDADD = $(INTAKE_TEST_LIBS)
# header lines over 998 octets: folded, encoded or broken, never refused
check_PROGRAMS += tests/unit/test_headers
TESTS += tests/unit/test_headers
tests_unit_test_headers_SOURCES = tests/unit/test_headers.c tests/unit/unit.h
tests_unit_test_headers_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpost
tests_unit_test_headers_LDADD = $(INTAKE_TEST_LIBS)

# The libFuzzer targets are built by hand (see their header comments).
EXTRA_DIST += tests/fuzz/fuzz_address.c tests/fuzz/fuzz_intake.c \
	tests/fuzz/intake/multipart tests/fuzz/intake/crlf-t \
	tests/fuzz/intake/nested-long tests/fuzz/intake/long-header \
	tests/fuzz/intake/long-word-header tests/fuzz/intake/long-utf8-header \
	tests/fuzz/address/plain tests/fuzz/address/names tests/fuzz/address/groups \
	tests/fuzz/address/route tests/fuzz/address/folded tests/fuzz/address/quoted
