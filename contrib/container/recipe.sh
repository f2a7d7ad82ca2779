#!/bin/sh
# contrib/container/recipe.sh - the steps of the container image, as one
# script so that the Dockerfile and tests/install-container.sh run exactly
# the same commands (the test runs them without Docker, under a prefix).
#
#   recipe.sh build SRCDIR [DESTDIR]   configure, build and install sealpost
#                                      (with the sendmail links)
#   recipe.sh setup                    create the application user and give
#                                      it the spool (run as root)
#
# Environment (defaults are the image's paths):
#   PREFIX=/usr SYSCONFDIR=/etc SPOOL_DIR=/var/spool/sealpost
#   APP_USER=app APP_UID=10001 (empty: any) APP_HOME=/home/$APP_USER
#   BUILD_DIR=/tmp/sealpost-build
#
# A container is one trust domain: the application's user runs sendmail,
# and the one-shot worker that sendmail starts for each message runs as
# that same user, so it owns the spool and can read the relay secret.
# There is no setgid bit, no sealpost user, and no daemon; logs go to
# stderr (log = "stderr"), as there is no syslog.
set -eu

: "${PREFIX:=/usr}" "${SYSCONFDIR:=/etc}" "${SPOOL_DIR:=/var/spool/sealpost}"
: "${APP_USER:=app}" "${APP_UID=10001}" "${BUILD_DIR:=/tmp/sealpost-build}"
: "${APP_HOME:=/home/$APP_USER}"

build() {
	src=$(cd "$1" && pwd)
	destdir=${2:-}
	if [ ! -x "$src/configure" ]; then
		(cd "$src" && autoreconf -fi)
	fi
	mkdir -p "$BUILD_DIR"
	cd "$BUILD_DIR"
	"$src/configure" -q --prefix="$PREFIX" --sysconfdir="$SYSCONFDIR" \
		--localstatedir=/var --with-spool-dir="$SPOOL_DIR" --enable-sendmail-links
	make -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
	make install DESTDIR="$destdir" >/dev/null
}

setup() {
	if ! getent passwd "$APP_USER" >/dev/null; then
		useradd ${APP_UID:+--uid "$APP_UID"} --user-group --create-home --home-dir "$APP_HOME" \
			--shell /bin/sh "$APP_USER"
	fi
	# the spool belongs to the application's user; nobody else needs it
	install -d -o "$APP_USER" -g "$APP_USER" -m 0700 "$SPOOL_DIR"
	install -d -o "$APP_USER" -g "$APP_USER" -m 0700 "$SPOOL_DIR/tmp" "$SPOOL_DIR/queue" \
		"$SPOOL_DIR/corrupt"
}

case ${1:-} in
build) shift; build "$@" ;;
setup) setup ;;
*) echo "usage: recipe.sh build SRCDIR [DESTDIR] | recipe.sh setup" >&2; exit 64 ;;
esac
