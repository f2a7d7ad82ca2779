/*
 * control_proto.h - the queue-control protocol on SPOOL/sealpostd.sock,
 * between the front end (sealpost -bp, -q, --hold/--release/--delete, as
 * an ordinary user of a system install) and the daemon (control.c).
 * The daemon learns the caller's uid from SO_PEERCRED, never from the
 * request. One request per connection, one line of at most
 * CONTROL_MAX_REQUEST bytes:
 *
 *   list                 -> "envelope LEN\n<LEN bytes>"... "end HIDDEN\n"
 *                           (the caller's own messages; HIDDEN: how many
 *                           of other users' were left out; root sees all)
 *   hold|release|delete|flush ID -> "ok TEXT\n" or "error CODE TEXT\n"
 *   flush                -> the same, for every message of the caller's
 *                           (root: every message) with a deferred recipient
 *
 * CODE is the sysexits code the front end exits with.
 */
#ifndef SEALPOST_CONTROL_PROTO_H
#define SEALPOST_CONTROL_PROTO_H

#define CONTROL_SOCKET "sealpostd.sock"
#define CONTROL_MAX_REQUEST 64
#define CONTROL_MAX_REPLY 1024      /* an "ok"/"error" line */
#define CONTROL_REQUEST_TIMEOUT 5   /* seconds the daemon waits for the request */
#define CONTROL_SEND_TIMEOUT 30     /* seconds it waits for a caller to read */

#endif
