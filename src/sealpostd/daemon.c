/*
 * daemon.c - the long-running worker (see daemon.h).
 *
 * The daemon itself never talks SMTP: it moves finished submissions from
 * maildrop/ into queue/ (pickup.c, at once on inotify), watches queue/,
 * decides what is due and hands batches of queue ids to worker children,
 * at most queue.concurrency at once. Workers live on between batches with
 * their relay connections open (no new TCP, TLS and AUTH per batch): each
 * has a socket pair to the daemon, which sends a batch to one idle worker
 * (no thundering herd) and hears back when it is done. A worker idle for
 * WORKER_IDLE_MS is told to go (its socket closed): it QUITs and exits.
 * A message queued while every worker is busy waits for the first to
 * finish its batch (at most BATCH messages), and mail named by inotify
 * goes before the backlog. Workers lock each message (spool.c), so other
 * daemons and one-shot workers on the spool are safe.
 *
 * Signals are blocked except inside ppoll(), so a SIGTERM, SIGHUP or
 * SIGCHLD can never slip in between a check and the wait. Runs as the
 * worker's user.
 */
#include "config.h"

#include "daemon.h"
#include "deliver.h"
#include "idlist.h"
#include "log.h"
#include "pickup.h"
#include "control.h"
#include "metrics.h"
#include "queue_run.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define MAX_SLEEP 300      /* seconds: rescan at least this often */
#define BUSY_RETRY 2       /* seconds: rescan period without inotify */
#define SCAN_GAP_MS 1000   /* at most one scan per second after children end */
#define BATCH 32           /* messages per child, then its slot frees up */
#define MAX_CHILDREN 64
#define MAX_FRESH 4096     /* ids remembered from inotify; beyond: rescan */
/* An idle worker keeps its connections this long for the next mail, then
 * QUITs: long enough for a burst of one-at-a-time submissions, short
 * enough not to hold the smarthost's slots (a constant, not a key). */
#define WORKER_IDLE_MS 5000

struct child {
	pid_t pid;
	int sock;              /* to the worker; -1: told to go, exiting */
	struct idlist ids;     /* the batch it has (empty: idle) */
	uint64_t idle_since;
	unsigned gen;          /* the configuration it runs with */
};

struct sched {
	struct sp_config **cfg;
	const struct daemon_options *o;
	struct child kids[MAX_CHILDREN];
	size_t nkids;
	struct idlist fresh;     /* named by inotify, not yet dispatched */
	struct idlist backlog;   /* due at the last scan, not yet dispatched */
	uint64_t scan_at;        /* monotonic ms of the next scan */
	uint64_t last_scan;
	sigset_t run_mask;       /* the mask outside ppoll: our signals blocked */
	sigset_t wait_mask;      /* inside ppoll */
	int ino;
	int drop_wd;             /* the maildrop's watch; -1: none */
	int control;             /* sealpostd.sock, listening; -1: none */
	pid_t control_kids[CONTROL_MAX_CHILDREN]; /* serving a request each */
	size_t ncontrol;
	bool pickup;             /* the maildrop has something (or may have) */
	int lock;
	unsigned gen;            /* bumped by each reload */
	struct metrics_pace metrics; /* metrics_file: coalesced rewrites */
};

static void on_child(int sig)
{
	(void)sig; /* only to interrupt ppoll */
}

static int take_lock(const char *spool_dir)
{
	char *p = xasprintf("%s/sealpostd.lock", spool_dir);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		fprintf(stderr, "sealpostd: cannot open %s: %s\n", p, strerror(errno));
		free(p);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "sealpostd: another sealpostd daemon is running on %s\n", spool_dir);
		free(p);
		close(fd);
		return -2;
	}
	free(p);
	return fd;
}

/* Our pid into an already open file (the lock file, the --pid-file). */
static void write_pid(int fd)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n)
		log_msg(LOG_WARNING, "cannot write the pid file: %s", strerror(errno));
}

static int detach(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	setsid();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	stdio_to_devnull();
	return 0;
}

/* The maildrop (system install): a finished drop file is closed by
 * sealpost-drop. Its watch descriptor, or -1. */
static int watch_maildrop(int fd, const struct sp_config *cfg)
{
	char *q = xasprintf("%s/maildrop", cfg->spool_dir);
	int wd = fd >= 0 ? inotify_add_watch(fd, q, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB) : -1;
	free(q);
	return wd;
}

static int watch_queue(const struct sp_config *cfg)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		log_msg(LOG_WARNING, "inotify unavailable (%s): rescanning the spool every %d s", strerror(errno),
			BUSY_RETRY);
		return -1;
	}
	char *q = xasprintf("%s/queue", cfg->spool_dir);
	/* IN_DELETE only for metrics_file (sealpost --delete, finished mail) */
	if (inotify_add_watch(fd, q, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
		log_msg(LOG_WARNING, "cannot watch %s (%s): rescanning every %d s", q, strerror(errno), BUSY_RETRY);
		close(fd);
		fd = -1;
	}
	free(q);
	return fd;
}

/* Read pending events: every envelope named goes to fresh. */
static void drain(struct sched *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(s->ino, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p + sizeof(struct inotify_event) <= buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			size_t len = ev->len ? strnlen(ev->name, ev->len) : 0;
			if (ev->mask & IN_Q_OVERFLOW) {
				s->scan_at = 0;
				s->pickup = true;
			} else if (s->drop_wd >= 0 && ev->wd == s->drop_wd) {
				s->pickup = true;
			} else if (len == SPOOL_ID_LEN + 4 && strcmp(ev->name + SPOOL_ID_LEN, ".env") == 0 &&
				   (ev->mask & IN_DELETE)) {
				metrics_changed(&s->metrics); /* delivered or deleted */
			} else if (len == SPOOL_ID_LEN + 4 && strcmp(ev->name + SPOOL_ID_LEN, ".env") == 0) {
				metrics_changed(&s->metrics); /* queued, held, released */
				char id[SPOOL_ID_LEN + 1];
				memcpy(id, ev->name, SPOOL_ID_LEN);
				id[SPOOL_ID_LEN] = '\0';
				if (s->fresh.n >= MAX_FRESH) {
					/* too many to remember: a scan finds them (soon, not
					 * on every event while the slots are busy) */
					uint64_t soon = s->last_scan + SCAN_GAP_MS;
					if (s->scan_at > soon)
						s->scan_at = soon;
				}
				else if (spool_id_valid(id) && !idlist_has(&s->fresh, id))
					idlist_add(&s->fresh, id);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void reload(struct sched *s)
{
	struct sp_config *fresh = NULL;
	char err[512];
	const struct daemon_options *o = s->o;
	if (conf_load(o->conf_path, false, &fresh, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "reload failed, keeping the running configuration: %s", err);
		return;
	}
	if (fresh->nrelays == 0) {
		log_msg(LOG_ERR, "reload failed, keeping the running configuration: %s: no relay configured",
			o->conf_path);
		conf_free(fresh);
		return;
	}
	struct sp_config **cfg = s->cfg;
	if (strcmp(fresh->spool_dir, (*cfg)->spool_dir) != 0)
		log_msg(LOG_WARNING, "spool_dir changed: restart sealpostd to use %s", fresh->spool_dir);
	free(fresh->spool_dir);
	fresh->spool_dir = xstrdup((*cfg)->spool_dir); /* the lock and the watch stay valid */
	conf_free(*cfg); /* running children keep their own copy */
	*cfg = fresh;
	if (s->ino >= 0)
		close(s->ino);
	s->ino = watch_queue(*cfg);
	s->drop_wd = watch_maildrop(s->ino, *cfg);
	s->scan_at = 0;
	s->gen++; /* workers on the old one go when idle */
	log_msg(LOG_INFO, "configuration reloaded from %s (%zu relay(s))", o->conf_path, (*cfg)->nrelays);
}

static bool in_flight(const struct sched *s, const char *id)
{
	for (size_t k = 0; k < s->nkids; k++)
		if (idlist_has(&s->kids[k].ids, id))
			return true;
	return false;
}

/* A scan soon learns the retry times a finished batch wrote (unless a
 * backlog is still waiting). */
static void scan_soon(struct sched *s)
{
	if (s->backlog.n == 0) {
		uint64_t earliest = s->last_scan + SCAN_GAP_MS;
		if (s->scan_at > earliest)
			s->scan_at = earliest;
	}
}

static void retire(struct child *c)
{
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}

/* Collect exited workers. */
static void reap(struct sched *s)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			break;
		for (size_t k = 0; k < s->ncontrol; k++)
			if (s->control_kids[k] == pid)
				s->control_kids[k] = s->control_kids[--s->ncontrol];
		for (size_t k = 0; k < s->nkids; k++) {
			if (s->kids[k].pid != pid)
				continue;
			if (WIFEXITED(st) && WEXITSTATUS(st) == EX_CANTCREAT)
				log_msg(LOG_ERR, "a worker could not write the spool; its messages stay queued");
			else if (WIFSIGNALED(st))
				log_msg(LOG_WARNING, "worker %ld killed by signal %d; its messages stay queued",
					(long)pid, WTERMSIG(st));
			retire(&s->kids[k]);
			idlist_free(&s->kids[k].ids);
			s->kids[k] = s->kids[--s->nkids];
			break;
		}
	}
	scan_soon(s);
}

/* A worker reported: one byte per finished batch, or end of file. */
static void hear(struct sched *s, struct child *c)
{
	unsigned char st;
	ssize_t n = recv(c->sock, &st, 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n == 1) {
		if (st != 0)
			log_msg(LOG_ERR, "a worker could not write the spool; its messages stay queued");
		c->ids.n = 0;
		c->idle_since = now_ms();
		scan_soon(s);
		metrics_changed(&s->metrics); /* a batch changed the queue */
		return;
	}
	retire(c); /* gone: reap() collects it */
}

/* Idle workers past WORKER_IDLE_MS, or on an old configuration, go. */
static void retire_idle(struct sched *s)
{
	uint64_t now = now_ms();
	for (size_t k = 0; k < s->nkids; k++) {
		struct child *c = &s->kids[k];
		if (c->sock >= 0 && c->ids.n == 0 && (c->gen != s->gen || now - c->idle_since >= WORKER_IDLE_MS))
			retire(c);
	}
}

static void scan(struct sched *s)
{
	uint64_t now = now_ms();
	struct idlist due = { 0 };
	time_t next_due = 0;
	s->last_scan = now;
	if (queue_scan(*s->cfg, time(NULL), false, &due, &next_due) < 0)
		log_msg(LOG_ERR, "cannot list the spool %s/queue: %s", (*s->cfg)->spool_dir, strerror(errno));
	s->backlog.n = 0;
	for (size_t i = 0; i < due.n; i++)
		if (!in_flight(s, due.ids[i]) && !idlist_has(&s->fresh, due.ids[i]))
			idlist_add(&s->backlog, due.ids[i]);
	idlist_free(&due);
	long wait_s = MAX_SLEEP;
	time_t t = time(NULL);
	if (next_due > 0)
		wait_s = next_due > t ? (long)(next_due - t) : BUSY_RETRY; /* due but in flight */
	if (wait_s > MAX_SLEEP)
		wait_s = MAX_SLEEP;
	if (s->ino < 0 && wait_s > BUSY_RETRY)
		wait_s = BUSY_RETRY;
	s->scan_at = now + (uint64_t)wait_s * 1000;
}

/* Is the message named by inotify worth a child (queued, due, not held)? */
static bool fresh_is_due(const struct sched *s, const char *id)
{
	struct envelope env;
	envelope_init(&env);
	if (spool_read_envelope((*s->cfg)->spool_dir, id, &env, NULL, 0) < 0)
		return false;
	bool due = deliver_is_due(&env, time(NULL), false);
	envelope_free(&env);
	return due;
}

/* The worker's life: batches from the daemon over one relay pool, a
 * status byte after each, until the socket closes or a stop. */
static _Noreturn void worker_main(struct sched *s, int sock)
{
	struct relay_pool pool;
	struct run_options ro = { .trace = s->o->trace, .stop = s->o->stop, .lock_fd = -1 };
	relay_pool_init(&pool, *s->cfg, s->o->trace);
	while (!*s->o->stop) {
		char msg[BATCH * SPOOL_ID_LEN];
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
		int st = queue_deliver_ids_on(*s->cfg, &ro, &pool, batch.ids, batch.n, 0, 1);
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

/* Fork a worker. false when it could not be started. */
static bool start_child(struct sched *s)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_msg(LOG_WARNING, "cannot start a worker: %s; retrying in %d s", strerror(errno), BUSY_RETRY);
		s->scan_at = now_ms() + BUSY_RETRY * 1000;
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_msg(LOG_WARNING, "cannot start a worker: %s; retrying in %d s", strerror(errno), BUSY_RETRY);
		s->scan_at = now_ms() + BUSY_RETRY * 1000;
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	if (pid == 0) {
		/* the lock, the watch and the other workers stay the daemon's */
		close(sv[0]);
		close(s->lock);
		if (s->ino >= 0)
			close(s->ino);
		if (s->control >= 0)
			close(s->control);
		for (size_t k = 0; k < s->nkids; k++)
			if (s->kids[k].sock >= 0)
				close(s->kids[k].sock);
		sigset_t none;
		sigemptyset(&none);
		signal(SIGCHLD, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		worker_main(s, sv[1]);
	}
	close(sv[1]);
	struct child *c = &s->kids[s->nkids++];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->sock = sv[0];
	c->idle_since = now_ms();
	c->gen = s->gen;
	return true;
}

/* An idle worker on the current configuration, or NULL; *room: a new
 * one may be started. */
static struct child *idle_worker(struct sched *s, size_t limit, bool *room)
{
	size_t active = 0;
	for (size_t k = 0; k < s->nkids; k++) {
		struct child *c = &s->kids[k];
		if (c->sock < 0)
			continue;
		active++;
		if (c->ids.n == 0 && c->gen == s->gen)
			return c;
	}
	*room = active < limit && s->nkids < MAX_CHILDREN;
	return NULL;
}

/* A batch that found no worker goes back to be dispatched later. */
static void requeue(struct sched *s, struct idlist *batch)
{
	for (size_t i = 0; i < batch->n; i++)
		if (s->fresh.n < MAX_FRESH && !idlist_has(&s->fresh, batch->ids[i]))
			idlist_add(&s->fresh, batch->ids[i]);
	idlist_free(batch);
}

/* Hand batch (taken over) to worker c. false when c is gone. */
static bool give(struct sched *s, struct child *c, struct idlist *batch)
{
	char msg[BATCH * SPOOL_ID_LEN];
	for (size_t i = 0; i < batch->n; i++)
		memcpy(msg + i * SPOOL_ID_LEN, batch->ids[i], SPOOL_ID_LEN);
	if (send(c->sock, msg, batch->n * SPOOL_ID_LEN, MSG_NOSIGNAL) < 0) {
		retire(c);
		requeue(s, batch);
		return false;
	}
	idlist_free(&c->ids);
	c->ids = *batch;
	memset(batch, 0, sizeof(*batch));
	return true;
}

/* Fill free slots: fresh mail first, then the backlog, BATCH per child. */
static void dispatch(struct sched *s)
{
	size_t limit = (*s->cfg)->queue.concurrency ? (*s->cfg)->queue.concurrency : 1;
	if (limit > MAX_CHILDREN)
		limit = MAX_CHILDREN;
	for (int tries = 0; tries < MAX_CHILDREN && (s->fresh.n > 0 || s->backlog.n > 0);) {
		bool room = false;
		struct child *c = idle_worker(s, limit, &room);
		if (!c && !room)
			break;
		struct idlist batch = { 0 };
		size_t used = 0;
		for (; used < s->fresh.n && batch.n < BATCH; used++) {
			const char *id = s->fresh.ids[used];
			if (!idlist_has(&batch, id) && !in_flight(s, id) && fresh_is_due(s, id))
				idlist_add(&batch, id);
		}
		idlist_drop_front(&s->fresh, used);
		for (used = 0; used < s->backlog.n && batch.n < BATCH; used++) {
			const char *id = s->backlog.ids[used];
			if (!idlist_has(&batch, id) && !in_flight(s, id))
				idlist_add(&batch, id);
		}
		idlist_drop_front(&s->backlog, used);
		if (batch.n == 0)
			continue; /* nothing due among those: look at the rest */
		if (!c && !start_child(s)) {
			requeue(s, &batch);
			break;
		}
		if (!c)
			c = &s->kids[s->nkids - 1];
		if (!give(s, c, &batch))
			tries++; /* that worker is gone: another one */
	}
}

/* A caller on sealpostd.sock: a child serves it (it may wait for a
 * message's lock, and for the caller), the daemon goes on at once. */
static void serve_control(struct sched *s)
{
	for (int rounds = 0; rounds < CONTROL_MAX_CHILDREN; rounds++) {
		int fd = accept4(s->control, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (s->ncontrol >= CONTROL_MAX_CHILDREN) {
			close(fd); /* busy: the caller is told the system is busy */
			continue;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(s->control);
			close(s->lock);
			if (s->ino >= 0)
				close(s->ino);
			for (size_t k = 0; k < s->nkids; k++)
				if (s->kids[k].sock >= 0)
					close(s->kids[k].sock);
			sigset_t none;
			sigemptyset(&none);
			signal(SIGCHLD, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			sigprocmask(SIG_SETMASK, &none, NULL);
			int st = control_serve(*s->cfg, fd);
			log_close();
			_exit(st);
		}
		close(fd);
		if (pid > 0)
			s->control_kids[s->ncontrol++] = pid;
	}
}

/* Wait for inotify, a worker, a signal (stop, reload, child), the next
 * scan or the next idle worker to retire. */
static void wait_for_work(struct sched *s)
{
	uint64_t now = now_ms();
	if (*s->o->stop || *s->o->reload || s->scan_at <= now)
		return;
	uint64_t until = s->scan_at;
	struct pollfd p[2 + MAX_CHILDREN];
	struct child *who[2 + MAX_CHILDREN];
	nfds_t np = 0;
	if (s->ino >= 0) {
		p[np] = (struct pollfd){ .fd = s->ino, .events = POLLIN };
		who[np++] = NULL;
	}
	nfds_t control_at = np;
	if (s->control >= 0) {
		p[np] = (struct pollfd){ .fd = s->control, .events = POLLIN };
		who[np++] = NULL;
	}
	for (size_t k = 0; k < s->nkids; k++) {
		struct child *c = &s->kids[k];
		if (c->sock < 0)
			continue;
		p[np] = (struct pollfd){ .fd = c->sock, .events = POLLIN };
		who[np++] = c;
		if (c->ids.n == 0 && c->idle_since + WORKER_IDLE_MS < until)
			until = c->idle_since + WORKER_IDLE_MS;
	}
	uint64_t metrics_at = metrics_due_at(*s->cfg, &s->metrics);
	if (metrics_at < until)
		until = metrics_at;
	uint64_t ms = until > now ? until - now : 0;
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	int r = ppoll(p, np, &ts, &s->wait_mask);
	for (nfds_t i = 0; r > 0 && i < np; i++) {
		if (!p[i].revents)
			continue;
		if (who[i])
			hear(s, who[i]);
		else if (s->control >= 0 && i == control_at)
			serve_control(s);
		else
			drain(s);
	}
}

static void stop_children(struct sched *s)
{
	for (size_t k = 0; k < s->nkids; k++) {
		retire(&s->kids[k]); /* an idle worker sees the end at once */
		kill(s->kids[k].pid, SIGTERM);
	}
	while (s->nkids > 0) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		for (size_t k = 0; k < s->nkids; k++)
			if (s->kids[k].pid == pid) {
				idlist_free(&s->kids[k].ids);
				s->kids[k] = s->kids[--s->nkids];
				break;
			}
	}
}

int daemon_run(struct sp_config **cfg, const struct daemon_options *o)
{
	char err[256];
	if (spool_ensure_dirs((*cfg)->spool_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "sealpostd: spool %s: %s\n", (*cfg)->spool_dir, err);
		return EX_CANTCREAT;
	}
	int lock = take_lock((*cfg)->spool_dir);
	if (lock < 0)
		return lock == -2 ? EX_TEMPFAIL : EX_CANTCREAT;
	if (o->detach && detach() < 0) {
		fprintf(stderr, "sealpostd: cannot detach: %s\n", strerror(errno));
		return EX_OSERR;
	}
	write_pid(lock);
	if (o->pid_fd >= 0)
		write_pid(o->pid_fd);

	struct sched *s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	s->o = o;
	s->lock = lock;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);
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

	s->ino = watch_queue(*cfg);
	s->drop_wd = watch_maildrop(s->ino, *cfg);
	s->pickup = true;
	s->control = control_listen((*cfg)->spool_dir);
	spool_cleanup((*cfg)->spool_dir, 3600);
	log_msg(LOG_INFO, "started: spool %s, %zu relay(s), up to %u worker(s)", (*cfg)->spool_dir,
		(*cfg)->nrelays, (*cfg)->queue.concurrency);
	uint64_t next_cleanup = now_ms() + 3600 * 1000;
	while (!*o->stop) {
		if (*o->reload) {
			*o->reload = 0;
			reload(s);
		}
		reap(s);
		if (s->ino >= 0)
			drain(s);
		if (s->pickup || s->drop_wd < 0) {
			/* moves drops into queue/: the queue's watch names them */
			s->pickup = false;
			pickup_run(*cfg);
		}
		uint64_t now = now_ms();
		if (s->scan_at <= now)
			scan(s);
		if (now >= next_cleanup) {
			spool_cleanup((*cfg)->spool_dir, 3600);
			next_cleanup = now + 3600 * 1000;
		}
		retire_idle(s);
		dispatch(s);
		metrics_tick(*s->cfg, &s->metrics);
		wait_for_work(s);
	}
	log_msg(LOG_INFO, "stopping: waiting for %zu worker(s) to finish their current message", s->nkids);
	stop_children(s);
	log_msg(LOG_INFO, "stopped");
	sigprocmask(SIG_SETMASK, &s->run_mask, NULL);
	if (s->ino >= 0)
		close(s->ino);
	if (s->control >= 0) {
		char *sock = xasprintf("%s/sealpostd.sock", (*cfg)->spool_dir);
		unlink(sock);
		free(sock);
		close(s->control);
	}
	idlist_free(&s->fresh);
	idlist_free(&s->backlog);
	free(s);
	if (o->pid_fd >= 0 && o->pid_path)
		unlink(o->pid_path);
	close(lock);
	return 0;
}
