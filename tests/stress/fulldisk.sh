#!/bin/sh
# tests/stress/fulldisk.sh - full disk and I/O errors.
#  1. With an LD_PRELOAD shim (tests/stress/failio.c) that fails the Nth
#     write, fsync, rename or creating open under the spool with ENOSPC or
#     EIO, for every N until sealpost gets through: the front end exits 73
#     or 75 with a message naming the error and leaves nothing in tmp/ or
#     queue/; the worker survives failing state updates (exit status, no
#     signal), the message stays queued with its envelope untouched, and it
#     is delivered once the errors stop.
#  2. As root, in a private mount namespace (unshare -m), on a 2 MB tmpfs:
#     a message bigger than the disk, a disk filled to the last byte, the
#     worker on a full disk (failing state updates, then delivering and
#     removing), and recovery when space returns. Skipped without root.
# Prints the cases run, messages lost (0) and crashes (0).
if [ "$(id -u)" = 0 ] && [ -z "${FULLDISK_NS:-}" ] && command -v unshare >/dev/null &&
   unshare -m true 2>/dev/null; then
	FULLDISK_NS=1 exec unshare -m --propagation private "${SHELL:-/bin/sh}" "$0" "$@"
fi
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
ENQUEUE_N=0 cases=0 lost=0 crashes=0

cc=${CC:-cc}
command -v "$cc" >/dev/null || cc=gcc
"$cc" -shared -fPIC -o "$T/failio.so" "$top_srcdir/tests/stress/failio.c" -ldl ||
	skip "cannot build the LD_PRELOAD shim"
# an ASan build wants its runtime first; the shim only wraps libc calls
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

start_smarthost --no-data-transcript --idle-timeout 300 --lifetime 900
dead_port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
settings='queue { retry_min = 1s retry_max = 2s concurrency = 1 }
timeouts { connect = 5s command = 10s data = 10s }'
use_spool() { # dir: point both configs at a spool
	SPOOL=$1
	mkdir -p "$SPOOL"
	CONF="$T/good.conf"; write_conf "$(relay_conf main "$SMTP_PORT")" "$settings"
	CONF="$T/dead.conf"; write_conf "$(relay_conf main "$dead_port")" "$settings"
}
use_spool "$T/spool"

message() { # size: a message with a unique Message-ID (printed to fd 3)
	ENQUEUE_N=$((ENQUEUE_N + 1))
	printf 'From: a@example.org\nTo: b@example.net\nSubject: disk %s\nMessage-ID: <disk.%s@stress.test>\n\n' \
		"$ENQUEUE_N" "$ENQUEUE_N"
	head -c "$1" /dev/zero | tr '\0' 'x' | fold -w 76
	echo
}
queue_ok() { # size
	message "$1" | "$SEALPOST" -C "$T/good.conf" -odq -i b@example.net 2>"$T/err" ||
		fail "sealpost failed with space and no faults: $(cat "$T/err")"
}
spool_files() { ls "$SPOOL/tmp" "$SPOOL/queue" "$SPOOL/corrupt" 2>/dev/null | grep -v ':$' | grep -v '^$' | sort; }
envelopes() { cat "$SPOOL"/queue/*.env 2>/dev/null | md5sum; }
worker() { # conf [env...]: run sealpostd --once --flush, status in WRC
	_c=$1; shift
	if env "$@" "$SEALPOSTD" -C "$_c" --once --flush 2>>"$T/worker.log"; then WRC=0; else WRC=$?; fi
	if [ "$WRC" -ge 128 ]; then
		crashes=$((crashes + 1))
		fail "sealpostd died with signal $((WRC - 128)) ($*); log: $(tail -n 5 "$T/worker.log")"
	fi
}
expect_frontend_refusal() { # what
	case $rc in 73|75) ;; *) fail "$1: sealpost exited $rc, want 73 or 75 ($(cat "$T/err"))" ;; esac
	[ "$rc" -lt 128 ] || { crashes=$((crashes + 1)); fail "$1: sealpost died"; }
	grep -q '^sealpost: .*\(No space left on device\|Input/output error\|Disk quota exceeded\)' "$T/err" ||
		fail "$1: no clear message on stderr: $(cat "$T/err")"
	[ -z "$(spool_files)" ] || fail "$1: left behind: $(spool_files | tr '\n' ' ')"
}

# ---- 1. the front end under injected errors: every call, every N
shim_frontend() { # call errno size
	n=1
	while [ $n -le 40 ]; do
		rm -f "$T/report"
		set +e
		message "$3" | FAILIO="$1:$n:$2" FAILIO_PREFIX="$SPOOL" FAILIO_REPORT="$T/report" \
			LD_PRELOAD="$T/failio.so" "$SEALPOST" -C "$T/good.conf" -odq -i b@example.net 2>"$T/err"
		rc=$?
		set -e
		cases=$((cases + 1))
		if [ ! -s "$T/report" ]; then
			[ $rc = 0 ] || fail "$1:$n: no fault injected but sealpost exited $rc: $(cat "$T/err")"
			rm -rf "$SPOOL"/queue/*
			echo "ok - front end, $1 failing with $2 ($3-byte message): refused cleanly at each of $((n - 1)) calls"
			return 0
		fi
		expect_frontend_refusal "front end, $1 call $n fails with $2"
		n=$((n + 1))
	done
	fail "$1: still failing after 40 calls"
}
set -e
shim_frontend write ENOSPC 100
shim_frontend write EIO 300000
shim_frontend fsync EIO 100
shim_frontend fsync ENOSPC 5000
shim_frontend rename EIO 100
shim_frontend open ENOSPC 100
shim_frontend open EIO 5000

# ---- 1b. the worker under injected errors while it saves state
for spec in fsync:1:EIO rename:1:EIO write:1:ENOSPC open:1:ENOSPC any:1:EIO; do
	rm -rf "$SPOOL"; mkdir -p "$SPOOL"
	queue_ok 200
	before=$(envelopes)
	worker "$T/dead.conf" FAILIO="$spec" FAILIO_PREFIX="$SPOOL" LD_PRELOAD="$T/failio.so"
	cases=$((cases + 1))
	failrc=$WRC
	[ "$WRC" != 0 ] || fail "worker: state update failed ($spec) but sealpostd exited 0"
	[ "$(queued_count)" = 1 ] || { lost=$((lost + 1)); fail "worker ($spec): message no longer queued"; }
	[ "$(envelopes)" = "$before" ] || fail "worker ($spec): envelope changed although the update failed"
	[ -z "$(ls "$SPOOL/corrupt" 2>/dev/null)" ] || fail "worker ($spec): entry moved to corrupt/"
	# the errors stop: the next run delivers it
	want=$(( $(delivered_count) + 1 ))
	worker "$T/good.conf"
	[ "$WRC" = 0 ] || fail "worker ($spec): recovery run exited $WRC"
	wait_delivered "$want" 10 || { lost=$((lost + 1)); fail "worker ($spec): not delivered after recovery"; }
	[ "$(queued_count)" = 0 ] || fail "worker ($spec): still queued after delivery"
	echo "ok - worker, state update failing ($spec): exit $failrc, message kept, delivered afterwards"
done

# ---- 2. a real full disk (root, private mount namespace, 2 MB tmpfs)
if [ -n "${FULLDISK_NS:-}" ] && mkdir -p "$T/small" &&
   mount -t tmpfs -o size=2m,mode=0755 sealpost-test "$T/small" 2>/dev/null; then
	at_cleanup umount_small
	umount_small() { umount "$T/small" 2>/dev/null || umount -l "$T/small"; }
	use_spool "$T/small/spool"
	sp_conf() { "$SEALPOST" -C "$T/good.conf" -odq -i b@example.net 2>"$T/err"; }

	set +e; message 3000000 | sp_conf; rc=$?; set -e
	cases=$((cases + 1))
	expect_frontend_refusal "tmpfs: a 3 MB message on a 2 MB disk"
	echo "ok - tmpfs: a message bigger than the disk: exit $rc, $(cat "$T/err")"

	queue_ok 300; queue_ok 300; queue_ok 300
	kept=$(spool_files)
	dd if=/dev/zero of="$T/small/filler" bs=4k 2>/dev/null || true # until ENOSPC
	set +e; message 300 | sp_conf; rc=$?; set -e
	cases=$((cases + 1))
	case $rc in 73|75) ;; *) fail "tmpfs full: sealpost exited $rc";; esac
	[ "$(spool_files)" = "$kept" ] || fail "tmpfs full: the spool changed: $(spool_files | tr '\n' ' ')"
	echo "ok - tmpfs full: a small message refused: exit $rc, $(cat "$T/err")"

	before=$(envelopes)
	worker "$T/dead.conf"
	cases=$((cases + 1))
	[ "$WRC" != 0 ] || fail "tmpfs full: state updates failed but sealpostd exited 0"
	[ "$(queued_count)" = 3 ] || { lost=$((lost + 1)); fail "tmpfs full: messages lost by the worker"; }
	[ "$(envelopes)" = "$before" ] || fail "tmpfs full: envelopes changed"
	[ -z "$(ls -A "$SPOOL/tmp")$(ls -A "$SPOOL/corrupt" 2>/dev/null)" ] || fail "tmpfs full: leftovers in tmp/ or corrupt/"
	echo "ok - tmpfs full: worker with failing state updates: exit $WRC, 3 messages kept intact"

	want=$(( $(delivered_count) + 3 ))
	worker "$T/good.conf" # still full: delivering and removing needs no space
	cases=$((cases + 1))
	wait_delivered "$want" 10 || { lost=$((lost + 1)); fail "tmpfs full: not delivered"; }
	[ "$(queued_count)" = 0 ] || fail "tmpfs full: delivered messages still queued (exit $WRC)"
	echo "ok - tmpfs full: worker delivers and removes on a full disk (exit $WRC)"

	rm -f "$T/small/filler" # space returns
	queue_ok 300; queue_ok 1000000
	want=$(( $(delivered_count) + 2 ))
	worker "$T/good.conf"
	cases=$((cases + 1))
	[ "$WRC" = 0 ] || fail "tmpfs: worker exited $WRC after space returned"
	wait_delivered "$want" 10 || { lost=$((lost + 1)); fail "tmpfs: not delivered after space returned"; }
	echo "ok - tmpfs: space returns: queued and delivered again"
else
	echo "skip - tmpfs full-disk cases (needs root and unshare -m; the shim cases above ran)"
fi
echo "fulldisk: $cases cases, messages lost: $lost, crashes found: $crashes"
