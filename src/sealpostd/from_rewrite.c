/*
 * from_rewrite.c - the plan of a rewritten From: (see from_rewrite.h).
 * One pass over the header section of the queued file, line by line
 * with a fixed buffer: only the first bytes of each line are looked at
 * (the field name), so a header line of any length costs no memory.
 */
#include "config.h"

#include "from_rewrite.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_MAX 80 /* bytes of a line kept: enough for any field name we look for */

static const char reply_to_name[] = "Reply-To:";

struct reader {
	int fd;
	uint64_t base;             /* file offset of buf[0] */
	size_t len, pos;
	char buf[8192];
};

struct line {
	uint64_t start, len;       /* the whole line, its line end included */
	char head[HEAD_MAX];
	size_t headlen;
};

/* The next line: 1, 0 at the end of the file, -1 on a read error. */
static int next_line(struct reader *r, struct line *l)
{
	l->start = r->base + r->pos;
	l->len = 0;
	l->headlen = 0;
	for (;;) {
		if (r->pos == r->len) {
			r->base += r->len;
			r->pos = r->len = 0;
			ssize_t n;
			do
				n = pread(r->fd, r->buf, sizeof(r->buf), (off_t)r->base);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return -1;
			if (n == 0)
				return l->len > 0;
			r->len = (size_t)n;
		}
		const char *p = r->buf + r->pos;
		const char *nl = memchr(p, '\n', r->len - r->pos);
		size_t take = nl ? (size_t)(nl - p) + 1 : r->len - r->pos;
		size_t keep = take < HEAD_MAX - l->headlen ? take : HEAD_MAX - l->headlen;
		memcpy(l->head + l->headlen, p, keep);
		l->headlen += keep;
		r->pos += take;
		l->len += take;
		if (nl)
			return 1;
	}
}

enum line_kind { LINE_END_OF_HEADER, LINE_CONTINUATION, LINE_FIELD };

/* What a line of the header section is; for a field, *name_len is the
 * length of "Name:" (through the colon; 0 when the colon is beyond the
 * bytes kept, a long name we never look for). */
static enum line_kind classify(const struct line *l, size_t *name_len)
{
	*name_len = 0;
	unsigned char c = (unsigned char)l->head[0];
	if (c == '\r' || c == '\n')
		return LINE_END_OF_HEADER;
	if (c == ' ' || c == '\t')
		return LINE_CONTINUATION;
	size_t i = 0;
	while (i < l->headlen && l->head[i] != ':' && (unsigned char)l->head[i] > 32 && (unsigned char)l->head[i] < 127)
		i++;
	size_t j = i;
	while (j < l->headlen && (l->head[j] == ' ' || l->head[j] == '\t')) /* obs-optional: "From :" */
		j++;
	if (j < l->headlen && l->head[j] == ':' && i > 0) {
		*name_len = j + 1;
		return LINE_FIELD;
	}
	/* a name longer than what we keep is still a field; anything else is
	 * not a header line: the body starts here (RFC 5322 2.2) */
	return i == l->headlen && l->headlen == HEAD_MAX ? LINE_FIELD : LINE_END_OF_HEADER;
}

/* Is the field name (through the colon) "want" ("From:"), any case,
 * with optional white space before the colon? */
static bool field_is(const struct line *l, size_t name_len, const char *want)
{
	size_t wlen = strlen(want) - 1; /* without the colon */
	if (name_len < wlen + 1 || ascii_ncasecmp(l->head, want, wlen) != 0)
		return false;
	for (size_t k = wlen; k + 1 < name_len; k++)
		if (l->head[k] != ' ' && l->head[k] != '\t')
			return false;
	return true;
}

struct field { uint64_t start, value, end; };  /* the field, its value (after the colon), its end */

static void add_piece(struct from_plan *p, size_t *cap, const char *mem, uint64_t off, uint64_t len)
{
	if (!mem && len == 0)
		return;
	if (p->npieces == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		p->pieces = xreallocarray(p->pieces, *cap, sizeof(*p->pieces));
	}
	p->pieces[p->npieces++] = (struct from_piece){ .mem = mem, .off = off, .len = len };
}

static uint64_t piece_len(const struct from_piece *pc, uint64_t file_size)
{
	if (pc->mem)
		return strlen(pc->mem);
	return pc->len == FROM_PIECE_TO_EOF ? (pc->off < file_size ? file_size - pc->off : 0) : pc->len;
}

int from_rewrite_plan(const char *rewrite, const struct envelope *env, int msg_fd, struct from_plan *p, char *err,
		      size_t errlen)
{
	memset(p, 0, sizeof(*p));
	size_t cap = 0;
	p->sender = env->sender;
	p->size = env->size;
	if (!rewrite || !rewrite[0]) {
		add_piece(p, &cap, NULL, 0, FROM_PIECE_TO_EOF);
		return 0;
	}
	struct stat st;
	if (fstat(msg_fd, &st) < 0) {
		set_err(err, errlen, "cannot read the queued message: %s", strerror(errno));
		return -1;
	}
	if (env->sender[0])
		p->sender = rewrite; /* a bounce keeps its null sender */

	struct reader *r = xmalloc(sizeof(*r));
	r->fd = msg_fd;
	r->base = 0;
	r->len = r->pos = 0;
	struct field *from = NULL;
	size_t nfrom = 0, from_cap = 0;
	bool reply_to = false, in_from = false, body_is_text = false;
	uint64_t header_end = 0;
	struct line l;
	int rc;
	while ((rc = next_line(r, &l)) == 1) {
		size_t name_len;
		enum line_kind k = classify(&l, &name_len);
		if (k == LINE_CONTINUATION && l.start > 0) {
			header_end = l.start + l.len; /* part of the field before it */
			continue;
		}
		if (in_from)
			from[nfrom - 1].end = l.start;
		in_from = false;
		if (k != LINE_FIELD) {
			body_is_text = k == LINE_CONTINUATION || (l.head[0] != '\r' && l.head[0] != '\n');
			header_end = l.start;
			break;
		}
		header_end = l.start + l.len;
		if (name_len && field_is(&l, name_len, reply_to_name)) {
			reply_to = true;
		} else if (name_len && field_is(&l, name_len, "From:")) {
			if (nfrom == from_cap) {
				from_cap = from_cap ? from_cap * 2 : 4;
				from = xreallocarray(from, from_cap, sizeof(*from));
			}
			from[nfrom++] = (struct field){ .start = l.start, .value = l.start + name_len };
			in_from = true;
		}
	}
	if (in_from)
		from[nfrom - 1].end = header_end;
	free(r);
	if (rc < 0) {
		set_err(err, errlen, "cannot read the queued message: %s", strerror(errno));
		free(from);
		return -1;
	}

	p->from_fields = (int)nfrom;
	/* no header at all before body text: the new field needs its own
	 * empty line, or the text would be read as a header */
	bool lone = nfrom == 0 && header_end == 0 && body_is_text;
	p->from_line = xasprintf("From: %s\r\n%s", rewrite, lone ? "\r\n" : "");
	uint64_t cursor = 0;
	if (nfrom == 0)
		add_piece(p, &cap, p->from_line, 0, 0);
	for (size_t i = 0; i < nfrom; i++) {
		add_piece(p, &cap, NULL, cursor, from[i].start - cursor);
		if (i == 0) {
			add_piece(p, &cap, p->from_line, 0, 0);
			if (!reply_to) {
				add_piece(p, &cap, reply_to_name, 0, 0);
				add_piece(p, &cap, NULL, from[0].value, from[0].end - from[0].value);
				p->reply_to_added = 1;
			}
		}
		cursor = from[i].end;
	}
	add_piece(p, &cap, NULL, cursor, FROM_PIECE_TO_EOF);
	free(from);
	p->size = 0;
	for (size_t i = 0; i < p->npieces; i++)
		p->size += piece_len(&p->pieces[i], (uint64_t)st.st_size);
	return 0;
}

void from_plan_free(struct from_plan *p)
{
	free(p->pieces);
	free(p->from_line);
	memset(p, 0, sizeof(*p));
}
