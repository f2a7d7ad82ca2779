/*
 * daemon.h - sealpostd as a daemon (the default mode): one per spool (an
 * exclusive flock on spool_dir/sealpostd.lock, which the front end checks
 * before starting a one-shot worker), new messages picked up at once
 * through inotify on spool_dir/queue, deferred ones when they fall due,
 * SIGTERM/SIGINT stop between messages, SIGHUP reloads the config (a bad
 * one is reported and the old one kept). Runs as the worker's user.
 */
#ifndef SEALPOSTD_DAEMON_H
#define SEALPOSTD_DAEMON_H

#include <signal.h>
#include <stdbool.h>

#include "conf.h"

struct daemon_options {
	const char *conf_path;
	bool detach;                     /* -d: fork into the background */
	bool trace;
	volatile sig_atomic_t *stop;
	volatile sig_atomic_t *reload;
};

/* Runs until stopped. *cfg may be replaced on reload. Returns the exit
 * status (0 after a clean stop). */
int daemon_run(struct sp_config **cfg, const struct daemon_options *o);

#endif
