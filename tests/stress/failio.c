/*
 * failio.c - LD_PRELOAD shim for the full-disk and I/O-error tests: fails
 * write, fsync/fdatasync, rename/renameat/renameat2 and creating or
 * writing opens with an errno of choice, from the Nth matching call on.
 * Only calls on files under FAILIO_PREFIX count and fail (fd calls are
 * matched through /proc/self/fd), so stderr, the config and sockets are
 * left alone. Test tool only: built by tests/stress/fulldisk.sh.
 *
 *   FAILIO=CALL:N:ERRNO   CALL write|fsync|rename|open|any, N >= 1,
 *                         ERRNO ENOSPC|EIO|EDQUOT
 *   FAILIO_PREFIX=/path   (required) the spool directory
 *   FAILIO_REPORT=/file   a line is appended there for each injected failure
 * The environment is read when the library loads (sealpost wipes its own).
 * Trusts its environment (the test sets it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char want_call[16];
static long want_n;
static int want_errno;
static char prefix[PATH_MAX];
static size_t prefix_len;
static long count;
static int configured = -1;
static char report[PATH_MAX];

/* At load time: sealpost wipes its environment before it touches the spool. */
__attribute__((constructor)) static void configure_early(void);

static void configure(void)
{
	if (configured >= 0)
		return;
	configured = 0;
	const char *rep = getenv("FAILIO_REPORT");
	if (rep && strlen(rep) < sizeof(report))
		strcpy(report, rep);
	const char *spec = getenv("FAILIO"), *pre = getenv("FAILIO_PREFIX");
	if (!spec || !pre || strlen(pre) >= sizeof(prefix))
		return;
	char err[16] = "";
	if (sscanf(spec, "%15[a-z]:%ld:%15[A-Z]", want_call, &want_n, err) != 3 || want_n < 1)
		return;
	if (strcmp(err, "ENOSPC") == 0)
		want_errno = ENOSPC;
	else if (strcmp(err, "EIO") == 0)
		want_errno = EIO;
	else if (strcmp(err, "EDQUOT") == 0)
		want_errno = EDQUOT;
	else
		return;
	strcpy(prefix, pre);
	prefix_len = strlen(prefix);
	configured = 1;
}

static void configure_early(void)
{
	configure();
}

static int path_matches(const char *path)
{
	return path && strncmp(path, prefix, prefix_len) == 0;
}

static int fd_matches(int fd)
{
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	return path_matches(target);
}

/* Should this call (of kind call, on a matching file) fail? */
static int inject(const char *call, const char *what)
{
	if (strcmp(want_call, "any") != 0 && strcmp(want_call, call) != 0)
		return 0;
	if (++count < want_n)
		return 0;
	if (report[0]) {
		int saved = errno;
		int fd = (int)syscall(SYS_openat, AT_FDCWD, report, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			char line[PATH_MAX + 64];
			int len = snprintf(line, sizeof(line), "%d %s #%ld %s\n", (int)getpid(), call, count, what);
			if (len > 0)
				(void)syscall(SYS_write, fd, line, (size_t)len);
			close(fd);
		}
		errno = saved;
	}
	errno = want_errno;
	return 1;
}

#define NEXT(type, name) ((type)dlsym(RTLD_NEXT, name))

ssize_t write(int fd, const void *buf, size_t n)
{
	configure();
	if (configured == 1 && fd > 2 && fd_matches(fd) && inject("write", "fd"))
		return -1;
	return NEXT(ssize_t (*)(int, const void *, size_t), "write")(fd, buf, n);
}

int fsync(int fd)
{
	configure();
	if (configured == 1 && fd_matches(fd) && inject("fsync", "fd"))
		return -1;
	return NEXT(int (*)(int), "fsync")(fd);
}

int fdatasync(int fd)
{
	configure();
	if (configured == 1 && fd_matches(fd) && inject("fsync", "fd"))
		return -1;
	return NEXT(int (*)(int), "fdatasync")(fd);
}

int rename(const char *from, const char *to)
{
	configure();
	if (configured == 1 && path_matches(to) && inject("rename", to))
		return -1;
	return NEXT(int (*)(const char *, const char *), "rename")(from, to);
}

int renameat(int dfd, const char *from, int tdfd, const char *to)
{
	configure();
	if (configured == 1 && path_matches(to) && inject("rename", to))
		return -1;
	return NEXT(int (*)(int, const char *, int, const char *), "renameat")(dfd, from, tdfd, to);
}

int renameat2(int dfd, const char *from, int tdfd, const char *to, unsigned flags)
{
	configure();
	if (configured == 1 && path_matches(to) && inject("rename", to))
		return -1;
	return NEXT(int (*)(int, const char *, int, const char *, unsigned), "renameat2")(dfd, from, tdfd, to,
											flags);
}

static int writing(int flags)
{
	return (flags & (O_CREAT | O_WRONLY | O_RDWR)) != 0;
}

static int do_open(const char *name, int dfd, const char *path, int flags, mode_t mode)
{
	configure();
	if (configured == 1 && writing(flags) && path_matches(path) && inject("open", path))
		return -1;
	if (dfd == -1)
		return NEXT(int (*)(const char *, int, ...), name)(path, flags, mode);
	return NEXT(int (*)(int, const char *, int, ...), name)(dfd, path, flags, mode);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	return do_open("open", -1, path, flags, m);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	return do_open("open64", -1, path, flags, m);
}

int openat(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	return do_open("openat", dfd, path, flags, m);
}

int openat64(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	return do_open("openat64", dfd, path, flags, m);
}
