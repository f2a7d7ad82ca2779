/*
 * test_opstate.c - the metrics state file (opstate.c): table-driven cases
 * of the strict parser (a damaged file is refused, never misread), the
 * locked update round trip (and its bounded wait for the lock), the
 * failure classifier for --health
 * (opslog_classify).
 */
#include "config.h"

#include "opslog.h"
#include "opstate.h"
#include "unit.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_opstate.XXXXXX";

static void put_state(const char *text, size_t len)
{
	char *p = xasprintf("%s/state/metrics", dir);
	FILE *f = fopen(p, "w");
	fwrite(text, 1, len, f);
	fclose(f);
	free(p);
}

struct parse_case {
	const char *name;
	const char *text;
	int want;              /* 0 parsed, -1 damaged */
	size_t nrelays;
};

static const struct parse_case cases[] = {
	{ "empty state", "sealpost-metrics 1\nend\n", 0, 0 },
	{ "one relay", "sealpost-metrics 1\nrelay main 3 2 1 100 200 50 150 ok -\nend\n", 0, 1 },
	{ "two relays, a reason with spaces",
	  "sealpost-metrics 1\nrelay a 0 0 0 0 0 0 0 - -\nrelay b.x_y-z 1 0 0 0 0 0 9 certificate certificate expired\nend\n",
	  0, 2 },
	{ "no magic", "relay main 3 2 1 100 200 50 150 ok -\nend\n", -1, 0 },
	{ "other version", "sealpost-metrics 2\nend\n", -1, 0 },
	{ "no end", "sealpost-metrics 1\nrelay main 3 2 1 100 200 50 150 ok -\n", -1, 0 },
	{ "after end", "sealpost-metrics 1\nend\nrelay main 3 2 1 100 200 50 150 ok -\n", -1, 0 },
	{ "repeated relay", "sealpost-metrics 1\nrelay a 0 0 0 0 0 0 0 - -\nrelay a 0 0 0 0 0 0 0 - -\nend\n", -1, 0 },
	{ "unknown class", "sealpost-metrics 1\nrelay a 0 0 0 0 0 0 0 broken -\nend\n", -1, 0 },
	{ "missing field", "sealpost-metrics 1\nrelay a 0 0 0 0 0 0 ok -\nend\n", -1, 0 },
	{ "negative number", "sealpost-metrics 1\nrelay a -1 0 0 0 0 0 0 ok -\nend\n", -1, 0 },
	{ "huge number", "sealpost-metrics 1\nrelay a 99999999999999999999 0 0 0 0 0 0 ok -\nend\n", -1, 0 },
	{ "bad relay name", "sealpost-metrics 1\nrelay a/b 0 0 0 0 0 0 0 ok -\nend\n", -1, 0 },
	{ "unknown record", "sealpost-metrics 1\ncounter 5\nend\n", -1, 0 },
	{ "double space", "sealpost-metrics 1\nrelay a  0 0 0 0 0 0 0 ok -\nend\n", -1, 0 },
};

static void test_parse(void)
{
	struct opstate *st = xcalloc(1, sizeof(*st));
	char err[256];
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct parse_case *c = &cases[i];
		put_state(c->text, strlen(c->text));
		int r = opstate_load(dir, st, err, sizeof(err));
		CHECK(r == c->want, "%s: got %d, want %d", c->name, r, c->want);
		CHECK(st->n == c->nrelays, "%s: %zu relays, want %zu", c->name, st->n, c->nrelays);
	}
	/* a NUL byte inside is damage, not the end of the text */
	static const char nul[] = "sealpost-metrics 1\nend\n\0junk\n";
	put_state(nul, sizeof(nul) - 1);
	CHECK(opstate_load(dir, st, err, sizeof(err)) < 0, "NUL byte");
	/* values come back as written */
	put_state(cases[2].text, strlen(cases[2].text));
	CHECK(opstate_load(dir, st, err, sizeof(err)) == 0, "reload");
	CHECK(st->relays[1].last_class == OPS_CERTIFICATE && strcmp(st->relays[1].reason, "certificate expired") == 0,
	      "class and reason: %d %s", st->relays[1].last_class, st->relays[1].reason);
	CHECK(st->relays[1].sent == 1 && st->relays[1].last_attempt == 9, "numbers");
	free(st);
}

static void add_three(struct opstate *st, void *ctx)
{
	(void)ctx;
	struct ops_relay *r = opstate_relay(st, "main");
	r->sent += 3;
	r->last_class = OPS_AUTH;
	snprintf(r->reason, sizeof(r->reason), "535 no\nforged line");
}

static void test_update(void)
{
	char err[256];
	char *p = xasprintf("%s/state/metrics", dir);
	unlink(p);
	/* a writer killed between create and rename left this */
	char *stale = xasprintf("%s/state/metrics.99999.tmp", dir);
	FILE *f = fopen(stale, "w");
	if (f)
		fclose(f);
	CHECK(opstate_update(dir, add_three, NULL, err, sizeof(err)) == 0, "first update: %s", err);
	CHECK(opstate_update(dir, add_three, NULL, err, sizeof(err)) == 0, "second update: %s", err);
	CHECK(access(stale, F_OK) != 0, "stale temporary file removed under the lock");
	free(stale);
	struct opstate *st = xcalloc(1, sizeof(*st));
	CHECK(opstate_load(dir, st, err, sizeof(err)) == 0, "load after update: %s", err);
	CHECK(st->n == 1 && st->relays[0].sent == 6, "counters add up: %zu relays, sent %llu", st->n,
	      (unsigned long long)st->relays[0].sent);
	/* a server's line break cannot forge a record */
	CHECK(strcmp(st->relays[0].reason, "535 no?forged line") == 0, "reason sanitized: %s", st->relays[0].reason);
	struct stat sb;
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0640, "mode %o", (unsigned)(sb.st_mode & 0777));
	/* a name outside the config's alphabet never enters the table */
	CHECK(opstate_relay(st, "bad name") == NULL, "relay name checked");
	free(st);
	free(p);
	/* a lock held by someone else: a bounded wait, then nothing written */
	char *lp = xasprintf("%s/state/metrics.lock", dir);
	int held = open(lp, O_RDWR);
	CHECK(held >= 0 && flock(held, LOCK_EX) == 0, "take the lock");
	uint64_t t0 = now_ms();
	CHECK(opstate_update(dir, add_three, NULL, err, sizeof(err)) < 0, "update under a held lock");
	CHECK(now_ms() - t0 >= 4000 && now_ms() - t0 < 30000, "waited %llu ms", (unsigned long long)(now_ms() - t0));
	CHECK(strstr(err, "held too long") != NULL, "reason: %s", err);
	close(held);
	st = xcalloc(1, sizeof(*st));
	CHECK(opstate_load(dir, st, err, sizeof(err)) == 0 && st->relays[0].sent == 6, "unchanged");
	free(st);
	free(lp);
}

static void test_classify(void)
{
	struct {
		const char *name;
		enum smtp_stage stage;
		int code;
		enum local_error local;
		enum ops_class want;
	} c[] = {
		{ "certificate", STAGE_TLS, 0, LOCAL_TLS_VERIFY, OPS_CERTIFICATE },
		{ "535 at AUTH", STAGE_AUTH, 535, LOCAL_NONE, OPS_AUTH },
		{ "454 at AUTH is temporary", STAGE_AUTH, 454, LOCAL_NONE, OPS_TRANSIENT },
		{ "no mechanism", STAGE_AUTH, 0, LOCAL_AUTH, OPS_AUTH },
		{ "password file", STAGE_AUTH, 0, LOCAL_CONFIG, OPS_CONFIG },
		{ "no OAuth token", STAGE_AUTH, 0, LOCAL_OAUTH_TOKEN, OPS_TOKEN },
		{ "535, then the token endpoint down", STAGE_AUTH, 535, LOCAL_CONNECT, OPS_TRANSIENT },
		{ "connection refused", STAGE_CONNECT, 0, LOCAL_CONNECT, OPS_TRANSIENT },
		{ "timeout", STAGE_GREETING, 0, LOCAL_TIMEOUT, OPS_TRANSIENT },
		{ "STARTTLS missing", STAGE_STARTTLS, 0, LOCAL_NO_STARTTLS, OPS_TRANSIENT },
		{ "421 greeting", STAGE_GREETING, 421, LOCAL_NONE, OPS_TRANSIENT },
	};
	for (size_t i = 0; i < ARRAY_LEN(c); i++) {
		struct smtp_failure f = { .stage = c[i].stage, .code = c[i].code, .local = c[i].local };
		CHECK(opslog_classify(&f) == c[i].want, "%s: got %d", c[i].name, opslog_classify(&f));
	}
	CHECK(ops_class_needs_person(OPS_TOKEN) && !ops_class_needs_person(OPS_TRANSIENT) &&
	      !ops_class_needs_person(OPS_OK) && !ops_class_needs_person(OPS_NONE), "needs a person");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	char *sd = xasprintf("%s/state", dir);
	mkdir(sd, 0750);
	test_parse();
	test_update();
	test_classify();
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(cmd);
	free(sd);
	return unit_done("test_opstate");
}
