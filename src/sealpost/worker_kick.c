/*
 * worker_kick.c - start sealpostd from the front end. The worker binary is
 * looked up beside our own executable (installed side by side in sbindir,
 * or the build tree), then in SBINDIR. The front end holds no privilege,
 * so the worker runs with exactly the caller's rights (root's worker
 * drops to the worker's user itself).
 */
#include "config.h"

#include "worker_kick.h"
#include "drop_client.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

static char *find_worker(void)
{
	static const char *const rel[] = { "/sealpostd", "/../sealpostd/sealpostd" };
	return helper_path(rel, ARRAY_LEN(rel), SBINDIR "/sealpostd");
}

/* Is a daemon watching this spool? It holds spool_dir/sealpostd.lock. */
static bool daemon_running(const struct sp_config *cfg)
{
	char *p = xasprintf("%s/sealpostd.lock", cfg->spool_dir);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(p);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/* flush: ignore the retry schedule (sendmail -q, like postqueue -f) */
#define WORKER_ARGS 13

static void build_argv(const struct sp_config *cfg, const char *worker, const char *id, bool verbose,
		       bool flush, const char *lock_fd, const char *argv[WORKER_ARGS])
{
	int i = 0;
	argv[i++] = worker;
	argv[i++] = "--once";
	if (flush)
		argv[i++] = "--flush";
	if (cfg->path) {
		argv[i++] = "-C";
		argv[i++] = cfg->path;
	}
	if (id) {
		argv[i++] = "--id";
		argv[i++] = id;
		if (lock_fd) {
			argv[i++] = "--lock-fd";
			argv[i++] = lock_fd;
		}
	}
	if (verbose)
		argv[i++] = "-v";
	/* root on its own spool means root: the worker stays root there (on
	 * the worker user's spool it drops to that user) */
	if (getuid() == 0 && spool_is_callers(cfg->spool_dir))
		argv[i++] = "--allow-root";
	argv[i] = NULL;
}

int worker_run_queue(const struct sp_config *cfg, const struct options *o)
{
	const char *argv[WORKER_ARGS];
	char *worker = find_worker();
	build_argv(cfg, worker, o->queue_id, o->queue_foreground || o->verbose, true, NULL, argv);
	execv(worker, (char *const *)argv);
	fprintf(stderr, "sealpost: cannot run %s: %s\n", worker, strerror(errno));
	free(worker);
	return EX_UNAVAILABLE;
}

/* The caller may wait on our stdout/stderr pipes (PHP, cron) and must not
 * wait for the worker: it gets /dev/null and nothing else, except that
 * with log = "stderr" (containers, where stderr is the log) it keeps fd 2. */
static void detach_stdio(const struct sp_config *cfg)
{
	int keep = strcmp(cfg->log, "stderr") == 0 ? dup(2) : -1;
	stdio_to_devnull();
	if (keep >= 0) {
		dup2(keep, 2);
		close(keep);
	}
	closefrom(3);
}

int worker_kick(const struct sp_config *cfg, const struct options *o, const char *id, int lock_fd)
{
	if (o->delivery == DELIVER_QUEUE_ONLY || cfg->nrelays == 0)
		return 0;
	/* In a system install a worker started as an ordinary caller can read
	 * neither the spool nor the relay secret: delivery is the daemon's
	 * (or the timer's) job there. Queued is success, even with -odi: a
	 * caller that resubmits on 75 would send the message twice. */
	if (getuid() != 0 && !spool_is_callers(cfg->spool_dir))
		return 0;
	if (o->delivery == DELIVER_BACKGROUND && daemon_running(cfg))
		return 0; /* it watches the spool and has seen the message already */

	const char *argv[WORKER_ARGS];
	char *worker = find_worker();
	bool pass_lock = lock_fd >= 0 && o->delivery == DELIVER_INTERACTIVE && id;
	char fdnum[16];
	snprintf(fdnum, sizeof(fdnum), "%d", lock_fd);
	build_argv(cfg, worker, id, o->verbose && o->delivery == DELIVER_INTERACTIVE, false, pass_lock ? fdnum : NULL,
		   argv);
	pid_t pid = fork();
	if (pid < 0) {
		free(worker);
		return o->delivery == DELIVER_INTERACTIVE ? EX_TEMPFAIL : 0;
	}
	if (pid == 0) {
		if (o->delivery == DELIVER_BACKGROUND) {
			/* double fork: the worker is nobody's child and in its own session */
			if (fork() != 0)
				_exit(0);
			setsid();
			detach_stdio(cfg);
		}
		if (pass_lock)
			fcntl(lock_fd, F_SETFD, 0); /* the worker inherits the lock */
		execv(worker, (char *const *)argv);
		_exit(EX_UNAVAILABLE);
	}
	free(worker);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (o->delivery == DELIVER_BACKGROUND)
		return 0; /* queued is success; delivery happens later */
	if (!WIFEXITED(st))
		return EX_TEMPFAIL;
	/* sealpostd --once --id: 0 delivered, 75 deferred, 69 failed */
	int code = WEXITSTATUS(st);
	return code == 0 || code == EX_TEMPFAIL || code == EX_UNAVAILABLE ? code : EX_TEMPFAIL;
}
