EXTRA_DIST += etc/sealpost.conf.example
EXTRA_DIST += doc/spool-format.md contrib/bootstrap.sh tests/run.sh
