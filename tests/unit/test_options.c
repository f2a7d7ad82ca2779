/* test_options.c - the sendmail command line, table-driven: every way real
 * callers combine flags (SPEC section 2). */
#include "config.h"

#include "options.h"
#include "spool.h"
#include "unit.h"

#include <stdlib.h>

struct opt_case {
	const char *name;
	const char *prog;
	const char *argv[12];
	int ok; /* 1 parse succeeds, 0 usage error */
	enum run_mode mode;
	enum delivery_mode delivery;
	int t, i;
	const char *sender;      /* NULL: not given */
	const char *full_name;
	const char *config;
	size_t nrcpt;
	const char *rcpt0;
};

static const struct opt_case cases[] = {
	{ "plain recipient", "sendmail", { "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "-ti combined", "sendmail", { "-ti" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 1, 1, NULL, NULL, NULL, 0, NULL },
	{ "-oi -t", "sendmail", { "-oi", "-t" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 1, 1, NULL, NULL, NULL, 0, NULL },
	{ "-t -i (PHP)", "sendmail", { "-t", "-i" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 1, 1, NULL, NULL, NULL, 0, NULL },
	{ "-f attached", "sendmail", { "-fuser@x", "b@y" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, "user@x", NULL, NULL, 1, "b@y" },
	{ "-f separate", "sendmail", { "-f", "user@x", "b@y" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, "user@x", NULL, NULL, 1, "b@y" },
	{ "-f empty = null sender", "sendmail", { "-f", "", "b@y" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, "", NULL, NULL, 1, "b@y" },
	{ "-f <>", "sendmail", { "-f", "<>", "b@y" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, "<>", NULL, NULL, 1, "b@y" },
	{ "-r like -f", "sendmail", { "-r", "s@x", "b@y" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, "s@x", NULL, NULL, 1, "b@y" },
	{ "cron", "sendmail", { "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 1, NULL, "CronDaemon", NULL, 1, "root" },
	{ "git send-email", "sendmail", { "-i", "a@x", "b@y" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 1, NULL, NULL, NULL, 2, "a@x" },
	{ "-- ends options", "sendmail", { "-t", "--", "-weird@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 1, 0, NULL, NULL, NULL, 1, "-weird@x" },
	{ "first non-option stops", "sendmail", { "a@x", "-t" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 2, "a@x" },
	{ "-bp", "sendmail", { "-bp" }, 1, MODE_LIST, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "-bp --json", "sendmail", { "-bp", "--json" }, 1, MODE_LIST, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "mailq", "mailq", { NULL }, 1, MODE_LIST, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "newaliases", "newaliases", { NULL }, 1, MODE_ALIASES, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "-bs", "sendmail", { "-bs" }, 1, MODE_SMTP, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "-bi", "sendmail", { "-bi" }, 1, MODE_ALIASES, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "-bv", "sendmail", { "-bv", "root" }, 1, MODE_VERIFY, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "root" },
	{ "-bm", "sendmail", { "-bm", "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "-q", "sendmail", { "-q" }, 1, MODE_QUEUE_RUN, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "-qf", "sendmail", { "-qf" }, 1, MODE_QUEUE_RUN, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "-q30m", "sendmail", { "-q30m" }, 1, MODE_QUEUE_RUN, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "-odi", "sendmail", { "-odi", "a@x" }, 1, MODE_DELIVER, DELIVER_INTERACTIVE, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "-odq", "sendmail", { "-odq", "a@x" }, 1, MODE_DELIVER, DELIVER_QUEUE_ONLY, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "-odb", "sendmail", { "-odb", "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "error modes", "sendmail", { "-oem", "-oep", "-oeq", "-oew", "-oee", "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "ignored options", "sendmail", { "-v", "-U", "-G", "-L", "tag", "-h", "5", "-X", "/tmp/x", "-Ooption=1", "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "other -oX ignored", "sendmail", { "-oQ/var/spool", "-om", "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "-C", "sendmail", { "-C", "/etc/x.conf", "-t" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 1, 0, NULL, NULL, "/etc/x.conf", 0, NULL },
	{ "-C attached", "sendmail", { "-C/etc/x.conf", "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, "/etc/x.conf", 1, "a@x" },
	{ "DSN options", "sendmail", { "-N", "success,failure", "-R", "hdrs", "-V", "abc123", "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "a@x" },
	{ "mdadm -t", "sendmail", { "-t" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 1, 0, NULL, NULL, NULL, 0, NULL },
	{ "-F separate", "sendmail", { "-F", "Web Server", "a@x" }, 1, MODE_DELIVER, DELIVER_BACKGROUND, 0, 0, NULL, "Web Server", NULL, 1, "a@x" },
	{ "--hold ID", "sendmail", { "--hold", "0123456789ABCDEF" }, 1, MODE_QUEUE_CONTROL, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 1, "0123456789ABCDEF" },
	{ "--release two ids", "sendmail", { "--release", "0123456789ABCDEF", "69299C8009A3F1B2" }, 1, MODE_QUEUE_CONTROL, DELIVER_BACKGROUND, 0, 0, NULL, NULL, NULL, 2, "0123456789ABCDEF" },
	{ "-C then --delete", "sendmail", { "-C", "/etc/x.conf", "--delete", "0123456789ABCDEF" }, 1, MODE_QUEUE_CONTROL, DELIVER_BACKGROUND, 0, 0, NULL, NULL, "/etc/x.conf", 1, "0123456789ABCDEF" },
	/* usage errors */
	{ .name = "unknown option", .prog = "sendmail", .argv = { "-k", "a@x" }, .ok = 0 },
	{ .name = "unknown in a bundle", .prog = "sendmail", .argv = { "-tk" }, .ok = 0 },
	{ .name = "unknown long option", .prog = "sendmail", .argv = { "--bogus" }, .ok = 0 },
	{ .name = "-f without value", .prog = "sendmail", .argv = { "-f" }, .ok = 0 },
	{ .name = "-C without value", .prog = "sendmail", .argv = { "-C" }, .ok = 0 },
	{ .name = "bad -N", .prog = "sendmail", .argv = { "-N", "sometimes", "a@x" }, .ok = 0 },
	{ .name = "bad -R", .prog = "sendmail", .argv = { "-R", "body", "a@x" }, .ok = 0 },
	{ .name = "bad -V", .prog = "sendmail", .argv = { "-V", "a b", "a@x" }, .ok = 0 },
	{ .name = "bad delivery mode", .prog = "sendmail", .argv = { "-odx", "a@x" }, .ok = 0 },
	{ .name = "bad error mode", .prog = "sendmail", .argv = { "-oex", "a@x" }, .ok = 0 },
	{ .name = "unsupported -bd", .prog = "sendmail", .argv = { "-bd" }, .ok = 0 },
	{ .name = "-b alone", .prog = "sendmail", .argv = { "-b" }, .ok = 0 },
	{ .name = "--json without -bp", .prog = "sendmail", .argv = { "--json", "a@x" }, .ok = 0 },
	{ .name = "bad -qI", .prog = "sendmail", .argv = { "-qIzz" }, .ok = 0 },
	{ .name = "--hold without id", .prog = "sendmail", .argv = { "--hold" }, .ok = 0 },
	{ .name = "--delete with a non-id", .prog = "sendmail", .argv = { "--delete", "../../etc/passwd" }, .ok = 0 },
	{ .name = "--release lower-case id", .prog = "sendmail", .argv = { "--release", "0123456789abcdef" }, .ok = 0 },
	{ .name = "--hold with an address", .prog = "sendmail", .argv = { "--hold", "0123456789ABCDEF", "a@x" }, .ok = 0 },
};

int main(void)
{
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct opt_case *tc = &cases[c];
		char *argv[14];
		int argc = 0;
		argv[argc++] = (char *)tc->prog;
		for (size_t i = 0; i < 12 && tc->argv[i]; i++)
			argv[argc++] = (char *)tc->argv[i];
		argv[argc] = NULL;
		struct options o;
		char err[256] = "";
		int r = options_parse(argc, argv, tc->prog, &o, err, sizeof(err));
		if (!tc->ok) {
			CHECK(r < 0, "%s: should be a usage error", tc->name);
			CHECK(err[0] != '\0', "%s: usage error without a message", tc->name);
			continue;
		}
		CHECK(r == 0, "%s: unexpected error: %s", tc->name, err);
		if (r)
			continue;
		CHECK(o.mode == tc->mode, "%s: mode %d, want %d", tc->name, o.mode, tc->mode);
		CHECK(o.delivery == tc->delivery, "%s: delivery %d", tc->name, o.delivery);
		CHECK(o.extract_recipients == tc->t, "%s: -t", tc->name);
		CHECK(o.ignore_dots == tc->i, "%s: -i", tc->name);
		if (tc->sender)
			CHECK_STR(o.sender, tc->sender, tc->name);
		else
			CHECK(o.sender == NULL, "%s: sender set", tc->name);
		if (tc->full_name)
			CHECK_STR(o.full_name, tc->full_name, tc->name);
		if (tc->config)
			CHECK_STR(o.config, tc->config, tc->name);
		CHECK(o.nrecipients == tc->nrcpt, "%s: %zu recipients, want %zu", tc->name, o.nrecipients, tc->nrcpt);
		if (tc->rcpt0 && o.nrecipients)
			CHECK_STR(o.recipients[0], tc->rcpt0, tc->name);
	}

	/* values that the table does not show */
	struct options o;
	char err[256];
	char *a1[] = { "sendmail", "-N", "never", "-R", "full", "-V", "id1", "x@y", NULL };
	CHECK(options_parse(8, a1, "sendmail", &o, err, sizeof(err)) == 0, "dsn parse");
	CHECK(o.notify == NOTIFY_NEVER, "notify never");
	CHECK_STR(o.ret, "FULL", "ret");
	CHECK_STR(o.envid, "id1", "envid");
	char *a2[] = { "sendmail", "-qI0123456789ABCDEF", NULL };
	CHECK(options_parse(2, a2, "sendmail", &o, err, sizeof(err)) == 0, "-qI");
	CHECK_STR(o.queue_id, "0123456789ABCDEF", "-qI id");
	char *a3[] = { "sendmail", "-bp", "--json", NULL };
	CHECK(options_parse(3, a3, "sendmail", &o, err, sizeof(err)) == 0 && o.json, "--json");
	char *a4[] = { "sendmail", "--hold", "0123456789ABCDEF", NULL };
	CHECK(options_parse(3, a4, "sendmail", &o, err, sizeof(err)) == 0 && o.queue_action == QUEUE_HOLD, "--hold action");
	char *a5[] = { "sendmail", "--release", "0123456789ABCDEF", NULL };
	CHECK(options_parse(3, a5, "sendmail", &o, err, sizeof(err)) == 0 && o.queue_action == QUEUE_RELEASE,
	      "--release action");
	char *a6[] = { "sendmail", "--delete", "0123456789ABCDEF", NULL };
	CHECK(options_parse(3, a6, "sendmail", &o, err, sizeof(err)) == 0 && o.queue_action == QUEUE_DELETE,
	      "--delete action");
	unsigned bits;
	CHECK(options_parse_notify("SUCCESS,Delay", &bits) == 0 && bits == (NOTIFY_SUCCESS | NOTIFY_DELAY), "notify bits");
	CHECK(options_parse_notify("", &bits) < 0, "empty notify");
	return unit_done("options");
}
