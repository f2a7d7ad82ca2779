/*
 * mailq_jsonl.h - `sealpost -bp --json-lines`: the queue as Postfix's
 * `postqueue -j` prints it, one JSON object per line and message, with
 * its field names (queue_name, queue_id, arrival_time, message_size,
 * forced_expire, sender, recipients[{address, delay_reason}]), so tools
 * written for Postfix read our queue too. Pure formatting; runs in the
 * front end with mailq.c, trusts nothing in the envelope (json_escape).
 */
#ifndef SEALPOST_MAILQ_JSONL_H
#define SEALPOST_MAILQ_JSONL_H

#include "spool.h"
#include "util.h"

/* Append env as one postqueue -j line (newline included) to b. */
void mailq_format_postqueue(struct buf *b, const struct envelope *env);

#endif
