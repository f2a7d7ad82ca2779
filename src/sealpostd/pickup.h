/*
 * pickup.h - move finished submissions from SPOOL/maildrop/ (written by
 * sealpost-drop in a system install) into queue/, which only the worker
 * writes. Each drop file is hostile input: its size, its format, the
 * envelope (strict parser, every address checked), the message's wire
 * form (CRLF only, no NUL, no line over 998 octets). The submitter's uid
 * is the one sealpost-drop recorded, never one from the stream. A damaged
 * file goes to corrupt/ (logged) and never blocks the rest. Runs as the
 * worker's user (the owner of the maildrop directory).
 */
#ifndef SEALPOSTD_PICKUP_H
#define SEALPOSTD_PICKUP_H

#include <stdbool.h>

#include "conf.h"

/* One pass over the maildrop. Returns the number of messages queued, or
 * -1 when the maildrop cannot be read (no maildrop: 0). */
int pickup_run(const struct sp_config *cfg);

/* Pick up the one file NAME (an inotify event named it). true when it
 * was queued. */
bool pickup_one(const struct sp_config *cfg, const char *name);

#endif
