# tests/install-lib.sh - helpers for the install tests (run as root): a
# private build of sealpost configured for a prefix under $T, and system
# users with names unique to this test run, removed at exit.
# Source after tests/lib.sh.
#
#   need_root                  skip (77) unless root with useradd/runuser
#   INSTALL_SFX                a per-run suffix for user names
#   add_user NAME              a normal login user (own group, home under $T)
#   forget_user NAME           make sure NAME (and its group) go at cleanup,
#                              e.g. a user that contrib/postinst created
#   as NAME CMD...             run CMD as NAME (runuser; stdin passed on)
#   pmake ARGS...              make, without the outer make's flags
#   private_build DIR ARGS...  configure ($top_srcdir) in DIR with ARGS and
#                              build; MAKE_ARGS are passed to make
#   install_users TAG          W=TAGw$INSTALL_SFX, the worker user and spool
#                              group (post-install creates it); the users
#                              A=TAGa... (the attacker, home AH) and V=TAGv...
#                              (the victim)
#   install_prefix             P=$T/prefix, ETC=$T/etc, SBIN=$P/sbin: a
#                              private build in $T/build for them (worker $W,
#                              spool $SPOOL, sendmail links), installed
#   install_system OUT WHAT    make install-system (worker $W), its output in
#                              OUT; on failure shows OUT and fails with WHAT
#   install_conf LINE...       $ETC/sealpost.conf, mode 0644: the test's host
#                              and domain, spool $SPOOL, log to stderr, no
#                              aliases file, then LINE...

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (creates users, installs setgid binaries)"
	for _c in useradd userdel groupdel runuser make; do
		command -v "$_c" >/dev/null || skip "$_c is not installed"
	done
}

# The setgid front end is installed under $T: on a nosuid mount (Debian
# 13 mounts /tmp as tmpfs with nosuid) it would run without its group.
# Move $T to /var/tmp then, or skip saying why.
_nosuid() { findmnt -n -o OPTIONS --target "$1" 2>/dev/null | tr ',' '\n' | grep -qx nosuid; }
if _nosuid "$T"; then
	_t=$(mktemp -d /var/tmp/sealpost-test.XXXXXX) || skip "$T is on a nosuid mount and /var/tmp is not writable"
	# what lib.sh made in $T moves along (the as-root wrapper $SEALPOSTD)
	cp -a "$T/." "$_t/" || skip "cannot copy $T to $_t"
	case $SEALPOSTD in "$T"/*) SEALPOSTD=$_t/${SEALPOSTD#"$T"/} ;; esac
	rm -rf "$T"
	T=$_t SPOOL=$_t/spool CONF=$_t/sealpost.conf
	mkdir -p "$SPOOL"
	_nosuid "$T" && skip "both ${TMPDIR:-/tmp} and /var/tmp are mounted nosuid: a setgid front end cannot be tested"
fi

# users must traverse the test directory (mktemp made it 0700)
chmod 0755 "$T"

INSTALL_SFX=$(printf '%05d%03d' $(($$ % 100000)) $(($(od -An -N2 -tu2 /dev/urandom) % 1000)))
_install_users=""
_install_cleanup_users() {
	for _u in $_install_users; do
		if getent passwd "$_u" >/dev/null; then userdel -f "$_u" 2>/dev/null || true; fi
		if getent group "$_u" >/dev/null; then groupdel "$_u" 2>/dev/null || true; fi
	done
}
at_cleanup _install_cleanup_users

forget_user() {
	case $1 in *"$INSTALL_SFX") ;; *) fail "refusing to manage the non-test user $1" ;; esac
	_install_users="$_install_users $1"
}

add_user() {
	getent passwd "$1" >/dev/null && fail "user $1 exists already"
	forget_user "$1"
	mkdir -p "$T/home/$1"
	useradd --user-group --home-dir "$T/home/$1" --no-create-home --shell /bin/sh "$1" ||
		fail "useradd $1"
	chown "$1:$1" "$T/home/$1"
	chmod 0700 "$T/home/$1"
	chmod 0755 "$T/home"
}

as() {
	_who=$1; shift
	runuser -u "$_who" -- "$@"
}

# make without the outer make's jobserver and flags (make check runs us)
pmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make "$@"; }

private_build() {
	_dir=$1; shift
	mkdir -p "$_dir"
	(cd "$_dir" && "$top_srcdir/configure" -q "$@" && pmake -j4 ${MAKE_ARGS:-} >make.out 2>&1) ||
		{ tail -n 30 "$_dir/make.out" "$_dir/config.log" 2>/dev/null | tail -n 40 >&2; fail "private build failed"; }
}

install_users() {
	W=$1w$INSTALL_SFX A=$1a$INSTALL_SFX V=$1v$INSTALL_SFX
	forget_user "$W"
	add_user "$A"
	add_user "$V"
	AH=$T/home/$A
}

install_prefix() {
	P=$T/prefix ETC=$T/etc SBIN=$T/prefix/sbin
	MAKE_ARGS="SEALPOST_USER=$W" private_build "$T/build" --prefix="$P" --sysconfdir="$ETC" \
		--with-spool-dir="$SPOOL" --enable-sendmail-links
	(cd "$T/build" && pmake install SEALPOST_USER="$W" >install.out 2>&1) || fail "make install"
}

install_system() {
	(cd "$T/build" && pmake install-system SEALPOST_USER="$W" >"$1" 2>&1) ||
		{ cat "$1" >&2; fail "$2"; }
}

install_conf() {
	{
		printf '%s\n' 'hostname  = "test.example.org"' 'domain    = "example.org"' \
			"spool_dir = \"$SPOOL\"" 'log       = "stderr"' 'aliases   = ""'
		printf '%s\n' "$@"
	} > "$ETC/sealpost.conf"
	chmod 0644 "$ETC/sealpost.conf"
}
