/*
 * data_stream.h - stream a queued message as the DATA of a transaction:
 * the pieces a from_plan names (the whole file, or ranges of it and new
 * header bytes), with CRLF line ends (a bare CR or LF becomes CRLF: no
 * SMTP smuggling), a dot doubled at the start of a line, and the final
 * CRLF.CRLF; flushed. Every write is bounded by the data timeout.
 */
#ifndef SEALPOSTD_DATA_STREAM_H
#define SEALPOSTD_DATA_STREAM_H

#include <stddef.h>

#include "from_rewrite.h"
#include "net.h"

/* 0, or a local_error (LOCAL_IO: the queued file; else the connection). */
int data_send(struct netconn *c, int fd, const struct from_plan *plan, unsigned timeout_s, char *err, size_t errlen);

#endif
