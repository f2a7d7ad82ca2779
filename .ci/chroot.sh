#!/bin/sh
# .ci/chroot.sh - a fresh minimal Debian root to build, test and install
# sealpost in (as root). Used by .ci/run and tests/deb/install-remove.sh;
# also a command:
#   .ci/chroot.sh suite RELEASE   the README's test command (sh tests/run.sh)
#                                 in a fresh RELEASE root (bookworm, trixie),
#                                 the tree under /root (mode 0700)
#   .ci/chroot.sh deb RELEASE OUTDIR   make deb and lintian in a fresh
#                                 RELEASE root; the .deb to OUTDIR
#   .ci/chroot.sh shell RELEASE   a shell in a fresh root, for debugging
#
# A root is "debootstrap --variant=minbase RELEASE" with its own /proc, a
# /dev of its own (the usual nodes, devpts, /dev/shm) and a tmpfs /tmp, and
# a policy-rc.d so no package starts a service. Everything mounted is
# unmounted, and every process left inside ended, by chroot_destroy; callers
# trap it on every exit path.
#
# Cache: with SEALPOST_CHROOT_CACHE=DIR (e.g. /work/cache; never inside the
# tree), the pristine root is kept as DIR/RELEASE-minbase.tar (rebuilt
# after 7 days) and downloaded .debs in DIR/apt-RELEASE/; every root is a
# fresh copy. Without it (CI) the root is debootstrapped each time, or
# copied from CHROOT_PRISTINE_RELEASE if a caller made one
# (chroot_pristine).
# SEALPOST_MIRROR overrides the Debian mirror (default deb.debian.org).

: "${SEALPOST_MIRROR:=http://deb.debian.org/debian}"

# chroot_debootstrap RELEASE DIR: a new minimal root in DIR, cached
chroot_debootstrap() {
	_rel=$1 _dir=$2
	_cache=${SEALPOST_CHROOT_CACHE:-}
	_tar=${_cache:+$_cache/$_rel-minbase.tar}
	mkdir -p "$_dir"
	if [ -n "$_tar" ] && [ -n "$(find "$_tar" -mtime -7 2>/dev/null)" ]; then
		tar -C "$_dir" -xpf "$_tar" && return 0
	fi
	_pristine=$(eval echo "\${CHROOT_PRISTINE_$_rel:-}")
	if [ -n "$_pristine" ] && [ -d "$_pristine" ]; then
		cp -a "$_pristine/." "$_dir/" && return 0
	fi
	echo "chroot: debootstrap --variant=minbase $_rel ($SEALPOST_MIRROR)" >&2
	debootstrap --variant=minbase "$_rel" "$_dir" "$SEALPOST_MIRROR" >"$_dir.debootstrap.log" 2>&1 ||
		{ tail -n 20 "$_dir.debootstrap.log" >&2; return 1; }
	rm -f "$_dir.debootstrap.log"
	# what a real system of the release has: its updates and security fixes
	_sec=$(echo "$SEALPOST_MIRROR" | sed 's|/debian/*$|/debian-security|')
	{
		echo "deb $SEALPOST_MIRROR $_rel main"
		echo "deb $SEALPOST_MIRROR $_rel-updates main"
		echo "deb $_sec $_rel-security main"
	} >"$_dir/etc/apt/sources.list"
	rm -rf "$_dir/var/cache/apt/archives/"*.deb
	if [ -n "$_tar" ]; then
		mkdir -p "$_cache"
		tar -C "$_dir" -cpf "$_tar.tmp" . && mv "$_tar.tmp" "$_tar"
	fi
}

# chroot_pristine RELEASE DIR: debootstrap once into DIR; later
# chroot_create calls for RELEASE copy it instead of downloading again
chroot_pristine() {
	chroot_debootstrap "$1" "$2" || return 1
	eval "CHROOT_PRISTINE_$1=\$2; export CHROOT_PRISTINE_$1"
}

# chroot_create RELEASE DIR: a fresh root in DIR (must not exist), mounted
chroot_create() {
	_dir=$2
	[ ! -e "$_dir" ] || { echo "chroot: $_dir exists" >&2; return 1; }
	chroot_debootstrap "$1" "$_dir" || return 1
	# no package starts a service inside the root
	printf '#!/bin/sh\nexit 101\n' >"$_dir/usr/sbin/policy-rc.d"
	chmod 755 "$_dir/usr/sbin/policy-rc.d"
	cp /etc/resolv.conf "$_dir/etc/resolv.conf" 2>/dev/null || true
	chroot_mount "$_dir"
}

chroot_mount() {
	_d=$1
	# the root a mount point of its own, private: as on a real system,
	# unshare --mount works inside, and nothing mounted there propagates out
	mount --bind "$_d" "$_d"
	mount --make-rprivate "$_d"
	mount -t proc -o nosuid,nodev,noexec proc "$_d/proc"
	mount -t tmpfs -o nosuid,mode=0755,size=64k dev "$_d/dev"
	for _n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
		set -- $_n
		mknod -m 0666 "$_d/dev/$1" c "$2" "$3"
	done
	ln -s /proc/self/fd "$_d/dev/fd"
	ln -s /proc/self/fd/0 "$_d/dev/stdin"
	ln -s /proc/self/fd/1 "$_d/dev/stdout"
	ln -s /proc/self/fd/2 "$_d/dev/stderr"
	mkdir "$_d/dev/pts" "$_d/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$_d/dev/pts"
	ln -s pts/ptmx "$_d/dev/ptmx"
	mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$_d/dev/shm"
	mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$_d/tmp"
	if [ -n "${SEALPOST_CHROOT_CACHE:-}" ]; then
		_rel=$(. "$_d/etc/os-release" && echo "$VERSION_CODENAME")
		_debs=$SEALPOST_CHROOT_CACHE/apt-$_rel
		mkdir -p "$_debs"
		# one root at a time: apt's archive lock is not shared across roots
		if ! findmnt -n -o SOURCE | grep -qF "[$_debs]"; then
			mount --bind "$_debs" "$_d/var/cache/apt/archives"
		fi
	fi
}

# chroot_destroy DIR: end every process inside, unmount, remove the root
chroot_destroy() {
	_d=$1
	[ -d "$_d" ] || return 0
	_d=$(cd "$_d" && pwd -P)
	for _try in 1 2 3 4 5 6 7 8 9 10; do
		_pids=""
		for _p in /proc/[0-9]*; do
			[ "$(readlink "$_p/root" 2>/dev/null)" = "$_d" ] && _pids="$_pids ${_p#/proc/}"
		done
		[ -n "$_pids" ] || break
		if [ "$_try" -lt 5 ]; then kill $_pids 2>/dev/null; else kill -9 $_pids 2>/dev/null; fi
		sleep 0.5
	done
	# deepest mount points first
	for _m in $(awk -v d="$_d" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount "$_m" 2>/dev/null || umount -l "$_m"
	done
	if awk -v d="$_d" 'index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		echo "chroot: $_d still has mounts: not removed" >&2
		return 1
	fi
	rm -rf "$_d"
}

# chroot_copy_tree DIR DEST [SRC]: the source tree SRC (default: the
# current directory; it must hold configure.ac and .ci/chroot.sh) to DEST
# inside the root: tracked and new files, no build output
chroot_copy_tree() {
	_src=${3:-$(pwd)}
	[ -f "$_src/configure.ac" ] && [ -f "$_src/.ci/chroot.sh" ] ||
		{ echo "chroot: $_src is not the sealpost tree" >&2; return 1; }
	mkdir -p "$1$2"
	if git -C "$_src" rev-parse --git-dir >/dev/null 2>&1; then
		# (a file deleted but not yet committed is left out)
		(cd "$_src" && git ls-files -z --cached --others --exclude-standard |
			xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
			tar --null -T - -cf -) | tar -C "$1$2" -xf -
	else
		(cd "$_src" && tar --exclude='./build*' --exclude=./.git -cf - .) | tar -C "$1$2" -xf -
	fi
}

# chroot_run DIR CMD...: CMD as root inside, with a clean environment
chroot_run() {
	_d=$1; shift
	chroot "$_d" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# chroot_in_tree DIR SCRIPT: sh -c SCRIPT in the tree copied into DIR
chroot_in_tree() {
	chroot_run "$1" sh -c "cd /root/sealpost && $2"
}

# chroot_deb DIR OUTDIR: in the tree copied into DIR, make deb (installing
# debhelper, dpkg-dev and lintian first) and lintian; the .deb to OUTDIR
chroot_deb() {
	chroot_in_tree "$1" 'set -e
		export DEBIAN_FRONTEND=noninteractive
		apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
			debhelper dpkg-dev lintian >/dev/null
		sh contrib/bootstrap.sh >/dev/null
		cd build
		make deb >deb.out 2>&1 || { tail -n 40 deb.out; exit 1; }
		ls -l deb/*.deb
		make deb-lint' || return 1
	mkdir -p "$2"
	cp "$1"/root/sealpost/build/deb/sealpost_*.deb "$2"/
}

# ---- as a command --------------------------------------------------------
case ${0##*/} in
chroot.sh)
	set -eu
	[ "$(id -u)" = 0 ] || { echo "chroot.sh: run as root" >&2; exit 1; }
	what=${1:-}; rel=${2:-trixie}
	root=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-$rel.XXXXXX")
	rmdir "$root"
	trap 'chroot_destroy "$root"' EXIT
	trap 'exit 130' INT TERM HUP
	case $what in
	suite|deb|shell) ;;
	*) echo "usage: .ci/chroot.sh suite|deb|shell [RELEASE [OUTDIR]]" >&2; exit 64 ;;
	esac
	chroot_create "$rel" "$root"
	chroot_copy_tree "$root" /root/sealpost "$(cd "$(dirname "$0")/.." && pwd)"
	echo "chroot: Debian $(cat "$root/etc/debian_version"), the tree in /root/sealpost" >&2
	case $what in
	suite) chroot_in_tree "$root" 'sh tests/run.sh' ;;
	deb) chroot_deb "$root" "${3:-.}" ;;
	shell) chroot_run "$root" /bin/bash ;;
	esac
	;;
esac
