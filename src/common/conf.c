/*
 * conf.c - load and validate sealpost.conf (SPEC section 5) with libconfuse.
 *
 * Privilege: none; runs in the front end (after it dropped any privilege
 * for a -C file) and in the worker. Trusts nothing in the file: its size,
 * every value, list and section count are bounded, and every error names
 * the file and line.
 *
 * libconfuse 3.3 miscounts lines after comments (each one-line comment
 * counts three lines) and cannot parse a comment inside a list, so the file
 * is read here first: comments are removed (newlines kept), strings are
 * checked, and libconfuse parses the cleaned text. The same pass turns off
 * libconfuse's ${VAR} environment expansion: a value means what it says,
 * whoever runs the program. libconfuse keeps no line per option, so the
 * value callbacks record where each key was set; a hidden list option with
 * a default is parsed as each section opens, which records the line of
 * its "{". Left alone, libconfuse keeps the last value of a key given
 * twice and replaces a section whose title repeats ("last one wins"); both
 * are errors here (titles compared without regard to case), as is a second
 * queue or timeouts section. "key += {...}" still appends to a list.
 * libconfuse has no user pointer in callbacks: one load runs at a time
 * (its lexer is global too), so the state is a file-level pointer.
 */
#include "config.h"

#include "conf.h"
#include "util.h"

#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_SECTIONS 1024
#define CONF_MAX_VALUE 4096
#define CONF_MAX_LIST 256
#define CONF_MAX_PINS 16
#define CONF_MAX_KEYS 16
#define CONF_MAX_DEPTH 4
#define SECTION_HOOK "\001open"

#define DEFAULT_MAX_MESSAGE_SIZE 52428800
#define MAX_MESSAGE_SIZE_LIMIT (UINT64_C(1) << 40)

/* ---- load state ---------------------------------------------------------- */

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

static struct load_ctx *ctx;

static void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_at(int line, const char *fmt, ...)
{
	if (ctx->failed)
		return;
	ctx->failed = true;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(ctx->err, ctx->errlen, "%s:%d: %s", ctx->path, line, msg);
}

/* Newest record first: libconfuse may reuse a freed section's address. */
static struct sec_rec *rec_for(const cfg_t *sec)
{
	for (size_t i = ctx->nsecs; i > 0; i--)
		if (ctx->secs[i - 1].sec == sec)
			return &ctx->secs[i - 1];
	return NULL;
}

static struct sec_rec *rec_add(const cfg_t *sec, const char *kind, const char *title, int line)
{
	ctx->secs = xreallocarray(ctx->secs, ctx->nsecs + 1, sizeof(*ctx->secs));
	struct sec_rec *r = &ctx->secs[ctx->nsecs++];
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

/* Record that key was set here; a second plain assignment is an error
 * (libconfuse would silently keep the last one). For lists, first_value
 * tells whether this is the first element of an "=" assignment. */
static int note_key(cfg_t *sec, cfg_opt_t *opt, bool first_value)
{
	struct sec_rec *r = rec_for(sec);
	if (!r) {
		fail_at(sec->line, "internal error: unknown section");
		return -1;
	}
	int prev = key_line(r, opt->name);
	if (prev) {
		if (!first_value)
			return 0;
		char w[128];
		fail_at(sec->line, "%s is set twice in %s (first at line %d)", opt->name,
			where(r, w, sizeof(w)), prev);
		return -1;
	}
	if (r->nkeys == CONF_MAX_KEYS) {
		fail_at(sec->line, "too many keys in one section");
		return -1;
	}
	snprintf(r->keys[r->nkeys].name, sizeof(r->keys[0].name), "%s", opt->name);
	r->keys[r->nkeys++].line = sec->line;
	return 0;
}

/* ---- value rules ----------------------------------------------------------- */

enum vkind {
	V_TEXT, V_TEXT_OPT, V_HOSTNAME, V_DOMAIN, V_HOST, V_ABSPATH, V_ABSPATH_OPT,
	V_LOG, V_LOG_FORMAT, V_ADDRESS_OPT, V_TLS, V_AUTH, V_VERIFY, V_MIN_VERSION,
	V_PRIORITY, V_PIN, V_PATTERN, V_RECIPIENT,
	I_PORT, I_COUNT, I_SIZE, I_DURATION,
};

struct rule {
	const char *section;    /* NULL: top level */
	const char *key;
	enum vkind kind;
	unsigned min, max;      /* numbers and durations */
};

static const struct rule rules[] = {
	{ NULL, "hostname", V_HOSTNAME, 0, 0 },
	{ NULL, "log", V_LOG, 0, 0 },
	{ NULL, "log_format", V_LOG_FORMAT, 0, 0 },
	{ NULL, "domain", V_DOMAIN, 0, 0 },
	{ NULL, "spool_dir", V_ABSPATH, 0, 0 },
	{ NULL, "aliases", V_ABSPATH_OPT, 0, 0 },
	{ NULL, "max_message_size", I_SIZE, 0, 0 },
	{ NULL, "sender_rewrite", V_ADDRESS_OPT, 0, 0 },
	{ "alias", "to", V_RECIPIENT, 0, 0 },
	{ "relay", "host", V_HOST, 0, 0 },
	{ "relay", "port", I_PORT, 1, 65535 },
	{ "relay", "tls", V_TLS, 0, 0 },
	{ "relay", "username", V_TEXT, 0, 0 },
	{ "relay", "password_file", V_ABSPATH, 0, 0 },
	{ "relay", "password_command", V_TEXT, 0, 0 },
	{ "relay", "auth", V_AUTH, 0, 0 },
	{ "relay", "senders", V_PATTERN, 0, 0 },
	{ "tls_policy", "verify", V_VERIFY, 0, 0 },
	{ "tls_policy", "ca_file", V_ABSPATH_OPT, 0, 0 },
	{ "tls_policy", "verify_name", V_HOST, 0, 0 },
	{ "tls_policy", "pin_sha256", V_PIN, 0, 0 },
	{ "tls_policy", "min_version", V_MIN_VERSION, 0, 0 },
	{ "tls_policy", "priority", V_PRIORITY, 0, 0 },
	{ "tls_policy", "client_cert", V_ABSPATH_OPT, 0, 0 },
	{ "tls_policy", "client_key", V_ABSPATH_OPT, 0, 0 },
	{ "queue", "retry_min", I_DURATION, 1, 7 * 86400 },
	{ "queue", "retry_max", I_DURATION, 1, 7 * 86400 },
	{ "queue", "lifetime", I_DURATION, 1, 60 * 86400 },
	{ "queue", "concurrency", I_COUNT, 1, 64 },
	{ "queue", "delay_warning", I_DURATION, 0, 60 * 86400 },
	{ "timeouts", "connect", I_DURATION, 1, 3600 },
	{ "timeouts", "command", I_DURATION, 1, 3600 },
	{ "timeouts", "data", I_DURATION, 1, 3600 },
};

static const struct rule *rule_for(const cfg_t *sec, const char *key)
{
	bool root = strcmp(sec->name, "root") == 0;
	for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
		if (strcmp(rules[i].key, key) != 0)
			continue;
		if (root ? rules[i].section == NULL
			 : rules[i].section && strcmp(rules[i].section, sec->name) == 0)
			return &rules[i];
	}
	return NULL;
}

static const char *const auth_names[] = {
	"auto", "plain", "login", "xoauth2", "cram-md5", "scram-sha-1", "scram-sha-256",
};

/* One of names, case-insensitively; returns the canonical spelling. */
static const char *one_of(const char *v, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_casecmp(v, names[i]) == 0)
			return names[i];
	return NULL;
}

static bool host_chars(const char *v, bool allow_colon)
{
	size_t n = strlen(v);
	if (n == 0 || n > 253 || v[0] == '.' || v[0] == '-' || strstr(v, ".."))
		return false;
	for (const char *p = v; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			  (allow_colon && *p == ':');
		if (!ok)
			return false;
	}
	return true;
}

static bool has_space(const char *v)
{
	return strpbrk(v, " \t") != NULL;
}

/* GnuTLS priority tokens that would weaken the mandatory TLS. */
static bool weak_priority(const char *v)
{
	static const char *const weak[] = {
		"SSL3", "TLS1.0", "TLS1.1", "NULL", "ARCFOUR", "RC4", "EXPORT",
		"%VERIFY_ALLOW", "%NO_", "%INSECURE", "ANON",
	};
	for (size_t i = 0; i < ARRAY_LEN(weak); i++)
		for (const char *p = v; *p; p++)
			if (ascii_ncasecmp(p, weak[i], strlen(weak[i])) == 0)
				return true;
	return false;
}

/* Check v for rule; may replace it with a canonical spelling. Returns an
 * error message or NULL. */
static const char *check_string(const struct rule *ru, const char **v, char *why, size_t n)
{
	const char *s = *v;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	if (strlen(s) > CONF_MAX_VALUE)
		return "is too long";
	if (!*s && ru->kind != V_TEXT_OPT && ru->kind != V_ABSPATH_OPT &&
	    ru->kind != V_ADDRESS_OPT && ru->kind != V_PRIORITY &&
	    ru->kind != V_TLS && ru->kind != V_VERIFY)
		return "must not be empty";
	switch (ru->kind) {
	case V_TEXT: case V_TEXT_OPT:
		return NULL;
	case V_HOSTNAME:
		if (s[0] == '[' && s[strlen(s) - 1] == ']' && strlen(s) < 64) {
			char inner[64]; /* address literal: EHLO [192.0.2.1], [IPv6:2001:db8::1] */
			snprintf(inner, sizeof(inner), "%.*s", (int)strlen(s) - 2, s + 1);
			return host_chars(inner, true) ? NULL : "is not a valid address literal";
		}
		return host_chars(s, false) ? NULL : "is not a valid host name";
	case V_DOMAIN:
		return host_chars(s, false) ? NULL : "is not a valid domain";
	case V_HOST:
		return host_chars(s, true) ? NULL : "is not a valid host name or address";
	case V_ABSPATH: case V_ABSPATH_OPT:
		return !*s || s[0] == '/' ? NULL : "must be an absolute path";
	case V_LOG:
		if (strcmp(s, "syslog") == 0 || strcmp(s, "stderr") == 0 ||
		    (strncmp(s, "file:/", 6) == 0 && s[6]))
			return NULL;
		return "must be \"syslog\", \"stderr\" or \"file:/absolute/path\"";
	case V_LOG_FORMAT: {
		static const char *const f[] = { "text", "json" };
		return (*v = one_of(s, f, 2)) ? NULL : "must be \"text\" or \"json\"";
	}
	case V_ADDRESS_OPT:
		if (!*s || (strchr(s, '@') && !has_space(s) && !strpbrk(s, "<>,;\"")))
			return NULL;
		return "must be a plain address (user@domain) or \"\"";
	case V_TLS: {
		static const char *const m[] = { "starttls", "implicit" };
		if ((*v = one_of(s, m, 2)))
			return NULL;
		snprintf(why, n, "tls = \"%s\" is not allowed: plaintext is never allowed; "
			 "use \"starttls\" or \"implicit\"", s);
		return why;
	}
	case V_AUTH:
		if ((*v = one_of(s, auth_names, ARRAY_LEN(auth_names))))
			return NULL;
		return "must be one of auto, plain, login, xoauth2, cram-md5, scram-sha-1, scram-sha-256";
	case V_VERIFY: {
		static const char *const m[] = { "ca", "pin", "encrypt" };
		if ((*v = one_of(s, m, 3)))
			return NULL;
		snprintf(why, n, "verify = \"%s\" is not allowed: use \"ca\" (chain and name), "
			 "\"pin\" (pinned key) or \"encrypt\" (explicitly unauthenticated)", s);
		return why;
	}
	case V_MIN_VERSION:
		if (ascii_casecmp(s, "TLS1.2") == 0 || ascii_casecmp(s, "TLSv1.2") == 0)
			return (*v = "TLS1.2"), NULL;
		if (ascii_casecmp(s, "TLS1.3") == 0 || ascii_casecmp(s, "TLSv1.3") == 0)
			return (*v = "TLS1.3"), NULL;
		snprintf(why, n, "min_version = \"%s\" is not allowed: TLS 1.0, 1.1 and SSL are "
			 "obsolete; use \"TLS1.2\" or \"TLS1.3\"", s);
		return why;
	case V_PRIORITY:
		return weak_priority(s) ? "must not enable obsolete protocols, weak ciphers "
					  "or skipped checks" : NULL;
	case V_PIN: {
		unsigned char raw[32];
		return conf_pin_decode(s, raw) ? NULL :
			"must be the base64 of a SHA-256 digest (44 characters, ending in \"=\")";
	}
	case V_PATTERN:
		return has_space(s) ? "must not contain spaces" : NULL;
	case V_RECIPIENT:
		if (has_space(s) || s[0] == '|' || s[0] == '/' || strncmp(s, ":include:", 9) == 0)
			return "must be an address or a local name (no pipes, files or :include:)";
		return NULL;
	default:
		return "internal error: not a string";
	}
}

static size_t list_limit(const struct rule *ru)
{
	return ru->kind == V_PIN ? CONF_MAX_PINS : CONF_MAX_LIST;
}

static int cb_string(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	if (ctx->failed)
		return -1;
	bool list = (opt->flags & CFGF_LIST) != 0;
	if (note_key(sec, opt, !list || opt->nvalues == 1) != 0)
		return -1;
	const struct rule *ru = rule_for(sec, opt->name);
	if (!ru) {
		fail_at(sec->line, "internal error: no rule for %s", opt->name);
		return -1;
	}
	if (list && opt->nvalues > list_limit(ru)) {
		fail_at(sec->line, "%s: too many values (at most %zu)", opt->name, list_limit(ru));
		return -1;
	}
	char why[256];
	const char *v = value;
	const char *msg = check_string(ru, &v, why, sizeof(why));
	if (msg) {
		if (msg == why)
			fail_at(sec->line, "%s", why);
		else
			fail_at(sec->line, "%s = \"%s\": %s", opt->name, value, msg);
		return -1;
	}
	*(const char **)result = v;
	return 0;
}

/* max_message_size: bytes, or with a K, M or G suffix (powers of 1024). */
static bool parse_size(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t mult = 1;
	char digits[32];
	if (n == 0 || n >= sizeof(digits))
		return false;
	switch (s[n - 1]) {
	case 'k': case 'K': mult = 1024; n--; break;
	case 'm': case 'M': mult = 1024 * 1024; n--; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; n--; break;
	}
	memcpy(digits, s, n);
	digits[n] = '\0';
	uint64_t v;
	if (!parse_u64(digits, &v) || v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

static int cb_number(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	if (ctx->failed)
		return -1;
	if (note_key(sec, opt, true) != 0)
		return -1;
	const struct rule *ru = rule_for(sec, opt->name);
	uint64_t v = 0;
	unsigned d;
	bool ok;
	if (!ru) {
		fail_at(sec->line, "internal error: no rule for %s", opt->name);
		return -1;
	}
	switch (ru->kind) {
	case I_SIZE:
		ok = parse_size(value, &v) && v >= 1 && v <= MAX_MESSAGE_SIZE_LIMIT;
		if (!ok)
			fail_at(sec->line, "%s = \"%s\": must be a size in bytes (optionally with K, M "
				"or G) from 1 to 1T; there is no unlimited", opt->name, value);
		break;
	case I_DURATION:
		ok = conf_parse_duration(value, &d) && d >= ru->min && d <= ru->max;
		v = d;
		if (!ok) {
			char lo[16], hi[16];
			conf_format_duration(ru->min, lo);
			conf_format_duration(ru->max, hi);
			fail_at(sec->line, "%s = \"%s\": must be a duration from %s to %s (seconds, "
				"or a number with s, m, h or d)", opt->name, value, lo, hi);
		}
		break;
	default:
		ok = parse_u64(value, &v) && v >= ru->min && v <= ru->max;
		if (!ok)
			fail_at(sec->line, "%s = \"%s\": must be a number from %u to %u", opt->name,
				value, ru->min, ru->max);
		break;
	}
	if (!ok)
		return -1;
	*(long *)result = (long)v;
	return 0;
}

/* Runs as each section opens (see the file comment): note its line and
 * refuse a duplicate title. Must not fail (libconfuse aborts when parsing
 * a default fails), so it records the error and lets the parse go on. */
static int cb_section_open(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	(void)opt;
	*(const char **)result = value;
	if (ctx->failed)
		return 0;
	if (ctx->nsecs >= CONF_MAX_SECTIONS) {
		fail_at(sec->line, "too many sections (at most %d)", CONF_MAX_SECTIONS);
		return 0;
	}
	for (size_t i = 0; i < ctx->nsecs; i++) {
		const struct sec_rec *r = &ctx->secs[i];
		if (strcmp(r->kind, sec->name) != 0)
			continue;
		if (!sec->title) {
			fail_at(sec->line, "%s is given twice (first at line %d)", sec->name, r->line);
			return 0;
		}
		if (r->title && ascii_casecmp(r->title, sec->title) == 0) {
			fail_at(sec->line, "duplicate %s \"%s\" (first at line %d)", sec->name,
				sec->title, r->line);
			return 0;
		}
	}
	rec_add(sec, sec->name, sec->title, sec->line);
	return 0;
}

/* Rewrite libconfuse's own messages to say what is wrong in our terms. */
static void cb_error(cfg_t *sec, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void cb_error(cfg_t *sec, const char *fmt, va_list ap)
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
	fail_at(sec->line, "%s", msg);
}

/* ---- reading the file ------------------------------------------------------ */

/* Read path (a regular file of bounded size) whole. */
static char *read_file(const char *path, bool missing_ok, bool *missing, size_t *len,
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
static int clean_text(const char *in, size_t n, struct buf *out)
{
	enum { NORMAL, DQ, SQ, LINE_COMMENT, BLOCK_COMMENT } st = NORMAL;
	int line = 1, start = 0, depth = 0, open_line[CONF_MAX_DEPTH];
	for (size_t i = 0; i < n; i++) {
		char c = in[i], next = i + 1 < n ? in[i + 1] : '\0';
		if ((c >= 0 && c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
			fail_at(line, c ? "control character in the file" : "NUL byte in the file");
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
				fail_at(line, "braces nested too deeply");
				return -1;
			}
			if (c == '{')
				open_line[depth - 1] = line;
			if (c == '}' && depth-- == 0) {
				fail_at(line, "'}' without a matching '{'");
				return -1;
			}
			if (c == '"' || c == '\'') {
				st = c == '"' ? DQ : SQ;
				start = line;
			} else if (c == '*' || (c == '+' && next != '=')) {
				fail_at(line, "unexpected '%c': quote values that contain it", c);
				return -1;
			} else if (c == '$' && next == '{') {
				fail_at(line, "${...} is not expanded: write the value itself");
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
				fail_at(line, "unsupported escape '\\%c' in a string (only \\\\, \\\" "
					"and \\' are)", next ? next : ' ');
				return -1;
			}
			if (c == '\n') {
				fail_at(start, "string not closed on its line");
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
		fail_at(start, st == BLOCK_COMMENT ? "comment not closed" : "string not closed");
		return -1;
	}
	if (depth > 0) {
		fail_at(open_line[depth - 1], "unexpected end of file: '{' not closed by '}'");
		return -1;
	}
	return 0;
}

/* ---- from libconfuse to struct sp_config ------------------------------------ */

static const struct sp_tls_policy builtin_policy = {
	.host = (char *)"*", .verify = SP_VERIFY_CA, .min_version = 12,
};

static struct sp_config *config_defaults(void)
{
	struct sp_config *c = xcalloc(1, sizeof(*c));
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) != 0 || !host_chars(host, false))
		snprintf(host, sizeof(host), "localhost");
	c->hostname = xstrdup(host);
	c->domain = xstrdup(host);
	c->log = xstrdup("syslog");
	c->log_format = xstrdup("text");
	c->spool_dir = xstrdup(SPOOLDIR);
	c->aliases_file = xstrdup("/etc/aliases");
	c->max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
	c->queue.retry_min = 60;
	c->queue.retry_max = 3600;
	c->queue.lifetime = 5 * 86400;
	c->queue.concurrency = 4;
	c->queue.delay_warning = 0;
	c->timeouts.connect = 30;
	c->timeouts.command = 300;
	c->timeouts.data = 600;
	return c;
}

/* A copy of a set, non-empty string; NULL when unset or "". */
static char *get_str(cfg_t *sec, const char *key)
{
	const char *s = cfg_size(sec, key) ? cfg_getstr(sec, key) : NULL;
	return s && *s ? xstrdup(s) : NULL;
}

/* Replace *field when key is set ("" sets it to NULL where allowed). */
static void take_str(cfg_t *sec, const char *key, char **field)
{
	if (cfg_size(sec, key)) {
		free(*field);
		*field = get_str(sec, key);
	}
}

static void take_num(cfg_t *sec, const char *key, unsigned *field)
{
	if (cfg_size(sec, key))
		*field = (unsigned)cfg_getint(sec, key);
}

static char **get_list(cfg_t *sec, const char *key, size_t *n)
{
	*n = cfg_size(sec, key);
	if (*n == 0)
		return NULL;
	char **v = xcalloc(*n, sizeof(*v));
	for (size_t i = 0; i < *n; i++)
		v[i] = xstrdup(cfg_getnstr(sec, key, (unsigned)i));
	return v;
}

/* Line of key in sec, else of the section itself. */
static int line_of(cfg_t *sec, const char *key)
{
	const struct sec_rec *r = rec_for(sec);
	int line = key ? key_line(r, key) : 0;
	return line ? line : r ? r->line : 1;
}

static bool name_chars(const char *s, const char *extra)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

static void take_alias(struct sp_alias *a, cfg_t *sec)
{
	a->name = xstrdup(cfg_title(sec));
	a->to = get_list(sec, "to", &a->nto);
	if (!name_chars(a->name, "._+-"))
		fail_at(line_of(sec, NULL), "alias \"%s\": not a valid local name", a->name);
	else if (a->nto == 0)
		fail_at(line_of(sec, "to"), "alias \"%s\": to must list at least one address",
			a->name);
}

static void take_relay(struct sp_relay *r, cfg_t *sec)
{
	r->name = xstrdup(cfg_title(sec));
	r->host = get_str(sec, "host");
	char *tls = get_str(sec, "tls");
	r->tls = tls && strcmp(tls, "implicit") == 0 ? SP_TLS_IMPLICIT : SP_TLS_STARTTLS;
	free(tls);
	r->port = r->tls == SP_TLS_IMPLICIT ? 465 : 587;
	take_num(sec, "port", &r->port);
	r->username = get_str(sec, "username");
	r->password_file = get_str(sec, "password_file");
	r->password_command = get_str(sec, "password_command");
	r->auth = get_str(sec, "auth");
	bool auth_set = r->auth != NULL;
	if (!r->auth)
		r->auth = xstrdup("auto");
	r->senders = get_list(sec, "senders", &r->nsenders);

	const char *n = r->name;
	if (!name_chars(n, "._-"))
		fail_at(line_of(sec, NULL), "relay \"%s\": name must be 1-64 letters, digits, "
			"'.', '_' or '-'", n);
	else if (!r->host)
		fail_at(line_of(sec, NULL), "relay \"%s\": host is required", n);
	else if (r->password_file && r->password_command)
		fail_at(line_of(sec, "password_command"), "relay \"%s\": password_file and "
			"password_command are exclusive: choose one", n);
	else if ((r->password_file || r->password_command) && !r->username)
		fail_at(line_of(sec, r->password_file ? "password_file" : "password_command"),
			"relay \"%s\": a password without a username", n);
	else if (r->username && !r->password_file && !r->password_command)
		fail_at(line_of(sec, "username"), "relay \"%s\": username needs password_file "
			"or password_command", n);
	else if (auth_set && !r->username)
		fail_at(line_of(sec, "auth"), "relay \"%s\": auth without a username", n);
}

static void take_policy(struct sp_tls_policy *p, cfg_t *sec)
{
	p->host = xstrdup(cfg_title(sec));
	char *verify = get_str(sec, "verify");
	p->verify = !verify || strcmp(verify, "ca") == 0 ? SP_VERIFY_CA
		    : strcmp(verify, "pin") == 0 ? SP_VERIFY_PIN : SP_VERIFY_ENCRYPT;
	free(verify);
	p->ca_file = get_str(sec, "ca_file");
	p->verify_name = get_str(sec, "verify_name");
	p->pins = get_list(sec, "pin_sha256", &p->npins);
	char *minv = get_str(sec, "min_version");
	p->min_version = minv && strcmp(minv, "TLS1.3") == 0 ? 13 : 12;
	free(minv);
	p->priority = get_str(sec, "priority");
	p->client_cert = get_str(sec, "client_cert");
	p->client_key = get_str(sec, "client_key");

	const char *h = p->host;
	if (strcmp(h, "*") != 0 && !host_chars(h, true))
		fail_at(line_of(sec, NULL), "tls_policy \"%s\": must be a host name or \"*\" "
			"(no other wildcards)", h);
	else if (p->verify == SP_VERIFY_PIN && p->npins == 0)
		fail_at(line_of(sec, "verify"), "tls_policy \"%s\": verify = \"pin\" needs at "
			"least one pin_sha256", h);
	else if (p->verify != SP_VERIFY_PIN && p->npins)
		fail_at(line_of(sec, "pin_sha256"), "tls_policy \"%s\": pin_sha256 is only used "
			"with verify = \"pin\"", h);
	else if (p->verify != SP_VERIFY_CA && (p->ca_file || p->verify_name))
		fail_at(line_of(sec, p->ca_file ? "ca_file" : "verify_name"), "tls_policy "
			"\"%s\": %s is only used with verify = \"ca\"", h,
			p->ca_file ? "ca_file" : "verify_name");
	else if (!p->client_cert != !p->client_key)
		fail_at(line_of(sec, p->client_cert ? "client_cert" : "client_key"), "tls_policy "
			"\"%s\": client_cert and client_key go together", h);
}

static void take_queue(struct sp_config *c, cfg_t *root)
{
	if (cfg_size(root, "queue")) {
		cfg_t *q = cfg_getsec(root, "queue");
		take_num(q, "retry_min", &c->queue.retry_min);
		take_num(q, "retry_max", &c->queue.retry_max);
		take_num(q, "lifetime", &c->queue.lifetime);
		take_num(q, "concurrency", &c->queue.concurrency);
		take_num(q, "delay_warning", &c->queue.delay_warning);
		if (c->queue.retry_min > c->queue.retry_max)
			fail_at(line_of(q, key_line(rec_for(q), "retry_min") ? "retry_min" : "retry_max"),
				"retry_min must not be longer than retry_max");
		else if (c->queue.delay_warning && c->queue.delay_warning >= c->queue.lifetime)
			fail_at(line_of(q, "delay_warning"), "delay_warning must be shorter than "
				"lifetime (or 0: off)");
	}
	if (cfg_size(root, "timeouts")) {
		cfg_t *t = cfg_getsec(root, "timeouts");
		take_num(t, "connect", &c->timeouts.connect);
		take_num(t, "command", &c->timeouts.command);
		take_num(t, "data", &c->timeouts.data);
	}
}

static void take_config(struct sp_config *c, cfg_t *root)
{
	bool domain_set = cfg_size(root, "domain") != 0;
	take_str(root, "hostname", &c->hostname);
	take_str(root, "log", &c->log);
	take_str(root, "log_format", &c->log_format);
	take_str(root, "domain", &c->domain);
	if (!domain_set) {
		free(c->domain);
		c->domain = xstrdup(c->hostname);
	}
	take_str(root, "spool_dir", &c->spool_dir);
	take_str(root, "aliases", &c->aliases_file);
	if (cfg_size(root, "max_message_size"))
		c->max_message_size = (uint64_t)cfg_getint(root, "max_message_size");
	take_str(root, "sender_rewrite", &c->sender_rewrite);
	take_queue(c, root);

	size_t n = cfg_size(root, "alias");
	c->aliases = xcalloc(n + 1, sizeof(*c->aliases));
	for (size_t i = 0; i < n && !ctx->failed; i++, c->naliases++)
		take_alias(&c->aliases[i], cfg_getnsec(root, "alias", (unsigned)i));
	n = cfg_size(root, "relay");
	c->relays = xcalloc(n + 1, sizeof(*c->relays));
	for (size_t i = 0; i < n && !ctx->failed; i++, c->nrelays++)
		take_relay(&c->relays[i], cfg_getnsec(root, "relay", (unsigned)i));
	n = cfg_size(root, "tls_policy");
	c->policies = xcalloc(n + 1, sizeof(*c->policies));
	for (size_t i = 0; i < n && !ctx->failed; i++, c->npolicies++)
		take_policy(&c->policies[i], cfg_getnsec(root, "tls_policy", (unsigned)i));
}

#define HOOK CFG_STR_LIST_CB(SECTION_HOOK, "{open}", CFGF_NONE, cb_section_open)
#define STR(name) CFG_STR_CB(name, NULL, CFGF_NODEFAULT, cb_string)
#define LIST(name) CFG_STR_LIST_CB(name, NULL, CFGF_NODEFAULT, cb_string)
#define NUM(name) CFG_INT_CB(name, 0, CFGF_NODEFAULT, cb_number)

/* Parse the cleaned text into c. */
static void parse_into(struct sp_config *c, struct buf *text)
{
	cfg_opt_t alias_opts[] = { HOOK, LIST("to"), CFG_END() };
	cfg_opt_t relay_opts[] = {
		HOOK, STR("host"), NUM("port"), STR("tls"), STR("username"),
		STR("password_file"), STR("password_command"), STR("auth"), LIST("senders"),
		CFG_END()
	};
	cfg_opt_t policy_opts[] = {
		HOOK, STR("verify"), STR("ca_file"), STR("verify_name"), LIST("pin_sha256"),
		STR("min_version"), STR("priority"), STR("client_cert"), STR("client_key"),
		CFG_END()
	};
	cfg_opt_t queue_opts[] = {
		HOOK, NUM("retry_min"), NUM("retry_max"), NUM("lifetime"), NUM("concurrency"),
		NUM("delay_warning"), CFG_END()
	};
	cfg_opt_t timeout_opts[] = { HOOK, NUM("connect"), NUM("command"), NUM("data"), CFG_END() };
	cfg_opt_t opts[] = {
		STR("hostname"), STR("log"), STR("log_format"), STR("domain"), STR("spool_dir"),
		STR("aliases"), NUM("max_message_size"), STR("sender_rewrite"),
		CFG_SEC("alias", alias_opts, CFGF_MULTI | CFGF_TITLE),
		CFG_SEC("relay", relay_opts, CFGF_MULTI | CFGF_TITLE),
		CFG_SEC("tls_policy", policy_opts, CFGF_MULTI | CFGF_TITLE),
		CFG_SEC("queue", queue_opts, CFGF_MULTI),
		CFG_SEC("timeouts", timeout_opts, CFGF_MULTI),
		CFG_END()
	};
	cfg_t *root = cfg_init(opts, CFGF_NONE);
	if (!root)
		abort();
	cfg_set_error_function(root, cb_error);
	free(root->filename);
	root->filename = xstrdup(ctx->path);
	rec_add(root, "root", NULL, 1);
	if (text->len > 0) {
		FILE *fp = fmemopen(text->data, text->len, "r");
		if (!fp)
			abort();
		int rc = cfg_parse_fp(root, fp);
		fclose(fp);
		if (rc != CFG_SUCCESS && !ctx->failed)
			fail_at(root->line, "syntax error");
	}
	if (!ctx->failed)
		take_config(c, root);
	cfg_free(root);
}

int conf_load(const char *path, bool missing_ok, struct sp_config **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!path)
		path = conf_default_path();
	bool missing;
	size_t len = 0;
	char *data = read_file(path, missing_ok, &missing, &len, err, errlen);
	if (!data && !missing)
		return -1;
	struct sp_config *c = config_defaults();
	if (missing) {
		*out = c;
		return 0;
	}
	c->path = xstrdup(path);

	struct load_ctx lc = { .path = path, .err = err, .errlen = errlen };
	ctx = &lc;
	struct buf text;
	buf_init(&text);
	if (clean_text(data, len, &text) == 0)
		parse_into(c, &text);
	buf_free(&text);
	free(data);
	for (size_t i = 0; i < lc.nsecs; i++) {
		free(lc.secs[i].kind);
		free(lc.secs[i].title);
	}
	free(lc.secs);
	ctx = NULL;
	if (lc.failed) {
		conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void conf_free(struct sp_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->naliases; i++) {
		free(c->aliases[i].name);
		free_list(c->aliases[i].to, c->aliases[i].nto);
	}
	for (size_t i = 0; i < c->nrelays; i++) {
		struct sp_relay *r = &c->relays[i];
		free(r->name);
		free(r->host);
		free(r->username);
		free(r->password_file);
		free(r->password_command);
		free(r->auth);
		free_list(r->senders, r->nsenders);
	}
	for (size_t i = 0; i < c->npolicies; i++) {
		struct sp_tls_policy *p = &c->policies[i];
		free(p->host);
		free(p->ca_file);
		free(p->verify_name);
		free_list(p->pins, p->npins);
		free(p->priority);
		free(p->client_cert);
		free(p->client_key);
	}
	free(c->aliases);
	free(c->relays);
	free(c->policies);
	free(c->path);
	free(c->hostname);
	free(c->log);
	free(c->log_format);
	free(c->domain);
	free(c->spool_dir);
	free(c->aliases_file);
	free(c->sender_rewrite);
	free(c);
}

/* ---- small public helpers ------------------------------------------------ */

const char *conf_default_path(void)
{
	return SYSCONFDIR "/sealpost.conf";
}

bool conf_parse_duration(const char *s, unsigned *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (!s || *s < '0' || *s > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
	}
	uint64_t mult = 1;
	switch (*p) {
	case '\0': break;
	case 's': case 'S': p++; break;
	case 'm': case 'M': mult = 60; p++; break;
	case 'h': case 'H': mult = 3600; p++; break;
	case 'd': case 'D': mult = 86400; p++; break;
	default: return false;
	}
	if (*p != '\0' || v * mult > UINT32_MAX)
		return false;
	*out = (unsigned)(v * mult);
	return true;
}

void conf_format_duration(unsigned secs, char out[16])
{
	if (secs == 0)
		snprintf(out, 16, "0");
	else if (secs % 86400 == 0)
		snprintf(out, 16, "%ud", secs / 86400);
	else if (secs % 3600 == 0)
		snprintf(out, 16, "%uh", secs / 3600);
	else if (secs % 60 == 0)
		snprintf(out, 16, "%um", secs / 60);
	else
		snprintf(out, 16, "%us", secs);
}

const char *conf_tls_mode_name(enum sp_tls_mode mode)
{
	return mode == SP_TLS_IMPLICIT ? "implicit" : "starttls";
}

const char *conf_verify_name(enum sp_verify verify)
{
	return verify == SP_VERIFY_PIN ? "pin" : verify == SP_VERIFY_ENCRYPT ? "encrypt" : "ca";
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

bool conf_pin_decode(const char *b64, unsigned char out[32])
{
	/* 32 bytes = 43 characters (258 bits, the last 2 zero) and one '='. */
	if (!b64 || strlen(b64) != 44 || b64[43] != '=')
		return false;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < 43; i++) {
		int v = b64_value(b64[i]);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o == 32 && (acc & ((1u << bits) - 1)) == 0;
}

bool conf_relay_matches_sender(const struct sp_relay *relay, const char *sender)
{
	if (!sender)
		sender = "";
	if (relay->nsenders == 0)
		return true;
	for (size_t i = 0; i < relay->nsenders; i++) {
		const char *pat = relay->senders[i];
		if (strcmp(pat, "<>") == 0 ? !*sender
		    : *sender && fnmatch(pat, sender, FNM_CASEFOLD) == 0)
			return true;
	}
	return false;
}

const struct sp_tls_policy *conf_policy_for(const struct sp_config *cfg, const char *host)
{
	const struct sp_tls_policy *fallback = &builtin_policy;
	for (size_t i = 0; cfg && i < cfg->npolicies; i++) {
		const struct sp_tls_policy *p = &cfg->policies[i];
		if (strcmp(p->host, "*") == 0)
			fallback = p;
		else if (host && ascii_casecmp(p->host, host) == 0)
			return p;
	}
	return fallback;
}

/* ---- conf_dump ------------------------------------------------------------ */

/* A value in config syntax: quoted, with " and \ escaped. */
static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void put_str(FILE *out, const char *indent, const char *key, const char *v,
		    const char *unset)
{
	if (!v) {
		fprintf(out, "%s# %-16s (unset: %s)\n", indent, key, unset);
		return;
	}
	fprintf(out, "%s%-16s = ", indent, key);
	put_quoted(out, v);
	fputc('\n', out);
}

static void put_values(FILE *out, char **v, size_t n)
{
	fputc('{', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", out);
		put_quoted(out, v[i]);
	}
	fputc('}', out);
}

static void put_list(FILE *out, const char *indent, const char *key, char **v, size_t n)
{
	fprintf(out, "%s%-16s = ", indent, key);
	put_values(out, v, n);
	fputc('\n', out);
}

static void put_duration(FILE *out, const char *key, unsigned secs)
{
	char d[16];
	conf_format_duration(secs, d);
	fprintf(out, "  %-13s = %s\n", key, d);
}

static const char *verify_meaning(enum sp_verify v)
{
	switch (v) {
	case SP_VERIFY_PIN:
		return "pinned public key; chain and name not checked";
	case SP_VERIFY_ENCRYPT:
		return "WARNING: encrypted but NOT authenticated";
	default:
		return "certificate chain and host name";
	}
}

static void dump_effective_policy(FILE *out, const struct sp_config *cfg, const struct sp_relay *r)
{
	const struct sp_tls_policy *p = conf_policy_for(cfg, r->host);
	if (p == &builtin_policy)
		fprintf(out, "  # TLS policy: built-in default (no tls_policy \"%s\" or \"*\")\n",
			r->host);
	else if (strcmp(p->host, "*") == 0)
		fprintf(out, "  # TLS policy: tls_policy \"*\" (no tls_policy \"%s\")\n", r->host);
	else
		fprintf(out, "  # TLS policy: tls_policy \"%s\"\n", p->host);
	fprintf(out, "  #   verify      = %s (%s)\n", conf_verify_name(p->verify),
		verify_meaning(p->verify));
	if (p->verify == SP_VERIFY_CA) {
		fprintf(out, "  #   ca_file     = %s\n", p->ca_file ? p->ca_file : "system trust store");
		fprintf(out, "  #   verify_name = %s\n", p->verify_name ? p->verify_name : r->host);
	}
	for (size_t i = 0; i < p->npins; i++)
		fprintf(out, "  #   pin_sha256  = %s\n", p->pins[i]);
	fprintf(out, "  #   min_version = TLS1.%d\n", p->min_version == 13 ? 3 : 2);
	fprintf(out, "  #   priority    = %s\n", p->priority ? p->priority : "built-in");
	if (p->client_cert)
		fprintf(out, "  #   client_cert = %s, client_key = %s\n", p->client_cert, p->client_key);
}

static void dump_relay(FILE *out, const struct sp_config *cfg, const struct sp_relay *r)
{
	fputs("relay ", out);
	put_quoted(out, r->name);
	fputs(" {\n", out);
	put_str(out, "  ", "host", r->host, "");
	fprintf(out, "  %-16s = %u\n", "port", r->port);
	put_str(out, "  ", "tls", conf_tls_mode_name(r->tls), "");
	put_str(out, "  ", "username", r->username, "no AUTH");
	if (r->password_command)
		put_str(out, "  ", "password_command", "<command, masked>", "");
	else
		put_str(out, "  ", "password_file", r->password_file, "no AUTH");
	put_str(out, "  ", "auth", r->username ? r->auth : NULL, "no AUTH");
	put_list(out, "  ", "senders", r->senders, r->nsenders);
	if (r->nsenders == 0)
		fputs("  # senders: any envelope sender\n", out);
	dump_effective_policy(out, cfg, r);
	fputs("}\n", out);
}

static void dump_policy(FILE *out, const struct sp_tls_policy *p)
{
	fputs("tls_policy ", out);
	put_quoted(out, p->host);
	fputs(" {\n", out);
	put_str(out, "  ", "verify", conf_verify_name(p->verify), "");
	put_str(out, "  ", "ca_file", p->ca_file, "system trust store");
	put_str(out, "  ", "verify_name", p->verify_name, "the relay host");
	put_list(out, "  ", "pin_sha256", p->pins, p->npins);
	put_str(out, "  ", "min_version", p->min_version == 13 ? "TLS1.3" : "TLS1.2", "");
	put_str(out, "  ", "priority", p->priority, "built-in");
	put_str(out, "  ", "client_cert", p->client_cert, "none");
	put_str(out, "  ", "client_key", p->client_key, "none");
	fputs("}\n", out);
}

void conf_dump(const struct sp_config *cfg, FILE *out)
{
	if (cfg->path)
		fprintf(out, "# sealpost configuration from %s (effective values)\n", cfg->path);
	else
		fputs("# sealpost configuration: built-in defaults (no config file)\n", out);
	put_str(out, "", "hostname", cfg->hostname, "");
	put_str(out, "", "log", cfg->log, "");
	put_str(out, "", "log_format", cfg->log_format, "");
	put_str(out, "", "domain", cfg->domain, "");
	put_str(out, "", "spool_dir", cfg->spool_dir, "");
	put_str(out, "", "aliases", cfg->aliases_file ? cfg->aliases_file : "", "");
	fprintf(out, "%-16s = %llu\n", "max_message_size",
		(unsigned long long)cfg->max_message_size);
	put_str(out, "", "sender_rewrite", cfg->sender_rewrite ? cfg->sender_rewrite : "", "");

	fputs("\nqueue {\n", out);
	put_duration(out, "retry_min", cfg->queue.retry_min);
	put_duration(out, "retry_max", cfg->queue.retry_max);
	put_duration(out, "lifetime", cfg->queue.lifetime);
	fprintf(out, "  %-13s = %u\n", "concurrency", cfg->queue.concurrency);
	put_duration(out, "delay_warning", cfg->queue.delay_warning);
	fputs("}\ntimeouts {\n", out);
	put_duration(out, "connect", cfg->timeouts.connect);
	put_duration(out, "command", cfg->timeouts.command);
	put_duration(out, "data", cfg->timeouts.data);
	fputs("}\n", out);

	if (cfg->naliases)
		fputc('\n', out);
	for (size_t i = 0; i < cfg->naliases; i++) {
		fputs("alias ", out);
		put_quoted(out, cfg->aliases[i].name);
		fputs(" { to = ", out);
		put_values(out, cfg->aliases[i].to, cfg->aliases[i].nto);
		fputs(" }\n", out);
	}

	if (cfg->nrelays == 0)
		fputs("\n# no relay configured: mail stays queued\n", out);
	for (size_t i = 0; i < cfg->nrelays; i++) {
		fputc('\n', out);
		dump_relay(out, cfg, &cfg->relays[i]);
	}
	for (size_t i = 0; i < cfg->npolicies; i++) {
		fputc('\n', out);
		dump_policy(out, &cfg->policies[i]);
	}
}
