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
#include "mailq_jsonl.h"

#include <errno.h>
#include <limits.h>
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

/* Listing order: arrival, then id. Ids are SPOOL_ID_LEN uppercase hex
 * digits (checked by the parser), so comparing their values orders them
 * as strcmp does, without touching the strings. */
struct order_key {
	int64_t arrival;
	uint64_t id;
	size_t index;
};

static int by_arrival(const void *a, const void *b)
{
	const struct order_key *x = a, *y = b;
	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

static uint64_t id_value(const char *id)
{
	uint64_t v = 0;
	for (size_t i = 0; i < SPOOL_ID_LEN; i++)
		v = v << 4 | (uint64_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10);
	return v;
}

/*
 * Times are formatted once per minute, not once per entry: the text of
 * the last minute seen is kept and only its two seconds digits change.
 * A minute is reused only once formatting its first and last second gave
 * the same text apart from those digits (so no zone change or leap second
 * falls inside it); anything else is formatted afresh.
 */
#define TIME_T_MAX ((time_t)((UINT64_C(1) << (sizeof(time_t) * CHAR_BIT - 1)) - 1))

enum minute_state { MINUTE_NONE, MINUTE_SEEN, MINUTE_UNIFORM, MINUTE_MIXED };

struct time_cache {
	void (*format)(time_t t, char out[32]);
	size_t sec_from_end;    /* where the seconds digits end the text */
	size_t sec_at;          /* where they are in the cached minute's text */
	time_t minute;          /* start of the minute last formatted */
	enum minute_state state;
	char text[32];
};

static void format_local(time_t t, char out[32])
{
	struct tm tm;
	if (!localtime_r(&t, &tm) || strftime(out, 32, "%a %b %e %H:%M:%S", &tm) == 0)
		strcpy(out, "?");
}

/* The seconds shown in s, or -1 when s has none where expected. */
static int shown_seconds(const char *s, size_t at)
{
	if (strlen(s) < at + 2 || s[at] < '0' || s[at] > '5' || s[at + 1] < '0' || s[at + 1] > '9')
		return -1;
	return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

static void set_seconds(char *s, size_t at, int sec)
{
	s[at] = (char)('0' + sec / 10);
	s[at + 1] = (char)('0' + sec % 10);
}

/* Does the cached minute read the same for all its 60 seconds? */
static bool minute_uniform(struct time_cache *c)
{
	char last[32];
	c->format(c->minute, c->text);
	c->format(c->minute + 59, last);
	if (shown_seconds(c->text, c->sec_at) != 0 || shown_seconds(last, c->sec_at) != 59)
		return false;
	set_seconds(last, c->sec_at, 0);
	return strcmp(c->text, last) == 0;
}

static const char *cached_time(struct time_cache *c, time_t t)
{
	bool in_minute = c->state != MINUTE_NONE && t >= c->minute && t - c->minute < 60;
	if (in_minute && c->state == MINUTE_SEEN)
		c->state = minute_uniform(c) ? MINUTE_UNIFORM : MINUTE_MIXED;
	if (in_minute && c->state == MINUTE_UNIFORM) {
		set_seconds(c->text, c->sec_at, (int)(t - c->minute));
		return c->text;
	}
	c->format(t, c->text);
	if (!in_minute) {
		size_t len = strlen(c->text);
		c->sec_at = len >= c->sec_from_end ? len - c->sec_from_end : 0;
		int sec = shown_seconds(c->text, c->sec_at);
		bool usable = sec >= 0 && t >= sec && t <= TIME_T_MAX - 60;
		c->state = usable ? MINUTE_SEEN : MINUTE_NONE;
		c->minute = usable ? t - sec : 0;
	}
	return c->text;
}

/* ---- output helpers: the listing is built without printf ---- */

static const char spaces[] = "                                                ";
_Static_assert(sizeof(spaces) == RCPT_COLUMN + 1, "one line of indentation");

static void add_spaces(struct buf *b, size_t n)
{
	for (; n > RCPT_COLUMN; n -= RCPT_COLUMN)
		buf_add(b, spaces, RCPT_COLUMN);
	buf_add(b, spaces, n);
}

/* Decimal v, right-aligned in width columns. */
static void add_number(struct buf *b, uint64_t v, size_t width)
{
	char digits[24];
	size_t n = sizeof(digits);
	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	size_t len = sizeof(digits) - n;
	if (width > len)
		add_spaces(b, width - len);
	buf_add(b, digits + n, len);
}

static bool rcpt_listed(const struct spool_rcpt *r)
{
	return r->state != RCPT_SENT;
}

struct listing {
	struct buf out;
	struct time_cache arrival;  /* arrivals come in order: mostly hits */
	struct time_cache next;     /* next attempts: hits when clustered */
};

static void format_human(struct listing *l, const struct envelope *env)
{
	struct buf *b = &l->out;
	size_t start = b->len;
	text_sanitize(b, env->id, strlen(env->id));
	if (env->flags & ENV_HELD)
		buf_addc(b, '!');
	if (b->len - start < SPOOL_ID_LEN + 1)
		add_spaces(b, SPOOL_ID_LEN + 1 - (b->len - start));
	buf_addc(b, ' ');
	add_number(b, env->size, 8);
	buf_addc(b, ' ');
	const char *when = cached_time(&l->arrival, env->arrival);
	size_t wlen = strlen(when);
	buf_add(b, when, wlen);
	add_spaces(b, wlen < 20 ? 20 - wlen : 0);
	buf_addc(b, ' ');
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
			add_spaces(b, RCPT_COLUMN);
			buf_addc(b, '(');
			text_sanitize_str(b, r->last_error, MAX_SHOWN_ERROR);
			buf_adds(b, ")\n");
		}
		shown_error = r->last_error;
		add_spaces(b, RCPT_COLUMN);
		text_sanitize_str(b, r->addr ? r->addr : "", MAX_SHOWN_ERROR);
		if (r->state != RCPT_PENDING || r->attempts > 0) {
			buf_adds(b, "  [");
			buf_adds(b, rcpt_state_name(r->state));
			buf_adds(b, ", attempt ");
			add_number(b, r->attempts, 0);
			if (r->state != RCPT_FAILED && r->next_attempt > 0) {
				buf_adds(b, ", next ");
				buf_adds(b, cached_time(&l->next, r->next_attempt));
			}
			buf_addc(b, ']');
		}
		buf_addc(b, '\n');
	}
	buf_addc(b, '\n');
}

static void json_time(struct buf *b, struct time_cache *c, time_t t)
{
	buf_addc(b, '"');
	buf_adds(b, cached_time(c, t));
	buf_addc(b, '"');
}

static void json_time_or_null(struct buf *b, struct time_cache *c, time_t t)
{
	if (t <= 0)
		buf_adds(b, "null");
	else
		json_time(b, c, t);
}

static void json_str(struct buf *b, const char *s)
{
	if (!s)
		buf_adds(b, "null");
	else
		json_escape(b, s, strlen(s));
}

static void format_json(struct listing *l, const struct envelope *env)
{
	struct buf *b = &l->out;
	buf_adds(b, "{\"id\": ");
	json_str(b, env->id);
	buf_adds(b, ", \"size\": ");
	add_number(b, env->size, 0);
	buf_adds(b, ", \"arrival\": ");
	json_time(b, &l->arrival, env->arrival);
	buf_adds(b, ", \"sender\": ");
	json_str(b, env->sender ? env->sender : "");
	buf_adds(b, (env->flags & ENV_HELD) ? ", \"held\": true" : ", \"held\": false");
	buf_adds(b, ", \"recipients\": [");
	bool first = true;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (!rcpt_listed(r))
			continue;
		buf_adds(b, first ? "{\"address\": " : ", {\"address\": ");
		first = false;
		json_str(b, r->addr ? r->addr : "");
		buf_adds(b, ", \"state\": \"");
		buf_adds(b, rcpt_state_name(r->state));
		buf_adds(b, "\", \"attempts\": ");
		add_number(b, r->attempts, 0);
		buf_adds(b, ", \"next_attempt\": ");
		json_time_or_null(b, &l->next, r->state == RCPT_FAILED ? 0 : r->next_attempt);
		buf_adds(b, ", \"last_error\": ");
		json_str(b, r->last_error && r->last_error[0] ? r->last_error : NULL);
		buf_addc(b, '}');
	}
	buf_adds(b, "]}");
}

/* Load every readable envelope in one pass; damaged ones are noted and
 * skipped. *order gets the listing order. Returns 0 or a sysexits code. */
static int load_queue(const char *spool_dir, mailq_fetch_fn fetch, size_t *hidden, struct env_list *l,
		      struct order_key **order, char *err, size_t errlen)
{
	*order = NULL;
	*hidden = 0;
	if (fetch) {
		int rc = fetch(spool_dir, collect_env, l, hidden, err, errlen);
		if (rc != 0) {
			for (size_t i = 0; i < l->n; i++)
				envelope_free(&l->envs[i]);
			free(l->envs);
			l->envs = NULL;
			l->n = 0;
			return rc;
		}
	}
	errno = 0;
	if (!fetch && spool_scan_envelopes(spool_dir, collect_env, l) != 0) {
		int e = errno;
		for (size_t i = 0; i < l->n; i++)
			envelope_free(&l->envs[i]);
		free(l->envs);
		l->envs = NULL;
		l->n = 0;
		if (e == ENOENT)
			return 0; /* no queue yet: nothing queued */
		set_err(err, errlen, "cannot list %s/queue: %s", spool_dir,
			e ? strerror(e) : "spool listing failed");
		return e == EACCES || e == EPERM ? EX_NOPERM : EX_IOERR;
	}
	if (l->n == 0)
		return 0;
	*order = xreallocarray(NULL, l->n, sizeof(**order));
	for (size_t i = 0; i < l->n; i++)
		(*order)[i] = (struct order_key){ l->envs[i].arrival, id_value(l->envs[i].id), i };
	qsort(*order, l->n, sizeof(**order), by_arrival);
	return 0;
}

int mailq_print(const struct sp_config *cfg, enum mailq_format format, FILE *out, char *err, size_t errlen)
{
	return mailq_print_from(cfg, NULL, format, out, err, errlen);
}

int mailq_print_from(const struct sp_config *cfg, mailq_fetch_fn fetch, enum mailq_format format, FILE *out, char *err,
		     size_t errlen)
{
	bool json = format == MAILQ_JSON, lines = format == MAILQ_JSON_LINES;
	struct env_list envs = { 0 };
	struct order_key *order;
	size_t hidden;
	int rc = load_queue(cfg->spool_dir, fetch, &hidden, &envs, &order, err, errlen);
	if (rc != 0)
		return rc;
	size_t n = envs.n;

	const struct time_cache times = {
		.format = json ? format_rfc3339 : format_local,
		.sec_from_end = json ? 3 : 2, /* "...:SSZ", "...:SS" */
		.state = MINUTE_NONE,
	};
	struct listing l = { .arrival = times, .next = times };
	buf_init(&l.out);
	uint64_t total = 0;
	if (lines)
		; /* nothing but the messages: an empty queue prints nothing */
	else if (json)
		buf_adds(&l.out, n ? "[\n" : "[]\n");
	else if (n == 0 && hidden == 0)
		buf_adds(&l.out, "Mail queue is empty\n");
	else if (n == 0)
		buf_printf(&l.out, "None of your messages is queued (%zu of other users are not shown).\n", hidden);
	else
		buf_printf(&l.out, "%-17s %-8s %-20s %s\n", "-Queue ID--------", "--Size--",
			   "----Arrival Time----", "-Sender/Recipient-------");
	for (size_t i = 0; i < n; i++) {
		struct envelope *env = &envs.envs[order[i].index];
		if (lines) {
			mailq_format_postqueue(&l.out, env);
		} else if (json) {
			format_json(&l, env);
			buf_adds(&l.out, i + 1 < n ? ",\n" : "\n]\n");
		} else {
			format_human(&l, env);
		}
		total += env->size;
		envelope_free(env);
		if (l.out.len >= 65536) {
			fwrite(l.out.data, 1, l.out.len, out);
			buf_reset(&l.out);
		}
	}
	free(order);
	free(envs.envs);
	if (format == MAILQ_TEXT && n > 0)
		buf_printf(&l.out, "-- %llu Kbytes in %zu Request%s.\n",
			   (unsigned long long)((total + 1023) / 1024), n, n == 1 ? "" : "s");
	if (format == MAILQ_TEXT && n > 0 && hidden > 0)
		buf_printf(&l.out, "-- %zu more of other users are not shown.\n", hidden);
	if (l.out.len)
		fwrite(l.out.data, 1, l.out.len, out);
	buf_free(&l.out);
	if (fflush(out) != 0 || ferror(out)) {
		set_err(err, errlen, "writing the queue listing: %s", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}
