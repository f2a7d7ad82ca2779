/*
 * queue_control.c - hold, release and delete queued messages (see
 * queue_control.h). The message file's flock is the same one the worker
 * takes, so a change is never seen half done: a worker that opens the
 * message afterwards reads the new envelope (held: skipped; deleted:
 * gone). Released messages have their retry times cleared so they go out
 * at once. Runs as the spool's owner (see queue_control.h); the owner is
 * checked on an unlocked read first, so a request for another user's
 * message never takes its lock, and again under the lock.
 */
#include "config.h"

#include "queue_control.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 50

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Lock the entry, waiting a bounded time for a worker to let go. */
static int lock_entry(const char *spool_dir, const char *id, struct spool_entry *e, char *err, size_t errlen)
{
	for (unsigned waited = 0;; waited += POLL_MS) {
		char why[256] = "";
		int r = spool_open_entry(spool_dir, id, e, why, sizeof(why));
		if (r == 0)
			return 0;
		if (r < 0) {
			set_err(err, errlen, "%s: damaged queue entry moved aside: %s", id, why);
			return EX_DATAERR;
		}
		/* busy, or gone: only an envelope tells them apart */
		struct envelope env;
		envelope_init(&env);
		bool queued = spool_read_envelope(spool_dir, id, &env, NULL, 0) == 0;
		envelope_free(&env);
		if (!queued) {
			set_err(err, errlen, "%s: no such message in the queue", id);
			return EX_NOUSER;
		}
		if (waited >= QUEUE_CONTROL_WAIT_MS) {
			set_err(err, errlen, "%s: a delivery attempt is in progress; try again", id);
			return EX_TEMPFAIL;
		}
		sleep_ms(POLL_MS);
	}
}

static const char *action_name(enum queue_action a)
{
	switch (a) {
	case QUEUE_HOLD: return "held";
	case QUEUE_RELEASE: return "released";
	case QUEUE_DELETE: return "deleted";
	case QUEUE_FLUSH: return "flushed";
	}
	return "?";
}

int queue_control_one(const char *spool_dir, enum queue_action action, const char *id, uid_t caller,
		      FILE *out, char *err, size_t errlen)
{
	if (!spool_id_valid(id)) {
		set_err(err, errlen, "%s: not a queue id", id);
		return EX_USAGE;
	}
	/* whose is it? (unlocked: nobody may hold a lock on another's message) */
	struct envelope peek;
	envelope_init(&peek);
	if (spool_read_envelope(spool_dir, id, &peek, NULL, 0) == 0 && caller != 0 && peek.uid != caller) {
		envelope_free(&peek);
		set_err(err, errlen, "%s: not your message (only root or the user who queued it may change it)", id);
		return EX_NOPERM;
	}
	envelope_free(&peek);
	struct spool_entry e;
	int r = lock_entry(spool_dir, id, &e, err, errlen);
	if (r)
		return r;
	if (caller != 0 && e.env.uid != caller) {
		spool_close_entry(&e);
		set_err(err, errlen, "%s: not your message (only root or the user who queued it may change it)", id);
		return EX_NOPERM;
	}
	char why[256] = "";
	if (action == QUEUE_DELETE) {
		if (spool_remove_entry(spool_dir, &e) < 0) { /* closes e */
			set_err(err, errlen, "%s: cannot delete: %s", id, strerror(errno));
			return EX_CANTCREAT;
		}
	} else {
		if (action == QUEUE_HOLD) {
			e.env.flags |= ENV_HELD;
		} else {
			if (action == QUEUE_RELEASE)
				e.env.flags &= ~(unsigned)ENV_HELD;
			for (size_t i = 0; i < e.env.nrcpts; i++)
				if (e.env.rcpts[i].state == RCPT_DEFERRED)
					e.env.rcpts[i].next_attempt = 0;
		}
		r = spool_save_state(spool_dir, &e, why, sizeof(why));
		spool_close_entry(&e);
		if (r < 0) {
			set_err(err, errlen, "%s: cannot change: %s", id, why);
			return EX_CANTCREAT;
		}
	}
	log_msg(LOG_INFO, "%s: %s by uid %lu", id, action_name(action), (unsigned long)caller);
	fprintf(out, "%s: %s\n", id, action_name(action));
	return 0;
}
