/*
 * priv.c - setgid hygiene for the front end, after Postfix's postdrop:
 * fix the umask, make sure fds 0-2 are open, wipe the environment, and
 * keep the spool group out of the effective set except around spool I/O.
 */
#include "config.h"

#include "priv.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static gid_t spool_gid;
static bool have_group;
static bool started_setgid;

static bool tz_is_sane(const char *tz)
{
	/* a TZ that names a file could be used to probe files we can read */
	size_t n = strlen(tz);
	return n > 0 && n < 64 && strchr(tz, '/') == NULL && strstr(tz, "..") == NULL && tz[0] != ':';
}

void priv_init(void)
{
	ensure_std_fds();
	/* a descriptor opened by the caller (a directory, a socket) must not
	 * meet code that holds the spool group */
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

	spool_gid = getegid();
	have_group = spool_gid != getgid();
	started_setgid = have_group;
	if (have_group && setegid(getgid()) < 0) {
		fprintf(stderr, "sealpost: cannot lower group privilege\n");
		exit(71);
	}
}

void priv_drop(void)
{
	if (setgid(getgid()) < 0) {
		fprintf(stderr, "sealpost: cannot drop group privilege\n");
		exit(71);
	}
	have_group = false;
}

void priv_raise(void)
{
	if (have_group && setegid(spool_gid) < 0) {
		fprintf(stderr, "sealpost: cannot raise group privilege\n");
		exit(71);
	}
}

void priv_lower(void)
{
	if (have_group && setegid(getgid()) < 0) {
		fprintf(stderr, "sealpost: cannot lower group privilege\n");
		exit(71);
	}
}

bool priv_have(void)
{
	return have_group;
}

bool priv_started_setgid(void)
{
	return started_setgid;
}
