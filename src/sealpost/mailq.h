/*
 * mailq.h - list the queue (`sealpost -bp`, `mailq`): the familiar
 * sendmail/Postfix layout or one JSON array (`-bp --json`). Reads the
 * envelopes without locking, either from the spool (root, or the spool's
 * owner) or as the daemon hands them over (an ordinary user of a system
 * install: their own messages only); never a message body. Trusts nothing in the spool:
 * every string is escaped before it reaches the terminal or the JSON.
 */
#ifndef SEALPOST_MAILQ_H
#define SEALPOST_MAILQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conf.h"
#include "util.h"

/* The listing's form: the mailq layout, one JSON array (--json), or one
 * object per line in Postfix's postqueue -j form (--json-lines,
 * mailq_jsonl.c). A bool "json" still means TEXT or JSON. */
enum mailq_format { MAILQ_TEXT = 0, MAILQ_JSON = 1, MAILQ_JSON_LINES = 2 };

/*
 * Print the queue of cfg->spool_dir to out, oldest message first. Damaged
 * entries are skipped with a note on stderr. Returns 0, or a sysexits code
 * with a reason in err: EX_NOPERM (spool not readable), EX_IOERR (listing
 * or writing failed). A missing queue directory is an empty queue.
 */
int mailq_print(const struct sp_config *cfg, enum mailq_format format, FILE *out, char *err, size_t errlen);

/* Where the envelopes come from: fn gets each (and keeps it), *hidden the
 * number of other users' messages left out. 0, or a sysexits code with a
 * reason in err. control_list() (through sealpostd) is one. */
struct envelope;
typedef int (*mailq_fetch_fn)(const char *spool_dir,
			      int (*fn)(const char *id, struct envelope *env, const char *why, void *ctx), void *ctx,
			      size_t *hidden, char *err, size_t errlen);

/* mailq_print() with the envelopes from fetch. An ordinary user's listing
 * through the daemon holds their own messages only; the summary says how
 * many of other users' messages were left out (JSON: not at all). */
int mailq_print_from(const struct sp_config *cfg, mailq_fetch_fn fetch, enum mailq_format format, FILE *out, char *err,
		     size_t errlen);

/*
 * Append s (n bytes) to b as a JSON string, quotes included. Valid UTF-8
 * passes through; '"', '\\' and controls are escaped (\n, \t, ... or
 * \u00XX, DEL as \u007f); a byte that is not part of valid UTF-8 is read
 * as Latin-1 and written \u00XX, so the output is always valid JSON and
 * the byte stays recognisable (a Latin-1 "M\xfcller" shows as "Müller").
 */
void json_escape(struct buf *b, const char *s, size_t n);

/*
 * Append s (n bytes) to b made safe for a terminal: valid UTF-8 printable
 * characters pass through; control characters (C0, DEL, C1) and invalid
 * bytes become '?'.
 */
void text_sanitize(struct buf *b, const char *s, size_t n);

#endif
