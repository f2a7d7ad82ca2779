# man/: the manual pages (mdoc), installed by make install.
dist_man_MANS = man/sealpost.8 man/sealpostd.8 man/sealpost.conf.5

# make lint-man: mandoc -Tlint, warnings are errors (tests/man-lint.sh
# runs the same check in make check).
lint-man:
	cd $(srcdir) && mandoc -Tlint -W warning $(dist_man_MANS)
.PHONY: lint-man
