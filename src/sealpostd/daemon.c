/*
 * daemon.c - the long-running worker (see daemon.h). The wait between
 * runs is poll() on an inotify descriptor with a timeout until the next
 * deferred message is due (at most MAX_SLEEP), so new mail is picked up
 * at once and nothing polls the disk in a tight loop.
 */
#include "config.h"

#include "daemon.h"
#include "log.h"
#include "queue_run.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#define MAX_SLEEP 300   /* seconds: rescan at least this often */
#define BUSY_RETRY 2    /* seconds: something due but locked by another worker */

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

static int watch_queue(const struct sp_config *cfg)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		log_msg(LOG_WARNING, "inotify unavailable (%s): rescanning the spool every %d s", strerror(errno),
			BUSY_RETRY);
		return -1;
	}
	char *q = xasprintf("%s/queue", cfg->spool_dir);
	if (inotify_add_watch(fd, q, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		log_msg(LOG_WARNING, "cannot watch %s (%s): rescanning every %d s", q, strerror(errno), BUSY_RETRY);
		close(fd);
		fd = -1;
	}
	free(q);
	return fd;
}

/* Read and discard pending events; true when one named an envelope. */
static bool drain(int fd)
{
	bool relevant = false;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			size_t len = ev->len ? strnlen(ev->name, ev->len) : 0;
			if ((ev->mask & IN_Q_OVERFLOW) || (len > 4 && strcmp(ev->name + len - 4, ".env") == 0))
				relevant = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return relevant;
}

static void reload(struct sp_config **cfg, const struct daemon_options *o, int *ino)
{
	struct sp_config *fresh = NULL;
	char err[512];
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
	if (strcmp(fresh->spool_dir, (*cfg)->spool_dir) != 0)
		log_msg(LOG_WARNING, "spool_dir changed: restart sealpostd to use %s", fresh->spool_dir);
	free(fresh->spool_dir);
	fresh->spool_dir = xstrdup((*cfg)->spool_dir); /* the lock and the watch stay valid */
	conf_free(*cfg);
	*cfg = fresh;
	if (*ino >= 0)
		close(*ino);
	*ino = watch_queue(*cfg);
	log_msg(LOG_INFO, "configuration reloaded from %s (%zu relay(s))", o->conf_path, (*cfg)->nrelays);
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
	int ino = watch_queue(*cfg);
	log_msg(LOG_INFO, "started: spool %s, %zu relay(s)", (*cfg)->spool_dir, (*cfg)->nrelays);
	struct run_options ro = { .trace = o->trace, .stop = o->stop };
	while (!*o->stop) {
		if (*o->reload) {
			*o->reload = 0;
			reload(cfg, o, &ino);
		}
		if (ino >= 0)
			drain(ino);
		int r = queue_run(*cfg, &ro, NULL);
		if (r != 0)
			log_msg(LOG_ERR, "queue run failed (status %d); retrying in %d s", r, MAX_SLEEP / 10);
		if (*o->stop)
			break;
		time_t now = time(NULL);
		time_t next = queue_next_due(*cfg);
		long wait_s = MAX_SLEEP;
		if (r != 0)
			wait_s = MAX_SLEEP / 10;
		else if (next > 0)
			wait_s = next <= now ? BUSY_RETRY : (long)(next - now);
		if (wait_s > MAX_SLEEP)
			wait_s = MAX_SLEEP;
		if (ino < 0 && wait_s > BUSY_RETRY)
			wait_s = BUSY_RETRY;
		/* sleep until new mail, the next due time, or a signal */
		uint64_t deadline = now_ms() + (uint64_t)wait_s * 1000;
		while (!*o->stop && !*o->reload) {
			uint64_t t = now_ms();
			if (t >= deadline)
				break;
			struct pollfd p = { .fd = ino, .events = POLLIN };
			int pr = poll(&p, ino >= 0 ? 1 : 0, (int)(deadline - t));
			if (pr > 0) {
				if (drain(ino))
					break;
			} else if (pr < 0 && errno != EINTR) {
				break;
			}
		}
	}
	log_msg(LOG_INFO, "stopped");
	if (ino >= 0)
		close(ino);
	close(lock);
	return 0;
}
