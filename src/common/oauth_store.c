/*
 * oauth_store.c - read, write and lock a relay's OAuth token file (see
 * oauth_store.h for the format and the durability rules).
 *
 * Privilege: the worker's user (the only one that may read the file).
 * Trusts nothing in the file: its type, size, lines and token syntax are
 * checked; a damaged file is an error, never half-used.
 */
#include "config.h"

#include "oauth_store.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAX (4 * OAUTH_TOKEN_MAX)
#define STORE_MAGIC "sealpost-oauth 1"

bool oauth_token_syntax_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > OAUTH_TOKEN_MAX)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

void oauth_token_clear(struct oauth_token *t)
{
	free_secret(t->refresh_token);
	free_secret(t->access_token);
	free(t->scope);
	free(t->last_error);
	memset(t, 0, sizeof(*t));
}

static bool parse_i64(const char *v, int64_t *out)
{
	uint64_t u;
	if (!parse_u64(v, &u) || u > INT64_MAX)
		return false;
	*out = (int64_t)u;
	return true;
}

/* One "key value" line into t; false when it is not one we know. */
static bool take_line(struct oauth_token *t, const char *key, const char *v)
{
	uint64_t u;
	if (strcmp(key, "refresh_token") == 0 || strcmp(key, "access_token") == 0) {
		char **f = key[0] == 'r' ? &t->refresh_token : &t->access_token;
		if (*f || !oauth_token_syntax_ok(v))
			return false;
		*f = xstrdup(v);
		return true;
	}
	if (strcmp(key, "scope") == 0 || strcmp(key, "last_error") == 0) {
		char **f = key[0] == 's' ? &t->scope : &t->last_error;
		free(*f);
		*f = xstrdup(v);
		return true;
	}
	if (strcmp(key, "expires") == 0)
		return parse_i64(v, &t->expires);
	if (strcmp(key, "obtained") == 0)
		return parse_i64(v, &t->obtained);
	if (strcmp(key, "next_try") == 0)
		return parse_i64(v, &t->next_try);
	if (strcmp(key, "generation") == 0)
		return parse_u64(v, &t->generation);
	if (strcmp(key, "failures") == 0) {
		if (!parse_u64(v, &u) || u > 1000000)
			return false;
		t->failures = (unsigned)u;
		return true;
	}
	return false;
}

static int parse(char *s, struct oauth_token *t)
{
	char *save = NULL;
	char *line = strtok_r(s, "\n", &save);
	if (!line || strcmp(line, STORE_MAGIC) != 0)
		return -1;
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *sp = strchr(line, ' ');
		if (!sp)
			return -1;
		*sp = '\0';
		if (!take_line(t, line, sp + 1))
			return -1;
	}
	return 0;
}

int oauth_store_read(const char *path, struct oauth_token *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		set_err(err, errlen, "cannot open the token file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STORE_MAX) {
		set_err(err, errlen, "the token file %s is not a regular file of at most %d bytes",
			path, STORE_MAX);
		close(fd);
		return -1;
	}
	size_t cap = (size_t)st.st_size; /* the file is replaced, never grown in place */
	char *s = xmalloc(cap + 1);
	size_t n = 0;
	ssize_t r;
	while (n < cap && (r = read_retry(fd, s + n, cap - n)) > 0)
		n += (size_t)r;
	close(fd);
	s[n] = '\0';
	int rc = memchr(s, '\0', n) ? -1 : parse(s, t);
	explicit_zero(s, cap + 1);
	free(s);
	if (rc < 0) {
		oauth_token_clear(t);
		set_err(err, errlen, "the token file %s is damaged: run sealpostd --oauth-login again",
			path);
		return -1;
	}
	return 0;
}

/* "dir" of "dir/name", created 0700 when missing. */
static char *store_dir(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* Temporary files of writers killed before their rename (the caller holds
 * the relay's lock, so none is being written now): they hold tokens. */
static void remove_stale_tmp(const char *dir, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "%s.tmp.", base);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static void put(struct buf *b, const char *key, const char *v)
{
	/* values are single lines by construction; refuse to write others */
	if (v && !strpbrk(v, "\r\n"))
		buf_printf(b, "%s %s\n", key, v);
}

int oauth_store_write(const char *path, const struct oauth_token *t, char *err, size_t errlen)
{
	char *dir = store_dir(path);
	if (!dir) {
		set_err(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
		return -1;
	}
	struct buf b;
	buf_init(&b);
	buf_adds(&b, STORE_MAGIC "\n");
	put(&b, "refresh_token", t->refresh_token);
	put(&b, "access_token", t->access_token);
	buf_printf(&b, "expires %" PRId64 "\nobtained %" PRId64 "\ngeneration %" PRIu64 "\n",
		   t->expires, t->obtained, t->generation);
	put(&b, "scope", t->scope);
	buf_printf(&b, "failures %u\nnext_try %" PRId64 "\n", t->failures, t->next_try);
	put(&b, "last_error", t->last_error);

	remove_stale_tmp(dir, path);
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
	} else {
		bool ok = write_all(fd, b.data, b.len) == 0;
		ok = ok && fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
		if (ok && rename(tmp, path) == 0) {
			rc = fsync_dir(dir) == 0 ? 0 : -1;
		}
		if (rc < 0) {
			set_err(err, errlen, "cannot write the token file %s: %s", path, strerror(errno));
			unlink(tmp);
		}
	}
	explicit_zero(b.data, b.len);
	buf_free(&b);
	free(tmp);
	free(dir);
	return rc;
}

int oauth_store_lock(const char *path, unsigned timeout_s, char *err, size_t errlen)
{
	char *dir = store_dir(path);
	free(dir);
	char *lp = xasprintf("%s.lock", path);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		set_err(err, errlen, "cannot open %s: %s", lp, strerror(errno));
		free(lp);
		return -1;
	}
	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		bool give_up = true;
		if (errno != EWOULDBLOCK && errno != EINTR)
			set_err(err, errlen, "cannot lock %s: %s", lp, strerror(errno));
		else if (now_ms() >= deadline)
			set_err(err, errlen, "another refresh holds %s for more than %us", lp, timeout_s);
		else
			give_up = false;
		if (give_up) {
			close(fd);
			fd = -1;
			break;
		}
		poll(NULL, 0, 50);
	}
	free(lp);
	return fd;
}

bool oauth_token_fresh(const struct oauth_token *t, int64_t now)
{
	if (!t->access_token || t->expires <= now)
		return false;
	int64_t life = t->expires - t->obtained;
	int64_t margin = life > 0 ? life / 4 : 0;
	if (margin > OAUTH_MAX_MARGIN)
		margin = OAUTH_MAX_MARGIN;
	return t->expires - now > margin;
}
