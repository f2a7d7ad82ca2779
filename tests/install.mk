# Install tests (as root; they skip otherwise): the installed privilege
# separation, the container recipe without Docker, the man pages, the
# systemd units.
TESTS += tests/install-privsep.sh tests/install-queue.sh tests/install-container.sh tests/man-lint.sh \
	tests/install-units.sh
EXTRA_DIST += tests/install-lib.sh tests/install-privsep.sh tests/install-queue.sh tests/install-container.sh \
	tests/man-lint.sh tests/install-units.sh
