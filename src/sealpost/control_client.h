/*
 * control_client.h - the front end's side of sealpostd.sock (protocol in
 * control_proto.h): how an ordinary user of a system install lists the
 * queue, holds, releases, deletes and flushes their messages. The daemon
 * does the work (and any locking); without a daemon these fail with
 * EX_TEMPFAIL and "the mail system is down", as Postfix's postqueue does
 * without its master. Runs as the caller, no privilege.
 */
#ifndef SEALPOST_CONTROL_CLIENT_H
#define SEALPOST_CONTROL_CLIENT_H

#include <stddef.h>
#include <stdio.h>

#include "spool.h"

/* Send one request ("hold ID", "flush", ...); print the daemon's answer
 * line on out. 0, or a sysexits code with a reason in err. */
int control_request(const char *spool_dir, const char *request, FILE *out, char *err, size_t errlen);

/* The caller's messages as the daemon lists them, each passed to fn
 * (which takes the envelope over); *hidden gets the number of other
 * users' messages left out. 0, or a sysexits code with a reason in err. */
int control_list(const char *spool_dir, int (*fn)(const char *id, struct envelope *env, const char *why, void *ctx),
		 void *ctx, size_t *hidden, char *err, size_t errlen);

#endif
