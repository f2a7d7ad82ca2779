/*
 * headers.h - the message header section as the intake holds it: an index
 * of fields over the stored bytes (CRLF line ends, folds kept), lookups by
 * name, writing a field with long lines folded, and the headers sealpost
 * generates (From with an encoded display name, Message-ID).
 * No privilege; the header bytes are hostile, the options are trusted.
 */
#ifndef SEALPOST_HEADERS_H
#define SEALPOST_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "encode.h"
#include "util.h"

/* A field: bytes [start, end) of the section, end just past its last
 * CRLF; the name is the first name_len bytes (trailing WSP excluded). */
struct hdr_field {
	size_t start;
	size_t end;
	size_t name_len;
};

struct hdr_index {
	struct hdr_field *f;
	size_t n;
};

/* Index the fields of a header section (lines ending in CRLF; a line
 * starting with WSP continues the previous field). */
void hdr_index_build(struct hdr_index *ix, const char *sec, size_t len);
void hdr_index_free(struct hdr_index *ix);
bool hdr_is(const char *sec, const struct hdr_field *f, const char *name);
/* The first field called name, or NULL. */
const struct hdr_field *hdr_find(const struct hdr_index *ix, const char *sec, const char *name);
/* The raw value: after the colon, folds included, final CRLF excluded. */
void hdr_value(const char *sec, const struct hdr_field *f, const char **v, size_t *n);
/* The value unfolded and trimmed (malloc'ed). */
char *hdr_value_dup(const char *sec, const struct hdr_field *f);

/* Write a field; physical lines over 998 octets are folded at whitespace;
 * a word longer than a line is RFC 2047-encoded in Subject:, Comments:
 * and Content-Description: (when it is UTF-8), else broken with CRLF SP
 * (as Postfix does). Never refuses a line. */
void hdr_write(struct msgout *o, const char *sec, const struct hdr_field *f);

/* "From: Name <addr>\r\n" with the name as atoms, a quoted string or RFC
 * 2047 encoded words as needed; "From: addr\r\n" without a name. */
void hdr_make_from(struct buf *b, const char *full_name, const char *addr);
/* "<20261128120000.1234.9f86d081884c7d65@host>" */
char *hdr_make_message_id(const char *hostname, time_t now);

#endif
