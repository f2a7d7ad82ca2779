/*
 * from_rewrite.h - a relay's from_rewrite (SPEC §7), applied on the way
 * out: the envelope sender and From: become the configured address (the
 * providers that refuse any other From: than the signed-in mailbox:
 * Microsoft 365 "554 5.2.252 SendAsDenied"), the original From: becomes
 * Reply-To: unless the message has one, and every other byte is sent as
 * queued (DKIM signatures over other headers stay valid). The spool copy
 * is never changed: the plan says which byte ranges of the queued file
 * and which new bytes to send, in order, and the exact size for SIZE=.
 * Runs in the worker as its user; the queued message is hostile input
 * (any header may be malformed or huge; the scan is one bounded pass).
 */
#ifndef SEALPOSTD_FROM_REWRITE_H
#define SEALPOSTD_FROM_REWRITE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spool.h"

#define FROM_PIECE_TO_EOF UINT64_MAX

/* One run of bytes to send: new bytes (mem), or the queued file's bytes
 * [off, off + len) (len FROM_PIECE_TO_EOF: to the end of the file). */
struct from_piece {
	const char *mem;           /* NULL: a range of the file */
	uint64_t off, len;
};

struct from_plan {
	const char *sender;        /* the envelope sender to send */
	uint64_t size;             /* bytes of the message as sent (SIZE=) */
	struct from_piece *pieces; /* in order */
	size_t npieces;
	char *from_line;           /* owned: "From: addr\r\n" */
	int from_fields;           /* From: fields replaced (0: one was added) */
	int reply_to_added;        /* 1 when the original From: became Reply-To: */
};

/*
 * Plan the message as it goes to a relay with from_rewrite = rewrite
 * (NULL or "": unchanged, one piece, the envelope's sender and size).
 * A null envelope sender (a bounce) stays null: only From: changes.
 * Every From: field is replaced by one new field at the place of the
 * first (none: the new one goes first); the first one's value, folding
 * and encoding included, becomes Reply-To: unless a Reply-To: exists.
 * 0, or -1 with err (the queued file cannot be read).
 */
int from_rewrite_plan(const char *rewrite, const struct envelope *env, int msg_fd, struct from_plan *p, char *err,
		      size_t errlen);
void from_plan_free(struct from_plan *p);

#endif
