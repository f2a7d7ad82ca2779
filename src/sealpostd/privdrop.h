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

/* If the effective uid is root: clear the supplementary groups, set the
 * real, effective and saved gid and uid to the worker user's, and check
 * that root cannot be regained; HOME, USER and LOGNAME follow the user.
 * If that user does not exist, stay root and warn (when warn is set):
 * a root-only container has no other user to become.
 * Returns 0 on success (or when there was nothing to drop), -1 after
 * logging why the drop failed: the caller must then exit. */
int privdrop_worker(bool warn);

#endif
