/*
 * test_aliases.c - alias file parsing (comments, continuations, local
 * delivery targets skipped), inline aliases, recursive expansion with the
 * self-reference rule, loops, depth and size bounds, qualification.
 */
#include "config.h"

#include "aliases.h"
#include "util.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_aliases.XXXXXX";

static char *write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
	return path;
}

struct collected {
	struct buf b;
	const char *orcpt_seen;
	bool orcpt_ok;
};

static int collect(const char *addr, const char *orcpt, void *ctx)
{
	struct collected *c = ctx;
	if (c->b.len)
		buf_addc(&c->b, '|');
	buf_adds(&c->b, addr);
	if (strcmp(orcpt, c->orcpt_seen) != 0)
		c->orcpt_ok = false;
	return 0;
}

struct expand_case {
	const char *addr;
	const char *expect;  /* joined by '|'; NULL: error */
	const char *errpart;
};

static void run_expand(const struct aliases *a, const struct expand_case *cases, size_t n)
{
	char err[300];
	for (size_t i = 0; i < n; i++) {
		const struct expand_case *c = &cases[i];
		struct collected col = { .orcpt_seen = c->addr, .orcpt_ok = true };
		buf_init(&col.b);
		buf_add(&col.b, "", 0);
		err[0] = '\0';
		int r = aliases_expand(a, c->addr, "example.com", collect, &col, err, sizeof(err));
		if (c->expect) {
			CHECK(r == 0, "%s: error %s", c->addr, err);
			CHECK(r != 0 || strcmp(col.b.data, c->expect) == 0, "%s: got %s, want %s", c->addr,
			      col.b.data, c->expect);
			CHECK(col.orcpt_ok, "%s: orcpt is not the original argument", c->addr);
		} else {
			CHECK(r == -1 && strstr(err, c->errpart), "%s: r=%d err=%s (want %s)", c->addr, r, err,
			      c->errpart);
		}
		buf_free(&col.b);
	}
}

static const char alias_file[] =
	"# sendmail-style aliases\n"
	"root: ops@example.org, Admin <admin@example.org>\n"
	"postmaster:\troot\n"
	"webmaster: www,\n"
	"  web2@example.org\n"
	"# a comment inside does not end the entry above\n"
	"\n"
	"www: www, backup@example.org\n"
	"pipe: |/usr/bin/foo, \"|/bin/bar arg\", /var/log/x, :include:/etc/list, real@example.org\n"
	"Mixed: m@example.org\n"
	"self: self@example.com\n"
	"a: b\n"
	"b: c@example.com\n"
	"c: a\n"
	"dup: ops@example.org, root, OPS@example.org\n"
	"onlypipe: |/bin/true\n"
	"usesonlypipe: onlypipe\n"
	"d1: d2\nd2: d3\nd3: d4\nd4: d5\nd5: d6\nd6: d7\nd7: d8\nd8: d9\nd9: d10\nd10: d11\nd11: x@y\n"
	"e1: e2\ne2: e3\ne3: e4\ne4: e5\ne5: e6\ne6: e7\ne7: e8\ne8: e9\ne9: e10\ne10: x@y\n"
	"root: ignored@example.org\n"
	"crlf: crlf@example.org\r\n"
	"last: no-newline@example.org";

static const struct expand_case file_cases[] = {
	{ "root", "ops@example.org|admin@example.org", NULL },
	{ "ROOT@Example.COM", "ops@example.org|admin@example.org", NULL },
	{ "root@other.example", "root@other.example", NULL },
	{ "postmaster", "ops@example.org|admin@example.org", NULL },
	{ "webmaster", "www@example.com|backup@example.org|web2@example.org", NULL },
	{ "www", "www@example.com|backup@example.org", NULL },
	{ "pipe", "real@example.org", NULL },
	{ "mixed", "m@example.org", NULL },
	{ "self", "self@example.com", NULL },
	{ "dup", "ops@example.org|admin@example.org", NULL },
	{ "nobody", "nobody@example.com", NULL },
	{ "user@example.org", "user@example.org", NULL },
	{ "crlf", "crlf@example.org", NULL },
	{ "last", "no-newline@example.org", NULL },
	{ "e1", "x@y", NULL },
	{ "a", NULL, "alias loop: a -> b -> c -> a" },
	{ "b@example.com", NULL, "alias loop: b -> c -> a -> b" },
	{ "d1", NULL, "deeper than 10" },
	{ "onlypipe", NULL, "no target" },
	{ "usesonlypipe", NULL, "no target" },
};

static void test_file(void)
{
	char err[300];
	char *path = write_file("aliases", alias_file);
	struct sp_config cfg = { .aliases_file = path, .domain = "example.com" };
	struct aliases *a = NULL;
	CHECK(aliases_load(&cfg, &a, err, sizeof(err)) == 0, "load: %s", err);
	if (a)
		run_expand(a, file_cases, ARRAY_LEN(file_cases));
	aliases_free(a);

	/* inline aliases win over the file */
	char *to[] = { "inline@example.net, second@example.net" };
	struct sp_alias inl[] = { { .name = "Root", .to = to, .nto = 1 } };
	cfg.aliases = inl;
	cfg.naliases = 1;
	CHECK(aliases_load(&cfg, &a, err, sizeof(err)) == 0, "load inline: %s", err);
	static const struct expand_case inline_cases[] = {
		{ "root", "inline@example.net|second@example.net", NULL },
		{ "postmaster", "inline@example.net|second@example.net", NULL },
	};
	if (a)
		run_expand(a, inline_cases, ARRAY_LEN(inline_cases));
	aliases_free(a);
	free(path);
}

static void test_errors(void)
{
	char err[300];
	struct aliases *a = (struct aliases *)1;
	struct {
		const char *text;
		const char *errpart;
	} bad[] = {
		{ "root: a@x\nno colon here\n", ":2: missing ':'" },
		{ "  leading: continuation\n", ":1: continuation line without an alias" },
		{ "x: a@@b\n", ":1: alias x: invalid address" },
		{ "ok: a@x\n\nbad name: a@x\n", ":3: invalid alias name" },
		{ "x: a@x,\n  Name <b@y\n", ":1: alias x: missing '>'" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *path = write_file("bad", bad[i].text);
		struct sp_config cfg = { .aliases_file = path };
		a = (struct aliases *)1;
		int r = aliases_load(&cfg, &a, err, sizeof(err));
		CHECK(r == -1 && a == NULL && strstr(err, path) && strstr(err, bad[i].errpart),
		      "bad %zu: r=%d err=%s", i, r, err);
		free(path);
	}
	/* missing file: no aliases */
	char *missing = xasprintf("%s/does-not-exist", tmpdir);
	struct sp_config cfg = { .aliases_file = missing };
	CHECK(aliases_load(&cfg, &a, err, sizeof(err)) == 0 && a, "missing file: %s", err);
	static const struct expand_case none[] = { { "root", "root@example.com", NULL } };
	if (a)
		run_expand(a, none, 1);
	aliases_free(a);
	free(missing);
	/* an existing file that cannot be read is an error (a directory here:
	 * permissions do not stop root) */
	char *dir = xasprintf("%s/adir", tmpdir);
	mkdir(dir, 0700);
	cfg.aliases_file = dir;
	CHECK(aliases_load(&cfg, &a, err, sizeof(err)) == -1 && strstr(err, dir), "unreadable: %s", err);
	free(dir);
	/* a bad inline target names the config file */
	char *to[] = { "a@x, <b@" };
	struct sp_alias inl[] = { { .name = "x", .to = to, .nto = 1 } };
	struct sp_config icfg = { .path = "/etc/sealpost.conf", .aliases = inl, .naliases = 1 };
	CHECK(aliases_load(&icfg, &a, err, sizeof(err)) == -1 && strstr(err, "/etc/sealpost.conf: alias x:"),
	      "inline bad: %s", err);
}

static int stop_first(const char *addr, const char *orcpt, void *ctx)
{
	(void)addr, (void)orcpt;
	++*(int *)ctx;
	return 7;
}

static void test_bounds(void)
{
	char err[300];
	/* 1001 distinct results */
	struct buf b;
	buf_init(&b);
	buf_adds(&b, "big: ");
	for (int i = 0; i < 1001; i++)
		buf_printf(&b, "%su%d@example.org", i ? ", " : "", i);
	buf_adds(&b, "\nok: ");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%su%d@example.org", i ? ", " : "", i);
	buf_adds(&b, "\n");
	char *path = write_file("big", b.data);
	struct sp_config cfg = { .aliases_file = path };
	struct aliases *a = NULL;
	CHECK(aliases_load(&cfg, &a, err, sizeof(err)) == 0, "big load: %s", err);
	static const struct expand_case cases[] = { { "big", NULL, "more than 1000" } };
	run_expand(a, cases, 1);
	int calls = 0;
	CHECK(aliases_expand(a, "ok", "example.com", stop_first, &calls, err, sizeof(err)) == 7 && calls == 1,
	      "callback stop: calls=%d", calls);
	aliases_free(a);
	buf_free(&b);
	free(path);
}

static void test_qualify(void)
{
	static const struct {
		const char *in, *domain, *out;
	} cases[] = {
		{ "root", "example.com", "root@example.com" },
		{ "a@x", "example.com", "a@x" },
		{ "\"a@b\"", "example.com", "\"a@b\"@example.com" },
		{ "\"a@b\"@x", "example.com", "\"a@b\"@x" },
		{ "root", NULL, "root" },
		{ "root", "", "root" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *q = address_qualify(cases[i].in, cases[i].domain);
		CHECK(strcmp(q, cases[i].out) == 0, "qualify %s: %s", cases[i].in, q);
		free(q);
	}
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	test_file();
	test_errors();
	test_bounds();
	test_qualify();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return unit_done("test_aliases");
}
