/*
 * mime.c - the MIME body walker used by the intake's two passes, and the
 * small Content-Type / Content-Transfer-Encoding value parsers.
 * No privilege; input is hostile: fixed buffers, bounded depth and parts.
 */
#include "config.h"

#include "mime.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Skip whitespace and (bounded-depth) comments. */
static size_t skip_cfws(const char *v, size_t n, size_t i)
{
	while (i < n) {
		if (is_space(v[i])) {
			i++;
		} else if (v[i] == '(') {
			unsigned depth = 0;
			for (; i < n; i++) {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				else if (v[i] == '(' && depth < 64)
					depth++;
				else if (v[i] == ')' && --depth == 0)
					break;
			}
			if (i < n)
				i++;
		} else {
			break;
		}
	}
	return i;
}

static bool is_tspecial_or_space(char c)
{
	return is_space(c) || (unsigned char)c < 0x20 || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static size_t token_end(const char *v, size_t n, size_t i)
{
	while (i < n && !is_tspecial_or_space(v[i]))
		i++;
	return i;
}

void mime_parse_content_type(const char *v, size_t n, bool *multipart, char *boundary, size_t *blen)
{
	*multipart = false;
	*blen = 0;
	size_t i = skip_cfws(v, n, 0);
	size_t te = token_end(v, n, i);
	*multipart = te - i == 9 && ascii_ncasecmp(v + i, "multipart", 9) == 0;
	/* parameters: ; attribute = value */
	for (i = te; i < n;) {
		while (i < n && v[i] != ';') {
			if (v[i] == '"') { /* skip a quoted string we are not after */
				for (i++; i < n && v[i] != '"'; i++)
					if (v[i] == '\\')
						i++;
			}
			i++;
		}
		if (i >= n)
			break;
		i = skip_cfws(v, n, i + 1);
		size_t as = i;
		size_t ae = token_end(v, n, i);
		i = skip_cfws(v, n, ae);
		if (i >= n || v[i] != '=')
			continue;
		i = skip_cfws(v, n, i + 1);
		char val[MIME_BOUNDARY_MAX];
		size_t vl = 0;
		bool too_long = false;
		if (i < n && v[i] == '"') {
			for (i++; i < n && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				if (vl < sizeof(val))
					val[vl++] = v[i];
				else
					too_long = true;
			}
			if (i < n)
				i++;
		} else {
			size_t ve = token_end(v, n, i);
			if (ve - i > sizeof(val))
				too_long = true;
			else
				memcpy(val, v + i, ve - i), vl = ve - i;
			i = ve;
		}
		if (ae - as == 8 && ascii_ncasecmp(v + as, "boundary", 8) == 0) {
			if (too_long || vl == 0) {
				*blen = 0;
			} else {
				memcpy(boundary, val, vl);
				*blen = vl;
			}
		}
	}
}

enum mime_cte mime_parse_cte(const char *v, size_t n)
{
	size_t i = skip_cfws(v, n, 0);
	size_t e = token_end(v, n, i);
	size_t len = e - i;
	if (len == 0)
		return CTE_IDENTITY;
	static const struct {
		const char *name;
		enum mime_cte cte;
	} names[] = {
		{ "7bit", CTE_IDENTITY }, { "8bit", CTE_IDENTITY }, { "binary", CTE_IDENTITY },
		{ "quoted-printable", CTE_QP }, { "base64", CTE_BASE64 },
	};
	for (size_t k = 0; k < ARRAY_LEN(names); k++)
		if (strlen(names[k].name) == len && ascii_ncasecmp(v + i, names[k].name, len) == 0)
			return names[k].cte;
	return CTE_OTHER;
}

bool header_line_is(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name), i;
	if (n <= k)
		return false;
	for (i = 0; i < k; i++)
		if (lower(line[i]) != lower(name[i]))
			return false;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < n && line[i] == ':';
}

static unsigned new_part(struct mime_walker *m)
{
	if (m->nparts >= MIME_MAX_PARTS)
		return MIME_NO_PART;
	if ((m->nparts & (m->nparts - 1)) == 0) /* grow at powers of two */
		m->parts = xreallocarray(m->parts, m->nparts ? m->nparts * 2 : 1, sizeof(*m->parts));
	m->parts[m->nparts] = (struct mime_part){ PART_LEAF, CTE_IDENTITY, false };
	return (unsigned)m->nparts++;
}

static void push_boundary(struct mime_walker *m, const char *b, size_t n)
{
	memcpy(m->stack[m->depth].b, b, n);
	m->stack[m->depth].len = n;
	m->depth++;
}

void mime_init(struct mime_walker *m, const char *ct, size_t ctlen, const char *cte, size_t ctelen)
{
	memset(m, 0, sizeof(*m));
	unsigned top = new_part(m);
	bool multipart = false;
	size_t blen = 0;
	char boundary[MIME_BOUNDARY_MAX];
	if (ct)
		mime_parse_content_type(ct, ctlen, &multipart, boundary, &blen);
	struct mime_part *p = &m->parts[top];
	p->cte = cte ? mime_parse_cte(cte, ctelen) : CTE_IDENTITY;
	if (multipart && blen > 0) {
		p->kind = PART_MULTIPART;
		push_boundary(m, boundary, blen);
	} else {
		p->kind = multipart ? PART_OPAQUE : PART_LEAF;
	}
	m->cur = top;
	m->in_leaf = p->kind == PART_LEAF;
}

void mime_free(struct mime_walker *m)
{
	free(m->parts);
	m->parts = NULL;
	m->nparts = 0;
}

/* Is this line a delimiter of an enclosing multipart? -1: no; else the
 * stack level, with *close set for a close-delimiter. */
static int match_boundary(const struct mime_walker *m, const char *p, size_t n, bool *close)
{
	if (n < 2 || p[0] != '-' || p[1] != '-')
		return -1;
	for (size_t k = m->depth; k-- > 0;) {
		size_t bl = m->stack[k].len;
		if (n < 2 + bl || memcmp(p + 2, m->stack[k].b, bl) != 0)
			continue;
		size_t i = 2 + bl;
		*close = n - i >= 2 && p[i] == '-' && p[i + 1] == '-';
		if (*close)
			i += 2;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n)
			return (int)k;
	}
	return -1;
}

static void finish_field(struct mime_walker *m)
{
	if (m->hdr == PH_CT)
		mime_parse_content_type(m->val, m->vlen, &m->is_multipart, m->boundary, &m->blen);
	else if (m->hdr == PH_CTE)
		m->cte = mime_parse_cte(m->val, m->vlen);
	m->hdr = PH_OTHER;
	m->vlen = 0;
}

static void add_value(struct mime_walker *m, const char *p, size_t n)
{
	if (n > sizeof(m->val) - m->vlen) {
		m->damaged = true;
		return;
	}
	memcpy(m->val + m->vlen, p, n);
	m->vlen += n;
}

static void end_headers(struct mime_walker *m)
{
	finish_field(m);
	enum mime_kind kind = PART_LEAF;
	if (m->damaged)
		kind = PART_OPAQUE;
	else if (m->is_multipart)
		kind = (m->blen > 0 && m->depth < MIME_MAX_DEPTH && m->cur != MIME_NO_PART) ? PART_MULTIPART
											 : PART_OPAQUE;
	if (m->cur != MIME_NO_PART) {
		m->parts[m->cur].kind = kind;
		m->parts[m->cur].cte = m->cte;
	}
	if (kind == PART_MULTIPART)
		push_boundary(m, m->boundary, m->blen);
	m->in_headers = false;
	m->in_leaf = kind == PART_LEAF && m->cur != MIME_NO_PART;
}

enum mime_line mime_line(struct mime_walker *m, const char *p, size_t n, bool truncated, unsigned *part)
{
	bool close = false;
	int level = truncated ? -1 : match_boundary(m, p, n, &close);
	if (level >= 0) {
		m->depth = (size_t)level + (close ? 0 : 1);
		m->in_leaf = false;
		m->in_headers = !close;
		m->cur = close ? MIME_NO_PART : new_part(m);
		m->hdr = PH_OTHER;
		m->vlen = 0;
		m->damaged = m->is_multipart = false;
		m->blen = 0;
		m->cte = CTE_IDENTITY;
		*part = m->cur;
		return ML_BOUNDARY;
	}
	if (!m->in_headers) {
		*part = m->in_leaf ? m->cur : MIME_NO_PART;
		return m->in_leaf ? ML_LEAF : ML_OTHER;
	}
	*part = m->cur;
	if (n == 0 && !truncated) {
		end_headers(m);
		return ML_HEADER_END;
	}
	if (truncated)
		m->damaged = true;
	if (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
		if (m->hdr != PH_OTHER)
			add_value(m, p, n);
		return ML_HEADER;
	}
	finish_field(m);
	const char *colon = memchr(p, ':', n);
	if (colon && header_line_is(p, n, "Content-Type"))
		m->hdr = PH_CT;
	else if (colon && header_line_is(p, n, "Content-Transfer-Encoding"))
		m->hdr = PH_CTE;
	if (m->hdr != PH_OTHER)
		add_value(m, colon + 1, n - (size_t)(colon + 1 - p));
	return ML_HEADER;
}
