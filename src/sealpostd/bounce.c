/*
 * bounce.c - the notification rules and their timing (see bounce.h).
 * Trusts the locked spool entry; the texts noted come from servers and
 * are made safe by dsn.c.
 */
#include "config.h"

#include "bounce.h"
#include "dsn.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bounce_init(struct bounces *b, size_t nrcpts, struct idlist *queued)
{
	b->n = nrcpts;
	b->notes = xcalloc(nrcpts ? nrcpts : 1, sizeof(*b->notes));
	b->queued = queued;
}

void bounce_free(struct bounces *b)
{
	free(b->notes);
	b->notes = NULL;
	b->n = 0;
}

bool bounce_wants(unsigned notify, enum bounce_kind kind)
{
	if (notify & NOTIFY_NEVER)
		return false;
	if (kind == BOUNCE_FAILED)
		return notify == 0 || (notify & NOTIFY_FAILURE); /* RFC 3461 4.1: failure by default */
	if (kind == BOUNCE_RELAYED)
		return (notify & NOTIFY_SUCCESS) != 0;
	return false;
}

bool bounce_wants_delay(unsigned notify)
{
	if (notify & NOTIFY_NEVER)
		return false;
	return notify == 0 || (notify & NOTIFY_DELAY);
}

/* Why no notification can go out about env, or NULL when one can. */
static const char *no_notice_reason(const struct envelope *env)
{
	if (env->flags & ENV_BOUNCE)
		return "the message is itself a delivery status notification";
	if (!env->sender || !env->sender[0])
		return "the sender is the null sender <>";
	return NULL;
}

void bounce_note(struct bounces *b, const struct envelope *env, size_t ri, enum outcome outcome,
		 const char *status, const char *remote, const char *diag, bool server_dsn, time_t now)
{
	if (ri >= b->n)
		return;
	const struct spool_rcpt *r = &env->rcpts[ri];
	enum bounce_kind kind = BOUNCE_NONE;
	if (outcome == OUTCOME_PERMANENT && bounce_wants(r->notify, BOUNCE_FAILED)) {
		const char *why = no_notice_reason(env);
		if (why)
			log_msg(LOG_NOTICE, "%s: to=<%s>: failed; no notification sent (%s): dropped", env->id,
				r->addr, why);
		else
			kind = BOUNCE_FAILED;
	} else if (outcome == OUTCOME_DELIVERED && !server_dsn && bounce_wants(r->notify, BOUNCE_RELAYED) &&
		   !no_notice_reason(env)) {
		kind = BOUNCE_RELAYED;
	}
	struct bounce_note *n = &b->notes[ri];
	n->kind = kind;
	if (kind == BOUNCE_NONE)
		return;
	snprintf(n->status, sizeof(n->status), "%s", status && status[0] ? status : "5.0.0");
	snprintf(n->remote, sizeof(n->remote), "%s", remote ? remote : "");
	snprintf(n->diag, sizeof(n->diag), "%s", diag ? diag : "");
	n->when = now;
}

/* Queue one notification for the recipients noted with kind. */
static int queue_kind(struct bounces *b, const struct sp_config *cfg, const char *spool_dir,
		      struct spool_entry *e, enum bounce_kind kind, time_t now)
{
	struct dsn_rcpt *list = xcalloc(b->n, sizeof(*list));
	size_t k = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct bounce_note *n = &b->notes[i];
		if (n->kind != kind)
			continue;
		list[k++] = (struct dsn_rcpt){
			.addr = e->env.rcpts[i].addr, .orcpt = e->env.rcpts[i].orcpt, .status = n->status,
			.remote_mta = n->remote[0] ? n->remote : NULL, .diagnostic = n->diag, .last_attempt = n->when,
		};
	}
	int rc = 0;
	if (k > 0) {
		struct dsn_report rep = {
			.action = kind == BOUNCE_FAILED ? DSN_FAILED : DSN_RELAYED, .hostname = cfg->hostname,
			.orig = &e->env, .msg_fd = e->msg_fd, .rcpts = list, .nrcpts = k, .now = now,
		};
		char id[SPOOL_ID_LEN + 1], err[256];
		rc = dsn_queue(spool_dir, &rep, id, err, sizeof(err));
		if (rc == 0) {
			fault_point("after-bounce-queued"); /* before the failure is final */
			log_msg(LOG_INFO, "%s: sender delivery status notification (%s, %zu recipient(s)): %s",
				e->env.id, dsn_action_name(rep.action), k, id);
			if (b->queued)
				idlist_add(b->queued, id);
		} else {
			log_msg(LOG_ERR, "%s: cannot queue the delivery status notification (%s): %s", e->env.id,
				dsn_action_name(rep.action), err);
		}
	}
	free(list);
	return rc;
}

bool bounce_flush(struct bounces *b, const struct sp_config *cfg, const char *spool_dir, struct spool_entry *e,
		  time_t now)
{
	bool changed = false;
	if (queue_kind(b, cfg, spool_dir, e, BOUNCE_FAILED, now) < 0) {
		/* never finalise a failure without its bounce: try it all again later */
		for (size_t i = 0; i < b->n; i++) {
			if (b->notes[i].kind != BOUNCE_FAILED)
				continue;
			struct spool_rcpt *r = &e->env.rcpts[i];
			r->state = RCPT_DEFERRED;
			r->next_attempt = now + (time_t)(cfg->queue.retry_min ? cfg->queue.retry_min : 60);
			changed = true;
		}
	}
	/* a lost success report is no loss of mail: no second try */
	(void)queue_kind(b, cfg, spool_dir, e, BOUNCE_RELAYED, now);
	for (size_t i = 0; i < b->n; i++)
		b->notes[i].kind = BOUNCE_NONE;
	return changed;
}

void bounce_status_from_text(const char *text, const char *fallback, char out[16])
{
	snprintf(out, 16, "%s", fallback);
	if (!text)
		return;
	/* the first "C.S.D" with C in 2,4,5 after a space or at the start */
	for (const char *p = text; *p; p++) {
		if (p != text && p[-1] != ' ')
			continue;
		if (*p != '2' && *p != '4' && *p != '5')
			continue;
		const char *q = p + 1;
		if (*q++ != '.')
			continue;
		size_t d1 = 0, d2 = 0;
		while (isdigit((unsigned char)q[d1]) && d1 < 4)
			d1++;
		if (d1 == 0 || d1 > 3 || q[d1] != '.')
			continue;
		q += d1 + 1;
		while (isdigit((unsigned char)q[d2]) && d2 < 4)
			d2++;
		if (d2 == 0 || d2 > 3 || (q[d2] != ' ' && q[d2] != '\0'))
			continue;
		size_t len = (size_t)(q + d2 - p);
		snprintf(out, 16, "%.*s", (int)len, p);
		return;
	}
}

/* "host[ip]:port: reason" -> host; the reason after it. */
static void split_last_error(const char *text, char *host, size_t hostlen, const char **reason)
{
	host[0] = '\0';
	*reason = text ? text : "";
	if (!text)
		return;
	const char *br = strchr(text, '[');
	const char *sep = strstr(text, "]:");
	const char *space = strchr(text, ' ');
	if (!br || !sep || sep < br || (size_t)(br - text) >= hostlen || (space && space < br))
		return;
	const char *colon = strstr(sep + 2, ": ");
	if (!colon)
		return;
	snprintf(host, hostlen, "%.*s", (int)(br - text), text);
	*reason = colon + 2;
}

bool bounce_warn_delay(const struct sp_config *cfg, const char *spool_dir, struct spool_entry *e, time_t now,
		       struct idlist *queued)
{
	struct envelope *env = &e->env;
	if (cfg->queue.delay_warning == 0 || (env->flags & ENV_WARNED) || no_notice_reason(env) ||
	    now - env->arrival < (time_t)cfg->queue.delay_warning)
		return false;
	struct dsn_rcpt *list = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(*list));
	char (*status)[16] = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(*status));
	char (*host)[256] = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(*host));
	size_t k = 0;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (r->state != RCPT_DEFERRED || !bounce_wants_delay(r->notify))
			continue;
		const char *reason;
		split_last_error(r->last_error, host[k], sizeof(host[k]), &reason);
		bounce_status_from_text(reason, "4.0.0", status[k]);
		status[k][0] = '4'; /* still being tried: a transient status */
		list[k] = (struct dsn_rcpt){
			.addr = r->addr, .orcpt = r->orcpt, .status = status[k],
			.remote_mta = host[k][0] ? host[k] : NULL, .diagnostic = reason, .last_attempt = now,
		};
		k++;
	}
	bool changed = false;
	if (k > 0) {
		struct dsn_report rep = {
			.action = DSN_DELAYED, .hostname = cfg->hostname, .orig = env, .msg_fd = e->msg_fd,
			.rcpts = list, .nrcpts = k, .now = now,
			.retry_until = cfg->queue.lifetime ? env->arrival + (time_t)cfg->queue.lifetime : 0,
		};
		char id[SPOOL_ID_LEN + 1], err[256];
		if (dsn_queue(spool_dir, &rep, id, err, sizeof(err)) == 0) {
			log_msg(LOG_INFO, "%s: sender delivery status notification (delayed, %zu recipient(s)): %s",
				env->id, k, id);
			if (queued)
				idlist_add(queued, id);
			env->flags |= ENV_WARNED;
			changed = true;
		} else {
			log_msg(LOG_ERR, "%s: cannot queue the delay warning: %s", env->id, err);
		}
	}
	free(list);
	free(status);
	free(host);
	return changed;
}
