/*
 * opslog.c - the TLS session line and the facts for metrics and --health
 * (see opslog.h). Notes live in a small table per process until
 * opslog_flush() merges them into the spool's state under its lock.
 */
#include "config.h"

#include "opslog.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_NOTES 64

struct note {
	char name[65];
	char host[256];
	uint64_t sent, deferred, bounced;
	time_t last_success;
	time_t cert_expiry;        /* seen at a handshake in this process; 0 none */
	time_t attempt;            /* 0: no attempt noted */
	enum ops_class cls;
	char reason[OPSTATE_REASON_MAX];
};

static struct note notes[MAX_NOTES];
static size_t nnotes;

static struct note *note_for(const char *name, const char *host)
{
	if (!name)
		name = "none";
	for (size_t i = 0; i < nnotes; i++)
		if (strcmp(notes[i].name, name) == 0)
			return &notes[i];
	if (nnotes >= MAX_NOTES)
		return NULL; /* more relays than that in one run: counted next time */
	struct note *n = &notes[nnotes++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->host, sizeof(n->host), "%s", host ? host : "");
	return n;
}

static void note_attempt(struct note *n, enum ops_class c, const char *reason)
{
	n->attempt = time(NULL);
	n->cls = c;
	size_t len = reason ? strnlen(reason, sizeof(n->reason) - 1) : 0;
	if (len)
		memcpy(n->reason, reason, len);
	n->reason[len] = '\0'; /* a long server reply is cut: this is a summary */
}

void opslog_connected(const struct sp_relay *relay, const char *ip, struct tls_conn *tls)
{
	struct note *n = note_for(relay->name, relay->host);
	struct tls_facts f;
	char label[320];
	snprintf(label, sizeof(label), "%s[%s]:%u", relay->host, ip && ip[0] ? ip : "?", relay->port);
	if (tls) {
		tls_get_facts(tls, &f);
		/* Postfix's smtp_tls_loglevel = 1 summary, word for word */
		log_event(LOG_INFO,
			  (const struct log_field[]){
				  { "event", LF_STR, .str = "tls" },
				  { "relay", LF_STR, .str = relay->name },
				  { "host", LF_STR, .str = relay->host },
				  { "ip", LF_STR, .str = ip },
				  { "port", LF_INT, .num = relay->port },
				  { "tls_version", LF_STR, .str = f.protocol },
				  { "cipher", LF_STR, .str = f.cipher },
				  { "bits", LF_INT, .num = f.bits },
				  { "tls_level", LF_STR, .str = f.level },
				  { "verified", LF_BOOL, .num = f.verified },
				  { "pin_matched", LF_BOOL, .num = f.pin_matched },
			  },
			  11, "%s TLS connection established to %s: %s with cipher %s (%u/%u bits)", f.level, label,
			  f.protocol, f.cipher, f.bits, f.bits);
		if (n && f.peer_cert_expiry > 0)
			n->cert_expiry = f.peer_cert_expiry;
	}
	if (n)
		note_attempt(n, OPS_OK, "");
}

enum ops_class opslog_classify(const struct smtp_failure *f)
{
	switch (f->local) {
	case LOCAL_TLS_VERIFY: return OPS_CERTIFICATE;
	case LOCAL_CONFIG: return OPS_CONFIG;
	case LOCAL_AUTH: return OPS_AUTH;
	case LOCAL_OAUTH_TOKEN: return OPS_TOKEN;
	case LOCAL_NONE: break;
	default: return OPS_TRANSIENT; /* also a token endpoint down after a 535 */
	}
	/* 535 and the like; a 454 at AUTH is temporary (RFC 4954) */
	if (f->stage == STAGE_AUTH && f->code >= 500)
		return OPS_AUTH;
	return OPS_TRANSIENT;
}

void opslog_failed(const struct sp_relay *relay, const struct smtp_failure *f)
{
	struct note *n = note_for(relay->name, relay->host);
	if (n)
		note_attempt(n, opslog_classify(f), f->reason);
}

void opslog_note_class(const char *relay_name, enum ops_class c, const char *reason)
{
	struct note *n = note_for(relay_name, NULL);
	if (n)
		note_attempt(n, c, reason);
}

void opslog_outcome(const char *relay_name, enum outcome o)
{
	struct note *n = note_for(relay_name, NULL);
	if (!n)
		return;
	switch (o) {
	case OUTCOME_DELIVERED:
		n->sent++;
		n->last_success = time(NULL);
		break;
	case OUTCOME_TEMPORARY: n->deferred++; break;
	case OUTCOME_PERMANENT: n->bounced++; break;
	}
}

/* Once a day per relay, across processes (decided under the lock). */
static void warn_expiry(struct ops_relay *r, const struct note *n, time_t now)
{
	if (!n->cert_expiry || n->cert_expiry - now >= (time_t)OPSLOG_CERT_WARN_DAYS * 86400)
		return;
	if (r->cert_warned && now - r->cert_warned < 86400 && r->cert_warned <= now)
		return;
	char when[32];
	format_rfc3339(n->cert_expiry, when);
	long days = (long)((n->cert_expiry - now) / 86400);
	if (n->cert_expiry <= now)
		log_msg(LOG_WARNING, "relay %s (%s): the server's certificate expired at %s", n->name,
			n->host[0] ? n->host : "?", when);
	else
		log_msg(LOG_WARNING, "relay %s (%s): the server's certificate expires at %s (in %ld day%s)", n->name,
			n->host[0] ? n->host : "?", when, days, days == 1 ? "" : "s");
	r->cert_warned = now;
}

static void merge(struct opstate *st, void *ctx)
{
	(void)ctx;
	time_t now = time(NULL);
	for (size_t i = 0; i < nnotes; i++) {
		const struct note *n = &notes[i];
		struct ops_relay *r = opstate_relay(st, n->name);
		if (!r)
			continue;
		r->sent += n->sent;
		r->deferred += n->deferred;
		r->bounced += n->bounced;
		if (n->last_success > r->last_success)
			r->last_success = n->last_success;
		if (n->cert_expiry) {
			r->cert_expiry = n->cert_expiry;
			warn_expiry(r, n, now);
		}
		if (n->attempt && n->attempt >= r->last_attempt) {
			r->last_attempt = n->attempt;
			r->last_class = n->cls;
			snprintf(r->reason, sizeof(r->reason), "%s", n->reason);
		}
	}
}

void opslog_flush(const char *spool_dir)
{
	if (nnotes == 0)
		return;
	char err[512];
	if (opstate_update(spool_dir, merge, NULL, err, sizeof(err)) < 0) {
		/* nothing was merged: the notes wait for the next flush */
		log_msg(LOG_WARNING, "metrics state not updated: %s", err);
		return;
	}
	nnotes = 0;
}
