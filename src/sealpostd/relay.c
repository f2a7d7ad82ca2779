/*
 * relay.c - connection reuse and the per-run "relay down" memory (see
 * relay.h). Every connection failure is logged once, here, with the relay
 * and the exact reason.
 */
#include "config.h"

#include "relay.h"
#include "log.h"
#include "opslog.h"
#include "relay_gate.h"
#include "util.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Resumption data per relay address, policy and identity (tls_cache_key),
 * for the life of the process: each resumed session is verified again
 * under the current policy (tls.c). */
#define RESUME_SLOTS 16
static struct {
	char key[TLS_CACHE_KEY_MAX];
	struct tls_resume data;
	struct tls_cache_stamp stamp;
} resume_cache[RESUME_SLOTS];
static unsigned resume_next;

static size_t resume_for(const struct sp_config *cfg, const struct sp_relay *relay)
{
	char key[TLS_CACHE_KEY_MAX];
	tls_cache_key(cfg, relay, key);
	for (size_t i = 0; i < RESUME_SLOTS; i++)
		if (strcmp(resume_cache[i].key, key) == 0)
			return i;
	size_t slot = resume_next++ % RESUME_SLOTS;
	tls_resume_clear(&resume_cache[slot].data);
	memset(&resume_cache[slot].stamp, 0, sizeof(resume_cache[slot].stamp));
	snprintf(resume_cache[slot].key, sizeof(resume_cache[slot].key), "%s", key);
	return slot;
}

void relay_pool_init(struct relay_pool *p, const struct sp_config *cfg, bool trace)
{
	p->cfg = cfg;
	p->n = cfg->nrelays;
	p->trace = trace;
	p->links = xcalloc(p->n ? p->n : 1, sizeof(*p->links));
	for (size_t i = 0; i < p->n; i++) {
		struct relay_link *l = &p->links[i];
		l->relay = &cfg->relays[i];
		size_t slot = resume_for(cfg, l->relay);
		l->resume = &resume_cache[slot].data;
		l->cache_stamp = &resume_cache[slot].stamp;
		l->session.conn.fd = -1;
		l->slot = -1;
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
		relay_gate_release(&l->slot);
	}
	free(p->links);
	p->links = NULL;
	p->n = 0;
}

void relay_pool_new_run(struct relay_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		p->links[i].down = p->links[i].busy = false;
}

/* A session of l ended (closed already, or closed here): its slot goes. */
static void link_closed(struct relay_link *l)
{
	if (l->open && l->session.conn.fd >= 0)
		smtp_close(&l->session);
	l->open = false;
	relay_gate_release(&l->slot);
}

void relay_pool_release_slots(struct relay_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->links[i].slot >= 0)
			link_closed(&p->links[i]);
}

/* A limits.connections slot for link i: at once, or after closing our
 * other sessions (idle: we are between transactions) and waiting. */
static bool take_slot(struct relay_pool *p, size_t i, const char *id)
{
	struct relay_link *l = &p->links[i];
	if (l->slot >= 0)
		return true;
	int fd = relay_gate_connection(p->cfg, l->relay, 0);
	if (fd == -1) {
		for (size_t k = 0; k < p->n; k++)
			if (k != i && p->links[k].open)
				link_closed(&p->links[k]);
		fd = relay_gate_connection(p->cfg, l->relay, now_ms() + RELAY_GATE_CONN_WAIT_MS);
	}
	if (fd == -1) {
		l->down = l->busy = true;
		memset(&l->down_why, 0, sizeof(l->down_why));
		l->down_why.stage = STAGE_CONNECT;
		l->down_why.local = LOCAL_CONNECT;
		snprintf(l->down_why.reason, sizeof(l->down_why.reason),
			 "all %u sessions of limits.connections stayed in use", l->relay->limits.connections);
		log_msg(LOG_NOTICE, "%s: relay %s: %s", id, l->relay->name, l->down_why.reason);
		return false;
	}
	l->slot = fd; /* RELAY_GATE_UNLIMITED (-2) holds nothing */
	return true;
}

/* An idle session the server has not spoken on since (a 421 on its
 * idle timeout, a close): anything waiting means it is not reusable. */
static bool still_quiet(const struct smtp_session *s)
{
	const struct netconn *c = &s->conn;
	if (c->rstart != c->rend || (c->tls && tls_pending(c->tls) > 0))
		return false;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 0;
}

/* A TLS 1.3 ticket arrives after the handshake (usually read with the
 * EHLO reply, else by the first transaction): share it with the other
 * workers as soon as it is here, so that they resume too. */
static void share_ticket(struct relay_pool *p, struct relay_link *l)
{
	if (l->session.conn.tls && tls_resume_save(l->session.conn.tls))
		tls_cache_store(p->cfg, l->relay, l->resume, l->cache_stamp);
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
		    l->session.transactions < RELAY_MAX_TRANSACTIONS && now_ms() - l->opened_ms < RELAY_MAX_AGE_MS &&
		    still_quiet(&l->session))
			return &l->session;
		link_closed(l);
	}
	if (!take_slot(p, i, id))
		return NULL;
	/* another worker may have left newer resumption data in the spool */
	tls_cache_load(p->cfg, l->relay, l->resume, l->cache_stamp);
	l->opened_ms = now_ms();
	if (smtp_open(&l->session, p->cfg, l->relay, l->resume, p->trace) < 0) {
		relay_gate_release(&l->slot);
		set_label(l);
		l->down = true;
		l->down_why = l->session.fail;
		log_msg(LOG_WARNING, "%s: relay %s %s: delivery not possible (%s): %s", id, l->relay->name,
			l->label, stage_name(l->down_why.stage), l->down_why.reason);
		opslog_failed(l->relay, &l->down_why);
		return NULL;
	}
	set_label(l);
	l->open = true;
	opslog_connected(l->relay, l->session.conn.ip, l->session.conn.tls);
	share_ticket(p, l);
	if (p->trace)
		log_msg(LOG_INFO, "relay %s %s: connected, %s%s", l->relay->name, l->label,
			net_tls_summary(&l->session.conn),
			l->session.conn.tls && tls_resumed(l->session.conn.tls) ? " (resumed session)" : "");
	return &l->session;
}

bool relay_after_transaction(struct relay_pool *p, size_t i, bool lost, bool eod_sent)
{
	struct relay_link *l = &p->links[i];
	if (!lost) {
		/* the first transaction has read the TLS 1.3 ticket, if any:
		 * share it with the other workers */
		if (l->session.transactions == 1)
			share_ticket(p, l);
		return false;
	}
	link_closed(l);
	if (eod_sent)
		return false;
	if (l->session.transactions > 1) {
		/* a kept connection the server closed under us (its idle or
		 * connection limit): nothing was accepted, so a new connection
		 * may take the message at once; the relay is not down */
		log_msg(LOG_NOTICE, "relay %s %s: reused session lost (%s): %s; trying a new connection",
			l->relay->name, l->label, stage_name(l->session.fail.stage), l->session.fail.reason);
		return true;
	}
	l->down = true;
	l->down_why = l->session.fail;
	log_msg(LOG_WARNING, "relay %s %s: session lost (%s): %s", l->relay->name, l->label,
		stage_name(l->down_why.stage), l->down_why.reason);
	return false;
}
