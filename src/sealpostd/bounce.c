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

const char *bounce_no_notice_reason(const struct envelope *env)
{
	if (env->flags & ENV_BOUNCE)
		return "the message is itself a delivery status notification";
	if (!env->sender || !env->sender[0])
		return "the sender is the null sender <>";
	return NULL;
}

const char *bounce_sender_address(const struct sp_config *cfg, char *buf, size_t len)
{
	if (cfg->bounce_sender && cfg->bounce_sender[0])
		return cfg->bounce_sender;
	snprintf(buf, len, "MAILER-DAEMON@%s", cfg->domain ? cfg->domain : cfg->hostname);
	return buf;
}

void bounce_record(const struct envelope *env, struct spool_rcpt *r, enum outcome outcome, const char *status,
		   bool server_dsn)
{
	free(r->report);
	r->report = NULL;
	const char *why = bounce_no_notice_reason(env);
	if (outcome == OUTCOME_PERMANENT && bounce_wants(r->notify, BOUNCE_FAILED)) {
		if (env->flags & ENV_BOUNCE)
			log_msg(LOG_ERR, "%s: to=<%s>: delivery status notification UNDELIVERABLE, given up; "
				"its sender was never told (last error: %s)", env->id, r->addr,
				r->last_error ? r->last_error : "none");
		else if (why)
			log_msg(LOG_NOTICE, "%s: to=<%s>: failed; no notification possible (%s)", env->id, r->addr,
				why);
		else
			r->report = xstrdup(status && (status[0] == '5' || status[0] == '4') ? status : "5.0.0");
	} else if (outcome == OUTCOME_DELIVERED && !server_dsn && bounce_wants(r->notify, BOUNCE_RELAYED) && !why) {
		r->report = xstrdup("2.0.0");
	}
	if (r->report && strlen(r->report) > 15)
		r->report[15] = '\0';
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

int bounce_final(const struct sp_config *cfg, const char *spool_dir, struct spool_entry *e, time_t now,
		 struct idlist *queued)
{
	struct envelope *env = &e->env;
	size_t cap = env->nrcpts ? env->nrcpts : 1;
	struct dsn_rcpt *list = xcalloc(cap, sizeof(*list));
	char (*host)[256] = xcalloc(cap, sizeof(*host));
	size_t k = 0;
	bool any_failed = false;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (!r->report || (r->state != RCPT_FAILED && r->state != RCPT_SENT))
			continue;
		const char *reason;
		split_last_error(r->last_error, host[k], sizeof(host[k]), &reason);
		bool relayed = r->state == RCPT_SENT;
		any_failed = any_failed || !relayed;
		list[k] = (struct dsn_rcpt){
			.addr = r->addr, .orcpt = r->orcpt, .status = r->report,
			.remote_mta = host[k][0] ? host[k] : NULL, .diagnostic = reason,
			.last_attempt = r->next_attempt ? r->next_attempt : now, .relayed = relayed,
		};
		k++;
	}
	int rc = 0;
	if (k > 0) {
		char from[320];
		struct dsn_report rep = {
			.action = any_failed ? DSN_FAILED : DSN_RELAYED, .hostname = cfg->hostname, .orig = env,
			.msg_fd = e->msg_fd, .rcpts = list, .nrcpts = k, .now = now,
			.from = bounce_sender_address(cfg, from, sizeof(from)),
		};
		char id[SPOOL_ID_LEN + 1], err[256];
		rc = dsn_queue(spool_dir, &rep, id, err, sizeof(err));
		if (rc == 0) {
			fault_point("after-bounce-queued"); /* before the message is removed */
			log_msg(LOG_INFO, "%s: sender delivery status notification (%s, %zu recipient(s)): %s", env->id,
				dsn_action_name(rep.action), k, id);
			if (queued)
				idlist_add(queued, id);
		} else {
			log_msg(LOG_ERR, "%s: cannot queue the delivery status notification (%s): %s", env->id,
				dsn_action_name(rep.action), err);
			/* never finalise a failure without its report: try it all
			 * again later (a lost success report is no loss of mail) */
			rc = any_failed ? -1 : 0;
			for (size_t i = 0; i < env->nrcpts; i++) {
				struct spool_rcpt *r = &env->rcpts[i];
				if (!r->report || r->state != RCPT_FAILED)
					continue;
				r->state = RCPT_DEFERRED;
				r->next_attempt = now + (time_t)(cfg->queue.retry_min ? cfg->queue.retry_min : 60);
				free(r->report);
				r->report = NULL;
			}
		}
	}
	free(list);
	free(host);
	return rc;
}

bool bounce_warn_delay(const struct sp_config *cfg, const char *spool_dir, struct spool_entry *e, time_t now,
		       struct idlist *queued)
{
	struct envelope *env = &e->env;
	if (cfg->queue.delay_warning == 0 || (env->flags & ENV_WARNED) || bounce_no_notice_reason(env) ||
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
	char from[320];
	if (k > 0) {
		struct dsn_report rep = {
			.action = DSN_DELAYED, .hostname = cfg->hostname, .orig = env, .msg_fd = e->msg_fd,
			.rcpts = list, .nrcpts = k, .now = now,
			.retry_until = cfg->queue.lifetime ? env->arrival + (time_t)cfg->queue.lifetime : 0,
			.from = bounce_sender_address(cfg, from, sizeof(from)),
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
