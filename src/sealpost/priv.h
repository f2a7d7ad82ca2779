/*
 * priv.h - the front end's only privilege: the sealpost group (setgid
 * install), held in the saved set-group-ID and raised only around the
 * spool operations that need it. Everything else runs as the caller.
 */
#ifndef SEALPOST_PRIV_H
#define SEALPOST_PRIV_H

#include <stdbool.h>

/* Call first in main(): lower the effective group to the real one and
 * wipe the environment (keeping a sane TZ). */
void priv_init(void);
/* Give up the extra group for good (a non-root caller's -C). */
void priv_drop(void);
/* Raise / lower the spool group around spool writes. */
void priv_raise(void);
void priv_lower(void);
/* True when installed setgid and still able to raise. */
bool priv_have(void);
/* True when started with the spool group (a system install), even after
 * priv_drop(): a worker started by a non-root caller then runs with the
 * caller's rights and cannot read the spool or the relay credentials. */
bool priv_started_setgid(void);

#endif
