EXTRA_DIST += etc/sealpost.conf.example
