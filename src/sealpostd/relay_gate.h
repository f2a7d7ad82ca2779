/*
 * relay_gate.h - may relay R be used now, and if not, when? The relay-level
 * state that every worker on a spool shares (the daemon's workers and
 * one-shot workers alike), kept in spool_dir/relays/ (doc/spool-format.md):
 *
 *   NAME.backoff  the relay throttled us (421, 432 4.3.2, SES 454, quotas):
 *                 nobody uses it before "until"; retry_min doubling per
 *                 throttle in a row, up to retry_max; gone once a
 *                 transaction succeeds again (the end of the episode)
 *   NAME.sent     the last transactions, for limits.messages ("30/1m")
 *   NAME.lock     flock'ed around the read-modify-write of those two
 *   NAME.conn.K   K < limits.connections: an open session holds a flock
 *                 on one of them; the lock dies with its process
 *
 * The deliverer asks before it uses a relay and reports what happened;
 * the scheduler needs nothing else: a message no relay may take now is
 * postponed to the time its relay opens again (deliver.c), and the daemon
 * sleeps until then. Runs as the worker's user; trusts the spool's
 * relays/ directory (the worker's own), parses its files strictly anyway.
 */
#ifndef SEALPOSTD_RELAY_GATE_H
#define SEALPOSTD_RELAY_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"

/* A worker waits this long at most for a free connection slot, and sleeps
 * in place for a message slot that frees within RELAY_GATE_SLEEP_MAX
 * seconds; beyond, the message is postponed (its next attempt moved). */
#define RELAY_GATE_CONN_WAIT_MS (300 * 1000)
#define RELAY_GATE_SLEEP_MAX 60

/* The end of the relay's current back-off (0: none, or over). why, when
 * not NULL, receives the reply that started it. */
time_t relay_gate_backoff_until(const struct sp_config *cfg, const struct sp_relay *r, char *why, size_t whylen);

/*
 * The relay answered with a throttling or quota reply (what: the rule's
 * description, reply: the reply as logged). Starts an episode (level 1,
 * logged once, as a warning naming the relay, the reply and how long),
 * or, when the back-off of the episode has run out, doubles it; a reply
 * that arrives while the back-off runs (a concurrent transaction) changes
 * nothing. Returns the end of the back-off.
 */
time_t relay_gate_throttled(const struct sp_config *cfg, const struct sp_relay *r, const char *label,
			    const char *what, const char *reply);

/* A transaction through r succeeded: the episode, if any, is over
 * (logged once). Costs one failed open() when there is none. */
void relay_gate_success(const struct sp_config *cfg, const struct sp_relay *r, const char *label);

/*
 * limits.messages: reserve one transaction now. 0 and *token set (pass it
 * to relay_gate_message_done), or the wall-clock time in ms when the
 * oldest transaction of the window leaves it. Always 0 without the limit.
 */
uint64_t relay_gate_take_message(const struct sp_config *cfg, const struct sp_relay *r, uint64_t *token);
/* The reserved transaction ended (sent: it reached the server, and counts
 * from now; otherwise the reservation is returned). */
void relay_gate_message_done(const struct sp_config *cfg, const struct sp_relay *r, uint64_t token, bool sent);

/* Sleep until the wall-clock ms time; false when a signal cut it short. */
bool relay_gate_sleep_until(uint64_t wall_ms);

#define RELAY_GATE_UNLIMITED (-2)
/*
 * limits.connections: a slot for one session. Returns the descriptor that
 * holds it (keep it open while the session is), RELAY_GATE_UNLIMITED
 * without the limit, or -1 when none became free before deadline (a
 * monotonic now_ms() time; 0: do not wait) or a signal came. Waits on
 * inotify for a slot file to be closed: no polling.
 */
int relay_gate_connection(const struct sp_config *cfg, const struct sp_relay *r, uint64_t deadline);
/* Give the slot back (*fd becomes -1; nothing when it holds none). */
void relay_gate_release(int *fd);

/* The current wall clock in ms. */
uint64_t relay_gate_wall_ms(void);

#endif
