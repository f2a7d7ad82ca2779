# tests for smarthost: the test smarthost (tests/smarthost*.py), the test PKI
# (tests/mkcerts.sh), their shell helpers (tests/lib-smarthost.sh), the
# private Postfix instance (tests/postfix-harness.sh) and their self-tests.
TESTS += tests/smarthost-selftest.sh tests/postfix-selftest.sh
EXTRA_DIST += tests/smarthost.py tests/smarthost_server.py tests/smarthost_session.py \
	tests/smarthost_io.py tests/smarthost_auth.py tests/smarthost_mail.py \
	tests/smarthost_hostile.py tests/smarthost_policy.py tests/smarthost_throttle.py tests/mkcerts.sh \
	tests/lib-smarthost.sh \
	tests/postfix-harness.sh tests/postfix-services.cf tests/smarthost-selftest.sh \
	tests/postfix-selftest.sh

# The shared test PKI, generated once by the first test that needs it.
clean-local: clean-local-smarthost-certs
clean-local-smarthost-certs:
	rm -rf tests/certs tests/certs.tmp.*
.PHONY: clean-local-smarthost-certs
