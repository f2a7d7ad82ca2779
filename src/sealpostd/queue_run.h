/*
 * queue_run.h - one pass over the spool (sealpostd --once, and each wake-up
 * of the daemon): clean up, list the messages that are due, lock and
 * deliver each, up to queue.concurrency worker processes at once, each
 * with its own relay connections. Runs as the worker's user.
 */
#ifndef SEALPOSTD_QUEUE_RUN_H
#define SEALPOSTD_QUEUE_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "conf.h"
#include "idlist.h"
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
 * Deliver ids[start], ids[start + step], ... in this process over one set
 * of relay connections (busy, gone or no longer due ones are skipped),
 * then the notifications those deliveries queued. Returns the status of
 * the last message delivered (for --id; EX_TEMPFAIL when none was), or
 * EX_CANTCREAT when the spool could not be written.
 */
int queue_deliver_ids(const struct sp_config *cfg, const struct run_options *o, char (*ids)[SPOOL_ID_LEN + 1], size_t n,
		      size_t start, size_t step);

/* The same over pool, which stays open afterwards (a daemon worker keeps
 * its connections between batches). */
int queue_deliver_ids_on(const struct sp_config *cfg, const struct run_options *o, struct relay_pool *pool,
			 char (*ids)[SPOOL_ID_LEN + 1], size_t n, size_t start, size_t step);

/*
 * List the messages due now (flush: every deferred one too), oldest first,
 * read without locks (a hint: the worker decides again under the lock),
 * and the earliest next attempt of any queued, not held message (0: none;
 * now or earlier: something is due). 0, or -1 when queue/ cannot be read.
 */
int queue_scan(const struct sp_config *cfg, time_t now, bool flush, struct idlist *due, time_t *next_due);

/* The earliest next_attempt among queued, not held messages; 0 when
 * nothing is waiting (then the daemon only waits for new mail). */
time_t queue_next_due(const struct sp_config *cfg);

#endif
