#!/bin/sh
# tests/queue-socket.sh - the daemon's sealpostd.sock from the build tree
# (so the sanitizer builds cover it; tests/install-queue.sh does the same
# against an installed system): the caller is who SO_PEERCRED says; an
# ordinary user sees no other user's message in mailq (JSON neither) and
# may not hold, release, delete or flush it; hostile requests (unknown,
# overlong, never finished, junk ids) get an error or a closed connection
# and block nobody. As root, with the user "nobody" as the ordinary user;
# the spool keeps the installed mode 0711 (traverse only).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
[ "$(id -u)" = 0 ] || skip "needs root (runs a command as another user)"
id nobody >/dev/null 2>&1 && command -v runuser >/dev/null || skip "no user nobody or no runuser"
DEAD=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_conf "relay \"dead\" { host = \"127.0.0.1\" port = $DEAD }" 'queue { retry_min = 1h retry_max = 1h }'
chmod 0755 "$T"
chmod 0644 "$CONF"
chmod 0711 "$SPOOL"
# nobody runs a copy: the build tree may sit under a directory only root
# can enter (/root, mode 0700)
cp "$SEALPOST" "$T/sealpost"
chmod 0755 "$T/sealpost"
nb() { runuser -u nobody -- "$T/sealpost" -C "$CONF" "$@"; }

printf 'To: b@example.net\nSubject: root\n\nx\n' | "$SEALPOST" -C "$CONF" -odq -t || fail "root: submit"
RID=$(ls "$SPOOL/queue" | sed -n 's/\.env$//p')
"$SEALPOSTD" -C "$CONF" 2>"$T/daemon.log" &
DPID=$!
n=600; while [ ! -S "$SPOOL/sealpostd.sock" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
[ -S "$SPOOL/sealpostd.sock" ] || fail "no sealpostd.sock: $(cat "$T/daemon.log")"
[ "$(stat -c %a "$SPOOL/sealpostd.sock")" = 666 ] || fail "socket mode $(stat -c %a "$SPOOL/sealpostd.sock")"
n=600; while ! grep -q '^rcpt deferred' "$SPOOL/queue/$RID.env" && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done

nb -bp > "$T/mq" || fail "nobody's mailq: exit $?"
grep -q "$RID" "$T/mq" && fail "nobody's mailq shows root's message"
grep -qx "None of your messages is queued (1 of other users are not shown)." "$T/mq" || fail "mailq: $(cat "$T/mq")"
[ "$(nb -bp --json)" = "[]" ] || fail "nobody's JSON mailq: $(nb -bp --json)"
"$SEALPOST" -C "$CONF" -bp | grep -q "^$RID " || fail "root's mailq does not list its message"
ok "an ordinary user's mailq through the socket: others' messages counted, never shown"

for act in --hold --release --delete "-qI"; do
	if [ "$act" = -qI ]; then set -- "-qI$RID"; else set -- "$act" "$RID"; fi
	if nb "$@" 2>"$T/err"; then rc=0; else rc=$?; fi
	[ "$rc" = 77 ] || fail "nobody $*: exit $rc ($(cat "$T/err"))"
	grep -q "not your message" "$T/err" || fail "nobody $*: $(cat "$T/err")"
done
if nb --hold 0000000000000000 2>"$T/err"; then rc=0; else rc=$?; fi
[ "$rc" = 67 ] || fail "no such message: exit $rc ($(cat "$T/err"))"
nb -q > "$T/out" || fail "nobody -q: exit $?"
grep -qx "0 deferred message(s) flushed" "$T/out" || fail "nobody -q: $(cat "$T/out")"
grep -q '^flags 0$' "$SPOOL/queue/$RID.env" || fail "root's message changed"
grep -q '^rcpt deferred 1 ' "$SPOOL/queue/$RID.env" || fail "root's message flushed: $(cat "$SPOOL/queue/$RID.env")"
ok "nobody may hold, release, delete or flush root's message (77); unknown ids 67"

# hostile requests, raw, as nobody
runuser -u nobody -- "$PYTHON3" - "$SPOOL/sealpostd.sock" "$RID" > "$T/raw" <<'EOF' || fail "raw requests: $(cat "$T/raw")"
import socket, sys
path, rid = sys.argv[1], sys.argv[2]
def ask(data, shut=True):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(path)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        try:
            b = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        out += b
    s.close()
    return out
assert ask(b"frobnicate x\n").startswith(b"error 64 "), "unknown verb"
assert ask(b"hold " + b"A" * 200 + b"\n") == b"", "overlong request answered"
assert ask(b"hold " + rid.encode()) == b"", "unfinished request answered"
assert ask(b"hold ../../etc/passwd\n").startswith(b"error 64 "), "junk id"
assert ask(b"list\n").endswith(b"end 1\n"), "list"
print("raw ok")
EOF
grep -qx "raw ok" "$T/raw" || fail "raw requests: $(cat "$T/raw")"
nb -bp >/dev/null || fail "the daemon stopped answering after hostile requests"
ok "unknown, overlong, unfinished and junk requests: an error or a closed connection"

kill -TERM "$DPID"
wait "$DPID" || fail "sealpostd did not stop cleanly"
[ ! -e "$SPOOL/sealpostd.sock" ] || fail "socket left behind"
if nb -bp 2>"$T/err"; then rc=0; else rc=$?; fi
[ "$rc" = 75 ] && grep -q "the mail system is down" "$T/err" || fail "no daemon: exit $rc ($(cat "$T/err"))"
ok "without the daemon: 75, the mail system is down"
