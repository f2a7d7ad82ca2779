# Configuration (src/common/conf*.c): a table-driven unit test of every
# error (file and line), default, duration, pin, policy lookup and the dump;
# it also loads etc/sealpost.conf.example, which must stay valid.
check_PROGRAMS += tests/unit/test_conf
TESTS += tests/unit/test_conf
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c
tests_unit_test_conf_CPPFLAGS = $(AM_CPPFLAGS) \
	-DEXAMPLE_CONF='"$(abs_top_srcdir)/etc/sealpost.conf.example"'
tests_unit_test_conf_LDADD = src/common/libcommon.a $(CONFUSE_LIBS)

# The real programs exit 78 with FILE:LINE on a bad config.
TESTS += tests/config-errors.sh
EXTRA_DIST += tests/config-errors.sh
