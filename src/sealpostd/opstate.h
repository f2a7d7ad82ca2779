/*
 * opstate.h - the operational state kept in the spool for metrics and
 * --health (doc/spool-format.md, "The metrics state"): per relay the
 * delivery counters (they survive restarts so that Prometheus' rate()
 * works), the last success, the peer certificate's expiry at the last
 * handshake, when the expiry warning was last logged, and how the last
 * attempt ended (its failure class and reason). One small text file,
 * spool_dir/state/metrics, replaced atomically under a lock
 * (state/metrics.lock) by every worker process that has something to add.
 *
 * Runs as the worker's user (and read-only from --health). Trusts nothing
 * in the file: a damaged one is reported and replaced, never misread.
 * Separate from any other per-relay state on purpose (one concern).
 */
#ifndef SEALPOSTD_OPSTATE_H
#define SEALPOSTD_OPSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define OPSTATE_MAX_RELAYS 256
#define OPSTATE_REASON_MAX 300

/* How a relay's last attempt ended. The ones that need a person make
 * --health fail until a later attempt succeeds. */
enum ops_class {
	OPS_NONE = 0,      /* never attempted */
	OPS_OK,            /* connected and ready for mail */
	OPS_TRANSIENT,     /* connect, timeout, a 4xx: retried by itself */
	OPS_CERTIFICATE,   /* certificate or pin refused */
	OPS_AUTH,          /* AUTH refused (or impossible) */
	OPS_TOKEN,         /* OAuth token refused (the OAuth code reports it) */
	OPS_CONFIG,        /* the relay's configuration cannot be applied */
};

const char *ops_class_name(enum ops_class c);        /* "ok", "certificate", ... */
bool ops_class_needs_person(enum ops_class c);
/* What a person reads in --health: "certificate refused", ... */
const char *ops_class_text(enum ops_class c);

struct ops_relay {
	char name[65];
	uint64_t sent, deferred, bounced;
	time_t last_success;     /* 0: never */
	time_t cert_expiry;      /* at the last full or resumed handshake; 0: unknown */
	time_t cert_warned;      /* when "expires soon" was last logged */
	time_t last_attempt;     /* 0: never */
	enum ops_class last_class;
	char reason[OPSTATE_REASON_MAX];
};

struct opstate {
	struct ops_relay relays[OPSTATE_MAX_RELAYS];
	size_t n;
};

/* The relay's entry, added when missing (NULL when the table is full). */
struct ops_relay *opstate_relay(struct opstate *st, const char *name);

/*
 * Read spool_dir/state/metrics into st (emptied first). 0 (also when the
 * file does not exist yet), or -1 with err when it is damaged or
 * unreadable (st is then empty).
 */
int opstate_load(const char *spool_dir, struct opstate *st, char *err, size_t errlen);

/*
 * Lock the state (waiting at most 5 s), load it, let fn change it, write
 * it back atomically. A damaged file is logged and started afresh (the
 * counters reset, which Prometheus handles). 0, or -1 with err (state not
 * writable, lock held too long): then nothing was written.
 */
int opstate_update(const char *spool_dir, void (*fn)(struct opstate *st, void *ctx), void *ctx, char *err,
		   size_t errlen);

/*
 * Replace path with len bytes of data: a temporary file beside it
 * (PATH.PID.tmp), chmod mode, rename. No fsync: a crash can at worst
 * lose the last update (the files are rewritten often), never leave a
 * half-written one visible. 0 or -1 with err.
 */
int opstate_replace_file(const char *path, const void *data, size_t len, unsigned mode, char *err,
			 size_t errlen);

/* Remove BASE.*.tmp files in dir left by a killed writer: every one
 * (min_age 0, under the lock that serialises the writers), or those not
 * changed for min_age seconds. */
void opstate_remove_stale_tmp(const char *dir, const char *base, unsigned min_age);

#endif
