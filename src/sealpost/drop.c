/*
 * drop.c - sealpost-drop, the only privileged program of sealpost: setgid
 * to the spool group, it copies a finished submission from stdin into
 * SPOOL/maildrop/ (mode 1730: the group may create files there, not list
 * or read them) and prints its queue id. It parses nothing of the message
 * or the envelope and reads no configuration: the worker's pickup checks
 * every byte (src/sealpostd/pickup.c). What only this program may say is
 * the caller's uid, from getuid(), written before the caller's bytes.
 *
 * Privilege: the group is effective only around openat() of the drop file
 * (and the unlink of a failed one); it is dropped for good (real,
 * effective and saved, checked with getresgid) before the result is
 * printed, and at once when the spool named is not the built-in one.
 * Trusts: argv[1] only as far as above; stdin not at all (bounded copy).
 *
 * usage: sealpost-drop SPOOL_DIR < stream; exit 0 and "ID\n" on stdout,
 * or a sysexits code and "error: reason\n" on stdout (never stderr: -bs
 * callers treat any stderr output as failure).
 */
#include "config.h"

#include "dropfmt.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

extern char **environ;

static gid_t real_gid, spool_gid;

static _Noreturn void fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fail(int code, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	dprintf(1, "error: %s\n", line);
	exit(code);
}

static bool gids_are(gid_t r, gid_t e, gid_t s)
{
	gid_t gr, ge, gs;
	return getresgid(&gr, &ge, &gs) == 0 && gr == r && ge == e && gs == s;
}

/* Keep the group in the saved set only; raise it around the calls that
 * need it; drop it for good when done. */
static void group_lower(void)
{
	if (setresgid(-1, real_gid, -1) < 0 || !gids_are(real_gid, real_gid, spool_gid))
		fail(EX_OSERR, "cannot lower the group privilege");
}

static void group_raise(void)
{
	if (setresgid(-1, spool_gid, -1) < 0 || !gids_are(real_gid, spool_gid, spool_gid))
		fail(EX_OSERR, "cannot raise the group privilege");
}

static void group_drop(void)
{
	if (setresgid(real_gid, real_gid, real_gid) < 0 || !gids_are(real_gid, real_gid, real_gid))
		fail(EX_OSERR, "cannot drop the group privilege");
	spool_gid = real_gid;
}

static void hygiene(void)
{
	ensure_std_fds();
	closefrom(3);
	umask(077);
	static char *empty_env[] = { NULL };
	environ = empty_env;
	real_gid = getgid();
	spool_gid = getegid();
	group_lower();
}

/* The maildrop directory: a directory, not writable by others, and (when
 * setgid) group-owned by our group. Opened O_PATH: we may not read it. */
static int open_maildrop(const char *spool_dir)
{
	char path[4096];
	if (spool_dir[0] != '/' || (size_t)snprintf(path, sizeof(path), "%s/" DROP_SUBDIR, spool_dir) >= sizeof(path))
		fail(EX_USAGE, "the spool directory must be an absolute path");
	group_raise();
	int dfd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	group_lower();
	if (dfd < 0)
		fail(EX_CANTCREAT, "cannot open %s: %s", path, strerror(e));
	struct stat st;
	if (fstat(dfd, &st) < 0 || !S_ISDIR(st.st_mode) || (st.st_mode & S_IWOTH) ||
	    (spool_gid != real_gid && st.st_gid != spool_gid))
		fail(EX_CANTCREAT, "%s: not a drop directory of this install", path);
	return dfd;
}

static int create_drop(int dfd, char id[SPOOL_ID_LEN + 1])
{
	for (int tries = 0; tries < 16; tries++) {
		spool_new_id(id);
		group_raise();
		int fd = openat(dfd, id, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, DROP_MODE_PARTIAL);
		int e = errno;
		group_lower();
		if (fd >= 0)
			return fd;
		if (e != EEXIST)
			fail(EX_CANTCREAT, "cannot create a file in the maildrop: %s", strerror(e));
	}
	fail(EX_CANTCREAT, "cannot find a free queue id in the maildrop");
}

static _Noreturn void fail_unlink(int dfd, const char *id, int code, const char *why)
{
	group_raise();
	unlinkat(dfd, id, 0);
	group_drop();
	fail(code, "%s", why);
}

int main(int argc, char **argv)
{
	hygiene();
	if (argc != 2 || !argv[1])
		fail(EX_USAGE, "usage: sealpost-drop SPOOL_DIR < stream");
	/* a spool other than the install's gets no privilege at all */
	if (strcmp(argv[1], SPOOLDIR) != 0)
		group_drop();
	int dfd = open_maildrop(argv[1]);
	char id[SPOOL_ID_LEN + 1];
	int fd = create_drop(dfd, id);

	char head[64];
	int n = snprintf(head, sizeof(head), DROP_MAGIC "uid %lu\n", (unsigned long)getuid());
	if (write_all(fd, head, (size_t)n) < 0)
		fail_unlink(dfd, id, EX_CANTCREAT, strerror(errno));
	static char buf[65536];
	unsigned long long total = 0;
	for (;;) {
		ssize_t r = read_retry(0, buf, sizeof(buf));
		if (r < 0)
			fail_unlink(dfd, id, EX_IOERR, "cannot read the submission");
		if (r == 0)
			break;
		total += (size_t)r;
		if (total > DROP_MAX_BYTES)
			fail_unlink(dfd, id, EX_DATAERR, "submission too large");
		if (write_all(fd, buf, (size_t)r) < 0)
			fail_unlink(dfd, id, EX_CANTCREAT, strerror(errno));
	}
	/* complete: the mode says so; one fsync makes data, mode and (on a
	 * journaling filesystem) the new directory entry durable */
	if (fchmod(fd, DROP_MODE_COMPLETE) < 0 || fsync(fd) < 0 || close(fd) < 0)
		fail_unlink(dfd, id, EX_CANTCREAT, strerror(errno));
	group_drop();
	close(dfd);
	dprintf(1, "%s\n", id);
	return 0;
}
