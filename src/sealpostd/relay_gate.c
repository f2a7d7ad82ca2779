/*
 * relay_gate.c - the relay-level back-off, message window and connection
 * slots shared through spool_dir/relays/ (see relay_gate.h and
 * doc/spool-format.md). Every file is replaced atomically (temporary name,
 * rename) under the relay's flock; nothing is fsynced: the state is a
 * courtesy to the provider, and losing it in a crash at worst sends one
 * attempt early, never loses or repeats mail. A damaged file is treated
 * as absent (and replaced at the next change). Runs as the worker's user.
 */
#include "config.h"

#include "relay_gate.h"
#include "deliver.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX (2 * 1024 * 1024) /* bytes of one state file we read */

uint64_t relay_gate_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* spool_dir/relays/NAME + suffix. Relay names are [A-Za-z0-9._-]{1,64}
 * (conf.c), so they are safe as file names with a suffix. */
static char *gate_path(const struct sp_config *cfg, const struct sp_relay *r, const char *suffix)
{
	return xasprintf("%s/relays/%s%s", cfg->spool_dir, r->name, suffix);
}

static int ensure_dir(const struct sp_config *cfg)
{
	char *d = xasprintf("%s/relays", cfg->spool_dir);
	int rc = mkdir(d, 0770);
	if (rc < 0 && errno == EEXIST)
		rc = 0;
	if (rc < 0)
		log_msg(LOG_WARNING, "cannot create %s: %s; relay limits and back-off are not shared", d,
			strerror(errno));
	free(d);
	return rc;
}

/* The relay's lock, held (blocking: the holders only read and write a
 * small file) until unlock(). -1 when it cannot be had. */
static int lock_relay(const struct sp_config *cfg, const struct sp_relay *r)
{
	if (ensure_dir(cfg) < 0)
		return -1;
	char *p = gate_path(cfg, r, ".lock");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660);
	free(p);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void unlock_relay(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* The whole file, NUL-terminated; NULL when absent, unreadable or too big. */
static char *read_state(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATE_MAX) {
		close(fd);
		return NULL;
	}
	char *data = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read_retry(fd, data + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	data[got] = '\0';
	return data;
}

/* Replace path with text: a temporary name beside it, then rename. */
static void write_state(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0660);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		log_msg(LOG_WARNING, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
}

/* ---- back-off ---------------------------------------------------------- */

struct backoff {
	uint64_t until, level, since;
	char reason[400];
};

/* Percent-encode s into out (bytes <= 0x20, >= 0x7f and '%'), bounded. */
static void encode(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < outlen; p++) {
		if (*p <= 0x20 || *p >= 0x7f || *p == '%')
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
}

static void decode(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	for (; *s && o + 1 < outlen; s++) {
		unsigned v;
		if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1 && v > 0) {
			out[o++] = (char)v;
			s += 2;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

/* Strict: exactly the four records in order, then "end". */
static bool parse_backoff(const char *text, struct backoff *b)
{
	char reason[sizeof(b->reason) * 3];
	unsigned long until, level, since;
	int n = 0;
	memset(b, 0, sizeof(*b));
	if (sscanf(text, "sealpost-relay-backoff 1\nuntil %lu\nlevel %lu\nsince %lu\nreason %1199s\nend\n%n",
		   &until, &level, &since, reason, &n) != 4 || n == 0 || text[n] != '\0' || level == 0)
		return false;
	b->until = until;
	b->level = level;
	b->since = since;
	decode(reason, b->reason, sizeof(b->reason));
	return true;
}

static bool load_backoff(const struct sp_config *cfg, const struct sp_relay *r, struct backoff *b)
{
	char *p = gate_path(cfg, r, ".backoff");
	char *text = read_state(p);
	free(p);
	bool ok = text && parse_backoff(text, b);
	free(text);
	return ok;
}

time_t relay_gate_backoff_until(const struct sp_config *cfg, const struct sp_relay *r, char *why, size_t whylen)
{
	struct backoff b;
	if (!load_backoff(cfg, r, &b) || (time_t)b.until <= time(NULL))
		return 0;
	if (why)
		snprintf(why, whylen, "%s", b.reason);
	return (time_t)b.until;
}

time_t relay_gate_throttled(const struct sp_config *cfg, const struct sp_relay *r, const char *label,
			    const char *what, const char *reply)
{
	time_t now = time(NULL);
	int lk = lock_relay(cfg, r);
	struct backoff b;
	bool episode = load_backoff(cfg, r, &b);
	if (episode && (time_t)b.until > now) {
		unlock_relay(lk); /* the same burst: another worker has it in hand */
		return (time_t)b.until;
	}
	if (episode) {
		b.level = b.level < 64 ? b.level + 1 : 64;
	} else {
		b.level = 1;
		b.since = (uint64_t)now;
	}
	unsigned wait = deliver_backoff(cfg, (unsigned)b.level);
	b.until = (uint64_t)now + wait;
	snprintf(b.reason, sizeof(b.reason), "%s", reply);
	if (lk >= 0) {
		char enc[sizeof(b.reason) * 3 + 1], *text;
		encode(reply, enc, sizeof(enc));
		text = xasprintf("sealpost-relay-backoff 1\nuntil %lu\nlevel %lu\nsince %lu\nreason %s\nend\n",
				 (unsigned long)b.until, (unsigned long)b.level, (unsigned long)b.since,
				 enc[0] ? enc : "-");
		char *p = gate_path(cfg, r, ".backoff");
		write_state(p, text);
		free(p);
		free(text);
	}
	unlock_relay(lk);
	if (!episode) {
		char d[16];
		conf_format_duration(wait, d);
		log_msg(LOG_WARNING, "relay %s %s: throttled (%s): %s; the relay backs off for %s, its messages "
			"stay queued (deferred, not bounced) and go to the next relay meanwhile, if any", r->name, label,
			what, reply, d);
	}
	return (time_t)b.until;
}

void relay_gate_success(const struct sp_config *cfg, const struct sp_relay *r, const char *label)
{
	char *p = gate_path(cfg, r, ".backoff");
	if (access(p, F_OK) < 0) {
		free(p);
		return;
	}
	int lk = lock_relay(cfg, r);
	struct backoff b;
	bool episode = load_backoff(cfg, r, &b);
	if (unlink(p) == 0 && episode)
		log_msg(LOG_NOTICE, "relay %s %s: no longer throttled (after %ld s, %lu back-off(s))", r->name, label,
			(long)(time(NULL) - (time_t)b.since), (unsigned long)b.level);
	unlock_relay(lk);
	free(p);
}

/* ---- messages per period ----------------------------------------------- */

struct sent_entry {
	uint64_t ms;
	long pid;
};

/* "sealpost-relay-sent 1", "t MS PID" per transaction, "end". NULL-safe. */
static size_t parse_sent(const char *text, struct sent_entry **out)
{
	*out = NULL;
	size_t n = 0, cap = 0;
	if (!text || strncmp(text, "sealpost-relay-sent 1\n", 22) != 0)
		return 0;
	const char *p = text + 22;
	for (;;) {
		unsigned long ms;
		long pid;
		int used = 0;
		if (strcmp(p, "end\n") == 0)
			return n;
		if (sscanf(p, "t %lu %ld\n%n", &ms, &pid, &used) != 2 || used == 0 || p[used - 1] != '\n' ||
		    n >= 2u * 100000u)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		(*out)[n++] = (struct sent_entry){ (uint64_t)ms, pid };
		p += used;
	}
	free(*out); /* damaged: start afresh */
	*out = NULL;
	return 0;
}

static void save_sent(const char *path, const struct sent_entry *e, size_t n)
{
	struct buf b;
	buf_init(&b);
	buf_adds(&b, "sealpost-relay-sent 1\n");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "t %lu %ld\n", (unsigned long)e[i].ms, e[i].pid);
	buf_adds(&b, "end\n");
	write_state(path, b.data);
	buf_free(&b);
}

/* Keep the entries still inside the window ending at now; oldest first. */
static size_t prune(struct sent_entry *e, size_t n, uint64_t now, uint64_t period_ms)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (e[i].ms + period_ms > now)
			e[k++] = e[i];
	return k;
}

uint64_t relay_gate_take_message(const struct sp_config *cfg, const struct sp_relay *r, uint64_t *token)
{
	*token = 0;
	if (!r->limits.messages)
		return 0;
	int lk = lock_relay(cfg, r);
	if (lk < 0)
		return 0; /* cannot share it: do not stop the mail */
	char *p = gate_path(cfg, r, ".sent");
	char *text = read_state(p);
	struct sent_entry *e;
	size_t n = parse_sent(text, &e);
	free(text);
	uint64_t now = relay_gate_wall_ms(), period = (uint64_t)r->limits.period * 1000u, next = 0;
	n = prune(e, n, now, period);
	if (n < r->limits.messages) {
		e = xreallocarray(e, n + 1, sizeof(*e));
		e[n++] = (struct sent_entry){ now, (long)getpid() };
		*token = now;
		save_sent(p, e, n);
	} else {
		uint64_t oldest = e[0].ms;
		for (size_t i = 1; i < n; i++)
			if (e[i].ms < oldest)
				oldest = e[i].ms;
		next = oldest + period;
	}
	free(e);
	free(p);
	unlock_relay(lk);
	return next;
}

void relay_gate_message_done(const struct sp_config *cfg, const struct sp_relay *r, uint64_t token, bool sent)
{
	if (!r->limits.messages || token == 0)
		return;
	int lk = lock_relay(cfg, r);
	if (lk < 0)
		return;
	char *p = gate_path(cfg, r, ".sent");
	char *text = read_state(p);
	struct sent_entry *e;
	size_t n = parse_sent(text, &e);
	free(text);
	size_t i = 0;
	while (i < n && (e[i].ms != token || e[i].pid != (long)getpid()))
		i++;
	if (i == n && sent) {
		/* pruned meanwhile (a transaction longer than the period):
		 * it still counts, from now */
		e = xreallocarray(e, n + 1, sizeof(*e));
		n++;
	}
	if (i < n) {
		if (sent) {
			/* counted from its end (rounded up): the server's own clock
			 * saw it no later than this */
			e[i] = (struct sent_entry){ relay_gate_wall_ms() + 1, (long)getpid() };
		} else {
			e[i] = e[n - 1];
			n--;
		}
		save_sent(p, e, n);
	}
	free(e);
	free(p);
	unlock_relay(lk);
}

bool relay_gate_sleep_until(uint64_t wall_ms)
{
	uint64_t now = relay_gate_wall_ms();
	if (wall_ms <= now)
		return true;
	uint64_t ms = wall_ms - now;
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	return nanosleep(&ts, NULL) == 0; /* EINTR: a signal (stop) */
}

/* ---- connection slots -------------------------------------------------- */

/* Try each slot once; the first flock that succeeds wins, the other
 * descriptors are closed. -1 when all are held. */
static int try_slots(int *fds, unsigned n)
{
	int got = -1;
	for (unsigned k = 0; k < n && got < 0; k++)
		if (fds[k] >= 0 && flock(fds[k], LOCK_EX | LOCK_NB) == 0)
			got = (int)k;
	if (got < 0)
		return -1;
	for (unsigned k = 0; k < n; k++)
		if ((int)k != got && fds[k] >= 0)
			close(fds[k]);
	return fds[got];
}

int relay_gate_connection(const struct sp_config *cfg, const struct sp_relay *r, uint64_t deadline)
{
	unsigned n = r->limits.connections;
	if (!n)
		return RELAY_GATE_UNLIMITED;
	if (n > 64)
		n = 64; /* conf_limits.c allows at most 64 */
	if (ensure_dir(cfg) < 0)
		return RELAY_GATE_UNLIMITED; /* cannot share it: do not stop the mail */
	/* watch first: a slot closed between our try and the wait wakes us */
	int ino = -1;
	if (deadline) {
		char *d = xasprintf("%s/relays", cfg->spool_dir);
		ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ino >= 0 && inotify_add_watch(ino, d, IN_CLOSE_WRITE) < 0) {
			close(ino);
			ino = -1;
		}
		free(d);
	}
	int fds[64];
	for (unsigned k = 0; k < n; k++) {
		char suffix[32];
		snprintf(suffix, sizeof(suffix), ".conn.%u", k);
		char *p = gate_path(cfg, r, suffix);
		fds[k] = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660);
		free(p);
	}
	int got = try_slots(fds, n);
	while (got < 0 && deadline && now_ms() < deadline) {
		uint64_t left = deadline - now_ms();
		/* without inotify: look again every 200 ms (the fallback only) */
		int ms = ino >= 0 ? (left > 60000 ? 60000 : (int)left) : (left > 200 ? 200 : (int)left);
		struct pollfd pfd = { .fd = ino, .events = POLLIN };
		int rc = ino >= 0 ? poll(&pfd, 1, ms) : poll(NULL, 0, ms);
		if (rc < 0 && errno == EINTR)
			break; /* a signal: stop waiting */
		if (rc > 0) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			while (read(ino, buf, sizeof(buf)) > 0)
				;
		}
		got = try_slots(fds, n);
	}
	if (got < 0)
		for (unsigned k = 0; k < n; k++)
			if (fds[k] >= 0)
				close(fds[k]);
	if (ino >= 0)
		close(ino);
	return got;
}

void relay_gate_release(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}
