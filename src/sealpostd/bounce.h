/*
 * bounce.h - which delivery status notifications a delivery attempt owes,
 * and queueing them at the right moment (dsn.c writes them). deliver.c
 * notes each recipient's final result here; before the state that makes
 * those results final is saved (or the message removed), bounce_flush()
 * queues the notifications durably, so a crash in between gives at worst
 * a duplicate notification, never none. Rules (RFC 3461, SPEC section 3):
 *   - never a notification to the null sender or about a bounce (ENV_BOUNCE):
 *     such a failure is dropped with a log line, so bounces never loop;
 *   - failure: unless NOTIFY=NEVER or a NOTIFY list without FAILURE;
 *   - success: only with NOTIFY=SUCCESS and a relay without DSN support
 *     (Action: relayed; a DSN-capable relay reports itself);
 *   - delay: once per message (ENV_WARNED) after queue.delay_warning, for
 *     deferred recipients without NOTIFY or with NOTIFY=DELAY.
 * Runs as the worker's user.
 */
#ifndef SEALPOSTD_BOUNCE_H
#define SEALPOSTD_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "idlist.h"
#include "outcome.h"
#include "spool.h"

enum bounce_kind { BOUNCE_NONE, BOUNCE_FAILED, BOUNCE_RELAYED };

struct bounce_note {
	enum bounce_kind kind;
	char status[16];
	char remote[256];         /* relay host, "" when none was reached */
	char diag[512];
	time_t when;
};

struct bounces {
	struct bounce_note *notes;  /* one per recipient of the envelope */
	size_t n;
	struct idlist *queued;      /* ids of the notifications queued; may be NULL */
};

void bounce_init(struct bounces *b, size_t nrcpts, struct idlist *queued);
void bounce_free(struct bounces *b);

/* Whether recipient r wants a failure / delay / success notification. */
bool bounce_wants(unsigned notify, enum bounce_kind kind);
bool bounce_wants_delay(unsigned notify);

/*
 * Note recipient ri's final result (delivered or permanent); nothing is
 * noted for other outcomes or when no notification is owed. status is the
 * classifier's DSN status; remote the relay host (NULL: none); server_dsn
 * whether that relay took the DSN parameters itself.
 */
void bounce_note(struct bounces *b, const struct envelope *env, size_t ri, enum outcome outcome,
		 const char *status, const char *remote, const char *diag, bool server_dsn, time_t now);

/*
 * Queue every noted notification (one per kind) and clear the notes. A
 * failure notification that cannot be queued sends its recipients back
 * to deferred (retried at retry_min) so that none is finalised without
 * one. Returns true when the envelope was changed that way.
 */
bool bounce_flush(struct bounces *b, const struct sp_config *cfg, const char *spool_dir, struct spool_entry *e,
		  time_t now);

/*
 * The delay warning: when due (see above), queue it and set ENV_WARNED.
 * Returns true when the envelope changed (the caller saves it).
 */
bool bounce_warn_delay(const struct sp_config *cfg, const char *spool_dir, struct spool_entry *e, time_t now,
		       struct idlist *queued);

/* The RFC 3463 status in a stored last_error ("host: 450 4.2.0 ..."),
 * else fallback. out holds 16 bytes. */
void bounce_status_from_text(const char *text, const char *fallback, char out[16]);

#endif
