/*
 * queue_control.h - `sealpost --hold|--release|--delete ID...` and flush:
 * change one queued message under its lock, so a worker never sees half
 * a change and never delivers a message while it is being held or
 * deleted. Allowed for root and for the user who queued the message (the
 * envelope's uid, which the worker's pickup took from sealpost-drop);
 * the owner is checked before the lock is taken. Runs as the spool's
 * owner: in sealpostd (control.c, for callers on sealpostd.sock), or in
 * the front end of root or of the spool's owner. Trusts nothing in the
 * spool (spool.c parses strictly).
 */
#ifndef SEALPOST_QUEUE_CONTROL_H
#define SEALPOST_QUEUE_CONTROL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "spool.h"

/* Queue control (sealpost extensions, like postsuper -h/-H/-d). */
enum queue_action {
	QUEUE_HOLD,     /* --hold ID...: never delivered until released */
	QUEUE_RELEASE,  /* --release ID...: due again at once */
	QUEUE_DELETE,   /* --delete ID...: removed without a bounce */
	QUEUE_FLUSH,    /* (sealpost -q through sealpostd.sock) deferred recipients due now */
};

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
