/*
 * spool.c - the durable queue: atomic intake (tmp, fsync, rename, fsync
 * dir), per-message flock for workers, atomic envelope/state updates,
 * listing, quarantine of damaged entries and cleanup of leftovers.
 * Runs in the setgid front end (the writer side, and the listing for
 * mailq, on a few threads for a large queue) and in the worker.
 * Trusts nothing it reads back: envelopes are parsed strictly
 * (envelope.c) and checked against the message file's size.
 */
#include "config.h"

#include "spool.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define ENVELOPE_MAX_BYTES (32u * 1024 * 1024)

static const char *const subdirs[] = { "tmp", "queue", "corrupt", "maildrop" };

bool spool_id_valid(const char *id)
{
	size_t i;
	for (i = 0; id[i]; i++) {
		char c = id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return i == SPOOL_ID_LEN;
}

/* Time-ordered (so a sorted listing is oldest first), then random. */
void spool_new_id(char id[SPOOL_ID_LEN + 1])
{
	struct timeval tv;
	uint16_t rnd = 0;
	gettimeofday(&tv, NULL);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint16_t)(getpid() ^ tv.tv_usec);
	snprintf(id, SPOOL_ID_LEN + 1, "%08lX%05lX%03X", (unsigned long)tv.tv_sec & 0xffffffffUL,
		 (unsigned long)tv.tv_usec & 0xfffffUL, (unsigned)rnd & 0xfffu);
}

static char *path_of(const char *dir, const char *sub, const char *id, const char *suffix)
{
	return xasprintf("%s/%s/%s%s", dir, sub, id, suffix);
}

int spool_ensure_dirs(const char *spool_dir, char *err, size_t errlen)
{
	for (size_t i = 0; i < ARRAY_LEN(subdirs); i++) {
		char *p = xasprintf("%s/%s", spool_dir, subdirs[i]);
		if (mkdir(p, 0770) < 0 && errno != EEXIST) {
			set_err(err, errlen, "cannot create %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

/* ---------------------------------------------------------------- writer */

static int writer_create(struct spool_writer *w, const char *spool_dir, const char *id)
{
	char *p = path_of(spool_dir, "tmp", id, ".msg");
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		free(p);
		return -1;
	}
	memcpy(w->id, id, sizeof(w->id));
	w->dir = xstrdup(spool_dir);
	w->fd = fd;
	w->tmp_path = p;
	return 0;
}

int spool_writer_open_id(struct spool_writer *w, const char *spool_dir, const char *id, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (!spool_id_valid(id) || writer_create(w, spool_dir, id) < 0) {
		set_err(err, errlen, "cannot create %s/tmp/%s.msg: %s", spool_dir, id, strerror(errno));
		return -1;
	}
	return 0;
}

int spool_writer_open(struct spool_writer *w, const char *spool_dir, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	char *q = xasprintf("%s/queue", spool_dir);
	struct stat st;
	bool have = stat(q, &st) == 0;
	free(q);
	if (!have && spool_ensure_dirs(spool_dir, err, errlen) < 0)
		return -1;
	for (int tries = 0; tries < 16; tries++) {
		char id[SPOOL_ID_LEN + 1];
		spool_new_id(id);
		if (writer_create(w, spool_dir, id) == 0)
			return 0;
		if (errno != EEXIST) {
			set_err(err, errlen, "cannot create a file in %s/tmp: %s", spool_dir, strerror(errno));
			return -1;
		}
	}
	set_err(err, errlen, "cannot find a free queue id in %s/tmp", spool_dir);
	return -1;
}

/* A nameless file for the front end's copy of the message: on disk in
 * /var/tmp (O_TMPFILE, the caller's own, gone when closed), so a large
 * message costs disk, not memory; a memfd where O_TMPFILE cannot be had. */
static int anon_buffer_fd(void)
{
	int fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	return memfd_create("sealpost-message", MFD_CLOEXEC);
}

int spool_writer_open_anon(struct spool_writer *w, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->fd = anon_buffer_fd();
	if (w->fd < 0) {
		set_err(err, errlen, "cannot create a message buffer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int spool_writer_restart(struct spool_writer *w, int *old_fd, char *err, size_t errlen)
{
	if (!w->tmp_path) { /* an anonymous buffer: the old one stays readable */
		int nfd = anon_buffer_fd();
		if (nfd < 0) {
			set_err(err, errlen, "cannot create a message buffer: %s", strerror(errno));
			return -1;
		}
		*old_fd = w->fd;
		w->fd = nfd;
		return nfd;
	}
	/* Keep the old file open for reading; give its name to the new one. */
	int rfd = open(w->tmp_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rfd < 0) {
		set_err(err, errlen, "cannot reopen %s: %s", w->tmp_path, strerror(errno));
		return -1;
	}
	if (unlink(w->tmp_path) < 0) {
		set_err(err, errlen, "cannot replace %s: %s", w->tmp_path, strerror(errno));
		close(rfd);
		return -1;
	}
	close(w->fd);
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (w->fd < 0) {
		set_err(err, errlen, "cannot create %s: %s", w->tmp_path, strerror(errno));
		close(rfd);
		return -1;
	}
	*old_fd = rfd;
	return w->fd;
}

static int write_file_synced(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		set_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static int rename_noreplace(const char *from, const char *to)
{
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

int spool_writer_commit(struct spool_writer *w, struct envelope *env, char *err, size_t errlen)
{
	struct stat st;
	memcpy(env->id, w->id, sizeof(env->id));
	if (fstat(w->fd, &st) < 0 || fsync(w->fd) < 0) {
		set_err(err, errlen, "cannot write %s: %s", w->tmp_path, strerror(errno));
		return -1;
	}
	fault_point("after-msg-fsync");
	env->size = (uint64_t)st.st_size;
	if (close(w->fd) < 0) {
		w->fd = -1;
		set_err(err, errlen, "cannot write %s: %s", w->tmp_path, strerror(errno));
		return -1;
	}
	w->fd = -1;

	char *text = envelope_format(env);
	char *env_tmp = path_of(w->dir, "tmp", w->id, ".env");
	int r = write_file_synced(env_tmp, text, strlen(text), err, errlen);
	free(text);
	if (r < 0) {
		free(env_tmp);
		return -1;
	}
	fault_point("after-temp-write");

	char *msg_final = path_of(w->dir, "queue", w->id, ".msg");
	char *env_final = path_of(w->dir, "queue", w->id, ".env");
	r = -1;
	if (rename_noreplace(w->tmp_path, msg_final) < 0) {
		set_err(err, errlen, "cannot queue %s: %s", msg_final, strerror(errno));
		unlink(env_tmp);
	} else if (fault_point("after-msg-rename"), rename_noreplace(env_tmp, env_final) < 0) {
		set_err(err, errlen, "cannot queue %s: %s", env_final, strerror(errno));
		unlink(msg_final);
		unlink(env_tmp);
	} else {
		fault_point("after-rename");
		char *qdir = xasprintf("%s/queue", w->dir);
		if (fsync_dir(qdir) < 0) {
			/* renamed but not known durable: take it back, the caller fails */
			set_err(err, errlen, "cannot sync %s: %s", qdir, strerror(errno));
			unlink(env_final);
			unlink(msg_final);
		} else {
			r = 0;
		}
		free(qdir);
	}
	free(msg_final);
	free(env_final);
	free(env_tmp);
	if (r == 0) {
		free(w->tmp_path);
		w->tmp_path = NULL;
		free(w->dir);
		w->dir = NULL;
	}
	return r;
}

void spool_writer_abort(struct spool_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->tmp_path) {
		unlink(w->tmp_path);
		char *env_tmp = path_of(w->dir, "tmp", w->id, ".env");
		unlink(env_tmp);
		free(env_tmp);
	}
	free(w->tmp_path);
	w->tmp_path = NULL;
	free(w->dir);
	w->dir = NULL;
}

/* ---------------------------------------------------------------- reader */

/* Read a whole (small) file into *into (replacing what it held; its
 * memory is reused, so a listing allocates once, not per entry). A
 * typical envelope fits the first read, and a short read of a regular
 * file is its end: one read(), no fstat(). */
static int read_small_file(int fd, const char *what, struct buf *into, char *err, size_t errlen)
{
	into->len = 0;
	for (;;) {
		if (into->cap - into->len < 2) {
			size_t cap = into->cap ? into->cap * 2 : 8192;
			if (cap > ENVELOPE_MAX_BYTES * 2) {
				set_err(err, errlen, "%s: too large", what);
				return -1;
			}
			into->data = xrealloc(into->data, cap);
			into->cap = cap;
		}
		ssize_t r = read_retry(fd, into->data + into->len, into->cap - into->len - 1);
		if (r < 0) {
			set_err(err, errlen, "%s: %s", what, strerror(errno));
			return -1;
		}
		into->len += (size_t)r;
		if (into->len + 1 < into->cap)
			break; /* short read: end of file (EISDIR etc. fail above) */
	}
	into->data[into->len] = '\0';
	return 0;
}

/* 0 ok, 1 missing, -1 damaged/unreadable */
static int load_envelope(const char *spool_dir, const char *id, struct envelope *env, char *err, size_t errlen)
{
	char *p = path_of(spool_dir, "queue", id, ".env");
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		set_err(err, errlen, "%s: %s", p, strerror(e));
		free(p);
		return e == ENOENT ? 1 : -1;
	}
	struct buf text;
	buf_init(&text);
	int r = read_small_file(fd, p, &text, err, errlen);
	close(fd);
	free(p);
	if (r == 0)
		r = envelope_parse(text.data, text.len, env, err, errlen);
	buf_free(&text);
	if (r == 0 && strcmp(env->id, id) != 0) {
		set_err(err, errlen, "envelope names id %s, file is %s", env->id, id);
		envelope_free(env);
		return -1;
	}
	return r < 0 ? -1 : 0;
}

int spool_read_envelope(const char *spool_dir, const char *id, struct envelope *env, char *err, size_t errlen)
{
	return load_envelope(spool_dir, id, env, err, errlen) == 0 ? 0 : -1;
}

int spool_open_entry(const char *spool_dir, const char *id, struct spool_entry *e, char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->msg_fd = -1;
	if (!spool_id_valid(id)) {
		set_err(err, errlen, "invalid queue id");
		return -1;
	}
	snprintf(e->id, sizeof(e->id), "%s", id);
	char *p = path_of(spool_dir, "queue", id, ".msg");
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(p);
	if (fd < 0) {
		if (errno == ENOENT) {
			/* an envelope without its message is damaged; none at all is gone */
			char *envp = path_of(spool_dir, "queue", id, ".env");
			bool env_there = access(envp, F_OK) == 0;
			free(envp);
			if (!env_there)
				return 1;
			spool_quarantine(spool_dir, id, "envelope without message file");
			set_err(err, errlen, "envelope without message file");
			return -1;
		}
		set_err(err, errlen, "cannot open message: %s", strerror(errno));
		return 1; /* e.g. EACCES: not ours to judge as damaged */
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return 1;
	}
	int r = load_envelope(spool_dir, id, &e->env, err, errlen);
	if (r == 1) { /* delivered and removed by another worker meanwhile */
		close(fd);
		return 1;
	}
	struct stat st;
	if (r == 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_size != e->env.size)) {
		envelope_free(&e->env);
		set_err(err, errlen, "message file size does not match its envelope");
		r = -1;
	}
	if (r < 0) {
		char why[256];
		snprintf(why, sizeof(why), "%s", err ? err : "damaged envelope");
		close(fd);
		spool_quarantine(spool_dir, id, why);
		return -1;
	}
	e->msg_fd = fd;
	return 0;
}

int spool_save_state(const char *spool_dir, struct spool_entry *e, char *err, size_t errlen)
{
	char *text = envelope_format(&e->env);
	char suffix[32];
	snprintf(suffix, sizeof(suffix), ".env.%ld", (long)getpid());
	char *tmp = path_of(spool_dir, "tmp", e->id, suffix);
	char *final = path_of(spool_dir, "queue", e->id, ".env");
	int r = write_file_synced(tmp, text, strlen(text), err, errlen);
	free(text);
	if (r == 0) {
		fault_point("before-state-rename");
		if (rename(tmp, final) < 0) {
			set_err(err, errlen, "cannot update %s: %s", final, strerror(errno));
			unlink(tmp);
			r = -1;
		} else {
			char *qdir = xasprintf("%s/queue", spool_dir);
			if (fsync_dir(qdir) < 0) {
				set_err(err, errlen, "cannot sync %s: %s", qdir, strerror(errno));
				r = -1;
			}
			free(qdir);
		}
	}
	free(tmp);
	free(final);
	return r;
}

int spool_remove_entry(const char *spool_dir, struct spool_entry *e)
{
	char *envp = path_of(spool_dir, "queue", e->id, ".env");
	char *msgp = path_of(spool_dir, "queue", e->id, ".msg");
	int r = unlink(envp);
	if (r == 0)
		unlink(msgp); /* a leftover .msg is an orphan that cleanup removes */
	free(envp);
	free(msgp);
	char *qdir = xasprintf("%s/queue", spool_dir);
	fsync_dir(qdir);
	free(qdir);
	spool_close_entry(e);
	return r;
}

void spool_close_entry(struct spool_entry *e)
{
	if (e->msg_fd >= 0)
		close(e->msg_fd); /* releases the flock */
	e->msg_fd = -1;
	envelope_free(&e->env);
}

void spool_quarantine(const char *spool_dir, const char *id, const char *why)
{
	static const char *const suffixes[] = { ".env", ".msg" };
	for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
		char *from = path_of(spool_dir, "queue", id, suffixes[i]);
		char *to = path_of(spool_dir, "corrupt", id, suffixes[i]);
		if (rename(from, to) < 0 && errno != ENOENT)
			unlink(from); /* cannot move it aside: never let it block the queue */
		free(from);
		free(to);
	}
	log_msg(LOG_ERR, "%s: damaged queue entry moved to %s/corrupt: %s", id, spool_dir, why);
}

/* ---------------------------------------------------------------- listing */

/* NAME is "<16 hex>.env": copy the id out. */
static bool env_name_id(const char *name, char id[SPOOL_ID_LEN + 1])
{
	if (strlen(name) != SPOOL_ID_LEN + 4 || strcmp(name + SPOOL_ID_LEN, ".env") != 0)
		return false;
	memcpy(id, name, SPOOL_ID_LEN);
	id[SPOOL_ID_LEN] = '\0';
	return spool_id_valid(id);
}

/*
 * With thousands queued, listing time goes into openat/read/close in the
 * kernel (about 2.5 us per envelope, against 1.5 us of parsing), so from
 * SCAN_PARALLEL_MIN entries on the reading is shared by one thread per CPU
 * (at most SCAN_MAX_THREADS) taking batches of directory entries: 10,000
 * envelopes list in 0.038 s instead of 0.050 s (medians, 2 CPUs). Threads
 * only read and parse into their own slots; fn is called afterwards, on
 * the caller's thread, in directory order. If a thread cannot be created,
 * the caller's thread does the rest.
 */
#define SCAN_PARALLEL_MIN 1024 /* below this, one thread is as fast */
#define SCAN_MAX_THREADS 4
#define SCAN_BATCH 64

struct scan_item {
	char id[SPOOL_ID_LEN + 1];
	bool loaded;            /* env holds the parsed envelope */
	bool gone;              /* delivered since readdir: not listed */
	char *why;              /* why it is damaged or unreadable */
	struct envelope env;
};

struct scan_job {
	int dirfd;
	struct scan_item *items;
	size_t n;
	atomic_size_t next;     /* first entry no thread has taken yet */
};

static void scan_one(int dirfd, struct scan_item *it, struct buf *text)
{
	char name[SPOOL_ID_LEN + sizeof(".env")], why[256] = "";
	memcpy(name, it->id, SPOOL_ID_LEN);
	memcpy(name + SPOOL_ID_LEN, ".env", sizeof(".env"));
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			it->gone = true;
		else
			it->why = xstrdup(strerror(errno));
		return;
	}
	int rr = read_small_file(fd, name, text, why, sizeof(why));
	close(fd);
	if (rr == 0)
		rr = envelope_parse(text->data, text->len, &it->env, why, sizeof(why));
	if (rr == 0 && strcmp(it->env.id, it->id) != 0) {
		snprintf(why, sizeof(why), "envelope names id %s", it->env.id);
		envelope_free(&it->env);
		rr = -1;
	}
	if (rr == 0)
		it->loaded = true;
	else
		it->why = xstrdup(why);
}

static void *scan_worker(void *arg)
{
	struct scan_job *job = arg;
	struct buf text; /* one read buffer for all of this thread's entries */
	buf_init(&text);
	for (;;) {
		size_t start = atomic_fetch_add(&job->next, SCAN_BATCH);
		if (start >= job->n)
			break;
		size_t end = job->n - start < SCAN_BATCH ? job->n : start + SCAN_BATCH;
		for (size_t i = start; i < end; i++)
			scan_one(job->dirfd, &job->items[i], &text);
	}
	buf_free(&text);
	return NULL;
}

static void scan_all(struct scan_job *job)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t threads = job->n < SCAN_PARALLEL_MIN || cpus < 2 ? 1 : (size_t)cpus;
	if (threads > SCAN_MAX_THREADS)
		threads = SCAN_MAX_THREADS;
	pthread_t helpers[SCAN_MAX_THREADS - 1];
	size_t started = 0;
	while (started + 1 < threads && pthread_create(&helpers[started], NULL, scan_worker, job) == 0)
		started++;
	scan_worker(job);
	for (size_t i = 0; i < started; i++)
		pthread_join(helpers[i], NULL);
}

int spool_scan_envelopes(const char *spool_dir,
			 int (*fn)(const char *id, struct envelope *env, const char *why, void *ctx),
			 void *ctx)
{
	char *q = xasprintf("%s/queue", spool_dir);
	DIR *d = opendir(q);
	free(q);
	if (!d)
		return -1;
	struct scan_job job = { .dirfd = dirfd(d) };
	atomic_init(&job.next, 0);
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char id[SPOOL_ID_LEN + 1];
		if (!env_name_id(de->d_name, id))
			continue;
		if (job.n == cap) {
			cap = cap ? cap * 2 : 256;
			job.items = xreallocarray(job.items, cap, sizeof(*job.items));
		}
		struct scan_item *it = &job.items[job.n++];
		memset(it, 0, sizeof(*it));
		memcpy(it->id, id, sizeof(it->id));
	}
	scan_all(&job);
	closedir(d);

	int r = 0;
	for (size_t i = 0; i < job.n; i++) {
		struct scan_item *it = &job.items[i];
		if (r == 0 && it->loaded)
			r = fn(it->id, &it->env, NULL, ctx); /* the envelope passes to fn */
		else if (r == 0 && it->why)
			r = fn(it->id, NULL, it->why, ctx);
		else if (it->loaded)
			envelope_free(&it->env); /* fn asked to stop: not passed on */
		free(it->why);
	}
	free(job.items);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int spool_list(const char *spool_dir, int (*fn)(const char *id, void *ctx), void *ctx)
{
	char *q = xasprintf("%s/queue", spool_dir);
	DIR *d = opendir(q);
	free(q);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	char **ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len != SPOOL_ID_LEN + 4 || strcmp(de->d_name + SPOOL_ID_LEN, ".env") != 0)
			continue;
		char *id = xstrndup(de->d_name, SPOOL_ID_LEN);
		if (!spool_id_valid(id)) {
			free(id);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		ids[n++] = id;
	}
	closedir(d);
	if (n) /* qsort(NULL, 0) is undefined */
		qsort(ids, n, sizeof(*ids), cmp_str);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			r = fn(ids[i], ctx);
		free(ids[i]);
	}
	free(ids);
	return r;
}

static bool older_than(int dfd, const char *name, time_t limit)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime < limit;
}

/* relays/NAME.x.tmp.PID (relay_gate.c's write_state): no live file there
 * ends in ".tmp." and digits (their suffixes are .lock, .backoff, .sent
 * and .conn.K), so the name alone tells a leftover from the state. */
static bool relay_tmp_name(const char *name)
{
	const char *t = NULL;
	for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp."))
		t = p;
	if (!t || t == name || !t[5])
		return false;
	return strspn(t + 5, "0123456789") == strlen(t + 5);
}

/* Unlink the entries of spool_dir/sub older than limit that pick()
 * accepts (pick NULL: every entry but dot files). */
static void remove_old(const char *spool_dir, const char *sub, time_t limit, bool (*pick)(const char *))
{
	char *path = xasprintf("%s/%s", spool_dir, sub);
	DIR *d = opendir(path);
	free(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (pick && !pick(de->d_name)))
			continue;
		if (older_than(dirfd(d), de->d_name, limit))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

void spool_cleanup(const char *spool_dir, unsigned max_age)
{
	time_t limit = time(NULL) - (time_t)max_age;
	remove_old(spool_dir, "tmp", limit, NULL);
	/* a worker that died between writing and renaming a relay's state */
	remove_old(spool_dir, "relays", limit, relay_tmp_name);

	/* an orphan .msg: a crash between the two renames of an intake, or
	 * between the two unlinks of a removal; never exited 0 to a caller */
	char *qdir = xasprintf("%s/queue", spool_dir);
	DIR *d = opendir(qdir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);
			if (len != SPOOL_ID_LEN + 4 || strcmp(de->d_name + SPOOL_ID_LEN, ".msg") != 0)
				continue;
			char envname[SPOOL_ID_LEN + 5];
			memcpy(envname, de->d_name, SPOOL_ID_LEN);
			memcpy(envname + SPOOL_ID_LEN, ".env", 5);
			if (faccessat(dirfd(d), envname, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
			if (!older_than(dirfd(d), de->d_name, limit))
				continue;
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			if (flock(fd, LOCK_EX | LOCK_NB) == 0 &&
			    faccessat(dirfd(d), envname, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
				unlinkat(dirfd(d), de->d_name, 0);
			close(fd);
		}
		closedir(d);
	}
	free(qdir);
}
