#!/bin/sh
# tests/queue-pickup.sh - sealpost-drop and the worker's pickup of
# maildrop/ on a private spool (no root needed: sealpost-drop run by the
# spool's owner, without any group). Every hostile drop file is moved to
# corrupt/ID.drop and logged, and never blocks the rest: junk, lengths that
# do not add up, a bad envelope, CR/LF smuggled into an address, a message
# not in the stored form (bare CR, bare LF, a line over 998 octets, no
# final CRLF), a message over max_message_size, a name that is not a queue
# id. A drop still being written (mode 0600) is left alone. A drop whose
# message is already queued under its id (a crash after the commit) is
# only removed; one whose id an unrelated message holds gets a new id.
# What the stream says about uid, state and flags is ignored.
. "$top_srcdir/tests/lib.sh"
DROP=$top_builddir/src/sealpost/sealpost-drop
[ -x "$DROP" ] || skip "sealpost-drop is not built"
DEAD=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_conf 'max_message_size = 4000' "relay \"dead\" { host = \"127.0.0.1\" port = $DEAD }"
mkdir -p "$SPOOL/tmp" "$SPOOL/queue" "$SPOOL/corrupt" "$SPOOL/maildrop"

# stream ENVELOPE-TEXT MESSAGE-TEXT [ENVLEN-DELTA MSGLEN-DELTA]: the
# caller's side of a drop file (printf escapes interpreted)
stream() {
	"$PYTHON3" - "$@" <<'EOF'
import sys
env = sys.argv[1].encode().decode("unicode_escape").encode("latin-1")
msg = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
de = int(sys.argv[3]) if len(sys.argv) > 3 else 0
dm = int(sys.argv[4]) if len(sys.argv) > 4 else 0
sys.stdout.buffer.write(b"envelope %d\n" % (len(env) + de) + env + b"message %d\n" % (len(msg) + dm) + msg)
EOF
}
envelope() { # envelope [RCPT-LINE] [FLAGS] [USER-LINE]
	printf 'sealpost-envelope 1\\nid 0000000000000000\\narrival 1\\nsender a@example.org\\n%s\\nsize 0\\nflags %s\\ndsn - -\\n%s\\nend\\n' \
		"${3:-user 0 root}" "${2:-0}" "${1:-rcpt pending 0 0 0 b@example.net - -}"
}
GOOD='Subject: ok\r\n\r\nbody\r\n'
drop() { "$DROP" "$SPOOL" || fail "sealpost-drop: exit $?"; }
run_pickup() { "$SEALPOSTD" -C "$CONF" --once 2>>"$T/worker.log" || true; }

good=$(stream "$(envelope 'rcpt failed 3 7 0 b@example.net - x 5.1.1' 28)" "$GOOD" | drop)
bad() { # bad WHY-IN-LOG (the stream on stdin; runs in a pipeline's subshell)
	_id=$(drop)
	printf '%s:%s\n' "$_id" "$1" >> "$T/corrupt.expected"
}
printf 'junk' | bad "bad envelope length"
stream "$(envelope)" "$GOOD" 0 5 | bad "bad message length"
stream "$(envelope)" "$GOOD" 3 0 | bad "damaged maildrop file"
stream "$(envelope 'rcpt pending 0 0 0 b@example.net - - 5.1.1 extra')" "$GOOD" | bad "damaged maildrop file"
stream "$(envelope 'rcpt pending 0 0 0 b@example.net%0D%0ARCPT%20TO:x@y - -')" "$GOOD" | bad "invalid recipient address"
stream "$(envelope)" 'Subject: x\r\n\r\nbare\rCR\r\n' | bad "not in the stored form"
stream "$(envelope)" 'Subject: x\r\n\r\nbare\nLF\r\n' | bad "not in the stored form"
stream "$(envelope)" "Subject: x\\r\\n\\r\\n$(printf '%01000d' 0)\\r\\n" | bad "line over 998 octets"
stream "$(envelope)" 'Subject: x\r\n\r\nno end' | bad "does not end with CRLF"
stream "$(envelope)" "Subject: x\\r\\n\\r\\n$(printf '%0900d\\r\\n' 1 2 3 4 5)" | bad "larger than max_message_size\|bad message length"
stream "$(envelope ' ')" "$GOOD" | bad "damaged maildrop file"
# a name that is not a queue id; a drop still being written
cp "$SPOOL/maildrop/$good" "$SPOOL/maildrop/not-an-id"
partial=$(stream "$(envelope)" "$GOOD" | drop)
chmod 0600 "$SPOOL/maildrop/$partial"

# every drop is mode 0640, owner the caller, starting with the recorded uid
for f in "$SPOOL"/maildrop/*; do
	case $f in */not-an-id | */"$partial") continue ;; esac
	[ "$(stat -c %a "$f")" = 640 ] || fail "$f: mode $(stat -c %a "$f")"
	[ "$(head -n 2 "$f" | tr '\n' ' ')" = "sealpost-drop 1 uid $(id -u) " ] || fail "$f: header $(head -n 2 "$f")"
done
cp "$SPOOL/maildrop/$good" "$T/good.drop" # to drop it again below
run_pickup

[ -f "$SPOOL/queue/$good.env" ] || fail "the good drop was not queued: $(cat "$T/worker.log")"
[ ! -e "$SPOOL/maildrop/$good" ] || fail "the good drop was left in the maildrop"
grep -q "^user $(id -u) root$" "$SPOOL/queue/$good.env" || fail "uid not from sealpost-drop: $(cat "$SPOOL/queue/$good.env")"
grep -q '^flags 0$' "$SPOOL/queue/$good.env" || fail "flags from the stream kept (held, bounce, warned)"
grep -q '^rcpt deferred 1 [0-9]* [0-9]* b@example.net - [^ ]*$' "$SPOOL/queue/$good.env" ||
	fail "not attempted as a fresh message (state, attempts, REPORT from the stream): $(cat "$SPOOL/queue/$good.env")"
grep -q '^arrival 1$' "$SPOOL/queue/$good.env" && fail "arrival taken from the stream"
ok "a good drop is queued: uid from sealpost-drop, flags, state and arrival the worker's"

while IFS= read -r c; do
	id=${c%%:*} why=${c#*:}
	[ -f "$SPOOL/corrupt/$id.drop" ] || fail "$id ($why) not moved to corrupt/"
	grep "$id: damaged maildrop file" "$T/worker.log" | grep -q "$why" ||
		fail "$id: log does not say '$why': $(grep "$id" "$T/worker.log")"
	[ ! -e "$SPOOL/queue/$id.env" ] || fail "$id ($why) was queued"
done < "$T/corrupt.expected"
[ -f "$SPOOL/corrupt/not-an-id.drop" ] || fail "a name that is not a queue id was not moved aside"
[ -f "$SPOOL/maildrop/$partial" ] || fail "a drop still being written was touched"
[ "$(ls "$SPOOL/queue" | grep -c '\.env$')" = 1 ] || fail "queued: $(ls "$SPOOL/queue")"
ok "$(wc -l < "$T/corrupt.expected") hostile drops moved to corrupt/ and logged; a partial one left alone"

# the crash case: the same drop again, its message already queued
cp "$T/good.drop" "$SPOOL/maildrop/$good"
run_pickup
[ ! -e "$SPOOL/maildrop/$good" ] || fail "the duplicate drop was left"
[ "$(ls "$SPOOL/queue" | grep -c '\.env$')" = 1 ] || fail "a duplicate was queued: $(ls "$SPOOL/queue")"
ok "a drop already queued (crash after the commit) is removed, not queued twice"

# an unrelated message under the same id: the drop gets a new id
other=$(stream "$(envelope)" 'Subject: other\r\n\r\nother\r\n' | drop)
mv "$SPOOL/maildrop/$other" "$SPOOL/maildrop/$good"
run_pickup
[ "$(ls "$SPOOL/queue" | grep -c '\.env$')" = 2 ] || fail "the colliding drop was not queued: $(ls "$SPOOL/queue")"
grep -q "$good: queue id in use" "$T/worker.log" || fail "collision not logged"
grep -l "^Subject: other" "$SPOOL"/queue/*.msg >/dev/null || fail "the colliding message is lost"
ok "a drop whose id is taken by another message is queued under a new id"
