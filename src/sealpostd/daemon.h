/*
 * daemon.h - sealpostd as a daemon (the default mode): one per spool (an
 * exclusive flock on spool_dir/sealpostd.lock, which the front end checks
 * before starting a one-shot worker), new messages picked up at once
 * through inotify on spool_dir/queue, deferred ones when they fall due,
 * delivered by up to queue.concurrency worker children (scheduler.h, the
 * same scheduling as sealpostd --once); SIGTERM/SIGINT
 * let every child finish its current message and stop (each message ends
 * delivered or still queued), SIGHUP reloads the config (a bad one is
 * reported and the old one kept). The lock file, and the --pid-file when
 * asked for, hold the daemon's pid. Runs as the worker's user.
 */
#ifndef SEALPOSTD_DAEMON_H
#define SEALPOSTD_DAEMON_H

#include <signal.h>
#include <stdbool.h>

#include "conf.h"

struct daemon_options {
	const char *conf_path;
	bool detach;                     /* -d: fork into the background */
	int pid_fd;                      /* --pid-file, opened before the privilege drop; -1: none */
	const char *pid_path;            /* its name, removed at a clean stop */
	bool trace;
	volatile sig_atomic_t *stop;
	volatile sig_atomic_t *reload;
};

/* Runs until stopped. *cfg may be replaced on reload. Returns the exit
 * status (0 after a clean stop). */
int daemon_run(struct sp_config **cfg, const struct daemon_options *o);

#endif
