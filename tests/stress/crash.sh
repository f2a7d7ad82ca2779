#!/bin/sh
# tests/stress/crash.sh - crash safety: SIGKILL the front end while it
# queues and the worker while it delivers, at the named fault points (a
# tree configured with --enable-fault-injection, given as FAULT_BUILD) and
# at random times, then restart the worker and check that nothing was lost
# (tests/stress/crash.py has the invariants). Without FAULT_BUILD only the
# random kills run (the default build has no fault hooks).
#   env: CRASH_ROUNDS (default 24; make check-stress: 240), CRASH_SEED
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/lib-smarthost.sh"

rounds=${CRASH_ROUNDS:-24}
sp=$SEALPOST spd=$SEALPOSTD faults=""
if [ -n "${FAULT_BUILD:-}" ]; then
	sp="$FAULT_BUILD/src/sealpost/sealpost" spd="$FAULT_BUILD/src/sealpostd/sealpostd"
	[ -x "$sp" ] && [ -x "$spd" ] || fail "FAULT_BUILD=$FAULT_BUILD has no sealpost/sealpostd"
	grep -q 'define SEALPOST_FAULT_INJECTION 1' "$FAULT_BUILD/config.h" ||
		fail "$FAULT_BUILD is not configured with --enable-fault-injection"
	faults=--faults
fi
[ -x "$sp" ] && [ -x "$spd" ] || skip "sealpost/sealpostd not built"

# a little delay per reply gives the random kills a window mid-dialogue
start_smarthost --no-data-transcript --idle-timeout 600 --lifetime 1800 --delay 0.003
dead_port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
settings='queue { retry_min = 1s retry_max = 2s lifetime = 1d concurrency = 1 }
timeouts { connect = 5s command = 10s data = 10s }'
write_conf "$(relay_conf main "$SMTP_PORT")" "$settings"
good_conf=$CONF
CONF="$T/dead.conf"
write_conf "$(relay_conf main "$dead_port")" "$settings"
dead_conf=$CONF
mkdir -p "$SPOOL/queue" "$SPOOL/tmp" "$SPOOL/corrupt"

"$PYTHON3" "$top_srcdir/tests/stress/crash.py" --sealpost "$sp" --sealpostd "$spd" \
	--conf "$good_conf" --dead-conf "$dead_conf" --spool "$SPOOL" --maildir "$SMTP_MAILDIR" \
	--log "$T/processes.log" --rounds "$rounds" --seed "${CRASH_SEED:-$$}" $faults
rc=$?
if [ $rc -ne 0 ]; then
	echo "--- last lines of the processes' log:"
	tail -n 30 "$T/processes.log"
	exit 1
fi
