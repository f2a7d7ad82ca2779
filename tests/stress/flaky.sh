#!/bin/sh
# tests/stress/flaky.sh - load over a flaky network: FLAKY_MESSAGES
# messages (default 200, light enough for make check's parallel tests;
# check-stress: 10,000) from FLAKY_SUBMITTERS (default 10; check-stress:
# 20) parallel sealpost callers while sealpostd runs as a daemon against
# the test smarthost with --flaky: 10% of transactions get 451 at MAIL, 5%
# of connections drop (after the final dot with no reply, mid-DATA, or
# right after the final 250), 2% stall before the final reply. Afterwards
# every accepted message is delivered (counted by Message-ID at the sink);
# duplicates are reported; none is lost (tests/stress/flaky.py).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"
[ -x "$SEALPOST" ] && [ -x "$SEALPOSTD" ] || skip "sealpost/sealpostd not built"

messages=${FLAKY_MESSAGES:-200}
submitters=${FLAKY_SUBMITTERS:-10}
start_smarthost --no-data-transcript --transcript /dev/null --idle-timeout 600 --lifetime 1800 \
	--max-connections 200 --seed "${FLAKY_SEED:-$$}" --stall-time 0.5 \
	--flaky 'tempfail=0.10,drop=0.02,drop-mid-data=0.015,drop-after-250=0.015,stall=0.02'
write_conf "$(relay_conf main "$SMTP_PORT")" \
	'queue { retry_min = 1s retry_max = 4s lifetime = 1d concurrency = 4 }' \
	'timeouts { connect = 5s command = 10s data = 10s }'
mkdir -p "$SPOOL/queue" "$SPOOL/tmp"

"$SEALPOSTD" -C "$CONF" 2>"$T/daemon.log" &
daemon=$!
# bounded wait until the daemon has its spool lock file
n=100
while [ ! -e "$SPOOL/sealpostd.lock" ] && [ $n -gt 0 ]; do n=$((n - 1)); sleep 0.05; done
_pid_alive "$daemon" || fail "the daemon did not start: $(cat "$T/daemon.log")"

"$PYTHON3" "$top_srcdir/tests/stress/flaky.py" --sealpost "$SEALPOST" --conf "$CONF" \
	--spool "$SPOOL" --maildir "$SMTP_MAILDIR" --messages "$messages" \
	--submitters "$submitters" --deadline "${FLAKY_DEADLINE:-420}" --daemon-pid "$daemon"
rc=$?
kill -TERM "$daemon" 2>/dev/null
wait "$daemon"; drc=$?
grep -c 'status=sent' "$T/daemon.log" | sed 's/^/flaky: recipient deliveries logged sent: /'
grep -c 'status=deferred' "$T/daemon.log" | sed 's/^/flaky: deferrals logged (451s, drops, retries): /'
echo "flaky: crashes found: $(grep -ciE 'sanitizer|segmentation|abort' "$T/daemon.log")"
[ $drc = 0 ] || { echo "daemon exit status $drc after SIGTERM"; tail -n 20 "$T/daemon.log"; exit 1; }
if [ $rc -ne 0 ]; then tail -n 20 "$T/daemon.log"; exit 1; fi
