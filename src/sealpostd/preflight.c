/*
 * preflight.c - the worker's needs, checked as the worker's user (see
 * preflight.h). Each check does what the worker will do, without side
 * effects: access() as that user for directories, open() for files.
 */
#include "config.h"

#include "preflight.h"
#include "privdrop.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define WHY_MAX 600

static const char *const spool_subdirs[] = { "queue", "tmp", "corrupt" };

static void who(char *out, size_t n)
{
	struct passwd *pw = getpwuid(geteuid());
	if (pw)
		snprintf(out, n, "user %s", pw->pw_name);
	else
		snprintf(out, n, "uid %u", (unsigned)geteuid());
}

/* "owner uid U, mode 0750" of path, for the message. */
static void owner_mode(const char *path, char *out, size_t n)
{
	struct stat st;
	if (stat(path, &st) == 0)
		snprintf(out, n, "owner uid %u gid %u, mode %04o", (unsigned)st.st_uid, (unsigned)st.st_gid,
			 (unsigned)(st.st_mode & 07777));
	else
		snprintf(out, n, "%s", strerror(errno));
}

/* A directory the worker reads and writes (or creates in its parent). */
static int check_dir(const char *path, bool may_create, const char *parent, char *why, size_t n)
{
	char u[64], om[96];
	who(u, sizeof(u));
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT && may_create && access(parent, W_OK | X_OK) == 0)
			return 0;
		owner_mode(parent, om, sizeof(om));
		snprintf(why, n, "spool %s: %s, and %s cannot create it in %s (%s)", path, strerror(errno), u,
			 parent, om);
		return EX_CANTCREAT;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "spool %s: not a directory", path);
		return EX_CANTCREAT;
	}
	if (access(path, R_OK | W_OK | X_OK) < 0) {
		owner_mode(path, om, sizeof(om));
		snprintf(why, n, "spool %s: not usable by %s, which the worker runs as (%s)", path, u, om);
		return EX_CANTCREAT;
	}
	return 0;
}

static int check_spool(const char *spool, char *why, size_t n)
{
	char u[64], om[96];
	who(u, sizeof(u));
	struct stat st;
	if (stat(spool, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, n, "spool_dir %s: %s", spool, errno ? strerror(errno) : "not a directory");
		return EX_CANTCREAT;
	}
	if (access(spool, X_OK) < 0) {
		owner_mode(spool, om, sizeof(om));
		snprintf(why, n, "spool_dir %s: %s cannot enter it (%s)", spool, u, om);
		return EX_CANTCREAT;
	}
	for (size_t i = 0; i < sizeof(spool_subdirs) / sizeof(spool_subdirs[0]); i++) {
		char *p = xasprintf("%s/%s", spool, spool_subdirs[i]);
		int rc = check_dir(p, true, spool, why, n);
		free(p);
		if (rc)
			return rc;
	}
	/* the daemon's lock: opened read-write, created when missing */
	char *lock = xasprintf("%s/sealpostd.lock", spool);
	int rc = 0;
	if (access(lock, F_OK) == 0 ? access(lock, R_OK | W_OK) < 0 : access(spool, W_OK | X_OK) < 0) {
		owner_mode(access(lock, F_OK) == 0 ? lock : spool, om, sizeof(om));
		snprintf(why, n, "lock file %s: %s cannot %s it (%s)", lock, u,
			 access(lock, F_OK) == 0 ? "open" : "create", om);
		rc = EX_CANTCREAT;
	}
	free(lock);
	return rc;
}

/* A file the worker will read (a secret, a certificate, a trust store). */
static int check_readable(const char *what, const char *path, char *why, size_t n)
{
	if (!path || !path[0])
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	char u[64], om[96];
	int e = errno;
	who(u, sizeof(u));
	owner_mode(path, om, sizeof(om));
	snprintf(why, n, "%s %s: not readable by %s, which the worker runs as: %s (%s)", what, path, u,
		 strerror(e), om);
	return EX_CONFIG;
}

/* tls_files: also the trust and client key files, which the worker reads
 * as the user it starts as: not when it starts as root (tls_policy_preload
 * reads them before the drop), so the root path leaves them out. */
static int check_all(const struct sp_config *cfg, bool tls_files, char *why, size_t n)
{
	int rc = check_spool(cfg->spool_dir, why, n);
	for (size_t i = 0; i < cfg->nrelays && rc == 0; i++) {
		const struct sp_relay *r = &cfg->relays[i];
		char what[160];
		snprintf(what, sizeof(what), "relay \"%s\": password_file", r->name);
		rc = check_readable(what, r->password_file, why, n);
	}
	for (size_t i = 0; tls_files && i < cfg->npolicies && rc == 0; i++) {
		const struct sp_tls_policy *p = &cfg->policies[i];
		char what[3][160];
		snprintf(what[0], sizeof(what[0]), "tls_policy \"%s\": ca_file", p->host);
		snprintf(what[1], sizeof(what[1]), "tls_policy \"%s\": client_cert", p->host);
		snprintf(what[2], sizeof(what[2]), "tls_policy \"%s\": client_key", p->host);
		rc = check_readable(what[0], p->ca_file, why, n);
		if (rc == 0)
			rc = check_readable(what[1], p->client_cert, why, n);
		if (rc == 0)
			rc = check_readable(what[2], p->client_key, why, n);
	}
	return rc;
}

/* As root: the checks in a child that became the worker user. */
static int check_as_worker(const struct sp_config *cfg, char *why, size_t n)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(why, n, "pipe: %s", strerror(errno));
		return EX_OSERR;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		snprintf(why, n, "fork: %s", strerror(errno));
		return EX_OSERR;
	}
	if (pid == 0) {
		close(fds[0]);
		char line[WHY_MAX] = "";
		int rc = privdrop_worker(false) < 0 ? EX_NOPERM : check_all(cfg, false, line, sizeof(line));
		if (rc == EX_NOPERM)
			snprintf(line, sizeof(line), "cannot become the worker user \"%s\"", privdrop_user());
		(void)write_all(fds[1], line, strlen(line));
		_exit(rc);
	}
	close(fds[1]);
	size_t got = 0;
	why[0] = '\0';
	while (got + 1 < n) {
		ssize_t k = read(fds[0], why + got, n - 1 - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	why[got] = '\0';
	close(fds[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st)) {
		snprintf(why, n, "the check as the worker user did not finish");
		return EX_SOFTWARE;
	}
	return WEXITSTATUS(st);
}

int preflight_run(const struct sp_config *cfg, const char *conf_path)
{
	char why[WHY_MAX] = "";
	int rc = geteuid() == 0 ? check_as_worker(cfg, why, sizeof(why)) : check_all(cfg, true, why, sizeof(why));
	if (rc != 0)
		fprintf(stderr, "sealpostd: %s: %s\n", conf_path ? conf_path : "(built-in defaults)", why);
	return rc;
}
