/*
 * privdrop.c - become the worker user when started as root (see
 * privdrop.h). Runs as root until it returns; trusts the password
 * database and nothing else. Everything that needs root (the config, the
 * log file, the trust store) is opened before this; relay credentials are
 * read afterwards, so they belong to the worker user (mode 0600).
 */
#include "config.h"

#include "privdrop.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
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

int privdrop_worker(bool warn)
{
	if (geteuid() != 0)
		return 0;
	errno = 0;
	struct passwd *pw = getpwnam(SEALPOST_USER);
	if (!pw) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			log_msg(LOG_ERR, "cannot look up the user \"%s\": %s", SEALPOST_USER, strerror(errno));
			return -1;
		}
		if (warn)
			log_msg(LOG_WARNING, "running as root: create the \"%s\" user so that sealpostd can "
				"drop privileges", SEALPOST_USER);
		return 0;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (uid == 0 || gid == 0) {
		log_msg(LOG_ERR, "the user \"%s\" has uid or gid 0: refusing to run as root", SEALPOST_USER);
		return -1;
	}
	/* the environment follows the user (password_command runs as it) */
	if (setenv("HOME", pw->pw_dir && *pw->pw_dir == '/' ? pw->pw_dir : "/", 1) < 0 ||
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
