/*
 * bounce.h - which delivery status notifications a message owes, and
 * queueing them at the right moment (dsn.c writes them). Rules (RFC 3461,
 * SPEC section 3):
 *   - ONE notification per message reports its outcome, however many
 *     relays and attempts it took: each recipient's final result that owes
 *     a report is recorded in the spool (rcpt REPORT field), and when the
 *     last recipient is final bounce_final() queues one DSN listing them
 *     all ("failed" and "relayed" alike), before the message is removed:
 *     a crash in between gives at worst a duplicate, never none;
 *   - never a notification to the null sender or about a notification
 *     (ENV_BOUNCE): a notification is never bounced, it is retried like
 *     any message until queue.lifetime, then given up with a loud log line;
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

/* Whether a recipient with these NOTIFY bits wants a failure / success /
 * delay notification. */
bool bounce_wants(unsigned notify, enum bounce_kind kind);
bool bounce_wants_delay(unsigned notify);

/* Why no notification can be made about env, or NULL when one can. */
const char *bounce_no_notice_reason(const struct envelope *env);

/*
 * Recipient r of env reached a final result (delivered or permanent):
 * record in r->report the status a notification owes (status: the
 * classifier's; server_dsn: the relay took the DSN parameters itself), or
 * log why none can be sent. r's state and last_error are already set.
 */
void bounce_record(const struct envelope *env, struct spool_rcpt *r, enum outcome outcome, const char *status,
		   bool server_dsn);

/*
 * The message is done (no recipient queued): queue the one notification
 * its recipients' records ask for, if any. 0 when queued or none is owed.
 * -1 when it could not be queued: the failed recipients that owed one are
 * sent back to deferred (retried at retry_min) so that none is finalised
 * without its report; the caller saves the envelope.
 */
int bounce_final(const struct sp_config *cfg, const char *spool_dir, struct spool_entry *e, time_t now,
		 struct idlist *queued);

/* The envelope sender for notifications through a relay that refuses the
 * null sender: bounce_sender, default MAILER-DAEMON@domain. */
const char *bounce_sender_address(const struct sp_config *cfg, char *buf, size_t len);

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
