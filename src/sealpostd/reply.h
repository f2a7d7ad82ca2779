/*
 * reply.h - SMTP reply parser (RFC 5321 section 4.2, RFC 3463 enhanced
 * status codes). The server is hostile: every line, the number of lines and
 * the text kept are bounded, and a short line ("2", "250", "") is never read
 * past its end. No I/O here; the caller feeds one line at a time.
 */
#ifndef SEALPOSTD_REPLY_H
#define SEALPOSTD_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define REPLY_MAX_LINE 4096   /* bytes per line, CRLF included (RFC: 512) */
#define REPLY_MAX_LINES 100   /* lines per reply */
#define REPLY_MAX_TEXT 8192   /* text kept per reply; the rest is dropped */

struct smtp_reply {
	int code;               /* 200..599 once complete, 0 before */
	char enhanced[16];      /* "2.0.0", or "" when the reply has none */
	size_t nlines;
	/* Every line's text (after "250-" / "250 "), control bytes replaced
	 * by '?', lines separated by '\n', NUL-terminated. */
	char text[REPLY_MAX_TEXT];
	size_t textlen;
	bool truncated;         /* text did not fit */
};

enum reply_status {
	REPLY_MORE = 0,         /* a continuation line: feed the next one */
	REPLY_DONE = 1,         /* the last line: the reply is complete */
	REPLY_BAD = -1,         /* protocol error; reason in err */
};

void reply_init(struct smtp_reply *r);
/*
 * Feed one line, without its line end (the caller strips CRLF or LF).
 * len may include any bytes (NULs too). Feeding after REPLY_DONE or
 * REPLY_BAD requires reply_init first.
 */
enum reply_status reply_feed_line(struct smtp_reply *r, const char *line, size_t len, char *err, size_t errlen);

/* The text of line i (0-based) copied into out (NUL-terminated, truncated
 * to outlen). Returns false when there is no such line. */
bool reply_line(const struct smtp_reply *r, size_t i, char *out, size_t outlen);

/* "250 2.0.0 Ok" style one-line summary: code, then every line's text
 * joined with a space, truncated to outlen. Safe for logs and the spool. */
void reply_summary(const struct smtp_reply *r, char *out, size_t outlen);

/* The class digit of the code (2, 3, 4, 5), 0 when not complete. */
static inline int reply_class(const struct smtp_reply *r) { return r->code / 100; }

#endif
