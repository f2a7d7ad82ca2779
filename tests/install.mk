# Install tests (as root; they skip otherwise): the installed privilege
# separation, the container recipe without Docker, the man pages.
TESTS += tests/install-privsep.sh tests/install-container.sh tests/man-lint.sh
EXTRA_DIST += tests/install-lib.sh tests/install-privsep.sh tests/install-container.sh \
	tests/man-lint.sh
