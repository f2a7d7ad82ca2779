/*
 * priv.c - start-up hygiene for the front end, after Postfix's postdrop:
 * fix the umask, make sure fds 0-2 are open, close everything else, wipe
 * the environment, and give up any group an old setgid install left us
 * (real, effective and saved group set to the caller's, then checked).
 * Root may later become the spool's owner for queue maintenance.
 */
#include "config.h"

#include "priv.h"
#include "util.h"

#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static bool tz_is_sane(const char *tz)
{
	/* a TZ that names a file could be used to probe files we can read */
	size_t n = strlen(tz);
	return n > 0 && n < 64 && strchr(tz, '/') == NULL && strstr(tz, "..") == NULL && tz[0] != ':';
}

bool priv_set_all_gids(gid_t gid)
{
	gid_t r, e, s;
	if (setresgid(gid, gid, gid) < 0 || getresgid(&r, &e, &s) < 0)
		return false;
	return r == gid && e == gid && s == gid;
}

void priv_init(void)
{
	ensure_std_fds();
	/* a descriptor opened by the caller (a directory, a socket) must not
	 * meet our code */
	closefrom(3);
	umask(027);

	const char *tz = getenv("TZ");
	char *keep_tz = tz && tz_is_sane(tz) ? xstrdup(tz) : NULL;
#ifdef SEALPOST_FAULT_INJECTION
	const char *fault = getenv("SEALPOST_FAULT");
	char *keep_fault = fault ? xstrdup(fault) : NULL;
#endif
	static char *empty_env[] = { NULL };
	environ = empty_env;
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	if (keep_tz)
		setenv("TZ", keep_tz, 1);
	free(keep_tz);
#ifdef SEALPOST_FAULT_INJECTION
	if (keep_fault)
		setenv("SEALPOST_FAULT", keep_fault, 1);
	free(keep_fault);
#endif

	/* an install from before sealpost-drop may still have the setgid bit */
	if (!priv_set_all_gids(getgid())) {
		fprintf(stderr, "sealpost: cannot drop group privilege\n");
		exit(71);
	}
}

int priv_become_spool_owner(const char *spool_dir, char *err, size_t errlen)
{
	if (getuid() != 0)
		return 0;
	struct stat st;
	if (stat(spool_dir, &st) < 0) {
		set_err(err, errlen, "%s: %s", spool_dir, strerror(errno));
		return -1;
	}
	if (st.st_uid == 0)
		return 0;
	gid_t gid = st.st_gid;
	uid_t uid = st.st_uid, ru, eu, su;
	if (setgroups(1, &gid) < 0 || !priv_set_all_gids(gid) || setresuid(uid, uid, uid) < 0 ||
	    getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid) {
		set_err(err, errlen, "cannot become the owner of %s: %s", spool_dir, strerror(errno));
		return -1;
	}
	return 0;
}
