/*
 * daemon.c - the long-running worker (see daemon.h).
 *
 * The daemon itself never talks SMTP: it moves finished submissions from
 * maildrop/ into queue/ (pickup.c, at once on inotify), watches queue/,
 * serves sealpostd.sock (control.c) and leaves to the scheduler
 * (scheduler.c, the same code as sealpostd --once) which due message goes
 * to which worker child. Workers live on between batches with their
 * relay connections open; mail named by inotify goes before the backlog.
 *
 * Signals are blocked except inside the scheduler's wait, so a SIGTERM,
 * SIGHUP or SIGCHLD can never slip in between a check and the wait. Runs
 * as the worker's user.
 */
#include "config.h"

#include "daemon.h"
#include "log.h"
#include "pickup.h"
#include "control.h"
#include "metrics.h"
#include "scheduler.h"
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

struct daemon {
	struct sp_config **cfg;
	const struct daemon_options *o;
	struct scheduler *sched;
	int ino;
	int drop_wd;             /* the maildrop's watch; -1: none */
	int control;             /* sealpostd.sock, listening; -1: none */
	pid_t control_kids[CONTROL_MAX_CHILDREN]; /* serving a request each */
	size_t ncontrol;
	bool pickup;             /* the maildrop has something (or may have) */
	int lock;
	struct metrics_pace metrics; /* metrics_file: coalesced rewrites */
};

/* In a child of the daemon (a worker, a control request): the lock, the
 * watch and the control socket stay the daemon's. */
static void child_leave_daemon(void *ctx)
{
	struct daemon *d = ctx;
	close(d->lock);
	if (d->ino >= 0)
		close(d->ino);
	if (d->control >= 0)
		close(d->control);
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
		log_msg(LOG_WARNING, "inotify unavailable (%s): rescanning the spool every few seconds",
			strerror(errno));
		return -1;
	}
	char *q = xasprintf("%s/queue", cfg->spool_dir);
	/* IN_DELETE only for metrics_file (sealpost --delete, finished mail) */
	if (inotify_add_watch(fd, q, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
		log_msg(LOG_WARNING, "cannot watch %s (%s): rescanning every few seconds", q, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(q);
	return fd;
}

/* Read pending events: every envelope named goes to the scheduler. */
static void drain(struct daemon *s)
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
				sched_rescan(s->sched);
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
				sched_fresh(s->sched, id);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void reload(struct daemon *s)
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
	sched_reconfigure(s->sched, *cfg); /* workers on the old one go when idle */
	sched_blind(s->sched, s->ino < 0);
	log_msg(LOG_INFO, "configuration reloaded from %s (%zu relay(s))", o->conf_path, (*cfg)->nrelays);
}

/* Collect control children that are done. */
static void reap_control(struct daemon *s)
{
	for (size_t k = 0; k < s->ncontrol;) {
		int st;
		if (waitpid(s->control_kids[k], &st, WNOHANG) == s->control_kids[k])
			s->control_kids[k] = s->control_kids[--s->ncontrol];
		else
			k++;
	}
}

/* A caller on sealpostd.sock: a child serves it (it may wait for a
 * message's lock, and for the caller), the daemon goes on at once. */
static void serve_control(struct daemon *s)
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
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			child_leave_daemon(s);
			sched_leave_in_child(s->sched);
			int st = control_serve(*s->cfg, fd);
			log_close();
			_exit(st);
		}
		close(fd);
		if (pid > 0)
			s->control_kids[s->ncontrol++] = pid;
	}
}

/* Wait for inotify, a caller, a worker, a signal (stop, reload, child),
 * the next scan, the next idle worker to retire, or metrics_file. */
static void wait_for_work(struct daemon *s)
{
	if (*s->o->stop || *s->o->reload)
		return;
	struct pollfd p[2];
	nfds_t np = 0, ino_at = 2, control_at = 2;
	if (s->ino >= 0) {
		ino_at = np;
		p[np++] = (struct pollfd){ .fd = s->ino, .events = POLLIN };
	}
	if (s->control >= 0) {
		control_at = np;
		p[np++] = (struct pollfd){ .fd = s->control, .events = POLLIN };
	}
	if (sched_wait(s->sched, p, np, metrics_due_at(*s->cfg, &s->metrics)) > 0)
		metrics_changed(&s->metrics); /* a batch changed the queue */
	if (ino_at < np && p[ino_at].revents)
		drain(s);
	if (control_at < np && p[control_at].revents)
		serve_control(s);
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

	struct daemon *s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	s->o = o;
	s->lock = lock;
	struct sched_options so = { .trace = o->trace, .stop = o->stop, .in_child = child_leave_daemon, .ctx = s };
	s->sched = sched_new(*cfg, &so);

	s->ino = watch_queue(*cfg);
	s->drop_wd = watch_maildrop(s->ino, *cfg);
	s->pickup = true;
	sched_blind(s->sched, s->ino < 0);
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
		sched_reap(s->sched);
		reap_control(s);
		if (s->ino >= 0)
			drain(s);
		if (s->pickup || s->drop_wd < 0) {
			/* moves drops into queue/: the queue's watch names them */
			s->pickup = false;
			pickup_run(*cfg);
		}
		uint64_t now = now_ms();
		if (sched_scan_due(s->sched) && sched_scan(s->sched) < 0)
			log_msg(LOG_ERR, "cannot list the spool %s/queue: %s", (*cfg)->spool_dir, strerror(errno));
		if (now >= next_cleanup) {
			spool_cleanup((*cfg)->spool_dir, 3600);
			next_cleanup = now + 3600 * 1000;
		}
		sched_retire_idle(s->sched);
		sched_dispatch(s->sched);
		metrics_tick(*s->cfg, &s->metrics);
		wait_for_work(s);
	}
	log_msg(LOG_INFO, "stopping: waiting for %zu worker(s) to finish their current message",
		sched_workers(s->sched));
	sched_free(s->sched, true);
	log_msg(LOG_INFO, "stopped");
	if (s->ino >= 0)
		close(s->ino);
	if (s->control >= 0) {
		char *sock = xasprintf("%s/sealpostd.sock", (*cfg)->spool_dir);
		unlink(sock);
		free(sock);
		close(s->control);
	}
	free(s);
	if (o->pid_fd >= 0 && o->pid_path)
		unlink(o->pid_path);
	close(lock);
	return 0;
}
