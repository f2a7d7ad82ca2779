/*
 * health.c - sealpostd --health (see health.h). One pass over the
 * envelopes (metrics_count_queue, multi-threaded in spool.c) and one read
 * of spool_dir/state/metrics: about 40 ms with 10,000 messages queued
 * (make bench reports it).
 */
#include "config.h"

#include "health.h"
#include "metrics.h"
#include "opstate.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2h13m", "45s": an age for people. */
static void format_age(long long secs, char out[32])
{
	if (secs >= 86400)
		snprintf(out, 32, "%lldd%lldh", secs / 86400, secs % 86400 / 3600);
	else if (secs >= 3600)
		snprintf(out, 32, "%lldh%lldm", secs / 3600, secs % 3600 / 60);
	else if (secs >= 60)
		snprintf(out, 32, "%lldm%llds", secs / 60, secs % 60);
	else
		snprintf(out, 32, "%llds", secs);
}

int health_check(const struct sp_config *cfg, unsigned max_age, FILE *out)
{
	time_t now = time(NULL);
	struct queue_counts q;
	if (metrics_count_queue(cfg->spool_dir, &q) < 0) {
		fprintf(out, "UNKNOWN: cannot read the spool %s/queue: %s\n", cfg->spool_dir, strerror(errno));
		return 1;
	}
	struct opstate *st = xcalloc(1, sizeof(*st));
	char err[512];
	bool state_ok = opstate_load(cfg->spool_dir, st, err, sizeof(err)) == 0;
	char first[1024] = "";
	unsigned problems = 0;
	/* a relay a person must fix explains an old queue: it goes first */
	for (size_t i = 0; i < cfg->nrelays; i++) {
		const struct ops_relay *r = NULL;
		for (size_t k = 0; k < st->n; k++)
			if (strcmp(st->relays[k].name, cfg->relays[i].name) == 0)
				r = &st->relays[k];
		if (!r || !ops_class_needs_person(r->last_class))
			continue;
		if (problems++ == 0) {
			char since[32];
			format_rfc3339(r->last_attempt, since);
			snprintf(first, sizeof(first), "CRITICAL: relay %s (%s): %s at %s: %s", r->name,
				 cfg->relays[i].host, ops_class_text(r->last_class), since,
				 r->reason[0] ? r->reason : "no details");
		}
	}
	long long age = q.oldest_arrival && now > q.oldest_arrival ? (long long)(now - q.oldest_arrival) : 0;
	unsigned long queued = q.pending + q.deferred;
	if (q.oldest_arrival && age > (long long)max_age) {
		if (problems++ == 0) {
			char a[32], limit[16];
			format_age(age, a);
			conf_format_duration(max_age, limit);
			snprintf(first, sizeof(first),
				 "CRITICAL: message %s has been queued for %s (more than %s); %lu message(s) queued",
				 q.oldest_id, a, limit, queued);
		}
	}
	if (cfg->nrelays == 0 && problems++ == 0)
		snprintf(first, sizeof(first), "CRITICAL: no relay configured: nothing can be delivered");
	free(st);
	if (problems) {
		if (problems > 1)
			fprintf(out, "%s (and %u more problem%s)\n", first, problems - 1, problems == 2 ? "" : "s");
		else
			fprintf(out, "%s\n", first);
		return 1;
	}
	char a[32];
	format_age(age, a);
	fprintf(out, "OK: %lu message(s) queued (%lu held), oldest %s%s\n", queued, q.held, a,
		state_ok ? "" : "; the metrics state is damaged and will be rewritten");
	return 0;
}
