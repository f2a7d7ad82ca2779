/*
 * mime.h - a line-by-line walker over a MIME body (RFC 2045/2046) that
 * tells the intake, for each body line, whether it is a boundary, a part
 * header, or content of a leaf part (and which one), so that only the
 * parts holding over-long lines get re-encoded. Nesting depth, the number
 * of parts, boundary and header lengths are bounded; anything beyond the
 * bounds is "opaque" (left as is, long lines hard-wrapped).
 * No privilege; the body is hostile.
 */
#ifndef SEALPOST_MIME_H
#define SEALPOST_MIME_H

#include <stdbool.h>
#include <stddef.h>

#define MIME_MAX_DEPTH 16
#define MIME_MAX_PARTS 4096
#define MIME_BOUNDARY_MAX 100 /* RFC 2046 allows 70 */
#define MIME_NO_PART ((unsigned)-1)
#define MIME_PREFIX_MAX 1024  /* octets of each line the walker looks at */

enum mime_cte { CTE_IDENTITY, CTE_QP, CTE_BASE64, CTE_OTHER };
enum mime_kind { PART_LEAF, PART_MULTIPART, PART_OPAQUE };

enum mime_line {
	ML_LEAF,        /* content of a leaf part */
	ML_BOUNDARY,    /* a delimiter or close-delimiter line */
	ML_HEADER,      /* a line of a part's header section */
	ML_HEADER_END,  /* the empty line ending a part's headers */
	ML_OTHER,       /* preamble, epilogue, opaque content */
};

struct mime_part {
	enum mime_kind kind;
	enum mime_cte cte;
	bool long_line;  /* set by the caller: the intake's first pass */
};

struct mime_walker {
	struct {
		char b[MIME_BOUNDARY_MAX];
		size_t len;
	} stack[MIME_MAX_DEPTH];
	size_t depth;
	struct mime_part *parts; /* [0] is the message itself */
	size_t nparts;
	unsigned cur;            /* part whose headers/body we are in */
	bool in_headers;
	bool in_leaf;
	/* the part header being read */
	enum { PH_OTHER, PH_CT, PH_CTE } hdr;
	char val[MIME_PREFIX_MAX];
	size_t vlen;
	bool damaged;            /* a truncated or oversized header line */
	bool is_multipart;
	char boundary[MIME_BOUNDARY_MAX];
	size_t blen;
	enum mime_cte cte;
};

/* The message's own Content-Type and Content-Transfer-Encoding values
 * (unfolded or not; NULL when absent) decide what part 0 is. */
void mime_init(struct mime_walker *m, const char *ct, size_t ctlen, const char *cte, size_t ctelen);
void mime_free(struct mime_walker *m);
/* Classify the next line (without its line end): at most
 * MIME_PREFIX_MAX octets of it; truncated when it is longer. *part gets the
 * part the line belongs to (MIME_NO_PART when none). */
enum mime_line mime_line(struct mime_walker *m, const char *p, size_t n, bool truncated, unsigned *part);

/* Parse a Content-Type value: is it multipart/..., and its boundary.
 * blen is 0 when there is none (or it is too long). */
void mime_parse_content_type(const char *v, size_t n, bool *multipart, char *boundary, size_t *blen);
enum mime_cte mime_parse_cte(const char *v, size_t n);

/* Does this header line (or its prefix) start a field called name? */
bool header_line_is(const char *line, size_t n, const char *name);

#endif
