/*
 * relay.c - connection reuse and the per-run "relay down" memory (see
 * relay.h). Every connection failure is logged once, here, with the relay
 * and the exact reason.
 */
#include "config.h"

#include "relay.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void relay_pool_init(struct relay_pool *p, const struct sp_config *cfg, bool trace)
{
	p->cfg = cfg;
	p->n = cfg->nrelays;
	p->trace = trace;
	p->links = xcalloc(p->n ? p->n : 1, sizeof(*p->links));
	for (size_t i = 0; i < p->n; i++) {
		struct relay_link *l = &p->links[i];
		l->relay = &cfg->relays[i];
		l->session.conn.fd = -1;
		snprintf(l->label, sizeof(l->label), "%s[?]:%u", l->relay->host, l->relay->port);
	}
}

void relay_pool_close(struct relay_pool *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct relay_link *l = &p->links[i];
		if (l->open)
			smtp_close(&l->session);
		l->open = false;
		tls_resume_clear(&l->resume);
	}
	free(p->links);
	p->links = NULL;
	p->n = 0;
}

static void set_label(struct relay_link *l)
{
	snprintf(l->label, sizeof(l->label), "%s[%s]:%u", l->relay->host,
		 l->session.conn.ip[0] ? l->session.conn.ip : "?", l->relay->port);
}

struct smtp_session *relay_session(struct relay_pool *p, size_t i, const char *id)
{
	struct relay_link *l = &p->links[i];
	if (l->down)
		return NULL;
	if (l->open) {
		if (l->session.reusable && l->session.conn.fd >= 0 &&
		    l->session.transactions < RELAY_MAX_TRANSACTIONS)
			return &l->session;
		smtp_close(&l->session);
		l->open = false;
	}
	if (smtp_open(&l->session, p->cfg, l->relay, &l->resume, p->trace) < 0) {
		set_label(l);
		l->down = true;
		l->down_why = l->session.fail;
		log_msg(LOG_WARNING, "%s: relay %s %s: delivery not possible (%s): %s", id, l->relay->name,
			l->label, stage_name(l->down_why.stage), l->down_why.reason);
		return NULL;
	}
	set_label(l);
	l->open = true;
	if (p->trace)
		log_msg(LOG_INFO, "relay %s %s: connected, %s", l->relay->name, l->label,
			net_tls_summary(&l->session.conn));
	return &l->session;
}

void relay_after_transaction(struct relay_pool *p, size_t i, bool lost, bool eod_sent)
{
	struct relay_link *l = &p->links[i];
	if (!lost)
		return;
	l->open = false;
	if (!eod_sent) {
		l->down = true;
		l->down_why = l->session.fail;
		log_msg(LOG_WARNING, "relay %s %s: session lost (%s): %s", l->relay->name, l->label,
			stage_name(l->down_why.stage), l->down_why.reason);
	}
}
