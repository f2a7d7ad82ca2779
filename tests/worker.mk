# Relay worker: unit tests (reply parser, outcome classifier and helpers)
# and integration tests against the test smarthost and a real Postfix.
WORKER_UNIT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/sealpostd $(GNUTLS_CFLAGS)
check_PROGRAMS += tests/unit/test_reply tests/unit/test_outcome tests/unit/test_scram tests/unit/test_dsn \
	tests/unit/test_tls_policy
TESTS += tests/unit/test_reply tests/unit/test_outcome tests/unit/test_scram tests/unit/test_dsn \
	tests/unit/test_tls_policy
# the dual-stack connect race (RFC 8305)
check_PROGRAMS += tests/unit/test_eyeballs
TESTS += tests/unit/test_eyeballs
tests_unit_test_eyeballs_SOURCES = tests/unit/test_eyeballs.c
tests_unit_test_eyeballs_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_eyeballs_LDADD = $(WORKER_LIBS)
# a relay's from_rewrite: the plan of what is sent, and the config check
check_PROGRAMS += tests/unit/test_from_rewrite
TESTS += tests/unit/test_from_rewrite
tests_unit_test_from_rewrite_SOURCES = tests/unit/test_from_rewrite.c
tests_unit_test_from_rewrite_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS) $(CONFUSE_CFLAGS)
tests_unit_test_from_rewrite_LDADD = $(WORKER_LIBS)
tests_unit_test_reply_SOURCES = tests/unit/test_reply.c
tests_unit_test_reply_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_reply_LDADD = $(WORKER_LIBS)
tests_unit_test_outcome_SOURCES = tests/unit/test_outcome.c
tests_unit_test_outcome_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_outcome_LDADD = $(WORKER_LIBS)
tests_unit_test_scram_SOURCES = tests/unit/test_scram.c
tests_unit_test_scram_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_scram_LDADD = $(WORKER_LIBS)
tests_unit_test_tls_policy_SOURCES = tests/unit/test_tls_policy.c
tests_unit_test_tls_policy_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_tls_policy_LDADD = $(WORKER_LIBS)
check_PROGRAMS += tests/unit/test_relay_gate
TESTS += tests/unit/test_relay_gate
tests_unit_test_relay_gate_SOURCES = tests/unit/test_relay_gate.c
tests_unit_test_relay_gate_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_relay_gate_LDADD = $(WORKER_LIBS)
tests_unit_test_dsn_SOURCES = tests/unit/test_dsn.c
tests_unit_test_dsn_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_dsn_LDADD = $(WORKER_LIBS)

# The fuzz target is built by hand (clang -fsanitize=fuzzer), see its header.
EXTRA_DIST += tests/fuzz/fuzz_reply.c

# Test helper: queue a message through the spool API (no front end).
check_PROGRAMS += tests/unit/worker_enqueue
tests_unit_worker_enqueue_SOURCES = tests/unit/worker_enqueue.c
tests_unit_worker_enqueue_LDADD = $(COMMON_LIBS)

# Integration: the worker against the test smarthost.
TESTS += tests/worker-tls.sh tests/worker-smtp.sh tests/worker-postfix.sh tests/worker-opensmtpd.sh \
	tests/worker-daemon.sh tests/worker-dns.sh tests/worker-dualstack.sh tests/worker-fromrewrite.sh \
	tests/worker-certs.sh tests/worker-postfix-limits.sh
EXTRA_DIST += tests/worker-lib.sh tests/worker-tls.sh tests/worker-smtp.sh \
	tests/worker-postfix.sh tests/worker-opensmtpd.sh tests/worker-daemon.sh tests/worker-dns.sh \
	tests/worker-dualstack.sh tests/worker-fromrewrite.sh tests/worker-certs.sh tests/mkcerts-corpus.sh \
	tests/worker-postfix-limits.sh

# Queue semantics (issue 4): bounces, retries, failover, the daemon,
# queue control, locking. queue-dsn.py checks a DSN's RFC 3464 structure.
TESTS += tests/queue-bounce.sh tests/queue-retry.sh tests/queue-daemon.sh tests/queue-control.sh \
	tests/queue-pickup.sh tests/queue-socket.sh tests/queue-throttle.sh tests/queue-limits.sh \
	tests/queue-locking.sh tests/queue-container.sh tests/queue-scheduler.sh
EXTRA_DIST += tests/queue-bounce.sh tests/queue-dsn.py tests/queue-retry.sh tests/queue-daemon.sh \
	tests/queue-throttle.sh tests/queue-limits.sh tests/queue-pickup.sh tests/queue-socket.sh \
	tests/queue-control.sh tests/queue-locking.sh tests/queue-container.sh tests/queue-scheduler.sh
# bounces that used to be lost, against a real Postfix (issue 15)
TESTS += tests/queue-bounce-postfix.sh
EXTRA_DIST += tests/queue-bounce-postfix.sh
# a tls mode that does not match the port, named with its fix (issue 15)
TESTS += tests/worker-tls-mode.sh
EXTRA_DIST += tests/worker-tls-mode.sh
# checks before the worker needs them, and the log's tls= (issue 15)
TESTS += tests/worker-preflight.sh
EXTRA_DIST += tests/worker-preflight.sh
