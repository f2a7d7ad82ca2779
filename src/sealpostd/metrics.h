/*
 * metrics.h - the Prometheus text file (metrics_file, SPEC section 8):
 * the queue by state and its oldest message, from one pass over the
 * envelopes, and per relay the counters and times of the metrics state
 * (opstate.h). Replaced atomically (temporary file beside it, rename),
 * mode 0644 so that the node exporter's textfile collector can read it.
 * Written by the daemon after queue changes (at most every
 * METRICS_MIN_GAP_MS) and at least every METRICS_MAX_GAP_MS, and by the
 * one-shot worker after its run. Runs as the worker's user.
 */
#ifndef SEALPOSTD_METRICS_H
#define SEALPOSTD_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"

#define METRICS_MIN_GAP_MS 500 /* one write costs ~50 ms of CPU with 10,000 queued */
#define METRICS_MAX_GAP_MS (60 * 1000)

/* Queue figures (also used by --health). */
struct queue_counts {
	unsigned long pending, deferred, held;
	time_t oldest_arrival;   /* of the messages not held; 0: none */
	char oldest_id[24];      /* its queue id */
};
/* Count the queue: one envelope read per message. 0, or -1 with errno. */
int metrics_count_queue(const char *spool_dir, struct queue_counts *q);

/* Write cfg->metrics_file now (nothing when it is unset). 0, or -1 after
 * logging why. */
int metrics_write(const struct sp_config *cfg);

/* The daemon's pacing: changes are coalesced. */
struct metrics_pace {
	uint64_t last_ms;        /* now_ms() of the last write; 0: never */
	bool dirty;
};
void metrics_changed(struct metrics_pace *p);
/* now_ms() time of the next write that is due (UINT64_MAX: none, no
 * metrics_file). */
uint64_t metrics_due_at(const struct sp_config *cfg, const struct metrics_pace *p);
/* Write when due. */
void metrics_tick(const struct sp_config *cfg, struct metrics_pace *p);

#endif
