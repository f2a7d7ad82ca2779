/*
 * tls_cache.c - TLS resumption data shared through the spool (see
 * tls_cache.h). A stolen or planted file could at worst let its author
 * resume as the worker (stolen) or present a recorded certificate
 * (planted), so the directory and each file must belong to the worker's
 * user and be closed to everyone else; anything else is ignored. Not
 * fsynced: losing it costs one full handshake.
 */
#include "config.h"

#include "tls_cache.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_DIR "tls-cache"
#define MAX_NAME 64
#define MAX_DATA 65536 /* session data with a certificate chain: a few KB */
#define MAGIC "sealpost-tls-resume 2 " /* 2: the key names the policy */

/* Relay names are config section titles: only plain ones get a file. */
static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > MAX_NAME || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

void tls_cache_key(const struct sp_config *cfg, const struct sp_relay *relay, char out[TLS_CACHE_KEY_MAX])
{
	char policy[65];
	tls_policy_key(conf_policy_for(cfg, relay->host), relay->host, relay->username, policy);
	snprintf(out, TLS_CACHE_KEY_MAX, "%s:%u:%d:%s", relay->host, relay->port, (int)relay->tls, policy);
}

/* The header names what the data was for: another key (another host,
 * port, mode, policy or identity) must not reuse it. */
static void header(const struct sp_config *cfg, const struct sp_relay *relay, char *out, size_t len)
{
	char key[TLS_CACHE_KEY_MAX];
	tls_cache_key(cfg, relay, key);
	snprintf(out, len, MAGIC "%s\n", key);
}

static bool ours(const struct stat *st, mode_t type)
{
	return (st->st_mode & S_IFMT) == type && st->st_uid == geteuid() && (st->st_mode & 077) == 0;
}

/* The cache directory, opened and checked; create: make it when missing. */
static int open_dir(const char *spool_dir, bool create)
{
	char *p = xasprintf("%s/" CACHE_DIR, spool_dir);
	if (create)
		(void)mkdir(p, 0700);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(p);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !ours(&st, S_IFDIR))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void stamp_of(const struct stat *st, struct tls_cache_stamp *s)
{
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool same_stamp(const struct tls_cache_stamp *a, const struct tls_cache_stamp *b)
{
	return a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

void tls_cache_load(const struct sp_config *cfg, const struct sp_relay *relay, struct tls_resume *r,
		    struct tls_cache_stamp *stamp)
{
	const char *spool_dir = cfg->spool_dir;
	if (!name_ok(relay->name))
		return;
	int dfd = open_dir(spool_dir, false);
	if (dfd < 0)
		return;
	int fd = openat(dfd, relay->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dfd);
	if (fd < 0)
		return;
	struct stat st;
	struct tls_cache_stamp now;
	char head[TLS_CACHE_KEY_MAX + 32];
	header(cfg, relay, head, sizeof(head));
	size_t hlen = strlen(head);
	if (fstat(fd, &st) < 0 || !ours(&st, S_IFREG) || st.st_size <= (off_t)hlen || st.st_size > MAX_DATA) {
		close(fd);
		return;
	}
	stamp_of(&st, &now);
	if (same_stamp(&now, stamp)) {
		close(fd);
		return;
	}
	size_t n = (size_t)st.st_size;
	unsigned char *data = xmalloc(n);
	ssize_t got = pread(fd, data, n, 0);
	close(fd);
	if (got == (ssize_t)n && memcmp(data, head, hlen) == 0) {
		tls_resume_set(r, data + hlen, n - hlen);
		*stamp = now;
	}
	free(data);
}

void tls_cache_store(const struct sp_config *cfg, const struct sp_relay *relay, const struct tls_resume *r,
		     struct tls_cache_stamp *stamp)
{
	const char *spool_dir = cfg->spool_dir;
	if (!r->data || r->len == 0 || !name_ok(relay->name))
		return;
	char head[TLS_CACHE_KEY_MAX + 32];
	header(cfg, relay, head, sizeof(head));
	size_t hlen = strlen(head);
	if (hlen + r->len > MAX_DATA)
		return;
	int dfd = open_dir(spool_dir, true);
	if (dfd < 0)
		return;
	char tmp[MAX_NAME + 32];
	snprintf(tmp, sizeof(tmp), ".%s.%ld", relay->name, (long)getpid());
	(void)unlinkat(dfd, tmp, 0);
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		close(dfd);
		return;
	}
	struct stat st;
	bool ok = write_all(fd, head, hlen) == 0 && write_all(fd, r->data, r->len) == 0 && fstat(fd, &st) == 0;
	close(fd);
	if (ok && renameat(dfd, tmp, dfd, relay->name) == 0)
		stamp_of(&st, stamp);
	else
		(void)unlinkat(dfd, tmp, 0);
	close(dfd);
}
