# sealpostd: the relay worker. With its OAuth token helper (src/oauth), the
# only program that links GnuTLS and reads relay credentials. Its modules
# (minus main.c) also form a small library for the unit tests and the fuzz
# target.
sbin_PROGRAMS += src/sealpostd/sealpostd
noinst_LIBRARIES += src/sealpostd/libworker.a
src_sealpostd_libworker_a_SOURCES = \
	src/sealpostd/reply.c src/sealpostd/reply.h \
	src/sealpostd/outcome.c src/sealpostd/outcome.h \
	src/sealpostd/tls.c src/sealpostd/tls.h src/sealpostd/tls_internal.h \
	src/sealpostd/tls_policy.c src/sealpostd/tls_verify.c src/sealpostd/tls_diag.c \
	src/sealpostd/tls_cache.c src/sealpostd/tls_cache.h \
	src/sealpostd/net.c src/sealpostd/net.h \
	src/sealpostd/resolve.c src/sealpostd/resolve.h \
	src/sealpostd/eyeballs.c src/sealpostd/eyeballs.h \
	src/sealpostd/auth.c src/sealpostd/auth.h \
	src/sealpostd/oauth_client.c src/sealpostd/oauth_client.h \
	src/sealpostd/scram.c src/sealpostd/scram.h \
	src/sealpostd/smtp.c src/sealpostd/smtp.h \
	src/sealpostd/tls_mode.c src/sealpostd/tls_mode.h \
	src/sealpostd/from_rewrite.c src/sealpostd/from_rewrite.h \
	src/sealpostd/data_stream.c src/sealpostd/data_stream.h \
	src/sealpostd/relay.c src/sealpostd/relay.h \
	src/sealpostd/relay_gate.c src/sealpostd/relay_gate.h \
	src/sealpostd/deliver.c src/sealpostd/deliver.h \
	src/sealpostd/dsn.c src/sealpostd/dsn.h \
	src/sealpostd/bounce.c src/sealpostd/bounce.h \
	src/sealpostd/idlist.c src/sealpostd/idlist.h \
	src/sealpostd/queue_run.c src/sealpostd/queue_run.h \
	src/sealpostd/scheduler.c src/sealpostd/scheduler.h \
	src/sealpostd/daemon.c src/sealpostd/daemon.h \
	src/sealpostd/probe.c src/sealpostd/probe.h \
	src/sealpostd/privdrop.c src/sealpostd/privdrop.h \
	src/sealpostd/pickup.c src/sealpostd/pickup.h \
	src/sealpostd/control.c src/sealpostd/control.h \
	src/sealpostd/preflight.c src/sealpostd/preflight.h \
	src/sealpostd/opstate.c src/sealpostd/opstate.h \
	src/sealpostd/opslog.c src/sealpostd/opslog.h \
	src/sealpostd/metrics.c src/sealpostd/metrics.h \
	src/sealpostd/health.c src/sealpostd/health.h
src_sealpostd_libworker_a_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(IDN_CFLAGS)
WORKER_LIBS = src/sealpostd/libworker.a $(COMMON_LIBS) $(GNUTLS_LIBS) $(IDN_LIBS)
src_sealpostd_sealpostd_SOURCES = src/sealpostd/main.c
src_sealpostd_sealpostd_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
src_sealpostd_sealpostd_LDADD = $(WORKER_LIBS)
# the daemon's connection reuse and TLS resumption (src/sealpostd owns it)
TESTS += tests/worker-reuse.sh
EXTRA_DIST += tests/worker-reuse.sh
