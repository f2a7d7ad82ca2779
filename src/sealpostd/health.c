/*
 * health.c - sealpostd --health (see health.h). A queue id begins with
 * the time its message arrived (doc/spool-format.md: 8 hex digits of
 * seconds, taken right after the arrival time is set), so one listing of
 * queue/ finds the messages that may be too old and only their envelopes
 * are read (to leave held ones aside and confirm the arrival): a few ms
 * with 10,000 queued instead of one read per message. Then one read of
 * spool_dir/state/metrics. make bench reports the run time.
 */
#include "config.h"

#include "health.h"
#include "opstate.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The id is written a moment after the arrival is taken: ids up to this
 * much younger than the limit are read too. */
#define ID_SLACK 60

struct age_scan {
	const char *spool_dir;
	time_t limit;              /* arrival before this: too old */
	unsigned long queued;
	char oldest_id[SPOOL_ID_LEN + 1];
	time_t oldest_arrival;     /* of the first too-old message not held; 0 none */
};

static int check_age(const char *id, void *ctx)
{
	struct age_scan *a = ctx;
	a->queued++;
	char sec[9];
	memcpy(sec, id, 8);
	sec[8] = '\0';
	time_t id_time = (time_t)strtoul(sec, NULL, 16);
	if (a->oldest_arrival || id_time > a->limit + ID_SLACK)
		return 0; /* only counted (ids come oldest first) */
	struct envelope env;
	envelope_init(&env);
	if (spool_read_envelope(a->spool_dir, id, &env, NULL, 0) == 0 && !(env.flags & ENV_HELD) &&
	    env.arrival < a->limit) {
		a->oldest_arrival = env.arrival;
		snprintf(a->oldest_id, sizeof(a->oldest_id), "%s", id);
	}
	envelope_free(&env);
	return 0;
}

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
	struct age_scan q = { .spool_dir = cfg->spool_dir, .limit = now - (time_t)max_age };
	if (spool_list(cfg->spool_dir, check_age, &q) < 0) {
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
	if (q.oldest_arrival && problems++ == 0) {
		char a[32], limit[16];
		format_age((long long)(now - q.oldest_arrival), a);
		conf_format_duration(max_age, limit);
		snprintf(first, sizeof(first), "CRITICAL: message %s has been queued for %s (more than %s); %lu in the queue",
			 q.oldest_id, a, limit, q.queued);
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
	char limit[16];
	conf_format_duration(max_age, limit);
	fprintf(out, "OK: %lu message(s) in the queue, none waiting more than %s (held ones aside)%s\n", q.queued,
		limit, state_ok ? "" : "; the metrics state is damaged and will be rewritten");
	return 0;
}
