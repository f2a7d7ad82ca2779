/*
 * crashshim.c - an LD_PRELOAD library for tests: the process kills itself
 * (SIGKILL, like a power cut for its own state) at the Nth call of one of
 * mkdir, fsync or rename, named by CRASH_AT="fsync:2". Lets a test crash
 * the token helper between each step of its durable write (write, fsync,
 * rename, directory fsync) in every build, not only fault-injection ones.
 * Test material only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

static void maybe_crash(const char *fn)
{
	static int calls;
	const char *at = getenv("CRASH_AT");
	size_t n = strlen(fn);
	if (!at || strncmp(at, fn, n) != 0 || at[n] != ':')
		return;
	if (++calls == atoi(at + n + 1))
		raise(SIGKILL);
}

int mkdir(const char *path, mode_t mode)
{
	static int (*real)(const char *, mode_t);
	if (!real)
		real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	maybe_crash("mkdir");
	return real(path, mode);
}

int fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	maybe_crash("fsync");
	return real(fd);
}

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	maybe_crash("rename");
	return real(from, to);
}
