/*
 * control.h - the daemon's side of SPOOL/sealpostd.sock (protocol in
 * control_proto.h): queue listing and queue control for callers who
 * cannot touch the spool themselves. Each connection is served by a
 * short-lived child of the daemon, so the daemon never waits for a
 * caller; the child takes any message lock itself and gives up on a
 * caller that stops sending or reading (timeouts), so a stopped or dead
 * caller holds nothing. Runs as the worker's user.
 */
#ifndef SEALPOSTD_CONTROL_H
#define SEALPOSTD_CONTROL_H

#include "conf.h"

/* At most this many requests are served at once; more are refused. */
#define CONTROL_MAX_CHILDREN 16

/* Create and listen on SPOOL/sealpostd.sock (mode 0666: any local user
 * may ask; what they may do is decided per request). -1 when it cannot
 * (logged): the daemon runs on without it. */
int control_listen(const char *spool_dir);

/* Serve one accepted connection (in the child). Returns an exit status. */
int control_serve(const struct sp_config *cfg, int fd);

#endif
