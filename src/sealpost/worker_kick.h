/*
 * worker_kick.h - hand a queued message on to the relay worker: nothing
 * (-odq), a detached one-shot `sealpostd --once` when no daemon runs
 * (-odb), or a waited-for attempt whose outcome is our exit status (-odi).
 * Runs as the caller, with no privilege.
 */
#ifndef SEALPOST_WORKER_KICK_H
#define SEALPOST_WORKER_KICK_H

#include "conf.h"
#include "options.h"

/* Returns the front end's exit status (0, or with -odi 75/69). */
/* lock_fd: -1, or (with -odi) a descriptor of queue/ID.msg holding its
 * flock, taken right after queueing; the worker inherits and takes it
 * over, so a running daemon cannot deliver the message under -odi. */
int worker_kick(const struct sp_config *cfg, const struct options *o, const char *id, int lock_fd);
/* -q, -qf, -qI<id>: run the queue now (execs sealpostd --once). */
int worker_run_queue(const struct sp_config *cfg, const struct options *o);

#endif
