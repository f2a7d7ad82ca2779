/*
 * opstate.c - the metrics state file (see opstate.h): a strict parser,
 * the writer, and the locked read-modify-write that worker processes use
 * to add what they saw.
 */
#include "config.h"

#include "opstate.h"
#include "log.h"
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

#define STATE_MAX_BYTES (1024 * 1024)
#define STATE_MAGIC "sealpost-metrics 1"
#define LOCK_WAIT_MS 5000

static const char *const class_names[] = {
	[OPS_NONE] = "-", [OPS_OK] = "ok", [OPS_TRANSIENT] = "transient",
	[OPS_CERTIFICATE] = "certificate", [OPS_AUTH] = "auth", [OPS_TOKEN] = "token",
	[OPS_CONFIG] = "config",
};

static const char *const class_texts[] = {
	[OPS_NONE] = "never tried", [OPS_OK] = "ok", [OPS_TRANSIENT] = "temporary failure",
	[OPS_CERTIFICATE] = "certificate refused", [OPS_AUTH] = "AUTH refused",
	[OPS_TOKEN] = "OAuth token refused", [OPS_CONFIG] = "configuration error",
};

const char *ops_class_name(enum ops_class c)
{
	return (size_t)c < ARRAY_LEN(class_names) ? class_names[c] : "-";
}

const char *ops_class_text(enum ops_class c)
{
	return (size_t)c < ARRAY_LEN(class_texts) ? class_texts[c] : "unknown";
}

bool ops_class_needs_person(enum ops_class c)
{
	return c == OPS_CERTIFICATE || c == OPS_AUTH || c == OPS_TOKEN || c == OPS_CONFIG;
}

static bool relay_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

struct ops_relay *opstate_relay(struct opstate *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->relays[i].name, name) == 0)
			return &st->relays[i];
	if (st->n >= OPSTATE_MAX_RELAYS || !relay_name_ok(name, strlen(name)))
		return NULL;
	struct ops_relay *r = &st->relays[st->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

static char *state_path(const char *spool_dir, const char *leaf)
{
	return xasprintf("%s/state/%s", spool_dir, leaf);
}

/* One number field: decimal, no sign, bounded. */
static bool take_num(char **p, uint64_t *out)
{
	char *s = *p, *end = strchr(s, ' ');
	if (!end)
		return false;
	*end = '\0';
	bool ok = parse_u64(s, out) && *out < (UINT64_C(1) << 62);
	*p = end + 1;
	return ok;
}

/* "relay NAME SENT DEFERRED BOUNCED SUCCESS EXPIRY WARNED ATTEMPT CLASS REASON..." */
static bool parse_relay(char *line, struct opstate *st)
{
	char *p = line + 6;
	char *sp = strchr(p, ' ');
	if (!sp || !relay_name_ok(p, (size_t)(sp - p)))
		return false;
	*sp = '\0';
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->relays[i].name, p) == 0)
			return false; /* repeated */
	struct ops_relay *r = opstate_relay(st, p);
	if (!r)
		return false;
	p = sp + 1;
	uint64_t v[7];
	for (size_t i = 0; i < ARRAY_LEN(v); i++)
		if (!take_num(&p, &v[i]))
			return false;
	r->sent = v[0];
	r->deferred = v[1];
	r->bounced = v[2];
	r->last_success = (time_t)v[3];
	r->cert_expiry = (time_t)v[4];
	r->cert_warned = (time_t)v[5];
	r->last_attempt = (time_t)v[6];
	sp = strchr(p, ' ');
	if (!sp)
		return false;
	*sp = '\0';
	bool known = false;
	for (size_t c = 0; c < ARRAY_LEN(class_names); c++)
		if (strcmp(p, class_names[c]) == 0) {
			r->last_class = (enum ops_class)c;
			known = true;
		}
	if (!known)
		return false;
	p = sp + 1;
	if (strlen(p) >= sizeof(r->reason))
		return false;
	snprintf(r->reason, sizeof(r->reason), "%s", strcmp(p, "-") == 0 ? "" : p);
	return true;
}

static int parse(char *text, size_t len, struct opstate *st)
{
	if (memchr(text, '\0', len))
		return -1;
	bool magic = false, end = false;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (end)
			return -1; /* anything after "end" */
		if (!magic) {
			if (strcmp(line, STATE_MAGIC) != 0)
				return -1;
			magic = true;
		} else if (strcmp(line, "end") == 0) {
			end = true;
		} else if (strncmp(line, "relay ", 6) != 0 || !parse_relay(line, st)) {
			return -1;
		}
	}
	return end ? 0 : -1;
}

int opstate_load(const char *spool_dir, struct opstate *st, char *err, size_t errlen)
{
	st->n = 0;
	char *path = state_path(spool_dir, "metrics");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		free(path);
		if (e == ENOENT)
			return 0;
		set_err(err, errlen, "%s/state/metrics: %s", spool_dir, strerror(e));
		return -1;
	}
	struct stat sb;
	char *text = NULL;
	int r = -1;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < STATE_MAX_BYTES) {
		size_t n = (size_t)sb.st_size;
		text = xmalloc(n + 1);
		ssize_t got = 0;
		size_t have = 0;
		while (have < n && (got = read_retry(fd, text + have, n - have)) > 0)
			have += (size_t)got;
		text[have] = '\0';
		if (have == n)
			r = parse(text, n, st);
	}
	close(fd);
	free(text);
	free(path);
	if (r < 0) {
		st->n = 0;
		set_err(err, errlen, "%s/state/metrics: damaged", spool_dir);
	}
	return r;
}

/* Reasons come from servers: one line of printable ASCII, bounded. */
static void put_reason(struct buf *b, const char *s)
{
	if (!s[0]) {
		buf_addc(b, '-');
		return;
	}
	for (size_t i = 0; s[i] && i < OPSTATE_REASON_MAX - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_addc(b, c < 0x20 || c >= 0x7f ? '?' : (char)c);
	}
}

static void format_state(const struct opstate *st, struct buf *b)
{
	buf_adds(b, STATE_MAGIC "\n");
	for (size_t i = 0; i < st->n; i++) {
		const struct ops_relay *r = &st->relays[i];
		buf_printf(b, "relay %s %llu %llu %llu %lld %lld %lld %lld %s ", r->name,
			   (unsigned long long)r->sent, (unsigned long long)r->deferred,
			   (unsigned long long)r->bounced, (long long)r->last_success, (long long)r->cert_expiry,
			   (long long)r->cert_warned, (long long)r->last_attempt, ops_class_name(r->last_class));
		put_reason(b, r->reason);
		buf_addc(b, '\n');
	}
	buf_adds(b, "end\n");
}

int opstate_replace_file(const char *path, const void *data, size_t len, unsigned mode, char *err,
			 size_t errlen)
{
	char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	int r = write_all(fd, data, len);
	if (r == 0)
		r = fchmod(fd, (mode_t)mode);
	int e = errno;
	if (close(fd) < 0 && r == 0) {
		r = -1;
		e = errno;
	}
	if (r == 0 && rename(tmp, path) < 0) {
		r = -1;
		e = errno;
	}
	if (r < 0) {
		unlink(tmp);
		set_err(err, errlen, "cannot write %s: %s", path, strerror(e));
	}
	free(tmp);
	return r;
}

void opstate_remove_stale_tmp(const char *dir, const char *base, unsigned min_age)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t bl = strlen(base);
	time_t limit = time(NULL) - (time_t)min_age;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct stat sb;
		if (n <= bl + 5 || strncmp(de->d_name, base, bl) != 0 || de->d_name[bl] != '.' ||
		    strcmp(de->d_name + n - 4, ".tmp") != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
		    (min_age == 0 || sb.st_mtime < limit))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int opstate_update(const char *spool_dir, void (*fn)(struct opstate *st, void *ctx), void *ctx, char *err,
		   size_t errlen)
{
	char *dir = xasprintf("%s/state", spool_dir);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		set_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	char *lock_path = state_path(spool_dir, "metrics.lock");
	int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	free(lock_path);
	if (lock < 0) {
		set_err(err, errlen, "cannot open %s/state/metrics.lock: %s", spool_dir, strerror(errno));
		return -1;
	}
	/* holders only read and rewrite a small file: wait, but bounded */
	uint64_t give_up = now_ms() + LOCK_WAIT_MS;
	while (flock(lock, LOCK_EX | LOCK_NB) < 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || now_ms() >= give_up) {
			set_err(err, errlen, "%s/state/metrics.lock: %s", spool_dir,
				errno == EWOULDBLOCK ? "held too long by another process" : strerror(errno));
			close(lock);
			return -1;
		}
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	char *sdir = xasprintf("%s/state", spool_dir);
	opstate_remove_stale_tmp(sdir, "metrics", 0); /* ours to clean: we hold the lock */
	free(sdir);
	struct opstate *st = xcalloc(1, sizeof(*st));
	char why[256];
	if (opstate_load(spool_dir, st, why, sizeof(why)) < 0)
		log_msg(LOG_WARNING, "%s: starting the metrics state afresh (counters reset)", why);
	fn(st, ctx);
	struct buf b;
	buf_init(&b);
	format_state(st, &b);
	char *path = state_path(spool_dir, "metrics");
	int r = opstate_replace_file(path, b.data, b.len, 0640, err, errlen);
	free(path);
	buf_free(&b);
	free(st);
	close(lock); /* releases the lock */
	return r;
}
