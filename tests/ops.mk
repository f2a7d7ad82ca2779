# Operating without mail (issue 14): metrics_file, --health, the Postfix
# form TLS line and JSON log fields, -bp --json-lines.
TESTS += tests/ops-metrics.sh tests/ops-health.sh tests/ops-logs.sh tests/ops-jsonlines.sh
EXTRA_DIST += tests/ops-metrics.sh tests/ops-health.sh tests/ops-prom.py tests/ops-fill.py \
	tests/ops-logs.sh tests/ops-logcheck.py tests/ops-jsonlines.sh tests/ops-postqueue.py
# the metrics state's parser and update, the failure classes
check_PROGRAMS += tests/unit/test_opstate
TESTS += tests/unit/test_opstate
tests_unit_test_opstate_SOURCES = tests/unit/test_opstate.c
tests_unit_test_opstate_CPPFLAGS = $(WORKER_UNIT_CPPFLAGS)
tests_unit_test_opstate_LDADD = $(WORKER_LIBS)
