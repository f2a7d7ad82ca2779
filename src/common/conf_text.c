/*
 * conf_text.c - the text of sealpost.conf before and around libconfuse:
 * reading the file (bounded), a lexical pre-pass, and the load's record of
 * where each section and key is, so that every error names FILE:LINE.
 *
 * Privilege: none; runs in the front end (after it dropped any privilege
 * for a -C file) and in the worker. Trusts nothing in the file: its size,
 * type, bytes, strings, nesting and section count are bounded here.
 *
 * libconfuse 3.3 miscounts lines after comments (each one-line comment
 * counts three lines) and cannot parse a comment inside a list, so the file
 * is read here first: comments are removed (newlines kept), strings are
 * checked, and libconfuse parses the cleaned text. The same pass turns off
 * libconfuse's ${VAR} environment expansion: a value means what it says,
 * whoever runs the program. libconfuse keeps no line per option, so the
 * value callbacks (conf.c) record here where each key was set; a hidden
 * list option with a default is parsed as each section opens, which records
 * the line of its "{". Left alone, libconfuse keeps the last value of a key
 * given twice and replaces a section whose title repeats ("last one wins");
 * both are errors here (titles compared without regard to case), as is a
 * second queue or timeouts section. "key += {...}" still appends to a list.
 * libconfuse has no user pointer in callbacks: one load runs at a time (its
 * lexer is global too), so the load's state is a file-level variable.
 */
#include "config.h"

#include "conf_internal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_SECTIONS 1024
#define CONF_MAX_KEYS 16
#define CONF_MAX_DEPTH 4

/* ---- the load: its first error, where each section and key is ---------- */

struct key_seen {
	char name[24];
	int line;
};

struct sec_rec {
	const cfg_t *sec;       /* compared, never dereferenced after parse */
	char *kind;             /* "root", "relay", ... */
	char *title;
	int line;               /* line of the "{" */
	struct key_seen keys[CONF_MAX_KEYS];
	size_t nkeys;
};

struct load_ctx {
	const char *path;
	char *err;
	size_t errlen;
	bool failed;
	struct sec_rec *secs;
	size_t nsecs;
};

static struct load_ctx ctx;

void conf_load_begin(const char *path, char *err, size_t errlen)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	ctx.err = err;
	ctx.errlen = errlen;
}

bool conf_load_end(void)
{
	bool failed = ctx.failed;
	for (size_t i = 0; i < ctx.nsecs; i++) {
		free(ctx.secs[i].kind);
		free(ctx.secs[i].title);
	}
	free(ctx.secs);
	memset(&ctx, 0, sizeof(ctx));
	return failed;
}

bool conf_failed(void)
{
	return ctx.failed;
}

void conf_fail_at(int line, const char *fmt, ...)
{
	if (ctx.failed)
		return;
	ctx.failed = true;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(ctx.err, ctx.errlen, "%s:%d: %s", ctx.path, line, msg);
}

/* Newest record first: libconfuse may reuse a freed section's address. */
static struct sec_rec *rec_for(const cfg_t *sec)
{
	for (size_t i = ctx.nsecs; i > 0; i--)
		if (ctx.secs[i - 1].sec == sec)
			return &ctx.secs[i - 1];
	return NULL;
}

static struct sec_rec *rec_add(const cfg_t *sec, const char *kind, const char *title, int line)
{
	ctx.secs = xreallocarray(ctx.secs, ctx.nsecs + 1, sizeof(*ctx.secs));
	struct sec_rec *r = &ctx.secs[ctx.nsecs++];
	memset(r, 0, sizeof(*r));
	r->sec = sec;
	r->kind = xstrdup(kind);
	r->title = title ? xstrdup(title) : NULL;
	r->line = line;
	return r;
}

static int key_line(const struct sec_rec *r, const char *name)
{
	for (size_t i = 0; r && i < r->nkeys; i++)
		if (strcmp(r->keys[i].name, name) == 0)
			return r->keys[i].line;
	return 0;
}

/* "relay \"main\"", "queue" or "the top level", for messages. */
static const char *where(const struct sec_rec *r, char *buf, size_t n)
{
	if (!r || strcmp(r->kind, "root") == 0)
		snprintf(buf, n, "the top level");
	else if (r->title)
		snprintf(buf, n, "%s \"%s\"", r->kind, r->title);
	else
		snprintf(buf, n, "%s", r->kind);
	return buf;
}

void conf_note_root(const cfg_t *root)
{
	rec_add(root, "root", NULL, 1);
}

/* A second plain assignment is an error: libconfuse would silently keep
 * the last one. */
int conf_note_key(cfg_t *sec, const cfg_opt_t *opt, bool first_value)
{
	struct sec_rec *r = rec_for(sec);
	if (!r) {
		conf_fail_at(sec->line, "internal error: unknown section");
		return -1;
	}
	int prev = key_line(r, opt->name);
	if (prev) {
		if (!first_value)
			return 0;
		char w[128];
		conf_fail_at(sec->line, "%s is set twice in %s (first at line %d)", opt->name,
			where(r, w, sizeof(w)), prev);
		return -1;
	}
	if (r->nkeys == CONF_MAX_KEYS) {
		conf_fail_at(sec->line, "too many keys in one section");
		return -1;
	}
	snprintf(r->keys[r->nkeys].name, sizeof(r->keys[0].name), "%s", opt->name);
	r->keys[r->nkeys++].line = sec->line;
	return 0;
}

int conf_key_line(const cfg_t *sec, const char *key)
{
	return key_line(rec_for(sec), key);
}

int conf_line_of(const cfg_t *sec, const char *key)
{
	const struct sec_rec *r = rec_for(sec);
	int line = key ? key_line(r, key) : 0;
	return line ? line : r ? r->line : 1;
}

/* The start both section hooks share: hand libconfuse its value back, then
 * false (record nothing) once the load failed or has too many sections. */
static bool section_may_open(cfg_t *sec, const char *value, void *result)
{
	*(const char **)result = value;
	if (ctx.failed)
		return false;
	if (ctx.nsecs >= CONF_MAX_SECTIONS) {
		conf_fail_at(sec->line, "too many sections (at most %d)", CONF_MAX_SECTIONS);
		return false;
	}
	return true;
}

/* Runs as each section opens (see the file comment): note its line and
 * refuse a duplicate section or title. Must not fail (libconfuse aborts when parsing
 * a default fails), so it records the error and lets the parse go on. */
int conf_section_opened(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	(void)opt;
	if (!section_may_open(sec, value, result))
		return 0;
	for (size_t i = 0; i < ctx.nsecs; i++) {
		const struct sec_rec *r = &ctx.secs[i];
		if (strcmp(r->kind, sec->name) != 0)
			continue;
		if (!sec->title) {
			conf_fail_at(sec->line, "%s is given twice (first at line %d)", sec->name,
				r->line);
			return 0;
		}
		if (r->title && ascii_casecmp(r->title, sec->title) == 0) {
			conf_fail_at(sec->line, "duplicate %s \"%s\" (first at line %d)", sec->name,
				sec->title, r->line);
			return 0;
		}
	}
	rec_add(sec, sec->name, sec->title, sec->line);
	return 0;
}

int conf_nested_section_opened(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	(void)opt;
	if (section_may_open(sec, value, result))
		rec_add(sec, sec->name, sec->title, sec->line);
	return 0;
}

/* Rewrite libconfuse's own messages to say what is wrong in our terms. */
void conf_libconfuse_error(cfg_t *sec, const char *fmt, va_list ap)
{
	static const char *const known[] = {
		"no such option '%s'", "missing title for section '%s'",
		"missing opening brace for section '%s'", "missing equal sign after option '%s'",
		"unexpected token '%s'",
	};
	char msg[300], w[128];
	const char *name = NULL;
	size_t k = 0;
	while (k < ARRAY_LEN(known) && strcmp(fmt, known[k]) != 0)
		k++;
	if (k < ARRAY_LEN(known)) {
		va_list aq;
		va_copy(aq, ap);
		name = va_arg(aq, const char *);
		va_end(aq);
	}
	struct sec_rec *r = rec_for(sec);
	switch (k) {
	case 0:
		snprintf(msg, sizeof(msg), "unknown %s '%s' in %s",
			 r && strcmp(r->kind, "root") ? "key" : "key or section", name,
			 where(r, w, sizeof(w)));
		break;
	case 1:
		snprintf(msg, sizeof(msg), "%s needs a quoted name: %s \"name\" { ... }", name, name);
		break;
	case 2:
		snprintf(msg, sizeof(msg), "%s is a section: write %s { ... }", name, name);
		break;
	case 3:
		snprintf(msg, sizeof(msg), "missing '=' after %s", name);
		break;
	case 4:
		snprintf(msg, sizeof(msg), "unexpected '%s' (a list where one value is expected, "
			 "or a missing value?)", name);
		break;
	default:
		vsnprintf(msg, sizeof(msg), fmt, ap);
	}
	conf_fail_at(sec->line, "%s", msg);
}

/* ---- reading the file ------------------------------------------------------ */

char *conf_read_file(const char *path, bool missing_ok, bool *missing, size_t *len,
		     char *err, size_t errlen)
{
	*missing = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT && missing_ok) {
			*missing = true;
			return NULL;
		}
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > CONF_MAX_FILE) {
		set_err(err, errlen, "%s: larger than %d bytes", path, CONF_MAX_FILE);
		close(fd);
		return NULL;
	}
	char *data = xmalloc(CONF_MAX_FILE + 1);
	size_t n = 0;
	for (;;) {
		ssize_t r = read_retry(fd, data + n, CONF_MAX_FILE + 1 - n);
		if (r < 0) {
			set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			break;
		}
		if (r == 0) {
			close(fd);
			data[n] = '\0';
			*len = n;
			return data;
		}
		n += (size_t)r;
		if (n > CONF_MAX_FILE) {
			set_err(err, errlen, "%s: larger than %d bytes", path, CONF_MAX_FILE);
			break;
		}
	}
	close(fd);
	free(data);
	return NULL;
}

static bool token_boundary(const struct buf *out)
{
	if (out->len == 0)
		return true;
	return strchr(" \t\r\n={}(),", out->data[out->len - 1]) != NULL;
}

/*
 * Remove comments ("#", "//" and "/ * ... * /" outside strings; newlines
 * kept so lines stay right), refuse what libconfuse would silently change
 * or miss (control bytes, strings across lines, escapes other than \\ \"
 * \', a bare "*" or "+" that its lexer drops, ${VAR} outside quotes, a
 * "{" never closed, which it takes as closed at the end of the file), bound
 * the nesting, and escape "${" inside double quotes so it is not expanded.
 */
int conf_clean_text(const char *in, size_t n, struct buf *out)
{
	enum { NORMAL, DQ, SQ, LINE_COMMENT, BLOCK_COMMENT } st = NORMAL;
	int line = 1, start = 0, depth = 0, open_line[CONF_MAX_DEPTH];
	for (size_t i = 0; i < n; i++) {
		char c = in[i], next = i + 1 < n ? in[i + 1] : '\0';
		if ((c >= 0 && c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
			conf_fail_at(line, c ? "control character in the file"
					     : "NUL byte in the file");
			return -1;
		}
		switch (st) {
		case NORMAL:
			if (c == '#') {
				st = LINE_COMMENT;
				continue;
			}
			if (c == '/' && (next == '/' || next == '*') && token_boundary(out)) {
				st = next == '/' ? LINE_COMMENT : BLOCK_COMMENT;
				start = line;
				i++;
				continue;
			}
			if (c == '{' && ++depth > CONF_MAX_DEPTH) {
				conf_fail_at(line, "braces nested too deeply");
				return -1;
			}
			if (c == '{')
				open_line[depth - 1] = line;
			if (c == '}' && depth-- == 0) {
				conf_fail_at(line, "'}' without a matching '{'");
				return -1;
			}
			if (c == '"' || c == '\'') {
				st = c == '"' ? DQ : SQ;
				start = line;
			} else if (c == '*' || (c == '+' && next != '=')) {
				conf_fail_at(line,
					"unexpected '%c': quote values that contain it", c);
				return -1;
			} else if (c == '$' && next == '{') {
				conf_fail_at(line,
					"${...} is not expanded: write the value itself");
				return -1;
			}
			break;
		case DQ: case SQ:
			if (c == '\\' && next == '\n') {
				buf_addc(out, c);
				buf_addc(out, next);
				i++;
				line++;
				continue;
			}
			if (c == '\\' && (next == '\\' || next == '\'' || (st == DQ && next == '"'))) {
				buf_addc(out, c);
				buf_addc(out, next);
				i++;
				continue;
			}
			if (c == '\\' && st == DQ) {
				conf_fail_at(line, "unsupported escape '\\%c' in a string "
					"(only \\\\, \\\" and \\' are)", next ? next : ' ');
				return -1;
			}
			if (c == '\n') {
				conf_fail_at(start, "string not closed on its line");
				return -1;
			}
			if (st == DQ && c == '$' && next == '{')
				buf_addc(out, '\\');
			if (c == (st == DQ ? '"' : '\''))
				st = NORMAL;
			break;
		case LINE_COMMENT:
			if (c != '\n')
				continue;
			st = NORMAL;
			break;
		case BLOCK_COMMENT:
			if (c == '*' && next == '/') {
				st = NORMAL;
				i++;
				c = ' ';
			} else if (c != '\n') {
				continue;
			}
			break;
		}
		buf_addc(out, c);
		if (c == '\n')
			line++;
	}
	if (st == DQ || st == SQ || st == BLOCK_COMMENT) {
		conf_fail_at(start, st == BLOCK_COMMENT ? "comment not closed"
						       : "string not closed");
		return -1;
	}
	if (depth > 0) {
		conf_fail_at(open_line[depth - 1], "unexpected end of file: '{' not closed by '}'");
		return -1;
	}
	return 0;
}
