/*
 * mailq.c - `sealpost -bp` / `mailq`: list the queue.
 *
 * One pass over queue/ (spool_scan_envelopes: each envelope opened relative
 * to the directory, one read), sorted by arrival, printed either in the
 * sendmail/Postfix layout or as one JSON array. No message body is opened,
 * no lock is taken, nothing is forked: 10,000 entries cost 10,000 small
 * reads. Runs with the front end's privilege; everything read from the
 * spool is treated as hostile text (escaped for the terminal or JSON).
 *
 * Human layout (times are local, as Postfix prints them):
 *
 *   -Queue ID-------- --Size-- ----Arrival Time---- -Sender/Recipient-------
 *   0123456789ABCDEF!     4096 Sat Nov 28 12:00:00  a@example.org
 *                                                  (connect to mx: refused)
 *                                                  b@example.net  [deferred, attempt 3, next Sat Nov 28 12:05:00]
 *
 *   -- 4 Kbytes in 1 Request.
 *
 * '!' after the id marks a held message (Postfix's marker). The null
 * sender is shown as MAILER-DAEMON (as Postfix does; JSON gives ""). The
 * last error is printed in parentheses above its recipient, once for a run
 * of recipients sharing it. Sent recipients are not listed. The summary
 * rounds the total size up to whole Kbytes and says "Request" for one
 * message, "Requests" otherwise (Postfix's wording). An empty queue prints
 * exactly "Mail queue is empty".
 *
 * JSON (`-bp --json`): one array, one object per message, oldest first, as
 * SPEC section 2 shows; "[]" when empty. Times are RFC 3339 UTC;
 * "next_attempt" is null when the recipient is due now (never tried) or has
 * failed; "last_error" is null when there is none. Strings are escaped by
 * json_escape() (mailq.h): invalid UTF-8 bytes appear as \u00XX (Latin-1).
 */
#include "config.h"

#include "mailq.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "spool.h"

#define RCPT_COLUMN 48       /* where sender and recipients start */
#define MAX_SHOWN_ERROR 1000 /* bytes of a last error shown in the layout */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when the bytes there
 * are not valid UTF-8 (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_valid_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* How many bytes from s on are printable ASCII needing no escape (the
 * common case, copied in one go). */
static size_t plain_run(const unsigned char *s, size_t n, bool json)
{
	size_t i = 0;
	while (i < n && s[i] >= 0x20 && s[i] < 0x7f && !(json && (s[i] == '"' || s[i] == '\\')))
		i++;
	return i;
}

/* One character that is not plain ASCII, as JSON: a valid UTF-8 sequence
 * as is, an invalid byte as \u00XX (Latin-1), ASCII escaped. */
static void json_special(struct buf *b, const unsigned char *p, size_t len, uint32_t cp)
{
	if (len == 0)
		buf_printf(b, "\\u%04x", (unsigned)p[0]);
	else if (len > 1)
		buf_add(b, p, len);
	else if (cp == '"' || cp == '\\')
		buf_printf(b, "\\%c", (char)cp);
	else if (cp == '\n')
		buf_adds(b, "\\n");
	else if (cp == '\r')
		buf_adds(b, "\\r");
	else if (cp == '\t')
		buf_adds(b, "\\t");
	else
		buf_printf(b, "\\u%04x", (unsigned)cp);
}

/* One character that is not plain ASCII, for a terminal: printable UTF-8
 * as is, controls (C0, DEL, C1) and invalid bytes as '?'. */
static void text_special(struct buf *b, const unsigned char *p, size_t len, uint32_t cp)
{
	if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
		buf_addc(b, '?');
	else
		buf_add(b, p, len);
}

static void escape_into(struct buf *b, const char *s, size_t n, bool json)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t run = plain_run(u + i, n - i, json);
		if (run) {
			buf_add(b, u + i, run);
			i += run;
			continue;
		}
		uint32_t cp = 0;
		size_t len = utf8_valid_len(u + i, n - i, &cp);
		if (json)
			json_special(b, u + i, len, cp);
		else
			text_special(b, u + i, len, cp);
		i += len ? len : 1;
	}
}

void json_escape(struct buf *b, const char *s, size_t n)
{
	buf_addc(b, '"');
	escape_into(b, s, n, true);
	buf_addc(b, '"');
}

void text_sanitize(struct buf *b, const char *s, size_t n)
{
	escape_into(b, s, n, false);
}

static void text_sanitize_str(struct buf *b, const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max) {
		text_sanitize(b, s, max);
		buf_adds(b, "...");
	} else {
		text_sanitize(b, s, n);
	}
}

struct env_list {
	struct envelope *envs;
	size_t n, cap;
};

static int collect_env(const char *id, struct envelope *env, const char *why, void *ctx)
{
	struct env_list *l = ctx;
	if (!env) {
		fprintf(stderr, "mailq: skipping damaged entry %s: %s\n", id, why ? why : "unreadable envelope");
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->envs = xreallocarray(l->envs, l->cap, sizeof(*l->envs));
	}
	l->envs[l->n++] = *env; /* ownership passes to the list */
	return 0;
}

static int by_arrival(const void *a, const void *b)
{
	const struct envelope *x = a, *y = b;
	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	return strcmp(x->id, y->id);
}

static void local_time(time_t t, char out[32])
{
	struct tm tm;
	localtime_r(&t, &tm);
	if (strftime(out, 32, "%a %b %e %H:%M:%S", &tm) == 0)
		strcpy(out, "?");
}

static bool rcpt_listed(const struct spool_rcpt *r)
{
	return r->state != RCPT_SENT;
}

static void format_human(struct buf *b, const struct envelope *env)
{
	char when[32];
	local_time(env->arrival, when);
	size_t start = b->len;
	text_sanitize(b, env->id, strlen(env->id));
	if (env->flags & ENV_HELD)
		buf_addc(b, '!');
	while (b->len - start < SPOOL_ID_LEN + 1)
		buf_addc(b, ' ');
	buf_printf(b, " %8llu %-20s ", (unsigned long long)env->size, when);
	if (!env->sender || !env->sender[0])
		buf_adds(b, "MAILER-DAEMON");
	else
		text_sanitize_str(b, env->sender, MAX_SHOWN_ERROR);
	buf_addc(b, '\n');

	const char *shown_error = NULL;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (!rcpt_listed(r))
			continue;
		if (r->last_error && r->last_error[0] &&
		    (!shown_error || strcmp(shown_error, r->last_error) != 0)) {
			buf_printf(b, "%*s(", RCPT_COLUMN, "");
			text_sanitize_str(b, r->last_error, MAX_SHOWN_ERROR);
			buf_adds(b, ")\n");
		}
		shown_error = r->last_error;
		buf_printf(b, "%*s", RCPT_COLUMN, "");
		text_sanitize_str(b, r->addr ? r->addr : "", MAX_SHOWN_ERROR);
		if (r->state != RCPT_PENDING || r->attempts > 0) {
			buf_printf(b, "  [%s, attempt %u", rcpt_state_name(r->state), r->attempts);
			if (r->state != RCPT_FAILED && r->next_attempt > 0) {
				local_time(r->next_attempt, when);
				buf_printf(b, ", next %s", when);
			}
			buf_addc(b, ']');
		}
		buf_addc(b, '\n');
	}
	buf_addc(b, '\n');
}

static void json_time_or_null(struct buf *b, time_t t)
{
	if (t <= 0) {
		buf_adds(b, "null");
		return;
	}
	char s[32];
	format_rfc3339(t, s);
	buf_printf(b, "\"%s\"", s);
}

static void json_str(struct buf *b, const char *s)
{
	if (!s)
		buf_adds(b, "null");
	else
		json_escape(b, s, strlen(s));
}

static void format_json(struct buf *b, const struct envelope *env)
{
	char when[32];
	format_rfc3339(env->arrival, when);
	buf_adds(b, "{\"id\": ");
	json_str(b, env->id);
	buf_printf(b, ", \"size\": %llu, \"arrival\": \"%s\", \"sender\": ",
		   (unsigned long long)env->size, when);
	json_str(b, env->sender ? env->sender : "");
	buf_printf(b, ", \"held\": %s, \"recipients\": [", (env->flags & ENV_HELD) ? "true" : "false");
	bool first = true;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (!rcpt_listed(r))
			continue;
		buf_adds(b, first ? "{\"address\": " : ", {\"address\": ");
		first = false;
		json_str(b, r->addr ? r->addr : "");
		buf_printf(b, ", \"state\": \"%s\", \"attempts\": %u, \"next_attempt\": ",
			   rcpt_state_name(r->state), r->attempts);
		json_time_or_null(b, r->state == RCPT_FAILED ? 0 : r->next_attempt);
		buf_adds(b, ", \"last_error\": ");
		json_str(b, r->last_error && r->last_error[0] ? r->last_error : NULL);
		buf_addc(b, '}');
	}
	buf_adds(b, "]}");
}

/* Load every readable envelope in one pass; damaged ones are noted and
 * skipped. Returns 0 or a sysexits code. */
static int load_queue(const char *spool_dir, struct envelope **out, size_t *nout, char *err,
		      size_t errlen)
{
	struct env_list l = { 0 };
	*out = NULL;
	*nout = 0;
	errno = 0;
	if (spool_scan_envelopes(spool_dir, collect_env, &l) != 0) {
		int e = errno;
		for (size_t i = 0; i < l.n; i++)
			envelope_free(&l.envs[i]);
		free(l.envs);
		if (e == ENOENT)
			return 0; /* no queue yet: nothing queued */
		set_err(err, errlen, "cannot list %s/queue: %s", spool_dir,
			e ? strerror(e) : "spool listing failed");
		return e == EACCES || e == EPERM ? EX_NOPERM : EX_IOERR;
	}
	if (l.n)
		qsort(l.envs, l.n, sizeof(*l.envs), by_arrival);
	*out = l.envs;
	*nout = l.n;
	return 0;
}

int mailq_print(const struct sp_config *cfg, bool json, FILE *out, char *err, size_t errlen)
{
	struct envelope *envs;
	size_t n;
	int rc = load_queue(cfg->spool_dir, &envs, &n, err, errlen);
	if (rc != 0)
		return rc;

	struct buf b;
	buf_init(&b);
	uint64_t total = 0;
	if (json)
		buf_adds(&b, n ? "[\n" : "[]\n");
	else if (n == 0)
		buf_adds(&b, "Mail queue is empty\n");
	else
		buf_printf(&b, "%-17s %-8s %-20s %s\n", "-Queue ID--------", "--Size--",
			   "----Arrival Time----", "-Sender/Recipient-------");
	for (size_t i = 0; i < n; i++) {
		if (json) {
			format_json(&b, &envs[i]);
			buf_adds(&b, i + 1 < n ? ",\n" : "\n]\n");
		} else {
			format_human(&b, &envs[i]);
		}
		total += envs[i].size;
		envelope_free(&envs[i]);
		if (b.len >= 65536) {
			fwrite(b.data, 1, b.len, out);
			buf_reset(&b);
		}
	}
	free(envs);
	if (!json && n > 0)
		buf_printf(&b, "-- %llu Kbytes in %zu Request%s.\n",
			   (unsigned long long)((total + 1023) / 1024), n, n == 1 ? "" : "s");
	if (b.len)
		fwrite(b.data, 1, b.len, out);
	buf_free(&b);
	if (fflush(out) != 0 || ferror(out)) {
		set_err(err, errlen, "writing the queue listing: %s", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}
