/*
 * queue_control.h - `sealpost --hold|--release|--delete ID...`: change one
 * queued message under its lock, so a worker never sees half a change
 * and never delivers a message while it is being held or deleted.
 * Allowed for root and for the user who queued the message (the
 * envelope's uid). Runs in the front end with the spool group raised by
 * the caller; trusts nothing in the spool (spool.c parses strictly).
 */
#ifndef SEALPOST_QUEUE_CONTROL_H
#define SEALPOST_QUEUE_CONTROL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "options.h"
#include "spool.h"

/* How long to wait for a worker that holds a message's lock (a delivery
 * in progress) before giving up on it, in milliseconds. */
#define QUEUE_CONTROL_WAIT_MS 10000

/*
 * Apply action to one message as user caller. Returns 0 done (a line on
 * out says so), or an exit status with a message in err: EX_NOUSER (67)
 * no such message, EX_NOPERM (77) not the caller's message, EX_TEMPFAIL
 * (75) still being delivered after the wait, EX_CANTCREAT (73) the spool
 * could not be changed, EX_DATAERR (65) the entry was damaged (moved
 * aside).
 */
int queue_control_one(const char *spool_dir, enum queue_action action, const char *id, uid_t caller,
		      FILE *out, char *err, size_t errlen);

#endif
