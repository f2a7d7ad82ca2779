#!/bin/sh
# frontend-mailq.sh - `sealpost -bp`, `mailq` and `-bp --json` on the real
# binary: the empty queue, messages queued by sealpost itself, a deferred
# recipient whose last error holds hostile bytes, a sent recipient (not
# listed), a held message, a damaged entry (skipped with a note, never
# fatal), JSON validity, ordering by arrival, and 10,000 entries.
. "$top_srcdir/tests/lib.sh"
set -e
[ -x "$SEALPOST" ] || skip "sealpost not built"
write_conf
TZ=UTC
export TZ
sp() { "$SEALPOST" -C "$CONF" "$@"; }
ln -s "$SEALPOST" "$T/mailq"

# ---- empty queue: no spool directory yet, then an empty one
out=$(sp -bp)
[ "$out" = "Mail queue is empty" ] || fail "empty: '$out'"
[ "$(sp -bp --json)" = "[]" ] || fail "empty json"
[ "$("$T/mailq" -C "$CONF")" = "Mail queue is empty" ] || fail "mailq link"
mkdir -p "$SPOOL/queue" "$SPOOL/tmp"
[ "$(sp -bp)" = "Mail queue is empty" ] || fail "empty queue dir"
[ "$(sp -bp --json)" = "[]" ] || fail "empty queue dir json"
ok "empty queue: 'Mail queue is empty' and []"

# ---- three messages queued by sealpost
printf 'Subject: one\n\nfirst\n' | sp -odq -f sender@example.org one@example.net two@example.net
sleep 1.1
printf 'Subject: two\n\nsecond\n' | sp -odq -f '' bounce@example.net
sleep 1.1
printf 'Subject: three\n\nthird\n' | sp -odq -f held@example.org three@example.net
[ "$(queued_count)" = 3 ] || fail "queueing: $(queued_count) queued"

# Give them states a worker would have written (the spool format is text:
# doc/spool-format.md); the error is percent-encoded hostile bytes.
$PYTHON3 - "$SPOOL/queue" <<'EOF'
import os, sys
q = sys.argv[1]
for name in sorted(os.listdir(q)):
    if not name.endswith(".env"):
        continue
    path = os.path.join(q, name)
    lines = open(path).read().split("\n")
    sender = [l for l in lines if l.startswith("sender ")][0]
    out = []
    for l in lines:
        if sender == "sender sender@example.org" and l.startswith("rcpt pending 0 0 0 one@"):
            l = "rcpt deferred 3 1795867560 0 one@example.net - 421%204.7.0%20%1B[31mtry%20later%0D%0A%22q%22%FC"
        elif sender == "sender sender@example.org" and l.startswith("rcpt pending 0 0 0 two@"):
            l = "rcpt sent 1 0 0 two@example.net - -"
        elif sender == "sender held@example.org" and l.startswith("flags "):
            l = "flags %d" % (int(l.split()[1]) | 4)
        out.append(l)
    open(path + ".new", "w").write("\n".join(out))
    os.rename(path + ".new", path)
EOF

sp -bp > "$T/list" 2> "$T/err"
[ ! -s "$T/err" ] || { cat "$T/err"; fail "stderr while listing"; }
cat "$T/list"
sed -n 1p "$T/list" | grep -q '^-Queue ID-------- --Size-- ----Arrival Time---- -Sender/Recipient-------$' ||
	fail "header line"
grep -Eq '^[0-9A-F]{16}  +[0-9]+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}  sender@example\.org$' "$T/list" ||
	fail "first message line"
grep -Eq '^ {48}\(421 4\.7\.0 \?\[31mtry later\?\?"q"\?\)$' "$T/list" || fail "last error line, escaped"
grep -Eq '^ {48}one@example\.net  \[deferred, attempt 3, next Sat Nov 28 12:06:00\]$' "$T/list" ||
	fail "deferred recipient line"
! grep -q 'two@example.net' "$T/list" || fail "a sent recipient is listed"
grep -Eq '^[0-9A-F]{16}  +[0-9]+ .*  MAILER-DAEMON$' "$T/list" || fail "null sender shown as MAILER-DAEMON"
grep -Eq '^ {48}bounce@example\.net$' "$T/list" || fail "pending recipient line"
grep -Eq '^[0-9A-F]{16}! +[0-9]+ .*  held@example\.org$' "$T/list" || fail "held marker"
tail -n 1 "$T/list" | grep -Eq '^-- [0-9]+ Kbytes in 3 Requests\.$' || fail "summary line"
[ "$(grep -c '^$' "$T/list")" = 3 ] || fail "one blank line after each message"
ok "human layout: ids, sizes, dates, senders, errors, markers, summary"

sp -bp --json > "$T/json" 2> "$T/err"
[ ! -s "$T/err" ] || fail "stderr while listing json"
$PYTHON3 - "$T/json" "$SPOOL/queue" <<'EOF' || fail "json content"
import json, os, sys
raw = open(sys.argv[1], "rb").read()
q = json.loads(raw.decode("utf-8"))          # strict: valid UTF-8 and JSON
assert isinstance(q, list) and len(q) == 3, q
arrivals = [m["arrival"] for m in q]
assert arrivals == sorted(arrivals), arrivals
for m in q:
    assert set(m) == {"id", "size", "arrival", "sender", "held", "recipients"}, m
    assert os.path.exists(os.path.join(sys.argv[2], m["id"] + ".env"))
    assert m["size"] == os.path.getsize(os.path.join(sys.argv[2], m["id"] + ".msg")), m
    assert m["arrival"].endswith("Z") and len(m["arrival"]) == 20
    for r in m["recipients"]:
        assert set(r) == {"address", "state", "attempts", "next_attempt", "last_error"}, r
        assert r["state"] in ("pending", "deferred", "failed"), r
first, second, third = q
assert first["sender"] == "sender@example.org" and first["held"] is False
assert first["recipients"] == [{"address": "one@example.net", "state": "deferred", "attempts": 3,
    "next_attempt": "2026-11-28T12:06:00Z",
    "last_error": "421 4.7.0 \x1b[31mtry later\r\n\"q\"\u00fc"}], first["recipients"]
assert second["sender"] == "" and second["recipients"][0] == {"address": "bounce@example.net",
    "state": "pending", "attempts": 0, "next_attempt": None, "last_error": None}
assert third["sender"] == "held@example.org" and third["held"] is True
assert b"\x1b" not in raw and b"\xfc" not in raw   # escaped, not raw
EOF
ok "-bp --json: valid JSON, fields, escaping, order by arrival"

# ---- a damaged entry is skipped with a note; the listing goes on
printf 'sealpost-envelope 1\nid 00000000000000FF\ngarbage\n' > "$SPOOL/queue/00000000000000FF.env"
sp -bp > "$T/list" 2> "$T/err" || fail "damaged: exit status $?"
grep -q '00000000000000FF' "$T/err" || fail "damaged: no note on stderr"
tail -n 1 "$T/list" | grep -q 'in 3 Requests' || fail "damaged: listing incomplete"
sp -bp --json 2> /dev/null | $PYTHON3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 3' ||
	fail "damaged: json listing"
rm "$SPOOL/queue/00000000000000FF.env"
ok "a damaged entry is skipped, never fatal"

# ---- 10,000 entries: one pass, small reads (goal: 0.05 s)
$PYTHON3 - "$SPOOL/queue" <<'EOF'
import os, sys
q = sys.argv[1]
for i in range(10000):
    mid = "%016X" % (0x100000 + i)
    with open(os.path.join(q, mid + ".env"), "w") as f:
        f.write("sealpost-envelope 1\nid %s\narrival %d\nsender a@example.org\nuser 0 root\n"
                "size 4096\nflags 0\ndsn - -\nrcpt pending 0 0 0 b@example.net - -\nend\n"
                % (mid, 1795867200 + i))
EOF
start=$($PYTHON3 -c 'import time; print(time.monotonic())')
sp -bp --json > "$T/big.json"
end=$($PYTHON3 -c 'import time; print(time.monotonic())')
$PYTHON3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 10003' "$T/big.json" ||
	fail "10,000 entries: json"
secs=$($PYTHON3 -c "print('%.3f' % ($end - $start))")
# a figure, not a check: speed belongs to `make bench`
echo "# sealpost -bp --json over 10,003 entries: $secs s (goal 0.05 s, process start included)"
ok "10,000 entries listed ($secs s)"
