/*
 * drop_client.h - how the front end commits a message in a system
 * install: the finished envelope and message go to sealpost-drop (the
 * setgid program) on a pipe; it writes them into SPOOL/maildrop/ and
 * answers with the queue id. Runs as the caller, with no privilege.
 */
#ifndef SEALPOST_DROP_CLIENT_H
#define SEALPOST_DROP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "spool.h"

/* True when the caller owns the spool (a private or container spool): the
 * front end then writes queue/ itself, as the worker's user would. False
 * in a system install (the spool belongs to the worker's user): use
 * drop_submit(). A spool that does not exist yet is the caller's. */
bool spool_is_callers(const char *spool_dir);

/* Hand env and the message (msg_fd, read from offset 0 to its end) to
 * sealpost-drop. env->id and env->size are filled in. 0, or a sysexits
 * code with a reason in err (nothing is left in the maildrop then). */
int drop_submit(const char *spool_dir, int msg_fd, struct envelope *env, char *err, size_t errlen);

/* The path of a helper program: beside our own executable (the build tree
 * or sbindir) under one of rel[], else fallback. Caller frees. */
char *helper_path(const char *const rel[], size_t nrel, const char *fallback);

#endif
