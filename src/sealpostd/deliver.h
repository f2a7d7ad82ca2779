/*
 * deliver.h - deliver one locked spool entry: pick its due recipients,
 * try the relays that may carry its sender in order (failover), write each
 * recipient's new state to the spool as soon as it is known, log one line
 * per recipient outcome, and remove the message once every recipient is
 * final. Runs as the worker's user; trusts the spool entry (already
 * validated by spool.c), not the servers.
 */
#ifndef SEALPOSTD_DELIVER_H
#define SEALPOSTD_DELIVER_H

#include <stdbool.h>
#include <time.h>

#include "bounce.h"
#include "relay.h"
#include "spool.h"

struct deliver_stats {
	unsigned messages, sent, deferred, bounced;
	struct idlist dsn_ids;       /* notifications queued meanwhile: deliver them next */
};

/* Whether env has a recipient to try now (flush: ignore backoff). Held
 * messages are never due. */
bool deliver_is_due(const struct envelope *env, time_t now, bool flush);

/* When env expires (arrival + queue.lifetime while a recipient is still
 * queued, held or not); 0: never. deliver_is_due_cfg() is deliver_is_due()
 * or expired by now: expiry happens at that moment, not at the next
 * attempt, and also for held messages. */
time_t deliver_expiry(const struct sp_config *cfg, const struct envelope *env);
bool deliver_is_due_cfg(const struct sp_config *cfg, const struct envelope *env, time_t now, bool flush);

/* Seconds to wait after the attempts-th failed attempt: retry_min doubled
 * per attempt, at most retry_max. */
unsigned deliver_backoff(const struct sp_config *cfg, unsigned attempts);

/*
 * Deliver e (locked; closed or removed on return). Returns the state of
 * the message afterwards, as sysexits: 0 every recipient delivered,
 * EX_TEMPFAIL (75) some still queued, EX_UNAVAILABLE (69) none queued but
 * some failed permanently; EX_CANTCREAT (73) when the state could not be
 * written.
 */
int deliver_entry(struct relay_pool *pool, const char *spool_dir, struct spool_entry *e, bool flush,
		  struct deliver_stats *stats);

#endif
