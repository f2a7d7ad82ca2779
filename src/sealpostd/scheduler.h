/*
 * scheduler.h - the one piece of code that decides which due message goes
 * to which worker process, for the daemon and for the one-shot worker
 * (sealpostd --once, sealpost -q) alike.
 *
 * It keeps a pool of up to queue.concurrency worker children. Each keeps
 * its relay connections open between batches and has a socket pair to the
 * scheduler, which sends a batch of queue ids to one idle worker (no
 * thundering herd) and hears one status byte when it is done. Mail named
 * by inotify (sched_fresh) goes before the backlog of the last scan; each
 * worker gets an even share of what is waiting, at least
 * SCHED_MIN_BATCH messages (a reused connection beats a new handshake)
 * and at most SCHED_MAX_BATCH (then its slot frees up for fresh mail).
 * Workers lock each message (spool.c), so other daemons and one-shot
 * workers on the spool are safe.
 *
 * SIGTERM, SIGINT, SIGHUP and SIGCHLD are blocked while a scheduler exists
 * except inside sched_wait(), so a signal can never slip in between a
 * check and the wait. Runs as the worker's user.
 */
#ifndef SEALPOSTD_SCHEDULER_H
#define SEALPOSTD_SCHEDULER_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

#define SCHED_MIN_BATCH 8
#define SCHED_MAX_BATCH 32
#define SCHED_MAX_WORKERS 64

struct sched_options {
	bool one_pass;                   /* --once: one scan, no rescans, workers kept until the end */
	bool flush;                      /* ignore backoff: every deferred recipient is due */
	bool trace;                      /* workers log the SMTP dialogue */
	volatile sig_atomic_t *stop;     /* set by SIGTERM/SIGINT */
	/* called in every forked child first: close what the caller owns */
	void (*in_child)(void *ctx);
	void *ctx;
};

struct scheduler;

/* cfg must outlive the scheduler (or be replaced with sched_reconfigure). */
struct scheduler *sched_new(const struct sp_config *cfg, const struct sched_options *o);

/* A reloaded configuration: workers on the old one go when idle, and the
 * queue is scanned again. */
void sched_reconfigure(struct scheduler *s, const struct sp_config *cfg);

/* List what is due now into the backlog (oldest first) and set the time of
 * the next scan from the earliest next attempt. -1 (errno set) when
 * queue/ cannot be read. */
int sched_scan(struct scheduler *s);

/* Without inotify (blind) new mail is only found by scans: one every
 * few seconds. */
void sched_blind(struct scheduler *s, bool blind);

/* Scan at the next chance (inotify lost events). */
void sched_rescan(struct scheduler *s);

/* Whether a scan is due (the daemon's timer, or a batch's results). */
bool sched_scan_due(const struct scheduler *s);

/* A message just queued (named by inotify). When too many are waiting to
 * remember, a scan soon finds it instead. */
void sched_fresh(struct scheduler *s, const char *id);

/* Hand waiting mail to idle workers, starting new ones up to
 * queue.concurrency. */
void sched_dispatch(struct scheduler *s);

/* Collect exited workers (never other children of the caller). */
void sched_reap(struct scheduler *s);

/* Idle workers past their idle time, or on an old configuration, go. */
void sched_retire_idle(struct scheduler *s);

/* Whether anything is waiting or being delivered. */
bool sched_busy(const struct scheduler *s);

/* How many workers are alive and listening. */
size_t sched_workers(const struct scheduler *s);

/*
 * Wait until a worker reports, one of extra is ready, a signal arrives,
 * until (monotonic ms; UINT64_MAX: no limit) or the scheduler's own next
 * scan or idle retirement. extra's revents are set for the caller.
 * Returns the number of batches that finished.
 */
unsigned sched_wait(struct scheduler *s, struct pollfd *extra, nfds_t nextra, uint64_t until);

/* In a child the caller forks for another purpose: close the workers'
 * sockets, unblock signals, SIGCHLD back to default. */
void sched_leave_in_child(struct scheduler *s);

/*
 * Stop: workers are told to go (now: SIGTERM as well, so a busy one stops
 * after its current message) and waited for; the signal mask is restored.
 * Returns 0, EX_CANTCREAT when a worker could not write the spool, or
 * EX_SOFTWARE when a worker was killed by a signal (not our SIGTERM).
 */
int sched_free(struct scheduler *s, bool now);

#endif
