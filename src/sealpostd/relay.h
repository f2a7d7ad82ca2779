/*
 * relay.h - the worker's relays for one run: one session per relay kept
 * open between messages and between a daemon worker's batches
 * (connection reuse, RSET between transactions), TLS session resumption
 * data (kept for the process and in the spool, tls_cache.h), and the
 * "down" mark that stops a run from
 * retrying a relay that already failed (failover moves on to the next).
 * Runs as the worker's user.
 */
#ifndef SEALPOSTD_RELAY_H
#define SEALPOSTD_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "smtp.h"
#include "tls.h"
#include "tls_cache.h"

/* A connection is reused for at most this many messages and this long
 * (as Postfix's smtp_connection_reuse_time_limit), then renewed. The
 * renewal resumes the TLS session, so 100 costs about 0.02 ms/message
 * (tests/worker-tls.sh session_resumption relies on 100). */
#define RELAY_MAX_TRANSACTIONS 100
#define RELAY_MAX_AGE_MS (300 * 1000)

struct relay_link {
	const struct sp_relay *relay;
	struct smtp_session session;
	bool open;
	bool down;                  /* failed in this run: skipped */
	struct smtp_failure down_why;
	char label[320];            /* "host[ip]:port" of the last attempt */
	struct tls_resume *resume;  /* kept for the whole process (relay.c) */
	struct tls_cache_stamp *cache_stamp; /* of the spool's copy (tls_cache.h) */
	uint64_t opened_ms;         /* when the open session was connected */
	int slot;                   /* limits.connections slot held (relay_gate.h); -1 none */
	bool busy;                  /* down because every slot stayed in use */
	bool refuses_null_sender;   /* refused MAIL FROM:<> for a notification:
				     * notifications go from bounce_sender
				     * (learnt once per process, deliver.c) */
};

struct relay_pool {
	const struct sp_config *cfg;
	struct relay_link *links;   /* one per cfg->relays[i], same order */
	size_t n;
	bool trace;
};

void relay_pool_init(struct relay_pool *p, const struct sp_config *cfg, bool trace);
/* QUIT every open session and free everything. */
void relay_pool_close(struct relay_pool *p);
/* A new run over the same pool (a daemon worker's next batch): open
 * sessions stay, the "down" marks of the last run are forgotten. */
void relay_pool_new_run(struct relay_pool *p);

/*
 * A session ready for a transaction on relay i: the open one, or a new
 * connection. NULL when the relay is down (now or earlier in this run);
 * link->down_why says why and a line naming the relay and the exact
 * reason has been logged (id names the message that asked). A new
 * connection first takes a limits.connections slot: when all are held it
 * closes this worker's other (idle) sessions, so that no worker waits
 * while holding a slot, then waits (relay_gate.h); none in time: down,
 * with link->busy set.
 */
struct smtp_session *relay_session(struct relay_pool *p, size_t i, const char *id);

/* The end of a daemon worker's batch: sessions that hold a
 * limits.connections slot are closed (QUIT), so that a worker waiting for
 * the slot need not wait for this one's idle timeout. Others stay open. */
void relay_pool_release_slots(struct relay_pool *p);

/* After a transaction: a lost session is forgotten. Lost before the end of
 * data on a new connection, the relay is marked down for the rest of the
 * run; on a reused one (an earlier transaction on it: the server may close
 * kept connections at any time) it is not, and true says "try once more
 * on a new connection". */
bool relay_after_transaction(struct relay_pool *p, size_t i, bool lost, bool eod_sent);

#endif
