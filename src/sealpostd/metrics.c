/*
 * metrics.c - the Prometheus text file (see metrics.h). The names are
 * SPEC section 8's; every family has its HELP and TYPE lines. Relay
 * names are restricted by the config to [A-Za-z0-9._-], so label values
 * need no escaping.
 */
#include "config.h"

#include "metrics.h"
#include "log.h"
#include "opstate.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count_one(const char *id, struct envelope *env, const char *why, void *ctx)
{
	(void)id;
	(void)why;
	struct queue_counts *q = ctx;
	if (!env)
		return 0; /* damaged: the worker moves it aside */
	if (env->flags & ENV_HELD) {
		q->held++;
	} else {
		bool deferred = false;
		for (size_t i = 0; i < env->nrcpts; i++)
			if (env->rcpts[i].state == RCPT_DEFERRED)
				deferred = true;
		if (deferred)
			q->deferred++;
		else
			q->pending++;
		if (q->oldest_arrival == 0 || env->arrival < q->oldest_arrival) {
			q->oldest_arrival = env->arrival;
			snprintf(q->oldest_id, sizeof(q->oldest_id), "%s", env->id);
		}
	}
	envelope_free(env); /* its contents are ours; the struct is the scanner's */
	return 0;
}

int metrics_count_queue(const char *spool_dir, struct queue_counts *q)
{
	memset(q, 0, sizeof(*q));
	int r = spool_scan_envelopes(spool_dir, count_one, q);
	if (r < 0 && errno == ENOENT)
		return 0; /* no queue/ yet: empty */
	return r < 0 ? -1 : 0;
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Relays to list: the state's (counters of a relay no longer configured
 * go on) plus every configured one (zero counters from the start, so
 * that rate() sees the first delivery). */
static void add_configured(const struct sp_config *cfg, struct opstate *st)
{
	for (size_t i = 0; i < cfg->nrelays; i++)
		(void)opstate_relay(st, cfg->relays[i].name);
}

static void format_metrics(const struct queue_counts *q, const struct opstate *st, time_t now, struct buf *b)
{
	family(b, "sealpost_queue_messages", "gauge",
	       "Messages in the queue: pending (not tried yet), deferred (a recipient waits for a retry), held.");
	buf_printf(b, "sealpost_queue_messages{state=\"pending\"} %lu\n", q->pending);
	buf_printf(b, "sealpost_queue_messages{state=\"deferred\"} %lu\n", q->deferred);
	buf_printf(b, "sealpost_queue_messages{state=\"held\"} %lu\n", q->held);
	family(b, "sealpost_queue_oldest_seconds", "gauge",
	       "Age of the oldest queued message that is not held; 0 when there is none.");
	long long age = q->oldest_arrival && now > q->oldest_arrival ? (long long)(now - q->oldest_arrival) : 0;
	buf_printf(b, "sealpost_queue_oldest_seconds %lld\n", age);

	family(b, "sealpost_deliveries_total", "counter",
	       "Recipient delivery attempts by relay and outcome (kept across restarts).");
	static const char *const statuses[] = { "sent", "deferred", "bounced" };
	for (size_t i = 0; i < st->n; i++) {
		const struct ops_relay *r = &st->relays[i];
		const uint64_t v[] = { r->sent, r->deferred, r->bounced };
		for (size_t k = 0; k < ARRAY_LEN(statuses); k++)
			buf_printf(b, "sealpost_deliveries_total{relay=\"%s\",status=\"%s\"} %llu\n", r->name,
				   statuses[k], (unsigned long long)v[k]);
	}
	family(b, "sealpost_relay_last_success_timestamp_seconds", "gauge",
	       "When a recipient was last delivered through the relay (Unix time).");
	for (size_t i = 0; i < st->n; i++)
		if (st->relays[i].last_success)
			buf_printf(b, "sealpost_relay_last_success_timestamp_seconds{relay=\"%s\"} %lld\n",
				   st->relays[i].name, (long long)st->relays[i].last_success);
	family(b, "sealpost_tls_peer_cert_expiry_timestamp_seconds", "gauge",
	       "Expiry (notAfter) of the relay's certificate seen at the last handshake (Unix time).");
	for (size_t i = 0; i < st->n; i++)
		if (st->relays[i].cert_expiry)
			buf_printf(b, "sealpost_tls_peer_cert_expiry_timestamp_seconds{relay=\"%s\"} %lld\n",
				   st->relays[i].name, (long long)st->relays[i].cert_expiry);
	/* sealpost_oauth2_token_expiry_timestamp_seconds{relay}: HOOK for the
	 * OAuth 2.0 code (SPEC section 7). Emit its family here, one sample
	 * per relay with a cached access token (its expiry, Unix time), once
	 * the tokens in spool_dir/oauth/ exist. Until then nothing is
	 * emitted: a family with no meaning would only mislead alerts. */
}

/* The daemon rewrites the file up to twice a second: a lasting problem
 * (a missing directory) is logged when it starts and then every 10
 * minutes, not on every write. */
static void warn_limited(const char *what)
{
	static char last[512];
	static time_t last_at;
	time_t now = time(NULL);
	if (strcmp(last, what) == 0 && now - last_at < 600 && now >= last_at)
		return;
	snprintf(last, sizeof(last), "%s", what);
	last_at = now;
	log_msg(LOG_WARNING, "%s", what);
}

int metrics_write(const struct sp_config *cfg)
{
	if (!cfg->metrics_file)
		return 0;
	struct queue_counts q;
	char err[512];
	if (metrics_count_queue(cfg->spool_dir, &q) < 0) {
		snprintf(err, sizeof(err), "metrics not written: cannot list %s/queue: %s", cfg->spool_dir,
			 strerror(errno));
		warn_limited(err);
		return -1;
	}
	struct opstate *st = xcalloc(1, sizeof(*st));
	if (opstate_load(cfg->spool_dir, st, err, sizeof(err)) < 0) {
		char why[600];
		snprintf(why, sizeof(why), "metrics: %s (counters start again)", err);
		warn_limited(why);
	}
	add_configured(cfg, st);
	struct buf b;
	buf_init(&b);
	format_metrics(&q, st, time(NULL), &b);
	free(st);
	int r = opstate_replace_file(cfg->metrics_file, b.data, b.len, 0644, err, sizeof(err));
	/* a writer killed mid-write left its temporary file (the collector
	 * ignores it; nobody else would remove it) */
	char *slash = strrchr(cfg->metrics_file, '/');
	char *dir = xstrndup(cfg->metrics_file, slash > cfg->metrics_file ? (size_t)(slash - cfg->metrics_file) : 1);
	opstate_remove_stale_tmp(dir, slash + 1, 600);
	free(dir);
	buf_free(&b);
	if (r < 0) {
		char why[600];
		snprintf(why, sizeof(why), "metrics_file: %s", err);
		warn_limited(why);
	}
	return r;
}

void metrics_changed(struct metrics_pace *p)
{
	p->dirty = true;
}

uint64_t metrics_due_at(const struct sp_config *cfg, const struct metrics_pace *p)
{
	if (!cfg->metrics_file)
		return UINT64_MAX;
	if (p->last_ms == 0)
		return 0;
	return p->last_ms + (p->dirty ? METRICS_MIN_GAP_MS : METRICS_MAX_GAP_MS);
}

void metrics_tick(const struct sp_config *cfg, struct metrics_pace *p)
{
	uint64_t now = now_ms();
	if (now < metrics_due_at(cfg, p))
		return;
	(void)metrics_write(cfg);
	p->last_ms = now_ms();
	p->dirty = false;
}
