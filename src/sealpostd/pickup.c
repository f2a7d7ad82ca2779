/*
 * pickup.c - maildrop/ID -> queue/ID.msg + queue/ID.env (see pickup.h).
 *
 * The drop file is flock()ed while it is picked up, so two workers never
 * queue it twice at once. The queue entry is committed as the front end
 * commits one (tmp, fsync, rename, fsync queue/), then the drop file is
 * removed. A crash between the two leaves both: the next pickup finds
 * queue/ID with the same message bytes and only removes the drop file. An
 * unrelated message that happens to hold the id makes the drop take a new
 * one. Incomplete drops (mode without group read) are left to finish, and
 * removed after an hour (a killed sealpost-drop).
 */
#include "config.h"

#include "pickup.h"
#include "address.h"
#include "dropfmt.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STALE_PARTIAL 3600 /* seconds before an incomplete drop is removed */
#define MAX_LINE 1000      /* octets of a stored line, CRLF included */

/* A small buffered reader over the drop file. */
struct rd {
	int fd;
	char buf[65536];
	size_t pos, len;
	uint64_t off;       /* file offset of buf[pos] */
};

static int rd_fill(struct rd *r)
{
	if (r->pos < r->len)
		return 1;
	ssize_t n = read_retry(r->fd, r->buf, sizeof(r->buf));
	if (n <= 0)
		return (int)n;
	r->pos = 0;
	r->len = (size_t)n;
	return 1;
}

/* A header line "KEY NUMBER\n" (at most 40 bytes). */
static bool rd_number_line(struct rd *r, const char *key, uint64_t *v)
{
	char line[41];
	size_t n = 0;
	for (;;) {
		if (rd_fill(r) <= 0 || n == sizeof(line) - 1)
			return false;
		char c = r->buf[r->pos++];
		r->off++;
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
	size_t k = strlen(key);
	return n > k + 1 && memcmp(line, key, k) == 0 && line[k] == ' ' && parse_u64(line + k + 1, v);
}

static bool rd_exact(struct rd *r, char *into, size_t n)
{
	while (n > 0) {
		if (rd_fill(r) <= 0)
			return false;
		size_t take = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(into, r->buf + r->pos, take);
		r->pos += take;
		r->off += take;
		into += take;
		n -= take;
	}
	return true;
}

/* Copy n bytes of message into out, checking the stored form: CRLF line
 * ends only, no NUL, lines of at most 998 octets, a final CRLF. */
static bool copy_checked(struct rd *r, uint64_t n, int out, char *why, size_t whylen)
{
	size_t line = 0;
	char prev = '\n';
	while (n > 0) {
		if (rd_fill(r) <= 0) {
			set_err(why, whylen, "message shorter than announced");
			return false;
		}
		size_t take = r->len - r->pos < n ? r->len - r->pos : (size_t)n;
		const char *p = r->buf + r->pos;
		for (size_t i = 0; i < take; i++) {
			char c = p[i];
			if (c == '\0' || (prev == '\r' && c != '\n') || (c == '\n' && prev != '\r')) {
				set_err(why, whylen, "message is not in the stored form (NUL, bare CR or LF)");
				return false;
			}
			line = c == '\n' ? 0 : line + 1;
			if (line > MAX_LINE - 1) {
				set_err(why, whylen, "message line over 998 octets");
				return false;
			}
			prev = c;
		}
		if (write_all(out, p, take) < 0) {
			set_err(why, whylen, "cannot write the queue: %s", strerror(errno));
			return false;
		}
		r->pos += take;
		r->off += take;
		n -= take;
	}
	if (prev != '\n') {
		set_err(why, whylen, "message does not end with CRLF");
		return false;
	}
	return true;
}

/* Same bytes from offset off of a as all of b? */
static bool same_message(int a, uint64_t off, uint64_t len, int b)
{
	struct stat st;
	if (fstat(b, &st) < 0 || (uint64_t)st.st_size != len)
		return false;
	static char x[65536], y[65536];
	for (uint64_t done = 0; done < len;) {
		size_t want = len - done < sizeof(x) ? (size_t)(len - done) : sizeof(x);
		ssize_t n = pread(a, x, want, (off_t)(off + done));
		if (n <= 0 || pread(b, y, (size_t)n, (off_t)done) != n || memcmp(x, y, (size_t)n) != 0)
			return false;
		done += (uint64_t)n;
	}
	return true;
}

/* What the stream may say, and what only we decide. */
static bool envelope_acceptable(struct envelope *env, unsigned long uid, time_t arrival, uint64_t size,
				char *why, size_t whylen)
{
	if (env->nrcpts == 0) {
		set_err(why, whylen, "no recipients");
		return false;
	}
	if (*env->sender && !address_smtp_safe(env->sender)) {
		set_err(why, whylen, "invalid sender address");
		return false;
	}
	for (size_t i = 0; i < env->nrcpts; i++) {
		struct spool_rcpt *rc = &env->rcpts[i];
		if (!address_smtp_safe(rc->addr)) {
			set_err(why, whylen, "invalid recipient address");
			return false;
		}
		rc->state = RCPT_PENDING;
		rc->attempts = 0;
		rc->next_attempt = 0;
		free(rc->last_error);
		rc->last_error = NULL;
		free(rc->report); /* no notification is owed for a new message */
		rc->report = NULL;
	}
	env->uid = (uid_t)uid;
	env->arrival = arrival;
	env->size = size;
	/* a user cannot submit a bounce (never bounced) or a held message */
	env->flags &= ENV_8BITMIME | ENV_SMTPUTF8;
	return true;
}

static void set_aside(const char *spool_dir, int dfd, const char *name, const char *why)
{
	char *to = xasprintf("%s/corrupt/%s.drop", spool_dir, name);
	char *from = xasprintf("%s/" DROP_SUBDIR "/%s", spool_dir, name);
	if (rename(from, to) < 0)
		unlinkat(dfd, name, 0); /* never let it block the maildrop */
	free(from);
	free(to);
	log_msg(LOG_ERR, "%s: damaged maildrop file moved to %s/corrupt: %s", name, spool_dir, why);
}

/* 1 queued, 0 skipped (busy, incomplete, gone, duplicate), -1 damaged. */
static int pick(const struct sp_config *cfg, int dfd, const char *name)
{
	const char *spool = cfg->spool_dir;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != EACCES)
			log_msg(LOG_WARNING, "%s: cannot open the maildrop file: %s", name, strerror(errno));
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		set_aside(spool, dfd, name, "not a regular file");
		return -1;
	}
	if ((st.st_mode & 0777) != DROP_MODE_COMPLETE) { /* still being written */
		if (st.st_mtime < time(NULL) - STALE_PARTIAL)
			unlinkat(dfd, name, 0);
		close(fd);
		return 0;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || st.st_nlink == 0) {
		close(fd); /* another worker has it, or had it */
		return 0;
	}
	uint64_t limit = cfg->max_message_size ? cfg->max_message_size : DROP_MAX_BYTES;
	char why[256] = "";
	struct rd *r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	struct envelope env;
	envelope_init(&env);
	char *text = NULL;
	struct spool_writer w = { .fd = -1 };
	bool writer_open = false;
	int result = -1;
	uint64_t uid, envlen, msglen;
	char magic[sizeof(DROP_MAGIC) - 1];
	if ((uint64_t)st.st_size > limit + DROP_MAX_ENVELOPE + 4096) {
		set_err(why, sizeof(why), "larger than max_message_size");
		goto out;
	}
	if (!rd_exact(r, magic, sizeof(magic)) || memcmp(magic, DROP_MAGIC, sizeof(magic)) != 0 ||
	    !rd_number_line(r, "uid", &uid) || uid > 0xfffffffeULL) {
		set_err(why, sizeof(why), "not a drop file (bad header)");
		goto out;
	}
	if (!rd_number_line(r, "envelope", &envlen) || envlen > DROP_MAX_ENVELOPE) {
		set_err(why, sizeof(why), "bad envelope length");
		goto out;
	}
	text = xmalloc((size_t)envlen + 1);
	if (!rd_exact(r, text, (size_t)envlen)) {
		set_err(why, sizeof(why), "envelope shorter than announced");
		goto out;
	}
	text[envlen] = '\0';
	if (envelope_parse(text, (size_t)envlen, &env, why, sizeof(why)) < 0)
		goto out;
	if (!rd_number_line(r, "message", &msglen) || msglen > limit || r->off + msglen != (uint64_t)st.st_size) {
		set_err(why, sizeof(why), "bad message length");
		goto out;
	}
	time_t now = time(NULL);
	if (!envelope_acceptable(&env, (unsigned long)uid, st.st_mtime < now ? st.st_mtime : now, msglen, why,
				 sizeof(why)))
		goto out;

	/* the id: the drop's, unless the queue holds it already */
	char id[SPOOL_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", name);
	char *qmsg = xasprintf("%s/queue/%s.msg", spool, id);
	int qfd = open(qmsg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(qmsg);
	if (qfd >= 0) {
		bool dup = same_message(fd, r->off, msglen, qfd);
		close(qfd);
		if (dup) { /* queued before a crash kept the drop file */
			unlinkat(dfd, name, 0);
			result = 0;
			goto out;
		}
		spool_new_id(id);
		log_msg(LOG_WARNING, "%s: queue id in use: the dropped message becomes %s", name, id);
	}
	if (spool_writer_open_id(&w, spool, id, why, sizeof(why)) < 0) {
		result = 0; /* our trouble, not the file's: try again later */
		goto out;
	}
	writer_open = true;
	if (!copy_checked(r, msglen, w.fd, why, sizeof(why)))
		goto out;
	if (spool_writer_commit(&w, &env, why, sizeof(why)) < 0) {
		log_msg(LOG_ERR, "%s: cannot queue the maildrop file: %s", name, why);
		result = 0;
		goto out;
	}
	writer_open = false;
	unlinkat(dfd, name, 0);
	log_msg(LOG_INFO, "%s: uid=%lu user=%s queued from the maildrop", env.id, (unsigned long)env.uid,
		env.user ? env.user : "?");
	result = 1;
out:
	if (writer_open)
		spool_writer_abort(&w);
	if (result < 0)
		set_aside(spool, dfd, name, why[0] ? why : "damaged");
	envelope_free(&env);
	free(text);
	free(r);
	close(fd);
	return result;
}

static int open_maildrop(const char *spool_dir)
{
	char *p = xasprintf("%s/" DROP_SUBDIR, spool_dir);
	int dfd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(p);
	return dfd;
}

bool pickup_one(const struct sp_config *cfg, const char *name)
{
	if (!spool_id_valid(name))
		return false;
	int dfd = open_maildrop(cfg->spool_dir);
	if (dfd < 0)
		return false;
	int r = pick(cfg, dfd, name);
	close(dfd);
	return r == 1;
}

int pickup_run(const struct sp_config *cfg)
{
	int dfd = open_maildrop(cfg->spool_dir);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	int queued = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!spool_id_valid(de->d_name)) {
			set_aside(cfg->spool_dir, dirfd(d), de->d_name, "not a queue id");
			continue;
		}
		if (pick(cfg, dirfd(d), de->d_name) == 1)
			queued++;
	}
	closedir(d);
	return queued;
}
