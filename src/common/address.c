/*
 * address.c - RFC 5322 address-list parser (with the obsolete forms that
 * real mail still carries: routes, dotted phrases, spaces around dots) and
 * small address predicates for SMTP.
 *
 * No privilege; the input is hostile. The parser is a single left-to-right
 * pass over a token stream: no recursion, comments nest through a bounded
 * counter, addresses are built in fixed buffers, so time is linear in the
 * input and memory is constant. Addresses are handed out in canonical SMTP
 * form: a quoted local part is unquoted when it is a valid dot-atom.
 *
 * Leniencies, chosen for real callers: ';' outside a group separates like
 * ','; a group missing its final ';' ends at the end of the input; bare
 * local names ("root") are returned as-is for the caller to qualify; '@'
 * in an unquoted display name is accepted (the display name is dropped).
 */
#include "config.h"

#include "address.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMENT_MAX_DEPTH 32
#define LOCAL_MAX 64    /* RFC 5321 4.5.3.1.1 */
#define ADDRESS_MAX 254 /* RFC 5321 path limit minus the angle brackets */
#define BUILD_MAX 300   /* build buffers: over the limits, so overflow is detected */

enum tok_type { T_END, T_ATOM, T_QSTRING, T_DLIT, T_SPECIAL };

struct token {
	enum tok_type type;
	const char *p; /* ATOM: the text; QSTRING/DLIT: between the delimiters */
	size_t n;
	char c; /* SPECIAL: the character */
};

struct lexer {
	const char *s;
	size_t len;
	size_t pos;
	char *err;
	size_t errlen;
};

/* addr-spec builder: a small state machine fed with tokens */
enum spec_state {
	S_LOCAL_START,
	S_LOCAL_WORD,
	S_LOCAL_DOT,
	S_DOMAIN_START,
	S_DOMAIN_ATOM,
	S_DOMAIN_DOT,
	S_DOMAIN_LIT,
	S_INVALID,
};

struct spec {
	enum spec_state state;
	size_t ntokens;
	char local[BUILD_MAX];
	size_t llen;
	char domain[BUILD_MAX];
	size_t dlen;
	bool overflow;
};

struct parse {
	struct lexer lx;
	addr_fn fn;
	void *ctx;
	bool allow_null;  /* "<>" is the null sender (address_parse_one) */
	size_t ngroups;
	size_t naddrs;
};

static bool is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true; /* RFC 6532: UTF-8 in atoms */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int lex_fail(struct lexer *lx, const char *what)
{
	char near[24];
	size_t i, j = 0;
	for (i = lx->pos; i < lx->len && j < 20; i++) {
		unsigned char c = (unsigned char)lx->s[i];
		near[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	near[j] = '\0';
	if (j)
		set_err(lx->err, lx->errlen, "%s near \"%s\"", what, near);
	else
		set_err(lx->err, lx->errlen, "%s at end of input", what);
	return -1;
}

/* At a CR or LF: accept a fold (CRLF or LF followed by WSP) and step over
 * the line break; anything else is an injected line end. */
static int lex_fold(struct lexer *lx)
{
	size_t p = lx->pos;
	if (lx->s[p] == '\r') {
		if (p + 1 >= lx->len || lx->s[p + 1] != '\n')
			return lex_fail(lx, "bare CR in address");
		p++;
	}
	if (p + 1 >= lx->len || !is_wsp(lx->s[p + 1]))
		return lex_fail(lx, "line break not part of a folded header");
	lx->pos = p + 1;
	return 0;
}

/* Checks shared by every byte inside quoted strings, comments, literals. */
static int lex_inner_byte(struct lexer *lx, unsigned char c)
{
	if (c == '\0')
		return lex_fail(lx, "NUL byte in address");
	if (c == '\r' || c == '\n')
		return lex_fold(lx);
	if (is_ctl(c) && c != '\t')
		return lex_fail(lx, "control character in address");
	lx->pos++;
	return 0;
}

static int skip_comment(struct lexer *lx)
{
	unsigned depth = 0;
	do {
		unsigned char c = (unsigned char)lx->s[lx->pos];
		if (c == '(') {
			if (++depth > COMMENT_MAX_DEPTH)
				return lex_fail(lx, "comments nested too deeply");
			lx->pos++;
		} else if (c == ')') {
			depth--;
			lx->pos++;
		} else if (c == '\\') {
			lx->pos++;
			if (lx->pos >= lx->len)
				break;
			if (lex_inner_byte(lx, (unsigned char)lx->s[lx->pos]) < 0)
				return -1;
		} else if (lex_inner_byte(lx, c) < 0) {
			return -1;
		}
	} while (depth > 0 && lx->pos < lx->len);
	if (depth > 0)
		return lex_fail(lx, "unterminated comment");
	return 0;
}

static int skip_cfws(struct lexer *lx)
{
	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos];
		if (is_wsp(c)) {
			lx->pos++;
		} else if (c == '\r' || c == '\n') {
			if (lex_fold(lx) < 0)
				return -1;
		} else if (c == '(') {
			if (skip_comment(lx) < 0)
				return -1;
		} else {
			break;
		}
	}
	return 0;
}

/* Scan a quoted string or domain literal up to its closing delimiter. */
static int scan_delimited(struct lexer *lx, char close, bool escapes, struct token *t)
{
	size_t start = ++lx->pos;
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos];
		if (c == (unsigned char)close) {
			t->p = lx->s + start;
			t->n = lx->pos - start;
			lx->pos++;
			return 0;
		}
		if (!escapes && (c == '[' || c == '\\' || c >= 0x7f))
			return lex_fail(lx, "invalid character in domain literal");
		if (c == '\\') {
			lx->pos++;
			if (lx->pos >= lx->len)
				break;
			c = (unsigned char)lx->s[lx->pos];
		}
		if (lex_inner_byte(lx, c) < 0)
			return -1;
	}
	lx->pos = start - 1;
	return lex_fail(lx, close == '"' ? "unterminated quoted string" : "unterminated domain literal");
}

static int next_token(struct lexer *lx, struct token *t)
{
	if (skip_cfws(lx) < 0)
		return -1;
	t->p = NULL;
	t->n = 0;
	t->c = 0;
	if (lx->pos >= lx->len) {
		t->type = T_END;
		return 0;
	}
	unsigned char c = (unsigned char)lx->s[lx->pos];
	if (c == '"') {
		t->type = T_QSTRING;
		return scan_delimited(lx, '"', true, t);
	}
	if (c == '[') {
		t->type = T_DLIT;
		return scan_delimited(lx, ']', false, t);
	}
	if (c != '\0' && strchr("<>@,;:.", c)) {
		t->type = T_SPECIAL;
		t->c = (char)c;
		lx->pos++;
		return 0;
	}
	if (is_atext(c)) {
		size_t start = lx->pos;
		while (lx->pos < lx->len && is_atext((unsigned char)lx->s[lx->pos]))
			lx->pos++;
		t->type = T_ATOM;
		t->p = lx->s + start;
		t->n = lx->pos - start;
		return 0;
	}
	if (c == '\0')
		return lex_fail(lx, "NUL byte in address");
	if (c == ')')
		return lex_fail(lx, "unbalanced ')'");
	if (c == ']')
		return lex_fail(lx, "unbalanced ']'");
	if (c == '\\')
		return lex_fail(lx, "backslash outside a quoted string");
	return lex_fail(lx, "invalid character in address");
}

static void spec_reset(struct spec *sp)
{
	sp->state = S_LOCAL_START;
	sp->ntokens = 0;
	sp->llen = sp->dlen = 0;
	sp->overflow = false;
}

static void spec_putc(struct spec *sp, bool domain, char c)
{
	char *b = domain ? sp->domain : sp->local;
	size_t *n = domain ? &sp->dlen : &sp->llen;
	if (*n >= BUILD_MAX - 1) {
		sp->overflow = true;
		return;
	}
	b[(*n)++] = c;
}

/* Append a word's content: quoted strings lose their quotes and escapes,
 * and folds and other whitespace vanish from literals. */
static void spec_append(struct spec *sp, bool domain, const struct token *t)
{
	for (size_t i = 0; i < t->n; i++) {
		char c = t->p[i];
		if (c == '\r' || c == '\n')
			continue;
		if (t->type == T_QSTRING && c == '\\' && i + 1 < t->n)
			c = t->p[++i];
		else if (t->type == T_DLIT && is_wsp(c))
			continue;
		spec_putc(sp, domain, c);
	}
}

static bool tok_is(const struct token *t, char c)
{
	return t->type == T_SPECIAL && t->c == c;
}

/* Is this token part of a "words" run (display name or addr-spec)? */
static bool tok_is_word(const struct token *t)
{
	return t->type == T_ATOM || t->type == T_QSTRING || t->type == T_DLIT ||
	       tok_is(t, '.') || tok_is(t, '@');
}

static void spec_feed(struct spec *sp, const struct token *t)
{
	bool word = t->type == T_ATOM || t->type == T_QSTRING;
	sp->ntokens++;
	switch (sp->state) {
	case S_LOCAL_START:
	case S_LOCAL_DOT:
		if (word) {
			spec_append(sp, false, t);
			sp->state = S_LOCAL_WORD;
			return;
		}
		break;
	case S_LOCAL_WORD:
		if (tok_is(t, '.')) {
			spec_putc(sp, false, '.');
			sp->state = S_LOCAL_DOT;
			return;
		}
		if (tok_is(t, '@')) {
			sp->state = S_DOMAIN_START;
			return;
		}
		break;
	case S_DOMAIN_START:
	case S_DOMAIN_DOT:
		if (t->type == T_ATOM) {
			spec_append(sp, true, t);
			sp->state = S_DOMAIN_ATOM;
			return;
		}
		if (t->type == T_DLIT && sp->state == S_DOMAIN_START) {
			spec_putc(sp, true, '[');
			spec_append(sp, true, t);
			spec_putc(sp, true, ']');
			sp->state = S_DOMAIN_LIT;
			return;
		}
		break;
	case S_DOMAIN_ATOM:
		if (tok_is(t, '.')) {
			spec_putc(sp, true, '.');
			sp->state = S_DOMAIN_DOT;
			return;
		}
		break;
	case S_DOMAIN_LIT:
	case S_INVALID:
		break;
	}
	sp->state = S_INVALID;
}

static bool spec_complete(const struct spec *sp)
{
	return sp->state == S_LOCAL_WORD || sp->state == S_DOMAIN_ATOM || sp->state == S_DOMAIN_LIT;
}

static bool is_dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static bool valid_utf8(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t more;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t k = 1; k <= more; k++) {
			if (i + k >= n)
				return false;
			unsigned char cc = (unsigned char)s[i + k];
			if ((cc & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3f);
		}
		if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += more + 1;
	}
	return true;
}

static bool domain_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* Build the canonical form of a complete addr-spec and hand it out. */
static int spec_emit(struct parse *ps, const struct spec *sp)
{
	char out[2 * BUILD_MAX + 8];
	size_t n = 0;
	if (sp->llen == 0)
		return lex_fail(&ps->lx, "empty local part");
	if (sp->overflow)
		return lex_fail(&ps->lx, "address too long");
	/* a TAB kept from a quoted string cannot travel in SMTP (RFC 5321 qtextSMTP) */
	for (size_t i = 0; i < sp->llen; i++)
		if (is_ctl((unsigned char)sp->local[i]))
			return lex_fail(&ps->lx, "control character in address");
	if (is_dot_atom(sp->local, sp->llen)) {
		memcpy(out, sp->local, sp->llen);
		n = sp->llen;
	} else {
		out[n++] = '"';
		for (size_t i = 0; i < sp->llen; i++) {
			if (sp->local[i] == '"' || sp->local[i] == '\\')
				out[n++] = '\\';
			out[n++] = sp->local[i];
		}
		out[n++] = '"';
	}
	if (n > LOCAL_MAX)
		return lex_fail(&ps->lx, "local part longer than 64 octets");
	if (sp->state == S_DOMAIN_LIT && sp->dlen <= 2)
		return lex_fail(&ps->lx, "empty domain literal");
	/* RFC 5321 domains: letters, digits, hyphens (and UTF-8 for IDNs) */
	for (size_t i = 0; sp->state == S_DOMAIN_ATOM && i < sp->dlen; i++)
		if (!domain_char_ok((unsigned char)sp->domain[i]))
			return lex_fail(&ps->lx, "invalid character in domain");
	if (sp->state != S_LOCAL_WORD) {
		out[n++] = '@';
		memcpy(out + n, sp->domain, sp->dlen);
		n += sp->dlen;
	}
	out[n] = '\0';
	if (n > ADDRESS_MAX)
		return lex_fail(&ps->lx, "address longer than 254 octets");
	if (!valid_utf8(out, n))
		return lex_fail(&ps->lx, "address is not valid UTF-8");
	ps->naddrs++;
	return ps->fn(out, ps->ctx);
}

/* Collect a run of word tokens starting with *t into sp; *t is left on
 * the first token that is not part of the run. */
static int read_words(struct parse *ps, struct spec *sp, struct token *t)
{
	spec_reset(sp);
	while (tok_is_word(t)) {
		spec_feed(sp, t);
		if (next_token(&ps->lx, t) < 0)
			return -1;
	}
	return 0;
}

/* obs-route: "@a,@b:" before the addr-spec inside <>; skipped. */
static int skip_route(struct parse *ps, struct token *t)
{
	while (tok_is(t, '@') || tok_is(t, ',')) {
		if (tok_is(t, '@')) {
			if (next_token(&ps->lx, t) < 0)
				return -1;
			if (t->type != T_ATOM && t->type != T_DLIT)
				return lex_fail(&ps->lx, "invalid route in address");
			for (;;) {
				if (next_token(&ps->lx, t) < 0)
					return -1;
				if (!tok_is(t, '.'))
					break;
				if (next_token(&ps->lx, t) < 0)
					return -1;
				if (t->type != T_ATOM)
					return lex_fail(&ps->lx, "invalid route in address");
			}
		} else if (next_token(&ps->lx, t) < 0) {
			return -1;
		}
	}
	if (!tok_is(t, ':'))
		return lex_fail(&ps->lx, "invalid route in address");
	return next_token(&ps->lx, t);
}

/* After '<': [route] addr-spec '>'. */
static int parse_angle(struct parse *ps, struct spec *sp, struct token *t)
{
	if (next_token(&ps->lx, t) < 0)
		return -1;
	if (tok_is(t, '>')) {
		if (!ps->allow_null)
			return lex_fail(&ps->lx, "empty address <>");
		ps->naddrs++;
		return ps->fn("", ps->ctx);
	}
	if (tok_is(t, '@') && skip_route(ps, t) < 0)
		return -1;
	if (read_words(ps, sp, t) < 0)
		return -1;
	if (t->type == T_END)
		return lex_fail(&ps->lx, "missing '>'");
	if (!tok_is(t, '>'))
		return lex_fail(&ps->lx, "unexpected character inside <>");
	if (!spec_complete(sp))
		return lex_fail(&ps->lx, "invalid address inside <>");
	return spec_emit(ps, sp);
}

static int parse_list(struct parse *ps)
{
	struct spec sp;
	struct token t;
	bool in_group = false;
	int r;

	if (next_token(&ps->lx, &t) < 0)
		return -1;
	while (t.type != T_END) {
		if (tok_is(&t, ',') || tok_is(&t, ';')) {
			if (tok_is(&t, ';'))
				in_group = false;
			if (next_token(&ps->lx, &t) < 0)
				return -1;
			continue;
		}
		if (read_words(ps, &sp, &t) < 0)
			return -1;
		if (tok_is(&t, ':')) {
			if (in_group)
				return lex_fail(&ps->lx, "group inside a group");
			if (sp.ntokens == 0)
				return lex_fail(&ps->lx, "group without a name");
			in_group = true;
			ps->ngroups++;
		} else if (tok_is(&t, '<')) {
			if ((r = parse_angle(ps, &sp, &t)) != 0)
				return r;
			if (next_token(&ps->lx, &t) < 0)
				return -1;
			if (t.type != T_END && !tok_is(&t, ',') && !tok_is(&t, ';'))
				return lex_fail(&ps->lx, "unexpected text after address");
			continue;
		} else if (t.type == T_END || tok_is(&t, ',') || tok_is(&t, ';')) {
			if (sp.ntokens == 0 || !spec_complete(&sp))
				return lex_fail(&ps->lx, "invalid address");
			if ((r = spec_emit(ps, &sp)) != 0)
				return r;
			continue;
		} else if (tok_is(&t, '>')) {
			return lex_fail(&ps->lx, "unbalanced '>'");
		} else {
			return lex_fail(&ps->lx, "invalid address");
		}
		if (next_token(&ps->lx, &t) < 0)
			return -1;
	}
	return 0;
}

int addrlist_parse(const char *s, size_t len, addr_fn fn, void *ctx, char *err, size_t errlen)
{
	struct parse ps = {
		.lx = { .s = s, .len = len, .pos = 0, .err = err, .errlen = errlen },
		.fn = fn,
		.ctx = ctx,
	};
	if (!s) {
		set_err(err, errlen, "no address");
		return -1;
	}
	return parse_list(&ps);
}

struct one {
	char *addr;
	size_t count;
};

static int take_one(const char *addr, void *ctx)
{
	struct one *o = ctx;
	if (o->count++ == 0)
		o->addr = xstrdup(addr);
	return 0;
}

int address_parse_one(const char *s, char **out, char *err, size_t errlen)
{
	struct one o = { NULL, 0 };
	*out = NULL;
	if (!s) {
		set_err(err, errlen, "no address");
		return -1;
	}
	struct parse ps = {
		.lx = { .s = s, .len = strlen(s), .pos = 0, .err = err, .errlen = errlen },
		.fn = take_one,
		.ctx = &o,
		.allow_null = true,
	};
	if (parse_list(&ps) != 0) {
		free(o.addr);
		return -1;
	}
	if (ps.ngroups > 0 || o.count > 1) {
		free(o.addr);
		set_err(err, errlen, "%s: expected a single address",
			ps.ngroups ? "a group is not an address" : "more than one address");
		return -1;
	}
	*out = o.addr ? o.addr : xstrdup("");
	return 0;
}

bool address_smtp_safe(const char *addr)
{
	size_t len = strlen(addr), i = 0;
	if (len == 0)
		return true; /* the null sender */
	if (len > ADDRESS_MAX)
		return false;
	if (addr[0] == '"') {
		for (i = 1; i < len && addr[i] != '"'; i++) {
			if (addr[i] == '\\' && i + 1 < len)
				i++;
			if (is_ctl((unsigned char)addr[i]))
				return false;
		}
		if (i >= len)
			return false;
		i++;
	} else {
		for (; i < len && addr[i] != '@'; i++)
			if (!is_atext((unsigned char)addr[i]) && addr[i] != '.')
				return false;
		if (i == 0)
			return false;
	}
	if (i > LOCAL_MAX)
		return false;
	if (i == len)
		return true; /* a bare local name */
	if (addr[i++] != '@' || i == len)
		return false;
	if (addr[i] == '[') {
		if (addr[len - 1] != ']' || len - i < 3)
			return false;
		for (i++; i < len - 1; i++) {
			unsigned char c = (unsigned char)addr[i];
			if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']' || c == '\\')
				return false;
		}
		return true;
	}
	for (; i < len; i++)
		if (!domain_char_ok((unsigned char)addr[i]))
			return false;
	return true;
}

bool address_needs_utf8(const char *addr)
{
	for (; *addr; addr++)
		if ((unsigned char)*addr >= 0x80)
			return true;
	return false;
}
