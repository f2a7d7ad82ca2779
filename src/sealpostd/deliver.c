/*
 * deliver.c - one message, all its due recipients, every relay in order
 * (see deliver.h). The spool is updated right after each transaction, so
 * a crash after the server's 250 repeats at most that one delivery.
 */
#include "config.h"

#include "deliver.h"
#include "bounce.h"
#include "log.h"
#include "opslog.h"
#include "outcome.h"
#include "relay_gate.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>

time_t deliver_expiry(const struct sp_config *cfg, const struct envelope *env)
{
	if (!cfg->queue.lifetime)
		return 0;
	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == RCPT_PENDING || env->rcpts[i].state == RCPT_DEFERRED)
			return env->arrival + (time_t)cfg->queue.lifetime;
	return 0;
}

bool deliver_is_due_cfg(const struct sp_config *cfg, const struct envelope *env, time_t now, bool flush)
{
	time_t expiry = deliver_expiry(cfg, env);
	return (expiry && expiry <= now) || deliver_is_due(env, now, flush);
}

bool deliver_is_due(const struct envelope *env, time_t now, bool flush)
{
	if (env->flags & ENV_HELD)
		return false;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (r->state == RCPT_PENDING)
			return true;
		if (r->state == RCPT_DEFERRED && (flush || r->next_attempt <= now))
			return true;
	}
	return false;
}

unsigned deliver_backoff(const struct sp_config *cfg, unsigned attempts)
{
	unsigned wait = cfg->queue.retry_min ? cfg->queue.retry_min : 1;
	unsigned max = cfg->queue.retry_max > wait ? cfg->queue.retry_max : wait;
	for (unsigned i = 1; i < attempts && wait < max; i++)
		wait = wait > max / 2 ? max : wait * 2;
	return wait > max ? max : wait;
}

/* Context of one message's delivery. */
struct job {
	struct relay_pool *pool;
	const char *spool_dir;
	struct spool_entry *e;
	time_t now;
	double start;             /* wall clock, for delay= */
	struct deliver_stats *stats;
	bool dirty;               /* state changed since the last save */
	bool save_failed;
	/* the relay-level gates (relay_gate.h) met on the way */
	time_t gate_until;        /* earliest time a throttled or full relay opens; 0 none */
	bool tried;               /* some relay was asked (connection or transaction) */
	bool other_failure;       /* some relay failed for another reason */
	char gate_status[16];     /* status of the last throttling reply */
	bool expired;             /* past queue.lifetime: no more attempts */
};

static double wall_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Arrival with sub-second precision: the queue id starts with 8 hex
 * digits of seconds and 5 of microseconds (doc/spool-format.md). */
static double arrival_of(const struct envelope *env)
{
	char sec[9], usec[6];
	memcpy(sec, env->id, 8);
	sec[8] = '\0';
	memcpy(usec, env->id + 8, 5);
	usec[5] = '\0';
	char *end1, *end2;
	unsigned long s = strtoul(sec, &end1, 16);
	unsigned long us = strtoul(usec, &end2, 16);
	if (*end1 || *end2 || (time_t)s != env->arrival || us >= 1000000)
		return (double)env->arrival;
	return (double)s + (double)us / 1e6;
}

static void set_last_error(struct spool_rcpt *r, const char *label, const char *reason)
{
	free(r->last_error);
	r->last_error = label ? xasprintf("%s: %s", label, reason) : xstrdup(reason);
}

/* Where a result came from: the relay (NULL: none reached) and whether
 * it took the DSN parameters itself. */
struct origin {
	const char *label;        /* "host[ip]:port" */
	const char *host;
	const char *tls;
	bool server_dsn;
	const char *relay_name;   /* the relay section's name */
	const char *ip;
	const struct tls_facts *facts; /* NULL: no session */
};

/* Record one recipient's result (status: the classifier's DSN status),
 * record the notification it owes, log its line. */
static void finalize(struct job *j, size_t ri, enum outcome outcome, const char *status, const char *reason,
		     const struct origin *from)
{
	struct envelope *env = &j->e->env;
	struct spool_rcpt *r = &env->rcpts[ri];
	const struct sp_config *cfg = j->pool->cfg;
	const char *label = from ? from->label : NULL, *tls = from ? from->tls : NULL;
	char expired[800], expired_status[16], kept[640];
	if (!j->expired)
		r->attempts++;
	if (outcome == OUTCOME_PERMANENT && (env->flags & ENV_BOUNCE)) {
		/* a notification is never bounced: retried like any message
		 * until its lifetime ends (then given up loudly, bounce.c) */
		snprintf(kept, sizeof(kept), "%.560s (a delivery status notification: kept and retried)", reason);
		reason = kept;
		outcome = OUTCOME_TEMPORARY;
	}
	if (outcome == OUTCOME_TEMPORARY && cfg->queue.lifetime &&
	    j->now - env->arrival >= (time_t)cfg->queue.lifetime) {
		char life[16];
		conf_format_duration(cfg->queue.lifetime, life);
		snprintf(expired, sizeof(expired), "message expired after %s in the queue; last error: %s", life,
			 reason);
		reason = expired;
		outcome = outcome_classify(STAGE_CONNECT, 0, NULL, LOCAL_EXPIRED, expired_status);
		status = expired_status;
	}
	switch (outcome) {
	case OUTCOME_DELIVERED:
		r->state = RCPT_SENT;
		free(r->last_error);
		r->last_error = NULL;
		j->stats->sent++;
		break;
	case OUTCOME_PERMANENT:
		r->state = RCPT_FAILED;
		r->next_attempt = j->now; /* a failed recipient keeps the time of its failure */
		set_last_error(r, label, reason);
		j->stats->bounced++;
		break;
	case OUTCOME_TEMPORARY:
		r->state = RCPT_DEFERRED;
		r->next_attempt = j->now + (time_t)deliver_backoff(cfg, r->attempts);
		set_last_error(r, label, reason);
		j->stats->deferred++;
		break;
	}
	if (outcome != OUTCOME_TEMPORARY) {
		bounce_record(env, r, outcome, status, from && from->server_dsn);
		if (r->report && outcome == OUTCOME_DELIVERED) {
			/* the relayed report names the relay and its reply */
			r->next_attempt = j->now;
			set_last_error(r, label, reason);
		}
	}
	j->dirty = true;
	double delay = wall_now() - arrival_of(env);
	if (delay < 0)
		delay = 0;
	opslog_outcome(from ? from->relay_name : NULL, outcome);
	const struct tls_facts *f = from ? from->facts : NULL;
	log_event(outcome == OUTCOME_DELIVERED ? LOG_INFO : LOG_NOTICE,
		  (const struct log_field[]){
			  { "event", LF_STR, .str = "delivery" },
			  { "queue_id", LF_STR, .str = env->id },
			  { "to", LF_STR, .str = r->addr },
			  { "relay", LF_STR, .str = from ? from->relay_name : NULL },
			  { "host", LF_STR, .str = from ? from->host : NULL },
			  { "ip", LF_STR, .str = from ? from->ip : NULL },
			  { "delay", LF_REAL, .real = delay },
			  { "tls_version", LF_STR, .str = f ? f->protocol : NULL },
			  { "cipher", LF_STR, .str = f ? f->cipher : NULL },
			  { "verified", LF_BOOL, .num = f && f->verified },
			  { "pin_matched", LF_BOOL, .num = f && f->pin_matched },
			  { "status", LF_STR, .str = outcome_name(outcome) },
			  { "dsn", LF_STR, .str = status },
			  { "reason", LF_STR, .str = reason },
		  },
		  14, "%s: to=<%s>, relay=%s, delay=%.2f, tls=%s, status=%s (%s)", env->id, r->addr,
		  label ? label : "none", delay, tls ? tls : "none", outcome_name(outcome), reason);
}

/* Every relay for ri is closed by a gate (throttled, its window full, its
 * slots busy) and none was asked: not an attempt. The recipient waits
 * until the first relay opens; no log line per message (the relay's
 * episode has its own). */
static void postpone(struct job *j, size_t ri, const char *label, const char *reason)
{
	struct spool_rcpt *r = &j->e->env.rcpts[ri];
	r->state = RCPT_DEFERRED;
	r->next_attempt = j->gate_until;
	set_last_error(r, label && label[0] ? label : NULL, reason);
	j->dirty = true;
	j->stats->deferred++;
	log_msg(LOG_DEBUG, "%s: to=<%s>: postponed until %ld: %s", j->e->id, r->addr, (long)j->gate_until, reason);
}

static void save(struct job *j)
{
	if (!j->dirty)
		return;
	char err[256];
	if (spool_save_state(j->spool_dir, j->e, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "%s: cannot save delivery state: %s", j->e->id, err);
		j->save_failed = true;
	}
	j->dirty = false;
}

static int final_status(const struct envelope *env)
{
	bool queued = false, failed = false;
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].state == RCPT_PENDING || env->rcpts[i].state == RCPT_DEFERRED)
			queued = true;
		else if (env->rcpts[i].state == RCPT_FAILED)
			failed = true;
	}
	return queued ? EX_TEMPFAIL : failed ? EX_UNAVAILABLE : 0;
}

/* MAIL FROM:<> refused with a 5xx for every recipient (SES: "501
 * Invalid MAIL FROM address provided"). */
static bool null_sender_refused(const struct smtp_rcpt_result *res, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const char *t = res[k].reason;
		if (res[k].stage != STAGE_MAIL || t[0] != '5' || !isdigit((unsigned char)t[1]) ||
		    !isdigit((unsigned char)t[2]))
			return false;
	}
	return n > 0;
}

/*
 * One transaction on s. A notification goes from the null sender; a relay
 * that refuses that (learnt from its refusal, remembered for the process)
 * gets it from bounce_sender instead, at once on the same session.
 */
static int send_transaction(struct job *j, struct relay_link *link, struct smtp_session *s, const size_t *todo,
			    size_t ntodo, struct smtp_rcpt_result *res, bool *eod_sent)
{
	const struct envelope *env = &j->e->env;
	bool is_dsn = (env->flags & ENV_BOUNCE) && (!env->sender || !env->sender[0]);
	char buf[320];
	struct envelope as_bounce_sender = *env;
	as_bounce_sender.sender = (char *)bounce_sender_address(j->pool->cfg, buf, sizeof(buf));
	if (is_dsn && link->refuses_null_sender)
		return smtp_send_message(s, &as_bounce_sender, j->e->msg_fd, todo, ntodo, res, eod_sent);
	int r = smtp_send_message(s, env, j->e->msg_fd, todo, ntodo, res, eod_sent);
	if (r == 0 && is_dsn && null_sender_refused(res, ntodo)) {
		link->refuses_null_sender = true;
		log_msg(LOG_NOTICE, "%s: relay %s %s refuses the null sender <> (%s); notifications through it go "
			"from <%s> (bounce_sender)", env->id, link->relay->name, link->label, res[0].reason,
			as_bounce_sender.sender);
		memset(res, 0, ntodo * sizeof(*res));
		r = smtp_send_message(s, &as_bounce_sender, j->e->msg_fd, todo, ntodo, res, eod_sent);
	}
	return r;
}

/* A gate (back-off, full window, busy slots) keeps relay li closed until
 * t: the recipients wait for the earliest relay to open. */
static void gate_note(struct job *j, time_t t)
{
	if (j->gate_until == 0 || t < j->gate_until)
		j->gate_until = t;
}

static void set_gate_failure(struct smtp_failure *last, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_gate_failure(struct smtp_failure *last, const char *fmt, ...)
{
	memset(last, 0, sizeof(*last));
	last->stage = STAGE_CONNECT;
	last->local = LOCAL_CONNECT;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last->reason, sizeof(last->reason), fmt, ap);
	va_end(ap);
}

/* The relay throttled us (reply in reason): back off, note the gate. */
static void throttled(struct job *j, struct relay_link *link, const struct throttle_rule *rule,
		      const char *reason, const char *status, struct smtp_failure *last, int code)
{
	time_t until = relay_gate_throttled(j->pool->cfg, link->relay, link->label, rule->what, reason);
	gate_note(j, until);
	snprintf(j->gate_status, sizeof(j->gate_status), "%s", status);
	char tls[sizeof(last->tls)];
	snprintf(tls, sizeof(tls), "%s", last->tls);
	memset(last, 0, sizeof(*last));
	last->stage = STAGE_CONNECT;
	last->code = code;
	snprintf(last->reason, sizeof(last->reason), "%s", reason);
	snprintf(last->tls, sizeof(last->tls), "%s", tls);
}

/* limits.messages: a transaction may start now (sleeping a little when
 * the window frees soon). false: the window is full for long, j notes
 * when it opens. */
static bool take_message(struct job *j, struct relay_link *link, uint64_t *token, struct smtp_failure *last)
{
	for (;;) {
		uint64_t next = relay_gate_take_message(j->pool->cfg, link->relay, token);
		if (next == 0)
			return true;
		time_t open_at = (time_t)((next + 999) / 1000);
		if (open_at - time(NULL) > RELAY_GATE_SLEEP_MAX || !relay_gate_sleep_until(next)) {
			gate_note(j, open_at);
			set_gate_failure(last, "relay %s: limits.messages reached (%u per %u s)", link->relay->name,
					 link->relay->limits.messages, link->relay->limits.period);
			return false;
		}
	}
}

/*
 * Try relay li for the recipients in todo; the ones to fail over stay in
 * todo (count returned): lost before the end of data, or throttled (the
 * relay backs off; the next relay may take them meanwhile). Recipients
 * refused as too many for one transaction (452) go again at once in a new
 * one on the same session, as often as each round delivers something.
 */
static size_t try_relay(struct job *j, size_t li, size_t *todo, size_t ntodo, struct smtp_failure *last,
			char *last_label, size_t labellen, bool *retry)
{
	*retry = false;
	struct relay_link *link = &j->pool->links[li];
	const struct sp_config *cfg = j->pool->cfg;
	char why[400];
	time_t until = relay_gate_backoff_until(cfg, link->relay, why, sizeof(why));
	if (until > j->now) {
		char when[32];
		format_rfc3339(until, when);
		gate_note(j, until);
		set_gate_failure(last, "relay %s is throttled (backing off until %s): %s", link->relay->name, when,
				 why);
		return ntodo;
	}
	size_t *batch = xcalloc(ntodo, sizeof(size_t));
	memcpy(batch, todo, ntodo * sizeof(size_t));
	size_t nbatch = ntodo, keep = 0;
	while (nbatch > 0) {
		/* the session (and its connection slot) first: a reservation
		 * held while waiting for a slot would be spent in vain */
		struct smtp_session *s = relay_session(j->pool, li, j->e->id);
		snprintf(last_label, labellen, "%s", link->label);
		if (!s) {
			*last = link->down_why;
			/* a reply refused the session (greeting, EHLO, AUTH...):
			 * a throttle there slows the relay down too */
			char st[16];
			const struct throttle_rule *rule = NULL;
			if (last->code)
				outcome_classify_reply(last->stage, last->code, last->enhanced, last->reason, LOCAL_NONE,
						       st, &rule);
			if (rule)
				throttled(j, link, rule, link->down_why.reason, st, last, link->down_why.code);
			else if (link->busy)
				gate_note(j, time(NULL) + (time_t)cfg->queue.retry_min);
			else
				j->other_failure = true;
			if (!link->busy)
				j->tried = true;
			break;
		}
		uint64_t token;
		if (!take_message(j, link, &token, last))
			break; /* the window is full for long: not an attempt */
		j->tried = true;
		char tls[128];
		snprintf(tls, sizeof(tls), "%s", net_tls_summary(&s->conn));
		struct tls_facts facts;
		if (s->conn.tls)
			tls_get_facts(s->conn.tls, &facts);
		struct origin from = { .label = link->label, .host = link->relay->host, .tls = tls,
				       .server_dsn = s->caps.dsn, .relay_name = link->relay->name, .ip = s->conn.ip,
				       .facts = s->conn.tls ? &facts : NULL };
		struct smtp_rcpt_result *res = xcalloc(nbatch, sizeof(*res));
		bool eod_sent = false;
		int r = send_transaction(j, link, s, batch, nbatch, res, &eod_sent);
		relay_gate_message_done(cfg, link->relay, token, true);
		if (eod_sent)
			fault_point("after-data-reply"); /* end of data sent, reply read; no state saved */
		bool lost = r < 0, progress = false, delivered = false;
		size_t *too_many = xcalloc(nbatch, sizeof(size_t)), ntoo = 0;
		const struct smtp_rcpt_result *thr = NULL;
		for (size_t k = 0; k < nbatch; k++) {
			if (res[k].throttle && res[k].outcome == OUTCOME_TEMPORARY) {
				thr = &res[k];
				todo[keep++] = batch[k]; /* the relay backs off: next relay */
			} else if (lost && !eod_sent && res[k].outcome == OUTCOME_TEMPORARY) {
				todo[keep++] = batch[k]; /* the session broke: next relay */
			} else if (outcome_too_many_recipients(res[k].stage, res[k].code)) {
				too_many[ntoo++] = k; /* a new transaction, at once */
			} else {
				finalize(j, batch[k], res[k].outcome, res[k].status, res[k].reason, &from);
				progress = true;
				delivered |= res[k].outcome == OUTCOME_DELIVERED;
			}
		}
		if (delivered)
			relay_gate_success(cfg, link->relay, link->label);
		if (thr) {
			throttled(j, link, thr->throttle, thr->reason, thr->status, last, thr->code);
			snprintf(last->tls, sizeof(last->tls), "%s", tls);
		}
		/* every round finishes someone, or the 452s are kept like any
		 * deferral (a server that takes none of them) */
		size_t again = 0;
		for (size_t m = 0; m < ntoo; m++) {
			size_t k = too_many[m];
			if (progress && !thr && !lost)
				batch[again++] = batch[k];
			else
				finalize(j, batch[k], res[k].outcome, res[k].status, res[k].reason, &from);
		}
		free(too_many);
		/* persisted before anything else happens; a message now complete is
		 * removed instead, which is as durable and saves two fsyncs */
		if (final_status(&j->e->env) == EX_TEMPFAIL)
			save(j);
		fault_point("after-state-update");
		if (lost && !thr)
			*last = s->fail;
		free(res);
		*retry = relay_after_transaction(j->pool, li, lost, eod_sent);
		if (again)
			log_msg(LOG_INFO, "%s: relay %s took part of the recipients; %zu more in a new transaction",
				j->e->id, link->relay->name, again);
		nbatch = again;
		if (lost || thr)
			break;
	}
	/* a batch that could not start (window full, relay down) fails over */
	for (size_t k = 0; k < nbatch; k++)
		todo[keep++] = batch[k];
	free(batch);
	return keep;
}

int deliver_entry(struct relay_pool *pool, const char *spool_dir, struct spool_entry *e, bool flush,
		  struct deliver_stats *stats)
{
	struct envelope *env = &e->env;
	struct job j = {
		.pool = pool, .spool_dir = spool_dir, .e = e, .now = time(NULL),
		.start = wall_now(), .stats = stats,
	};
	stats->messages++;
	time_t expiry = deliver_expiry(pool->cfg, env);
	j.expired = expiry && expiry <= j.now;
	size_t *todo = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(size_t));
	size_t ntodo = 0;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (r->state == RCPT_PENDING ||
		    (r->state == RCPT_DEFERRED && (j.expired || flush || r->next_attempt <= j.now)))
			todo[ntodo++] = i;
	}
	struct smtp_failure last = { .local = LOCAL_NONE };
	char last_label[320] = "";
	const char *last_relay = NULL, *last_relay_name = NULL;
	bool any_relay = false;
	if (j.expired) {
		/* its lifetime is over: expire now, without another attempt */
		for (size_t k = 0; k < ntodo; k++) {
			struct spool_rcpt *r = &env->rcpts[todo[k]];
			char why[600];
			snprintf(why, sizeof(why), "%s", r->last_error ? r->last_error
				 : env->flags & ENV_HELD ? "the message was on hold" : "never attempted");
			finalize(&j, todo[k], OUTCOME_TEMPORARY, "4.4.7", why, NULL);
		}
		ntodo = 0;
	}
	for (size_t li = 0; li < pool->n && ntodo > 0; li++) {
		if (!conf_relay_matches_sender(pool->links[li].relay, env->sender))
			continue;
		any_relay = true;
		last_relay = pool->links[li].relay->host;
		last_relay_name = pool->links[li].relay->name;
		bool retry;
		ntodo = try_relay(&j, li, todo, ntodo, &last, last_label, sizeof(last_label), &retry);
		if (retry && ntodo > 0) /* once, on a new connection */
			ntodo = try_relay(&j, li, todo, ntodo, &last, last_label, sizeof(last_label), &retry);
	}
	/* Whatever no relay could take stays queued (or expires). */
	for (size_t k = 0; k < ntodo; k++) {
		if (!any_relay) {
			char why[400];
			snprintf(why, sizeof(why), "no relay is configured for sender <%s>", env->sender);
			finalize(&j, todo[k], OUTCOME_TEMPORARY, "4.4.0", why, NULL);
		} else if (!j.tried && j.gate_until) {
			postpone(&j, todo[k], last_label, last.reason);
		} else {
			char st[16];
			outcome_classify(last.stage, last.code, last.enhanced, last.local, st);
			struct origin from = { .label = last_label, .host = last_relay, .relay_name = last_relay_name,
					       .tls = last.tls[0] ? last.tls : NULL };
			finalize(&j, todo[k], OUTCOME_TEMPORARY, j.gate_status[0] ? j.gate_status : st,
				 last.reason[0] ? last.reason : "delivery failed", &from);
			/* a throttled relay is tried again when it opens, not before */
			struct spool_rcpt *r = &env->rcpts[todo[k]];
			if (j.gate_until && r->state == RCPT_DEFERRED &&
			    (!j.other_failure || j.gate_until < r->next_attempt))
				r->next_attempt = j.gate_until;
		}
	}
	free(todo);
	int status = final_status(env);
	/* done: the one notification owed is queued before the message goes */
	if (status != EX_TEMPFAIL && bounce_final(pool->cfg, spool_dir, e, j.now, &stats->dsn_ids) < 0) {
		j.dirty = true;
		status = final_status(env);
	}
	if (status == EX_TEMPFAIL) {
		if (bounce_warn_delay(pool->cfg, spool_dir, e, j.now, &stats->dsn_ids))
			j.dirty = true;
		save(&j);
	}
	if (j.save_failed) {
		spool_close_entry(e);
		return EX_CANTCREAT;
	}
	if (status != EX_TEMPFAIL) {
		/* Removing is what records completion (the final state was not
		 * saved: see try_relay). Unlinking fails only when queue/ is not
		 * writable, and then no state could be saved either. */
		char id[sizeof(e->id)];
		snprintf(id, sizeof(id), "%s", e->id);
		fault_point("before-removal");
		if (spool_remove_entry(spool_dir, e) == 0) {
			log_msg(LOG_INFO, "%s: removed", id);
			return status;
		}
		log_msg(LOG_ERR, "%s: cannot remove the finished message: %s", id, strerror(errno));
		return EX_CANTCREAT;
	} else {
		spool_close_entry(e);
	}
	return status;
}
