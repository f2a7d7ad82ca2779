/*
 * queue_run.c - one pass over the spool (see queue_run.h), and the
 * delivery of a list of queue ids in one worker process. Which message
 * goes to which worker is scheduler.c's decision, as in the daemon. The
 * per-message flock (spool.c) guarantees no message is delivered twice at
 * once, also against other workers and daemons on the spool.
 */
#include "config.h"

#include "queue_run.h"
#include "deliver.h"
#include "idlist.h"
#include "log.h"
#include "metrics.h"
#include "opslog.h"
#include "relay.h"
#include "scheduler.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define TMP_MAX_AGE 3600 /* seconds before a leftover tmp/ file is removed */

/*
 * --id with --lock-fd: the front end (-odi) locked queue/ID.msg right
 * after queueing it, before a daemon could take it, and handed the
 * descriptor down. Take that lock over: the same file (device and inode),
 * then the envelope, checked as spool_open_entry() checks it. 0, or -1
 * (the usual open follows, which also moves a damaged entry aside).
 */
static int adopt_entry(const char *spool_dir, const char *id, int fd, struct spool_entry *e)
{
	struct stat held, named;
	char *p = xasprintf("%s/queue/%s.msg", spool_dir, id);
	bool same = fstat(fd, &held) == 0 && stat(p, &named) == 0 && held.st_dev == named.st_dev &&
		    held.st_ino == named.st_ino;
	free(p);
	/* flock on a description that holds the lock already just keeps it */
	if (!same || flock(fd, LOCK_EX | LOCK_NB) < 0)
		return -1;
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	if (spool_read_envelope(spool_dir, id, &e->env, NULL, 0) < 0)
		return -1;
	if ((uint64_t)held.st_size != e->env.size) {
		envelope_free(&e->env);
		return -1;
	}
	e->msg_fd = fd;
	return 0;
}

/* --id: another worker (a daemon) has the message; wait for it, bounded
 * by the longest a delivery attempt can take. *r: 0 ours now, 1 still
 * busy (time out, stop); returns false when the message is gone. */
static bool wait_for_lock(const struct sp_config *cfg, const struct run_options *o, const char *id,
			  struct spool_entry *e, int *r)
{
	uint64_t limit = now_ms() + 1000ull * (cfg->timeouts.connect + 4ull * cfg->timeouts.command +
					       cfg->timeouts.data + 60);
	char err[256] = "";
	while (*r == 1 && now_ms() < limit && !(o->stop && *o->stop)) {
		struct envelope env;
		envelope_init(&env);
		bool queued = spool_read_envelope(cfg->spool_dir, id, &env, NULL, 0) == 0;
		envelope_free(&env);
		if (!queued)
			return false;
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
		*r = spool_open_entry(cfg->spool_dir, id, e, err, sizeof(err));
	}
	return true;
}

/* Lock and deliver one message if it is (still) due. Returns
 * deliver_entry()'s status, or -1 when it was skipped; with --id, 0 when
 * another worker finished it while we waited. */
static int deliver_one(const struct sp_config *cfg, const struct run_options *o, struct relay_pool *pool,
		       const char *id, bool flush, struct deliver_stats *stats)
{
	struct spool_entry e;
	char err[256] = "";
	bool only = o->only_id && strcmp(o->only_id, id) == 0;
	int r = 1;
	if (only && o->lock_fd >= 0 && adopt_entry(cfg->spool_dir, id, o->lock_fd, &e) == 0)
		r = 0;
	else
		r = spool_open_entry(cfg->spool_dir, id, &e, err, sizeof(err));
	if (r == 1 && only && !wait_for_lock(cfg, o, id, &e, &r)) {
		log_msg(LOG_INFO, "%s: finished by another worker meanwhile", id);
		return 0;
	}
	if (r == 1)
		return -1; /* busy (another worker has it) or just delivered */
	if (r < 0) {
		log_msg(LOG_ERR, "%s: damaged spool entry moved aside: %s", id, err);
		return -1;
	}
	if (!deliver_is_due_cfg(cfg, &e.env, time(NULL), flush)) {
		spool_close_entry(&e);
		return -1;
	}
	return deliver_entry(pool, cfg->spool_dir, &e, flush, stats);
}

int queue_deliver_ids(const struct sp_config *cfg, const struct run_options *o, char (*ids)[SPOOL_ID_LEN + 1], size_t n)
{
	struct relay_pool pool;
	relay_pool_init(&pool, cfg, o->trace);
	int status = queue_deliver_ids_on(cfg, o, &pool, ids, n);
	relay_pool_close(&pool);
	return status;
}

int queue_deliver_ids_on(const struct sp_config *cfg, const struct run_options *o, struct relay_pool *pool,
			 char (*ids)[SPOOL_ID_LEN + 1], size_t n)
{
	struct deliver_stats stats = { 0 };
	relay_pool_new_run(pool);
	int status = o->only_id ? EX_TEMPFAIL : 0;
	bool spool_trouble = false, stopped = false;
	for (size_t i = 0; i < n; i++) {
		if (o->stop && *o->stop) {
			stopped = true;
			break;
		}
		int r = deliver_one(cfg, o, pool, ids[i], o->flush || o->only_id, &stats);
		if (r < 0)
			continue;
		status = r;
		if (r == EX_CANTCREAT)
			spool_trouble = true;
	}
	/* the notifications this worker queued go out on its connections now
	 * (a DSN never causes another, so this ends) */
	for (size_t i = 0; i < stats.dsn_ids.n && !stopped; i++) {
		if (o->stop && *o->stop) {
			stopped = true;
			break;
		}
		if (deliver_one(cfg, o, pool, stats.dsn_ids.ids[i], false, &stats) == EX_CANTCREAT)
			spool_trouble = true;
	}
	if (stopped)
		log_msg(LOG_NOTICE, "stopping: the remaining messages stay queued");
	if (stats.messages > 0)
		log_msg(LOG_INFO, "queue run: %u message(s): %u recipient(s) sent, %u deferred, %u bounced",
			stats.messages, stats.sent, stats.deferred, stats.bounced);
	idlist_free(&stats.dsn_ids);
	opslog_flush(cfg->spool_dir); /* counters and relay facts for metrics and --health */
	return spool_trouble && !o->only_id ? EX_CANTCREAT : status;
}

/* Every due message, through the scheduler's workers (as in the daemon):
 * one scan, then batches until nothing is waiting or a stop. */
static int run_workers(const struct sp_config *cfg, const struct run_options *o)
{
	struct sched_options so = { .one_pass = true, .flush = o->flush, .trace = o->trace, .stop = o->stop };
	struct scheduler *s = sched_new(cfg, &so);
	if (sched_scan(s) < 0) {
		log_msg(LOG_ERR, "cannot list the spool %s/queue: %s", cfg->spool_dir, strerror(errno));
		sched_free(s, false);
		return EX_CANTCREAT; /* the spool is not usable: sealpostd(8) says 73 */
	}
	while (!*o->stop && sched_busy(s)) {
		sched_dispatch(s);
		sched_reap(s);
		if (!sched_busy(s))
			break;
		if (sched_workers(s) == 0) {
			log_msg(LOG_ERR, "no worker could be started: the messages stay queued");
			break;
		}
		sched_wait(s, NULL, 0, UINT64_MAX);
	}
	if (*o->stop)
		log_msg(LOG_NOTICE, "stopping: the remaining messages stay queued");
	return sched_free(s, *o->stop);
}

int queue_run(const struct sp_config *cfg, const struct run_options *o, int *id_status)
{
	char err[256];
	if (spool_ensure_dirs(cfg->spool_dir, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "spool %s: %s", cfg->spool_dir, err);
		return EX_CANTCREAT;
	}
	spool_cleanup(cfg->spool_dir, TMP_MAX_AGE);

	if (o->only_id) {
		if (!spool_id_valid(o->only_id)) {
			log_msg(LOG_ERR, "invalid queue id: %s", o->only_id);
			return EX_USAGE;
		}
		struct idlist one = { 0 };
		idlist_add(&one, o->only_id);
		struct envelope env;
		envelope_init(&env);
		bool present = spool_read_envelope(cfg->spool_dir, o->only_id, &env, NULL, 0) == 0;
		envelope_free(&env);
		int st = present ? queue_deliver_ids(cfg, o, one.ids, one.n) : 0;
		free(one.ids);
		metrics_write(cfg);
		if (id_status)
			*id_status = st;
		return st == EX_CANTCREAT ? EX_CANTCREAT : 0;
	}

	int result = run_workers(cfg, o);
	metrics_write(cfg); /* the one-shot worker keeps metrics_file current too */
	return result;
}
