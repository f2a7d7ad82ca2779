/*
 * queue_run.h - one pass over the spool (sealpostd --once, sealpost -q):
 * clean up, then every due message through the scheduler's workers
 * (scheduler.h, the daemon's code); or one named message (--id) in this
 * process. Also the delivery of a batch of queue ids in one worker
 * process over its relay connections. Runs as the worker's user.
 */
#ifndef SEALPOSTD_QUEUE_RUN_H
#define SEALPOSTD_QUEUE_RUN_H

#include <signal.h>
#include <stdbool.h>

#include "conf.h"
#include "relay.h"
#include "spool.h"

struct run_options {
	bool flush;                      /* ignore backoff: try every deferred recipient */
	const char *only_id;             /* deliver this message only (--id) */
	int lock_fd;                     /* --lock-fd: only_id's message, locked by the caller; -1 none */
	bool trace;                      /* log the SMTP dialogue */
	volatile sig_atomic_t *stop;     /* set by SIGTERM/SIGINT: stop between messages */
};

/*
 * Run once. Returns 0 when the queue was processed (whatever the
 * per-message outcomes), EX_CANTCREAT (73) for spool trouble. With
 * only_id, *id_status receives deliver_entry()'s status for it (0, 75,
 * 69; 0 too when it was already gone, 75 when it is held). A message
 * another worker has is waited for (bounded by the timeouts); when that
 * worker finishes it, 0. lock_fd avoids that race for sealpost -odi.
 */
int queue_run(const struct sp_config *cfg, const struct run_options *o, int *id_status);

/*
 * Deliver ids[0..n) in this process over one set of relay connections
 * (busy, gone or no longer due ones are skipped), then the notifications
 * those deliveries queued. Returns the status of the last message
 * delivered (for --id; EX_TEMPFAIL when none was), or EX_CANTCREAT when
 * the spool could not be written.
 */
int queue_deliver_ids(const struct sp_config *cfg, const struct run_options *o, char (*ids)[SPOOL_ID_LEN + 1], size_t n);

/* The same over pool, which stays open afterwards (a worker keeps its
 * connections between batches). */
int queue_deliver_ids_on(const struct sp_config *cfg, const struct run_options *o, struct relay_pool *pool,
			 char (*ids)[SPOOL_ID_LEN + 1], size_t n);

#endif
