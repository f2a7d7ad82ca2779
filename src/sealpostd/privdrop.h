/*
 * privdrop.h - sealpostd's one privilege step: started as root, it becomes
 * the worker user for good before it talks to the network or reads a
 * credential. Started as any other user (systemd User=, a container's
 * user, the front end's caller) it keeps that user.
 */
#ifndef SEALPOST_PRIVDROP_H
#define SEALPOST_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>

/* The worker user's name: "sealpost", or what the build defined as
 * SEALPOST_USER (CPPFLAGS='-DSEALPOST_USER="name"'). */
const char *privdrop_user(void);

/* If the effective uid is root: with allow_root (--allow-root: a root-only
 * container, or root's own private spool) stay root and log it; else
 * clear the supplementary groups, set the real, effective and saved gid
 * and uid to the worker user's, check that root cannot be regained (HOME,
 * USER and LOGNAME follow the user) and log it. A missing worker user is
 * an error then, never a silent "stay root".
 * Returns 0 on success (or when there was nothing to drop), -1 after
 * logging why: the caller must then exit. */
int privdrop_worker(bool allow_root);

/* --allow-root for every later privdrop_worker() call of this process
 * (the preflight child of --check-config drops on its own). */
void privdrop_set_allow_root(bool allow);

#endif
