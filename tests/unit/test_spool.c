/* test_spool.c - the spool format and its operations: envelope round trip
 * with hostile bytes, strict rejection of damaged envelopes, atomic commit,
 * locking, state updates, removal, quarantine and cleanup. */
#include "config.h"

#include "log.h"
#include "spool.h"
#include "unit.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	struct buf b;
	buf_init(&b);
	char tmp[4096];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(&b, tmp, (size_t)n);
	close(fd);
	return buf_steal(&b);
}

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_roundtrip(void)
{
	struct envelope e, back;
	envelope_init(&e);
	memcpy(e.id, "0123456789ABCDEF", 17);
	e.arrival = 1764331200;
	e.sender = xstrdup("");
	e.uid = 33;
	e.user = xstrdup("www-data");
	e.size = 4096;
	e.flags = ENV_8BITMIME | ENV_HELD;
	e.ret = xstrdup("HDRS");
	e.envid = NULL;
	envelope_add_rcpt(&e, "a@example.org", NULL, 0);
	envelope_add_rcpt(&e, "\"odd local\"@example.org", "root", NOTIFY_SUCCESS | NOTIFY_FAILURE);
	envelope_add_rcpt(&e, "-", "=", 0);
	e.rcpts[1].state = RCPT_DEFERRED;
	e.rcpts[1].attempts = 3;
	e.rcpts[1].next_attempt = 1764334800;
	e.rcpts[1].last_error = xstrdup("451 4.3.0 try again\r\nfake: injected % \xc3\xa9");
	char *text = envelope_format(&e);
	CHECK(strchr(text, '\r') == NULL, "no CR in the text form");
	char err[256] = "";
	CHECK(envelope_parse(text, strlen(text), &back, err, sizeof(err)) == 0, "parse: %s", err);
	CHECK_STR(back.id, e.id, "id");
	CHECK(back.arrival == e.arrival && back.uid == 33 && back.size == 4096, "numbers");
	CHECK(back.flags == e.flags, "flags");
	CHECK_STR(back.sender, "", "null sender");
	CHECK_STR(back.user, "www-data", "user");
	CHECK_STR(back.ret, "HDRS", "ret");
	CHECK(back.envid == NULL, "envid NULL");
	CHECK(back.nrcpts == 3, "3 rcpts");
	CHECK_STR(back.rcpts[1].addr, "\"odd local\"@example.org", "quoted rcpt");
	CHECK_STR(back.rcpts[1].orcpt, "root", "orcpt");
	CHECK_STR(back.rcpts[1].last_error, e.rcpts[1].last_error, "hostile last_error");
	CHECK(back.rcpts[1].state == RCPT_DEFERRED && back.rcpts[1].attempts == 3, "state");
	CHECK(back.rcpts[1].next_attempt == 1764334800, "next");
	CHECK(back.rcpts[1].notify == (NOTIFY_SUCCESS | NOTIFY_FAILURE), "notify");
	CHECK_STR(back.rcpts[2].addr, "-", "literal dash");
	CHECK_STR(back.rcpts[2].orcpt, "=", "literal equals");
	CHECK(back.rcpts[0].orcpt == NULL && back.rcpts[0].last_error == NULL, "NULLs");
	envelope_free(&back);

	/* every truncation of a valid envelope is rejected, never misread */
	size_t len = strlen(text);
	int accepted = 0;
	for (size_t cut = 0; cut < len; cut++) {
		if (envelope_parse(text, cut, &back, err, sizeof(err)) == 0) {
			accepted++;
			envelope_free(&back);
		}
	}
	CHECK(accepted == 0, "%d truncations accepted", accepted);
	free(text);
	envelope_free(&e);
}

static void test_damaged(void)
{
	static const struct { const char *name, *text; } bad[] = {
		{ "empty", "" },
		{ "wrong version", "sealpost-envelope 2\nend\n" },
		{ "no rcpt", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender =\nuser 0 root\nsize 1\nflags 0\ndsn - -\nend\n" },
		{ "unknown key", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender =\nuser 0 root\nsize 1\nflags 0\ndsn - -\nbogus 1\nrcpt pending 0 0 0 a@b - -\nend\n" },
		{ "duplicate key", "sealpost-envelope 1\nid 0123456789ABCDEF\nid 0123456789ABCDEF\narrival 1\nsender =\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend\n" },
		{ "missing size", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender =\nuser 0 root\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend\n" },
		{ "bad state", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender =\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt lost 0 0 0 a@b - -\nend\n" },
		{ "bad number", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival -1\nsender =\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend\n" },
		{ "bad escape", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender %4\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend\n" },
		{ "NUL escape", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender a%00b\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend\n" },
		{ "bad id", "sealpost-envelope 1\nid ../../etc/passw\narrival 1\nsender =\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend\n" },
		{ "after end", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender =\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend\nrcpt pending 0 0 0 c@d - -\n" },
		{ "extra field", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender = x\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend\n" },
		{ "no final newline", "sealpost-envelope 1\nid 0123456789ABCDEF\narrival 1\nsender =\nuser 0 root\nsize 1\nflags 0\ndsn - -\nrcpt pending 0 0 0 a@b - -\nend" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct envelope e;
		char err[256] = "";
		int r = envelope_parse(bad[i].text, strlen(bad[i].text), &e, err, sizeof(err));
		CHECK(r < 0, "damaged envelope accepted: %s", bad[i].name);
		CHECK(r == 0 || strstr(err, "damaged") != NULL, "%s: reason: %s", bad[i].name, err);
		if (r == 0)
			envelope_free(&e);
	}
}

static int collect(const char *id, void *ctx)
{
	struct buf *b = ctx;
	buf_adds(b, id);
	buf_addc(b, ' ');
	return 0;
}

static void queue_one(const char *dir, const char *body, char id[SPOOL_ID_LEN + 1])
{
	struct spool_writer w;
	char err[256] = "";
	CHECK(spool_writer_open(&w, dir, err, sizeof(err)) == 0, "open: %s", err);
	CHECK(write_all(w.fd, body, strlen(body)) == 0, "write");
	struct envelope e;
	envelope_init(&e);
	e.sender = xstrdup("s@example.org");
	e.user = xstrdup("u");
	envelope_add_rcpt(&e, "r@example.net", NULL, 0);
	CHECK(spool_writer_commit(&w, &e, err, sizeof(err)) == 0, "commit: %s", err);
	CHECK(e.size == strlen(body), "size recorded");
	memcpy(id, e.id, SPOOL_ID_LEN + 1);
	envelope_free(&e);
}

static char *touch(const char *dir, const char *name, bool old)
{
	char *p = xasprintf("%s/relays/%s", dir, name);
	close(open(p, O_CREAT | O_WRONLY, 0660));
	struct utimbuf t = { 1000, 1000 };
	if (old)
		utime(p, &t);
	return p;
}

/* relays/: a worker's stale NAME.x.tmp.PID goes; the state, the locks and
 * the slots stay however old they are (also for relays named "*.tmp*"). */
static void test_cleanup_relays(const char *dir)
{
	char *rd = xasprintf("%s/relays", dir);
	CHECK(mkdir(rd, 0770) == 0, "mkdir relays");
	const char *gone[] = { "r.backoff.tmp.4242", "r.sent.tmp.7", "a.tmp.sent.tmp.12" };
	const char *kept[] = { "r.backoff", "r.sent", "r.lock", "r.conn.0", "a.tmp.lock",
			       "a.tmp.conn.3", "b.tmp.5.lock", "c.tmp.", "d.tmp.x1" };
	char *g[3], *k[9], *fresh = touch(dir, "r.sent.tmp.99", false);
	for (size_t i = 0; i < 3; i++)
		g[i] = touch(dir, gone[i], true);
	for (size_t i = 0; i < 9; i++)
		k[i] = touch(dir, kept[i], true);
	spool_cleanup(dir, 3600);
	for (size_t i = 0; i < 3; i++) {
		CHECK(access(g[i], F_OK) != 0, "stale %s removed", gone[i]);
		free(g[i]);
	}
	for (size_t i = 0; i < 9; i++) {
		CHECK(access(k[i], F_OK) == 0, "%s kept", kept[i]);
		free(k[i]);
	}
	CHECK(access(fresh, F_OK) == 0, "fresh relay tmp kept");
	free(fresh);
	free(rd);
}

static void test_spool_ops(void)
{
	char dir[] = "/tmp/sealpost-unit-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char id1[SPOOL_ID_LEN + 1], id2[SPOOL_ID_LEN + 1];
	queue_one(dir, "Subject: one\r\n\r\nbody\r\n", id1);
	queue_one(dir, "Subject: two\r\n\r\nbody two\r\n", id2);
	CHECK(spool_id_valid(id1) && spool_id_valid(id2) && strcmp(id1, id2) != 0, "ids");

	char *tmpd = xasprintf("%s/tmp", dir);
	CHECK(count_dir(tmpd) == 0, "nothing left in tmp/");
	char *msgp = xasprintf("%s/queue/%s.msg", dir, id1);
	char *msg = slurp(msgp);
	CHECK_STR(msg, "Subject: one\r\n\r\nbody\r\n", "message stored as written");
	free(msg);

	struct buf ids;
	buf_init(&ids);
	spool_list(dir, collect, &ids);
	char *want = xasprintf("%s %s ", id1, id2);
	CHECK_STR(ids.data, want, "listing, oldest first");
	free(want);
	buf_free(&ids);

	/* lock: a second opener is told "busy" */
	struct spool_entry a, b;
	char err[256] = "";
	CHECK(spool_open_entry(dir, id1, &a, err, sizeof(err)) == 0, "open entry: %s", err);
	CHECK(spool_open_entry(dir, id1, &b, err, sizeof(err)) == 1, "second open must be busy");

	/* state update is visible to a fresh reader */
	a.env.rcpts[0].state = RCPT_DEFERRED;
	a.env.rcpts[0].attempts = 1;
	a.env.rcpts[0].last_error = xstrdup("421 busy");
	CHECK(spool_save_state(dir, &a, err, sizeof(err)) == 0, "save: %s", err);
	struct envelope e;
	CHECK(spool_read_envelope(dir, id1, &e, err, sizeof(err)) == 0, "reread");
	CHECK(e.rcpts[0].state == RCPT_DEFERRED && e.rcpts[0].attempts == 1, "state persisted");
	envelope_free(&e);
	CHECK(count_dir(tmpd) == 0, "no state temp file left");

	/* removal: gone for everybody; a later open says "gone" (1) */
	CHECK(spool_remove_entry(dir, &a) == 0, "remove");
	CHECK(access(msgp, F_OK) != 0, "msg removed");
	CHECK(spool_open_entry(dir, id1, &b, err, sizeof(err)) == 1, "removed entry is gone");

	/* a damaged envelope is moved aside and never blocks the queue */
	char *envp2 = xasprintf("%s/queue/%s.env", dir, id2);
	int fd = open(envp2, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "garbage\n", 8) == 8, "damage it");
	close(fd);
	log_open("test", "none", false);
	CHECK(spool_open_entry(dir, id2, &b, err, sizeof(err)) == -1, "damaged entry reported");
	char *corrupt = xasprintf("%s/corrupt/%s.env", dir, id2);
	CHECK(access(corrupt, F_OK) == 0, "moved to corrupt/");
	CHECK(access(envp2, F_OK) != 0, "out of the queue");

	/* a message file whose size does not match its envelope is damaged */
	char id3[SPOOL_ID_LEN + 1];
	queue_one(dir, "Subject: three\r\n\r\nx\r\n", id3);
	char *msgp3 = xasprintf("%s/queue/%s.msg", dir, id3);
	CHECK(truncate(msgp3, 5) == 0, "truncate msg");
	CHECK(spool_open_entry(dir, id3, &b, err, sizeof(err)) == -1, "size mismatch detected");

	/* abort leaves nothing */
	struct spool_writer w;
	CHECK(spool_writer_open(&w, dir, err, sizeof(err)) == 0, "open 4");
	CHECK(write_all(w.fd, "x", 1) == 0, "write 4");
	spool_writer_abort(&w);
	CHECK(count_dir(tmpd) == 0, "abort cleaned tmp/");

	/* cleanup: old tmp files and orphan .msg files go, fresh ones stay */
	char *orphan = xasprintf("%s/queue/FFFFFFFF00000000.msg", dir);
	char *stale = xasprintf("%s/tmp/stale.msg", dir);
	char *fresh = xasprintf("%s/tmp/fresh.msg", dir);
	close(open(orphan, O_CREAT | O_WRONLY, 0640));
	close(open(stale, O_CREAT | O_WRONLY, 0640));
	close(open(fresh, O_CREAT | O_WRONLY, 0640));
	struct utimbuf old = { 1000, 1000 };
	utime(orphan, &old);
	utime(stale, &old);
	spool_cleanup(dir, 3600);
	CHECK(access(orphan, F_OK) != 0, "orphan removed");
	CHECK(access(stale, F_OK) != 0, "stale tmp removed");
	CHECK(access(fresh, F_OK) == 0, "fresh tmp kept");
	test_cleanup_relays(dir);

	char *cmd = xasprintf("rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "cleanup");
	free(cmd);
	free(orphan);
	free(stale);
	free(fresh);
	free(msgp3);
	free(corrupt);
	free(envp2);
	free(msgp);
	free(tmpd);
}

int main(void)
{
	test_roundtrip();
	test_damaged();
	test_spool_ops();
	return unit_done("spool");
}
