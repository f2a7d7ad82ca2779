# OAuth 2.0 (issue 12): the token endpoint, token life cycle, config, and a
# real Postfix + Dovecot (oauth2 passdb) server stack.
TESTS += tests/oauth-postfix.sh tests/oauth-tokens.sh
EXTRA_DIST += tests/oauth-postfix.sh tests/oauth-tokens.sh tests/oauth-lib.sh tests/oauth-endpoint.py
check_PROGRAMS += tests/unit/test_conf_oauth
TESTS += tests/unit/test_conf_oauth
tests_unit_test_conf_oauth_SOURCES = tests/unit/test_conf_oauth.c
tests_unit_test_conf_oauth_LDADD = src/common/libcommon.a $(CONFUSE_LIBS)
check_PROGRAMS += tests/unit/test_auth_oauth
TESTS += tests/unit/test_auth_oauth
tests_unit_test_auth_oauth_SOURCES = tests/unit/test_auth_oauth.c
tests_unit_test_auth_oauth_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_auth_oauth_LDADD = $(WORKER_LIBS)

# tests/oauth-tokens.sh crashes the helper between the steps of its durable
# write with this LD_PRELOAD shim (every build; no fault injection needed).
check_DATA = tests/unit/crashshim.so
tests/unit/crashshim.so: $(srcdir)/tests/unit/crashshim.c
	@mkdir -p tests/unit
	$(AM_V_CC)$(CC) -shared -fPIC -O1 -o $@ $(srcdir)/tests/unit/crashshim.c -ldl
CLEANFILES += tests/unit/crashshim.so
EXTRA_DIST += tests/unit/crashshim.c
