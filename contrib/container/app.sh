#!/bin/sh
# contrib/container/app.sh - the example image's main process: it sends one
# message through sendmail, as any application would (PHP's mail(),
# a cron-like job), then runs the given command or waits. The message is
# queued at once; sendmail starts a one-shot worker that delivers it.
#   MAIL_TO   recipient (default root, which the aliases rewrite)
set -eu
to=${MAIL_TO:-root}
printf 'To: %s\nSubject: hello from %s\n\nThis message left the container over TLS.\n' \
	"$to" "$(hostname)" | sendmail -t -i
echo "app: message to $to queued" >&2
if [ $# -gt 0 ]; then
	exec "$@"
fi
exec sleep infinity
