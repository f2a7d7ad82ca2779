/*
 * envelope.c - the envelope's text form (doc/spool-format.md): one record
 * per line, "key value..." with space-separated fields, each field
 * percent-encoded so it never holds a space, control byte or non-ASCII.
 * The parser is strict: unknown keys, missing fields, trailing junk or a
 * missing "end" line mean the file is damaged, never misread.
 * No privilege; the input is untrusted (a submitting user owns the file).
 */
#include "config.h"

#include "spool.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define ENVELOPE_VERSION "sealpost-envelope 1"
#define MAX_FIELDS 9

static const char *const state_names[] = {
	[RCPT_PENDING] = "pending",
	[RCPT_DEFERRED] = "deferred",
	[RCPT_FAILED] = "failed",
	[RCPT_SENT] = "sent",
};

const char *rcpt_state_name(enum rcpt_state s)
{
	return (unsigned)s < ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

void envelope_init(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
}

void envelope_free(struct envelope *env)
{
	free(env->sender);
	free(env->user);
	free(env->ret);
	free(env->envid);
	for (size_t i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].last_error);
		free(env->rcpts[i].report);
	}
	free(env->rcpts);
	envelope_init(env);
}

/* A new zeroed recipient at the end of env->rcpts. */
static struct spool_rcpt *new_rcpt(struct envelope *env)
{
	/* capacity doubles at each power of two: linear, not quadratic, copying */
	if ((env->nrcpts & (env->nrcpts - 1)) == 0)
		env->rcpts = xreallocarray(env->rcpts, env->nrcpts ? env->nrcpts * 2 : 1, sizeof(*env->rcpts));
	struct spool_rcpt *r = &env->rcpts[env->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->state = RCPT_PENDING;
	return r;
}

void envelope_add_rcpt(struct envelope *env, const char *addr, const char *orcpt, unsigned notify)
{
	struct spool_rcpt *r = new_rcpt(env);
	r->addr = xstrdup(addr);
	r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
	r->notify = notify;
}

/* ---- encoding: "-" is NULL, "=" is the empty string ---- */

static void put_field(struct buf *b, const char *s)
{
	buf_addc(b, ' ');
	if (!s) {
		buf_addc(b, '-');
		return;
	}
	if (!*s) {
		buf_addc(b, '=');
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool first_special = p == (const unsigned char *)s && (*p == '-' || *p == '=');
		if (*p <= 0x20 || *p >= 0x7f || *p == '%' || first_special)
			buf_printf(b, "%%%02X", *p);
		else
			buf_addc(b, (char)*p);
	}
}

static void put_num(struct buf *b, unsigned long long v)
{
	buf_printf(b, " %llu", v);
}

char *envelope_format(const struct envelope *env)
{
	struct buf b;
	buf_init(&b);
	buf_adds(&b, ENVELOPE_VERSION "\n");
	buf_printf(&b, "id %s\n", env->id);
	buf_adds(&b, "arrival");
	put_num(&b, (unsigned long long)env->arrival);
	buf_adds(&b, "\nsender");
	put_field(&b, env->sender ? env->sender : "");
	buf_adds(&b, "\nuser");
	put_num(&b, (unsigned long long)env->uid);
	put_field(&b, env->user);
	buf_adds(&b, "\nsize");
	put_num(&b, env->size);
	buf_adds(&b, "\nflags");
	put_num(&b, env->flags);
	buf_adds(&b, "\ndsn");
	put_field(&b, env->ret);
	put_field(&b, env->envid);
	buf_addc(&b, '\n');
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		buf_adds(&b, "rcpt ");
		buf_adds(&b, rcpt_state_name(r->state));
		put_num(&b, r->attempts);
		put_num(&b, (unsigned long long)r->next_attempt);
		put_num(&b, r->notify);
		put_field(&b, r->addr);
		put_field(&b, r->orcpt);
		put_field(&b, r->last_error);
		if (r->report) /* optional: absent, the line is as version 1 had it */
			put_field(&b, r->report);
		buf_addc(&b, '\n');
	}
	buf_adds(&b, "end\n");
	return buf_steal(&b);
}

/* ---- decoding ----
 * The text is read in place, never copied or modified: a line and its
 * fields are spans (start, length); only the decoded strings the envelope
 * keeps are allocated, each once at its final size (mailq parses 10,000
 * envelopes per listing). */

struct span {
	const char *p;
	size_t n;
};

static bool span_is(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode one field; *ok is cleared on malformed input. */
static char *get_field(struct span s, bool *ok)
{
	if (span_is(s, "-"))
		return NULL;
	char *out = xmalloc(s.n + 1), *o = out; /* decoding never lengthens */
	if (span_is(s, "="))
		s.n = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] != '%') {
			*o++ = s.p[i];
			continue;
		}
		int hi = i + 1 < s.n ? hexval(s.p[i + 1]) : -1;
		int lo = hi < 0 || i + 2 >= s.n ? -1 : hexval(s.p[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			*ok = false;
			break;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

/* A non-empty run of decimal digits no greater than max. */
static bool get_num(struct span s, unsigned long long max, unsigned long long *out)
{
	uint64_t v = 0;
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		unsigned d = (unsigned)(s.p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Split a line at single spaces; max + 1 means too many fields. */
static size_t split(struct span line, struct span *fields, size_t max)
{
	size_t n = 0;
	const char *p = line.p, *end = line.p + line.n;
	while (n < max) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		fields[n++] = (struct span){ p, (size_t)((sp ? sp : end) - p) };
		if (!sp)
			return n;
		p = sp + 1;
	}
	return max + 1;
}

static bool parse_rcpt(const struct span *f, size_t nf, struct envelope *env)
{
	if (nf != 8 && nf != 9)
		return false;
	enum rcpt_state st;
	for (st = RCPT_PENDING; st <= RCPT_SENT; st++)
		if (span_is(f[1], state_names[st]))
			break;
	unsigned long long attempts, next, notify;
	if (st > RCPT_SENT || !get_num(f[2], 1000000, &attempts) || !get_num(f[3], INT64_MAX, &next) ||
	    !get_num(f[4], 15, &notify))
		return false;
	bool ok = true;
	char *addr = get_field(f[5], &ok);
	char *orcpt = get_field(f[6], &ok);
	char *err = get_field(f[7], &ok);
	char *report = nf == 9 ? get_field(f[8], &ok) : NULL;
	if (!ok || !addr || (report && strlen(report) > 15)) {
		free(addr);
		free(orcpt);
		free(err);
		free(report);
		return false;
	}
	struct spool_rcpt *r = new_rcpt(env);
	r->addr = addr;
	r->orcpt = orcpt;
	r->notify = (unsigned)notify;
	r->state = st;
	r->attempts = (unsigned)attempts;
	r->next_attempt = (time_t)next;
	r->last_error = err;
	r->report = report;
	return true;
}

static bool id_field_valid(struct span s)
{
	if (s.n != SPOOL_ID_LEN)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!((s.p[i] >= '0' && s.p[i] <= '9') || (s.p[i] >= 'A' && s.p[i] <= 'F')))
			return false;
	return true;
}

enum { SEEN_ID = 1, SEEN_ARRIVAL = 2, SEEN_SENDER = 4, SEEN_USER = 8, SEEN_SIZE = 16,
       SEEN_FLAGS = 32, SEEN_DSN = 64, SEEN_ALL = 127 };

static bool parse_line(struct span line, struct envelope *env, unsigned *seen)
{
	struct span f[MAX_FIELDS];
	size_t nf = split(line, f, MAX_FIELDS);
	if (nf > MAX_FIELDS)
		return false;
	unsigned long long v;
	bool ok = true;
	struct span k = f[0];
	if (span_is(k, "rcpt"))
		return parse_rcpt(f, nf, env);
	unsigned bit = 0; /* a repeated string key is refused before it overwrites (and leaks) */
	if (span_is(k, "id") && nf == 2 && id_field_valid(f[1])) {
		bit = SEEN_ID;
		memcpy(env->id, f[1].p, SPOOL_ID_LEN);
		env->id[SPOOL_ID_LEN] = '\0';
	} else if (span_is(k, "arrival") && nf == 2 && get_num(f[1], INT64_MAX, &v)) {
		bit = SEEN_ARRIVAL;
		env->arrival = (time_t)v;
	} else if (span_is(k, "sender") && nf == 2 && !(*seen & SEEN_SENDER)) {
		bit = SEEN_SENDER;
		env->sender = get_field(f[1], &ok);
		ok = ok && env->sender;
	} else if (span_is(k, "user") && nf == 3 && !(*seen & SEEN_USER) && get_num(f[1], UINT32_MAX, &v)) {
		bit = SEEN_USER;
		env->uid = (uid_t)v;
		env->user = get_field(f[2], &ok);
	} else if (span_is(k, "size") && nf == 2 && get_num(f[1], UINT64_MAX, &v)) {
		bit = SEEN_SIZE;
		env->size = v;
	} else if (span_is(k, "flags") && nf == 2 && get_num(f[1], 255, &v)) {
		bit = SEEN_FLAGS;
		env->flags = (unsigned)v;
	} else if (span_is(k, "dsn") && nf == 3 && !(*seen & SEEN_DSN)) {
		bit = SEEN_DSN;
		env->ret = get_field(f[1], &ok);
		env->envid = get_field(f[2], &ok);
	}
	if (!bit || (*seen & bit) || !ok)
		return false;
	*seen |= bit;
	return true;
}

/* The next non-empty line from *pos on (empty lines are skipped, as the
 * format has none); false at the end of the text. */
static bool next_line(const char *text, size_t len, size_t *pos, struct span *line)
{
	while (*pos < len) {
		const char *start = text + *pos;
		const char *nl = memchr(start, '\n', len - *pos);
		size_t n = nl ? (size_t)(nl - start) : len - *pos;
		*pos += n + (nl != NULL);
		if (n) {
			*line = (struct span){ start, n };
			return true;
		}
	}
	return false;
}

int envelope_parse(const char *text, size_t len, struct envelope *env, char *err, size_t errlen)
{
	envelope_init(env);
	if (memchr(text, '\0', len)) {
		set_err(err, errlen, "envelope contains NUL bytes");
		return -1;
	}
	size_t pos = 0;
	struct span line;
	unsigned seen = 0;
	bool ended = false;
	int lineno = 1;
	const char *why = NULL;
	if (!next_line(text, len, &pos, &line) || !span_is(line, ENVELOPE_VERSION))
		why = "not a sealpost envelope (version line)";
	/* empty lines are skipped; the format has none, so the trailing
	 * "end" plus the final newline check below catches damage */
	while (!why && next_line(text, len, &pos, &line)) {
		lineno++;
		if (ended) {
			why = "data after end";
		} else if (span_is(line, "end")) {
			ended = true;
		} else if (!parse_line(line, env, &seen)) {
			why = "malformed record";
		}
	}
	if (!why && (!ended || text[len - 1] != '\n'))
		why = "truncated (no end line)";
	if (!why && seen != SEEN_ALL)
		why = "missing a required record";
	if (!why && env->nrcpts == 0)
		why = "no recipients";
	if (why) {
		set_err(err, errlen, "damaged envelope, line %d: %s", lineno, why);
		envelope_free(env);
		return -1;
	}
	return 0;
}
