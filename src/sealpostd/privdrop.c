/*
 * privdrop.c - become the worker user when started as root (see
 * privdrop.h). Runs as root until it returns; trusts the password
 * database and nothing else. Everything that needs root (the config, the
 * log file, the trust store) is opened before this; relay credentials are
 * read afterwards, so they belong to the worker user (mode 0600).
 * The user is looked up in a short-lived child: the NSS modules getpwnam
 * may load (libnss_systemd and its libraries, about 0.7 MiB) are then
 * never mapped into the worker, which stays small for its whole life.
 */
#include "config.h"

#include "privdrop.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SEALPOST_USER
#define SEALPOST_USER "sealpost"
#endif

const char *privdrop_user(void)
{
	return SEALPOST_USER;
}

/* Everything must say "uid, gid" and nothing else, and root must be out
 * of reach: a half-done drop is worse than none. */
static bool dropped_for_good(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return false;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return false;
	gid_t groups[2];
	int n = getgroups(2, groups);
	if (n < 0 || n > 1 || (n == 1 && groups[0] != gid))
		return false;
	return setuid(0) < 0 && setgid(0) < 0;
}

/* What getpwnam said, as it crosses the pipe from the helper. */
struct user_facts {
	int found;
	int err;               /* errno when not found */
	uid_t uid;
	gid_t gid;
	char home[PATH_MAX];
};

static void lookup_here(struct user_facts *f)
{
	memset(f, 0, sizeof(*f));
	errno = 0;
	struct passwd *pw = getpwnam(SEALPOST_USER);
	if (!pw) {
		f->err = errno;
		return;
	}
	f->found = 1;
	f->uid = pw->pw_uid;
	f->gid = pw->pw_gid;
	snprintf(f->home, sizeof(f->home), "%s", pw->pw_dir && *pw->pw_dir == '/' ? pw->pw_dir : "/");
}

/* getpwnam in a child; in this process when no child can be started. */
static void lookup_user(struct user_facts *f)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		lookup_here(f);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		struct user_facts mine;
		lookup_here(&mine);
		_exit(write_all(fds[1], &mine, sizeof(mine)) == 0 ? 0 : 1);
	}
	close(fds[1]);
	size_t got = 0;
	while (pid > 0 && got < sizeof(*f)) {
		ssize_t n = read_retry(fds[0], (char *)f + got, sizeof(*f) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid <= 0 || got != sizeof(*f) || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		lookup_here(f);
	f->home[sizeof(f->home) - 1] = '\0';
}

static bool root_allowed;

void privdrop_set_allow_root(bool allow)
{
	root_allowed = allow;
}

int privdrop_worker(bool allow_root)
{
	if (geteuid() != 0)
		return 0;
	if (allow_root || root_allowed)
		return 0; /* the caller logs it (sealpostd's main) */
	struct user_facts pw;
	lookup_user(&pw);
	if (!pw.found) {
		if (pw.err != 0 && pw.err != ENOENT && pw.err != ESRCH)
			log_msg(LOG_ERR, "cannot look up the user \"%s\": %s", SEALPOST_USER, strerror(pw.err));
		else
			log_msg(LOG_ERR, "refusing to run as root: the user \"%s\" does not exist (create it, "
				"e.g. with make install-system, or pass --allow-root if root is intended)",
				SEALPOST_USER);
		return -1;
	}
	uid_t uid = pw.uid;
	gid_t gid = pw.gid;
	if (uid == 0 || gid == 0) {
		log_msg(LOG_ERR, "the user \"%s\" has uid or gid 0: refusing to run as root", SEALPOST_USER);
		return -1;
	}
	/* the environment follows the user (password_command runs as it) */
	if (setenv("HOME", pw.home, 1) < 0 ||
	    setenv("USER", SEALPOST_USER, 1) < 0 || setenv("LOGNAME", SEALPOST_USER, 1) < 0) {
		log_msg(LOG_ERR, "cannot set the environment for \"%s\"", SEALPOST_USER);
		return -1;
	}
	/* groups first: setgroups and setresgid need root */
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		log_msg(LOG_ERR, "cannot drop privileges to \"%s\": %s", SEALPOST_USER, strerror(errno));
		return -1;
	}
	if (!dropped_for_good(uid, gid)) {
		log_msg(LOG_ERR, "dropping privileges to \"%s\" left root within reach: refusing to run",
			SEALPOST_USER);
		return -1;
	}
	return 0;
}
