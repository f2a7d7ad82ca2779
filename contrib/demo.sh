#!/bin/sh
# contrib/demo.sh - see sealpost work, end to end, on this machine: builds
# sealpost (installing Debian packages first when run as root), starts a
# throwaway TLS smarthost on 127.0.0.1 with its own test CA and a password,
# queues a message through `sealpost` exactly as PHP or cron would, relays it
# with `sealpostd --once` over verified STARTTLS + AUTH, and shows the log
# line, the delivered message and what crossed the wire before TLS.
# Nothing is installed system-wide; everything else lives in a temp dir.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/contrib/bootstrap.sh" "$top/build"
SEALPOST="$top/build/src/sealpost/sealpost"
SEALPOSTD="$top/build/src/sealpostd/sealpostd"
PY=/usr/bin/python3
D=$(mktemp -d /tmp/sealpost-demo.XXXXXX)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT

sh "$top/tests/mkcerts.sh" "$D/certs"
"$PY" "$top/tests/smarthost.py" --port-file "$D/port" --cert "$D/certs/server.pem" \
	--key "$D/certs/server.key" --maildir "$D/maildir" --transcript "$D/transcript.jsonl" \
	--auth demo:correct-horse --idle-timeout 60 &
pid=$!
n=0; while [ ! -s "$D/port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
port=$(cat "$D/port")
printf 'correct-horse\n' > "$D/relay.secret"; chmod 600 "$D/relay.secret"
cat > "$D/sealpost.conf" <<CONF
hostname  = "demo.example.org"
domain    = "example.org"
spool_dir = "$D/spool"
log       = "stderr"
relay "demo" {
  host          = "127.0.0.1"
  port          = $port
  tls           = "starttls"
  username      = "demo"
  password_file = "$D/relay.secret"
}
tls_policy "127.0.0.1" {
  verify      = "ca"
  ca_file     = "$D/certs/ca.pem"
  verify_name = "localhost"
}
CONF
mkdir -p "$D/spool"

echo "==> 1. queue a message the way PHP mail() does (sendmail -t -i)"
printf 'To: alice@example.net\r\nSubject: Hello from sealpost\r\nFrom: web@example.org\r\n\r\nThis message crossed the network only inside TLS.\n' |
	"$SEALPOST" -C "$D/sealpost.conf" -odq -t -i
echo "    sealpost exited $?; the queue now holds:"
"$SEALPOST" -C "$D/sealpost.conf" -bp | sed 's/^/    /'

echo "==> 2. relay it: sealpostd --once (STARTTLS, certificate verified against the test CA, AUTH)"
"$SEALPOSTD" -C "$D/sealpost.conf" --once $([ "$(id -u)" = 0 ] && echo --allow-root) 2>&1 | sed 's/^/    /'

echo "==> 3. what the smarthost received"
n=0; while [ ! -s "$D/maildir/1.json" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
"$PY" -c '
import json, sys
e = json.load(open(sys.argv[1]))
print("    envelope: MAIL FROM:<%s> RCPT TO:%s, AUTH as %s, %s %s, SNI %s"
      % (e["mail_from"], ",".join("<%s>" % r for r in e["rcpt_to"]), e["auth_user"],
         e["tls_version"], e["tls_cipher"], e["sni"]))
' "$D/maildir/1.json"
sed 's/^/    | /' "$D/maildir/1.eml"
echo "==> 4. everything the client sent before TLS (only EHLO and STARTTLS may appear):"
"$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["dir"] == "c2s" and not e["tls"]:
        print("    " + e["data"])
' "$D/transcript.jsonl"
"$SEALPOST" -C "$D/sealpost.conf" -bp | sed 's/^/    queue after delivery: /'
