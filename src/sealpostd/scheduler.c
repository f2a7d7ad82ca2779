/*
 * scheduler.c - which due message goes to which worker (see scheduler.h).
 */
#include "config.h"

#include "scheduler.h"
#include "deliver.h"
#include "idlist.h"
#include "log.h"
#include "queue_run.h"
#include "relay.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLEEP 300      /* seconds: rescan at least this often */
#define BUSY_RETRY 2       /* seconds: rescan period when due mail is in flight */
#define SCAN_GAP_MS 1000   /* at most one scan per second after batches end */
#define MAX_FRESH 4096     /* ids remembered from inotify; beyond: rescan */
/* An idle worker keeps its connections this long for the next mail, then
 * QUITs: long enough for a burst of one-at-a-time submissions, short
 * enough not to hold the smarthost's slots (a constant, not a key). */
#define WORKER_IDLE_MS 5000

struct worker {
	pid_t pid;
	int sock;              /* to the worker; -1: told to go, exiting */
	struct idlist ids;     /* the batch it has (empty: idle) */
	uint64_t idle_since;
	unsigned gen;          /* the configuration it runs with */
};

struct scheduler {
	const struct sp_config *cfg;
	struct sched_options o;
	struct worker workers[SCHED_MAX_WORKERS];
	size_t nworkers;
	struct idlist fresh;     /* named by inotify, not yet dispatched */
	struct idlist backlog;   /* due at the last scan, not yet dispatched */
	uint64_t scan_at;        /* monotonic ms of the next scan; UINT64_MAX: none */
	uint64_t last_scan;
	unsigned gen;            /* bumped by each reconfiguration */
	bool spool_trouble;      /* a worker could not write the spool */
	bool worker_died;        /* a worker was killed by a signal not ours */
	bool blind;              /* no inotify: rescan every BUSY_RETRY s */
	sigset_t run_mask;       /* the caller's mask, restored by sched_free */
	sigset_t wait_mask;      /* inside ppoll: our signals deliverable */
	struct sigaction old_chld;
};

static void on_child(int sig)
{
	(void)sig; /* only to interrupt ppoll */
}

/* ---- what is due ---- */

struct scan {
	const struct sp_config *cfg;
	time_t now;
	bool flush;
	struct idlist due;
	time_t next_due;
};

/* Collect the due messages (read without locking: only a hint; the
 * worker decides again under the lock) and the earliest next event. */
static int scan_one(const char *id, void *ctx)
{
	struct scan *sc = ctx;
	struct envelope env;
	envelope_init(&env);
	if (spool_read_envelope(sc->cfg->spool_dir, id, &env, NULL, 0) < 0)
		return 0; /* gone, or damaged: the locked open moves it aside */
	if (deliver_is_due_cfg(sc->cfg, &env, sc->now, sc->flush))
		idlist_add(&sc->due, id);
	time_t expiry = deliver_expiry(sc->cfg, &env); /* held or not: wake for it */
	if (expiry && (sc->next_due == 0 || expiry < sc->next_due))
		sc->next_due = expiry;
	if (!(env.flags & ENV_HELD))
		for (size_t i = 0; i < env.nrcpts; i++) {
			const struct spool_rcpt *r = &env.rcpts[i];
			if (r->state != RCPT_PENDING && r->state != RCPT_DEFERRED)
				continue;
			time_t t = r->state == RCPT_PENDING ? sc->now : r->next_attempt;
			if (sc->next_due == 0 || t < sc->next_due)
				sc->next_due = t;
		}
	envelope_free(&env);
	return 0;
}

/* Is the message named by inotify worth a worker (queued, due)? */
static bool fresh_is_due(const struct scheduler *s, const char *id)
{
	struct envelope env;
	envelope_init(&env);
	if (spool_read_envelope(s->cfg->spool_dir, id, &env, NULL, 0) < 0)
		return false;
	bool due = deliver_is_due_cfg(s->cfg, &env, time(NULL), s->o.flush);
	envelope_free(&env);
	return due;
}

static bool in_flight(const struct scheduler *s, const char *id)
{
	for (size_t k = 0; k < s->nworkers; k++)
		if (idlist_has(&s->workers[k].ids, id))
			return true;
	return false;
}

int sched_scan(struct scheduler *s)
{
	struct scan sc = { .cfg = s->cfg, .now = time(NULL), .flush = s->o.flush };
	uint64_t now = now_ms();
	s->last_scan = now;
	int r = spool_list(s->cfg->spool_dir, scan_one, &sc);
	int saved = errno;
	s->backlog.n = 0;
	for (size_t i = 0; i < sc.due.n; i++)
		if (!in_flight(s, sc.due.ids[i]) && !idlist_has(&s->fresh, sc.due.ids[i]))
			idlist_add(&s->backlog, sc.due.ids[i]);
	idlist_free(&sc.due);
	if (s->o.one_pass) {
		s->scan_at = UINT64_MAX;
	} else {
		long wait_s = MAX_SLEEP;
		time_t t = time(NULL);
		if (sc.next_due > 0)
			wait_s = sc.next_due > t ? (long)(sc.next_due - t) : BUSY_RETRY; /* due but in flight */
		if (wait_s > MAX_SLEEP)
			wait_s = MAX_SLEEP;
		if (s->blind && wait_s > BUSY_RETRY)
			wait_s = BUSY_RETRY;
		s->scan_at = now + (uint64_t)wait_s * 1000;
	}
	errno = saved;
	return r < 0 ? -1 : 0;
}

void sched_rescan(struct scheduler *s)
{
	s->scan_at = 0;
}

bool sched_scan_due(const struct scheduler *s)
{
	return s->scan_at <= now_ms();
}

/* A scan soon learns the retry times a finished batch wrote (unless a
 * backlog is still waiting). */
static void scan_soon(struct scheduler *s)
{
	if (s->backlog.n == 0 && !s->o.one_pass) {
		uint64_t earliest = s->last_scan + SCAN_GAP_MS;
		if (s->scan_at > earliest)
			s->scan_at = earliest;
	}
}

void sched_fresh(struct scheduler *s, const char *id)
{
	if (s->fresh.n >= MAX_FRESH)
		scan_soon(s); /* too many to remember: a scan finds them */
	else if (spool_id_valid(id) && !idlist_has(&s->fresh, id))
		idlist_add(&s->fresh, id);
}

/* ---- the workers ---- */

static void retire(struct worker *w)
{
	if (w->sock >= 0)
		close(w->sock);
	w->sock = -1;
}

void sched_leave_in_child(struct scheduler *s)
{
	for (size_t k = 0; k < s->nworkers; k++)
		if (s->workers[k].sock >= 0)
			close(s->workers[k].sock);
	sigset_t none;
	sigemptyset(&none);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The worker's life: batches over one relay pool, a status byte after
 * each, until the socket closes or a stop. */
static _Noreturn void worker_main(struct scheduler *s, int sock)
{
	struct relay_pool pool;
	struct run_options ro = { .trace = s->o.trace, .stop = s->o.stop, .lock_fd = -1, .flush = s->o.flush };
	relay_pool_init(&pool, s->cfg, s->o.trace);
	while (!*s->o.stop) {
		char msg[SCHED_MAX_BATCH * SPOOL_ID_LEN];
		ssize_t n = recv(sock, msg, sizeof(msg), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || n % SPOOL_ID_LEN != 0)
			break;
		struct idlist batch = { 0 };
		for (ssize_t off = 0; off < n; off += SPOOL_ID_LEN) {
			char id[SPOOL_ID_LEN + 1];
			memcpy(id, msg + off, SPOOL_ID_LEN);
			id[SPOOL_ID_LEN] = '\0';
			if (spool_id_valid(id))
				idlist_add(&batch, id);
		}
		int st = queue_deliver_ids_on(s->cfg, &ro, &pool, batch.ids, batch.n);
		relay_pool_release_slots(&pool); /* limited relays: no idle slot held */
		idlist_free(&batch);
		unsigned char report = st == EX_CANTCREAT;
		if (send(sock, &report, 1, MSG_NOSIGNAL) != 1)
			break;
	}
	relay_pool_close(&pool);
	log_close();
	_exit(0); /* spool trouble was reported per batch */
}

/* Fork a worker; NULL when it could not be started. */
static struct worker *start_worker(struct scheduler *s)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_msg(LOG_WARNING, "cannot start a worker: %s", strerror(errno));
		return NULL;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		log_msg(LOG_WARNING, "cannot start a worker: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		/* a scheduler killed outright (SIGKILL) stops its workers after
		 * their current message, as a SIGTERM would */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(0);
		close(sv[0]);
		if (s->o.in_child)
			s->o.in_child(s->o.ctx);
		sched_leave_in_child(s);
		worker_main(s, sv[1]);
	}
	close(sv[1]);
	struct worker *w = &s->workers[s->nworkers++];
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->sock = sv[0];
	w->idle_since = now_ms();
	w->gen = s->gen;
	return w;
}

static size_t worker_limit(const struct scheduler *s)
{
	size_t limit = s->cfg->queue.concurrency ? s->cfg->queue.concurrency : 1;
	return limit > SCHED_MAX_WORKERS ? SCHED_MAX_WORKERS : limit;
}

/* An idle worker on the current configuration, or NULL; *room: a new
 * one may be started. *busy: how many have a batch. */
static struct worker *idle_worker(struct scheduler *s, bool *room, size_t *busy)
{
	size_t active = 0;
	*busy = 0;
	struct worker *idle = NULL;
	for (size_t k = 0; k < s->nworkers; k++) {
		struct worker *w = &s->workers[k];
		if (w->sock < 0)
			continue;
		active++;
		if (w->ids.n > 0)
			(*busy)++;
		else if (!idle && w->gen == s->gen)
			idle = w;
	}
	*room = active < worker_limit(s) && s->nworkers < SCHED_MAX_WORKERS;
	return idle;
}

/* A batch that found no worker goes back to be dispatched later. */
static void requeue(struct scheduler *s, struct idlist *batch)
{
	for (size_t i = 0; i < batch->n; i++)
		if (s->fresh.n < MAX_FRESH && !idlist_has(&s->fresh, batch->ids[i]))
			idlist_add(&s->fresh, batch->ids[i]);
	idlist_free(batch);
}

/* Hand batch (taken over) to worker w. false when w is gone. */
static bool give(struct scheduler *s, struct worker *w, struct idlist *batch)
{
	char msg[SCHED_MAX_BATCH * SPOOL_ID_LEN];
	for (size_t i = 0; i < batch->n; i++)
		memcpy(msg + i * SPOOL_ID_LEN, batch->ids[i], SPOOL_ID_LEN);
	if (send(w->sock, msg, batch->n * SPOOL_ID_LEN, MSG_NOSIGNAL) < 0) {
		retire(w);
		requeue(s, batch);
		return false;
	}
	idlist_free(&w->ids);
	w->ids = *batch;
	memset(batch, 0, sizeof(*batch));
	return true;
}

/* An even share of what waits for each worker that could take some,
 * within [SCHED_MIN_BATCH, SCHED_MAX_BATCH]. */
static size_t batch_size(const struct scheduler *s, size_t busy)
{
	size_t waiting = s->fresh.n + s->backlog.n;
	size_t free_slots = worker_limit(s) > busy ? worker_limit(s) - busy : 1;
	size_t share = (waiting + free_slots - 1) / free_slots;
	if (share < SCHED_MIN_BATCH)
		share = SCHED_MIN_BATCH;
	return share > SCHED_MAX_BATCH ? SCHED_MAX_BATCH : share;
}

/* Move up to max due ids from *from into batch (from's front consumed). */
static void take(struct scheduler *s, struct idlist *from, bool check_due, struct idlist *batch, size_t max)
{
	size_t used = 0;
	for (; used < from->n && batch->n < max; used++) {
		const char *id = from->ids[used];
		if (!idlist_has(batch, id) && !in_flight(s, id) && (!check_due || fresh_is_due(s, id)))
			idlist_add(batch, id);
	}
	idlist_drop_front(from, used);
}

void sched_dispatch(struct scheduler *s)
{
	for (int tries = 0; tries < SCHED_MAX_WORKERS && (s->fresh.n > 0 || s->backlog.n > 0);) {
		bool room = false;
		size_t busy = 0;
		struct worker *w = idle_worker(s, &room, &busy);
		if (!w && !room)
			break;
		size_t max = batch_size(s, busy);
		struct idlist batch = { 0 };
		take(s, &s->fresh, true, &batch, max);
		take(s, &s->backlog, false, &batch, max);
		if (batch.n == 0)
			continue; /* nothing due among those: look at the rest */
		if (!w && !(w = start_worker(s))) {
			requeue(s, &batch);
			if (!s->o.one_pass)
				s->scan_at = now_ms() + BUSY_RETRY * 1000; /* and try again */
			break;
		}
		if (!give(s, w, &batch))
			tries++; /* that worker is gone: another one */
	}
}

void sched_reap(struct scheduler *s)
{
	bool any = false;
	for (size_t k = 0; k < s->nworkers;) {
		struct worker *w = &s->workers[k];
		int st;
		if (waitpid(w->pid, &st, WNOHANG) != w->pid) {
			k++;
			continue;
		}
		if (WIFSIGNALED(st)) {
			log_msg(LOG_WARNING, "worker %ld killed by signal %d; its messages stay queued", (long)w->pid,
				WTERMSIG(st));
			s->worker_died = true;
		}
		retire(w);
		idlist_free(&w->ids);
		s->workers[k] = s->workers[--s->nworkers];
		any = true;
	}
	if (any)
		scan_soon(s);
}

/* A worker reported: one byte per finished batch, or end of file. Returns
 * whether a batch finished. */
static bool hear(struct scheduler *s, struct worker *w)
{
	unsigned char st;
	ssize_t n = recv(w->sock, &st, 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	if (n == 1) {
		if (st != 0) {
			log_msg(LOG_ERR, "a worker could not write the spool; its messages stay queued");
			s->spool_trouble = true;
		}
		w->ids.n = 0;
		w->idle_since = now_ms();
		scan_soon(s);
		return true;
	}
	retire(w); /* gone: sched_reap() collects it */
	return false;
}

void sched_retire_idle(struct scheduler *s)
{
	uint64_t now = now_ms();
	for (size_t k = 0; k < s->nworkers; k++) {
		struct worker *w = &s->workers[k];
		if (w->sock >= 0 && w->ids.n == 0 &&
		    (w->gen != s->gen || (!s->o.one_pass && now - w->idle_since >= WORKER_IDLE_MS)))
			retire(w);
	}
}

size_t sched_workers(const struct scheduler *s)
{
	size_t n = 0;
	for (size_t k = 0; k < s->nworkers; k++)
		n += s->workers[k].sock >= 0;
	return n;
}

bool sched_busy(const struct scheduler *s)
{
	if (s->fresh.n > 0 || s->backlog.n > 0)
		return true;
	for (size_t k = 0; k < s->nworkers; k++)
		if (s->workers[k].sock >= 0 && s->workers[k].ids.n > 0)
			return true;
	return false;
}

unsigned sched_wait(struct scheduler *s, struct pollfd *extra, nfds_t nextra, uint64_t until)
{
	uint64_t now = now_ms();
	if (*s->o.stop)
		return 0;
	if (s->scan_at < until)
		until = s->scan_at;
	struct pollfd p[8 + SCHED_MAX_WORKERS];
	struct worker *who[8 + SCHED_MAX_WORKERS];
	nfds_t np = 0;
	for (nfds_t i = 0; i < nextra && np < 8; i++) {
		p[np] = extra[i];
		p[np].revents = 0;
		who[np++] = NULL;
	}
	for (size_t k = 0; k < s->nworkers; k++) {
		struct worker *w = &s->workers[k];
		if (w->sock < 0)
			continue;
		p[np] = (struct pollfd){ .fd = w->sock, .events = POLLIN };
		who[np++] = w;
		if (!s->o.one_pass && w->ids.n == 0 && w->idle_since + WORKER_IDLE_MS < until)
			until = w->idle_since + WORKER_IDLE_MS;
	}
	struct timespec ts, *tsp = NULL;
	if (until != UINT64_MAX) {
		uint64_t ms = until > now ? until - now : 0;
		ts = (struct timespec){ .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
		tsp = &ts;
	}
	int r = ppoll(p, np, tsp, &s->wait_mask);
	unsigned finished = 0;
	for (nfds_t i = 0; i < np; i++) {
		if (!who[i]) {
			extra[i].revents = r > 0 ? p[i].revents : 0;
			continue;
		}
		if (r > 0 && p[i].revents && hear(s, who[i]))
			finished++;
	}
	return finished;
}

/* ---- life ---- */

struct scheduler *sched_new(const struct sp_config *cfg, const struct sched_options *o)
{
	struct scheduler *s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	s->o = *o;
	s->scan_at = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, &s->old_chld);
	sigset_t ours;
	sigemptyset(&ours);
	sigaddset(&ours, SIGTERM);
	sigaddset(&ours, SIGINT);
	sigaddset(&ours, SIGHUP);
	sigaddset(&ours, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ours, &s->run_mask);
	s->wait_mask = s->run_mask;
	sigdelset(&s->wait_mask, SIGTERM);
	sigdelset(&s->wait_mask, SIGINT);
	sigdelset(&s->wait_mask, SIGHUP);
	sigdelset(&s->wait_mask, SIGCHLD);
	return s;
}

void sched_blind(struct scheduler *s, bool blind)
{
	s->blind = blind;
}

void sched_reconfigure(struct scheduler *s, const struct sp_config *cfg)
{
	s->cfg = cfg;
	s->gen++; /* workers on the old one go when idle */
	s->scan_at = 0;
}

int sched_free(struct scheduler *s, bool now)
{
	for (size_t k = 0; k < s->nworkers; k++) {
		retire(&s->workers[k]); /* an idle worker sees the end at once */
		if (now)
			kill(s->workers[k].pid, SIGTERM);
	}
	/* the caller's mask again: a stop interrupts the wait and is passed on */
	sigprocmask(SIG_SETMASK, &s->run_mask, NULL);
	bool forwarded = now;
	while (s->nworkers > 0) {
		struct worker *w = &s->workers[s->nworkers - 1];
		int st;
		pid_t pid = waitpid(w->pid, &st, 0);
		if (pid < 0 && errno == EINTR) {
			if (!forwarded && *s->o.stop) {
				for (size_t k = 0; k < s->nworkers; k++)
					kill(s->workers[k].pid, SIGTERM);
				forwarded = true;
			}
			continue;
		}
		if (pid == w->pid && WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM) {
			log_msg(LOG_WARNING, "worker %ld killed by signal %d; its messages stay queued",
				(long)w->pid, WTERMSIG(st));
			s->worker_died = true;
		}
		idlist_free(&w->ids);
		s->nworkers--;
	}
	sigaction(SIGCHLD, &s->old_chld, NULL);
	int status = s->spool_trouble ? EX_CANTCREAT : s->worker_died ? EX_SOFTWARE : 0;
	idlist_free(&s->fresh);
	idlist_free(&s->backlog);
	free(s);
	return status;
}
