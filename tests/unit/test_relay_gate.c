/*
 * test_relay_gate.c - the relay-level gate on a scratch spool: a throttle
 * episode (start, same burst, doubling, end), damaged state files taken as
 * absent, the message window (full, reopening, a returned reservation), and
 * connection slots (held, refused, waited for until another process lets
 * go, no wait past the deadline).
 */
#include "config.h"

#include "log.h"
#include "relay_gate.h"
#include "unit.h"
#include "util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char spool[] = "/tmp/test_relay_gate.XXXXXX";

static void put_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/relays/%s", spool, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL, "create %s", path);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static bool exists(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/relays/%s", spool, name);
	return access(path, F_OK) == 0;
}

static void test_backoff(struct sp_config *cfg, struct sp_relay *r)
{
	time_t now = time(NULL);
	CHECK(relay_gate_backoff_until(cfg, r, NULL, 0) == 0, "no back-off at first");
	time_t u1 = relay_gate_throttled(cfg, r, "label", "rate", "421 4.7.0 slow down");
	CHECK(u1 >= now + 10 && u1 <= now + 11, "level 1 is retry_min (10 s): %ld", (long)(u1 - now));
	char why[128] = "";
	CHECK(relay_gate_backoff_until(cfg, r, why, sizeof(why)) == u1, "back-off read back");
	CHECK(strcmp(why, "421 4.7.0 slow down") == 0, "the reason survives encoding: %s", why);
	CHECK(relay_gate_throttled(cfg, r, "label", "rate", "421 again") == u1, "same burst: unchanged");

	/* the back-off ran out and the relay throttles again: doubled */
	put_file("main.backoff", "sealpost-relay-backoff 1\nuntil 1\nlevel 1\nsince 1\nreason x\nend\n");
	time_t u2 = relay_gate_throttled(cfg, r, "label", "rate", "421 again");
	CHECK(u2 >= now + 20 && u2 <= now + 21, "level 2 is doubled: %ld", (long)(u2 - now));
	put_file("main.backoff", "sealpost-relay-backoff 1\nuntil 1\nlevel 30\nsince 1\nreason x\nend\n");
	time_t u3 = relay_gate_throttled(cfg, r, "label", "rate", "421 again");
	CHECK(u3 >= now + 35 && u3 <= now + 36, "capped at retry_max (35 s): %ld", (long)(u3 - now));

	relay_gate_success(cfg, r, "label");
	CHECK(!exists("main.backoff"), "a success ends the episode");
	CHECK(relay_gate_backoff_until(cfg, r, NULL, 0) == 0, "open again");

	/* damaged files are no back-off, never a crash or a misread */
	static const char *const bad[] = {
		"",
		"sealpost-relay-backoff 2\nuntil 9999999999\nlevel 1\nsince 1\nreason x\nend\n",
		"sealpost-relay-backoff 1\nuntil 9999999999\nlevel 0\nsince 1\nreason x\nend\n",
		"sealpost-relay-backoff 1\nuntil 9999999999\nlevel 1\nsince 1\nreason x\n",
		"sealpost-relay-backoff 1\nuntil 9999999999\nlevel 1\nsince 1\nreason x\nend\ntrailing\n",
		"sealpost-relay-backoff 1\nuntil abc\nlevel 1\nsince 1\nreason x\nend\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_file("main.backoff", bad[i]);
		CHECK(relay_gate_backoff_until(cfg, r, NULL, 0) == 0, "damaged file %zu is no back-off", i);
	}
	relay_gate_success(cfg, r, "label");
	CHECK(!exists("main.backoff"), "a damaged file is removed by a success");
}

static void test_window(struct sp_config *cfg, struct sp_relay *r)
{
	uint64_t tok[4] = { 0 };
	r->limits.messages = 3;
	r->limits.period = 60;
	for (int i = 0; i < 3; i++)
		CHECK(relay_gate_take_message(cfg, r, &tok[i]) == 0 && tok[i] != 0, "slot %d", i);
	uint64_t now = relay_gate_wall_ms();
	uint64_t next = relay_gate_take_message(cfg, r, &tok[3]);
	CHECK(next >= now + 59000 && next <= now + 61000, "full: next in %lld ms",
	      (long long)next - (long long)now);
	CHECK(tok[3] == 0, "no token when full");
	relay_gate_message_done(cfg, r, tok[2], false); /* never started: returned */
	CHECK(relay_gate_take_message(cfg, r, &tok[3]) == 0, "a returned reservation frees its place");
	relay_gate_message_done(cfg, r, tok[0], true);
	/* entries older than the period are gone */
	put_file("main.sent", "sealpost-relay-sent 1\nt 1000 1\nt 2000 1\nt 3000 1\nend\n");
	CHECK(relay_gate_take_message(cfg, r, &tok[0]) == 0, "old entries leave the window");
	/* a damaged window starts afresh */
	put_file("main.sent", "sealpost-relay-sent 1\nt x y\nend\n");
	CHECK(relay_gate_take_message(cfg, r, &tok[0]) == 0, "damaged window: afresh");
	r->limits.messages = 0;
	CHECK(relay_gate_take_message(cfg, r, &tok[0]) == 0 && tok[0] == 0, "no limit: no state");
}

static void test_slots(struct sp_config *cfg, struct sp_relay *r)
{
	r->limits.connections = 0;
	CHECK(relay_gate_connection(cfg, r, 0) == RELAY_GATE_UNLIMITED, "no limit");
	r->limits.connections = 2;
	int a = relay_gate_connection(cfg, r, 0);
	int b = relay_gate_connection(cfg, r, 0);
	CHECK(a >= 0 && b >= 0 && a != b, "two slots: %d %d", a, b);
	/* a third, in another process (flock is per open file: the same
	 * process would get its own lock on a new open) */
	int pfd[2];
	CHECK(pipe(pfd) == 0, "pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(a);
		close(b); /* the child's copies: the parent still holds both */
		uint64_t t0 = now_ms();
		int c = relay_gate_connection(cfg, r, now_ms() + 300);
		char rep = c < 0 && now_ms() - t0 >= 250 ? 'w' : 'x'; /* waited, then gave up */
		if (write(pfd[1], &rep, 1) != 1)
			_exit(2);
		c = relay_gate_connection(cfg, r, now_ms() + 10000);
		rep = c >= 0 ? 'g' : 'n';
		_exit(write(pfd[1], &rep, 1) == 1 ? 0 : 2);
	}
	close(pfd[1]);
	char rep = 0;
	CHECK(read(pfd[0], &rep, 1) == 1 && rep == 'w', "full: waits until the deadline, then none (%c)", rep);
	uint64_t t0 = now_ms();
	relay_gate_release(&a);
	CHECK(a == -1, "released");
	CHECK(read(pfd[0], &rep, 1) == 1 && rep == 'g', "a released slot wakes the waiter (%c)", rep);
	CHECK(now_ms() - t0 < 5000, "woken at once, not by a timeout: %llu ms", (unsigned long long)(now_ms() - t0));
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child");
	close(pfd[0]);
	relay_gate_release(&b);
	a = relay_gate_connection(cfg, r, 0);
	CHECK(a >= 0, "free again once the child exited");
	relay_gate_release(&a);
}

int main(void)
{
	log_open("test_relay_gate", "stderr", false);
	CHECK(mkdtemp(spool) != NULL, "mkdtemp");
	struct sp_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.spool_dir = spool;
	cfg.queue.retry_min = 10;
	cfg.queue.retry_max = 35;
	struct sp_relay relay;
	memset(&relay, 0, sizeof(relay));
	relay.name = (char *)"main";
	/* the first throttle creates relays/ */
	test_backoff(&cfg, &relay);
	test_window(&cfg, &relay);
	test_slots(&cfg, &relay);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", spool);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", spool);
	return unit_done("test_relay_gate");
}
