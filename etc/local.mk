EXTRA_DIST += etc/sealpost.conf.example
EXTRA_DIST += doc/spool-format.md contrib/bootstrap.sh contrib/demo.sh tests/run.sh .ci/run
