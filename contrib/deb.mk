# make deb: the Debian package (debian/), built by "dpkg-buildpackage -us
# -uc -b" from the distribution tarball (the tree distcheck checks) in
# deb/ of the build directory, where the .deb and .changes land. Needs
# debhelper and dpkg-dev; "make deb-lint" runs lintian on the result.
EXTRA_DIST += debian/changelog debian/control debian/copyright debian/rules \
	debian/source/format debian/postinst debian/postrm debian/README.Debian \
	debian/sealpost.docs debian/sealpost.install debian/sealpost.links \
	debian/sealpost.lintian-overrides debian/conf/sealpost.conf \
	.ci/chroot.sh tests/deb/install-remove.sh

deb: dist-gzip
	rm -rf deb && $(MKDIR_P) deb
	tar -C deb -xzf $(distdir).tar.gz
	cd deb/$(distdir) && dpkg-buildpackage -us -uc -b
	rm -rf deb/$(distdir)
	@ls -l deb/*.deb

deb-lint:
	lintian --pedantic --display-info --fail-on error,warning deb/*.changes

.PHONY: deb deb-lint
