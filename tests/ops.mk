# Operating without mail (issue 14): metrics_file, --health, the Postfix
# form TLS line and JSON log fields, -bp --json-lines.
TESTS += tests/ops-metrics.sh tests/ops-health.sh tests/ops-logs.sh tests/ops-jsonlines.sh
EXTRA_DIST += tests/ops-metrics.sh tests/ops-health.sh tests/ops-prom.py tests/ops-fill.py \
	tests/ops-logs.sh tests/ops-logcheck.py tests/ops-jsonlines.sh tests/ops-postqueue.py
