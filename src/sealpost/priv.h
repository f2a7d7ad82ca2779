/*
 * priv.h - the front end's start-up hygiene. sealpost holds no privilege:
 * it is not setgid (the setgid step is the tiny sealpost-drop program), and
 * if an old install left the bit on, the group is dropped for good here,
 * before anything else runs.
 */
#ifndef SEALPOST_PRIV_H
#define SEALPOST_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

/* Call first in main(): fds 0-2 open, everything else closed, umask 027,
 * the environment wiped (a sane TZ kept), and real, effective and saved
 * group all set to the caller's real group (checked with getresgid).
 * Exits 71 when the group cannot be dropped. */
void priv_init(void);

/* Set real, effective and saved group to gid; true when getresgid then
 * says exactly that (shared with sealpost-drop). */
bool priv_set_all_gids(gid_t gid);

/* Root acting on a spool that belongs to the worker's user (mailq, queue
 * control): become that user for good, so that every file written is the
 * worker's. No-op for other callers. 0, or -1 with a reason in err. */
int priv_become_spool_owner(const char *spool_dir, char *err, size_t errlen);

#endif
