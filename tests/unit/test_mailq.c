/* test_mailq.c - the queue listing: the JSON escaper and the terminal
 * sanitiser table by table, then the exact human and JSON output for a
 * spool holding held, deferred, failed, partly sent and null-sender
 * messages plus a damaged entry, the empty queue, and the time for 10,000
 * entries. */
#include "config.h"

#include "mailq.h"
#include "spool.h"
#include "unit.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen */
	const char *out;
} json_cases[] = {
	{ "plain", "a@example.org", 0, "\"a@example.org\"" },
	{ "empty", "", 0, "\"\"" },
	{ "quote and backslash", "a\"b\\c", 0, "\"a\\\"b\\\\c\"" },
	{ "named controls", "\n\r\t", 0, "\"\\n\\r\\t\"" },
	{ "other controls", "\x01\x1f\x7f", 0, "\"\\u0001\\u001f\\u007f\"" },
	{ "NUL byte", "a\0b", 3, "\"a\\u0000b\"" },
	{ "valid UTF-8 passes", "M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x93\xa7", 0,
	  "\"M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x93\xa7\"" },
	{ "Latin-1 byte", "M\xfcller", 0, "\"M\\u00fcller\"" },
	{ "overlong", "\xc0\xaf", 0, "\"\\u00c0\\u00af\"" },
	{ "surrogate", "\xed\xa0\x80", 0, "\"\\u00ed\\u00a0\\u0080\"" },
	{ "truncated sequence", "\xe2\x82", 0, "\"\\u00e2\\u0082\"" },
	{ "beyond U+10FFFF", "\xf4\x90\x80\x80", 0, "\"\\u00f4\\u0090\\u0080\\u0080\"" },
	{ "lone continuation", "a\x80z", 0, "\"a\\u0080z\"" },
	{ "slash untouched", "a/b", 0, "\"a/b\"" },
};

static const struct {
	const char *name;
	const char *in;
	const char *out;
} text_cases[] = {
	{ "plain", "b@example.net", "b@example.net" },
	{ "terminal escape", "a\x1b[31mb", "a?[31mb" },
	{ "C1 CSI", "a\xc2\x9b" "31m", "a?31m" },
	{ "line break", "x\r\ny", "x??y" },
	{ "UTF-8 kept", "M\xc3\xbcller", "M\xc3\xbcller" },
	{ "invalid bytes", "M\xfcller \xe2\x82", "M?ller ??" },
	{ "DEL", "a\x7f", "a?" },
};

static void test_escapers(void)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < ARRAY_LEN(json_cases); i++) {
		buf_reset(&b);
		size_t n = json_cases[i].len ? json_cases[i].len : strlen(json_cases[i].in);
		json_escape(&b, json_cases[i].in, n);
		CHECK_STR(b.data, json_cases[i].out, json_cases[i].name);
	}
	for (size_t i = 0; i < ARRAY_LEN(text_cases); i++) {
		buf_reset(&b);
		text_sanitize(&b, text_cases[i].in, strlen(text_cases[i].in));
		const char *got = b.data ? b.data : "";
		CHECK_STR(got, text_cases[i].out, text_cases[i].name);
	}
	buf_free(&b);
}

/* ---------- a spool written by hand ---------- */

static char spool[64];

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write_all(fd, text, strlen(text)) != 0)
		abort();
	close(fd);
}

static void put_envelope_in(const char *dir, const struct envelope *env)
{
	char *text = envelope_format(env);
	char *path = xasprintf("%s/queue/%s.env", dir, env->id);
	write_file(path, text);
	free(path);
	free(text);
}

static void put_envelope(const struct envelope *env)
{
	put_envelope_in(spool, env);
}

static void make_envelope(struct envelope *env, const char *id, time_t arrival, const char *sender,
			  uint64_t size)
{
	envelope_init(env);
	strcpy(env->id, id);
	env->arrival = arrival;
	env->sender = xstrdup(sender);
	env->user = xstrdup("www-data");
	env->size = size;
}

#define T0 1795867200 /* 2026-11-28T12:00:00Z, a Saturday */

static void fill_spool(void)
{
	struct envelope e;

	/* listed second (arrival), although its id sorts first */
	make_envelope(&e, "0000000000000001", T0 + 60, "a@example.org", 4096);
	envelope_add_rcpt(&e, "b@example.net", NULL, 0);
	e.rcpts[0].state = RCPT_DEFERRED;
	e.rcpts[0].attempts = 3;
	e.rcpts[0].next_attempt = T0 + 360;
	e.rcpts[0].last_error = xstrdup("connect to smtp.example.net[192.0.2.7]:587: Connection refused");
	envelope_add_rcpt(&e, "c@example.net", NULL, 0);
	e.rcpts[1].state = RCPT_DEFERRED;
	e.rcpts[1].attempts = 3;
	e.rcpts[1].next_attempt = T0 + 360;
	e.rcpts[1].last_error = xstrdup("connect to smtp.example.net[192.0.2.7]:587: Connection refused");
	envelope_add_rcpt(&e, "sent@example.net", NULL, 0);
	e.rcpts[2].state = RCPT_SENT;
	envelope_add_rcpt(&e, "gone@example.net", NULL, 0);
	e.rcpts[3].state = RCPT_FAILED;
	e.rcpts[3].attempts = 1;
	e.rcpts[3].last_error = xstrdup("550 5.1.1 \x1b[31mno such user\r\n \"quoted\"");
	put_envelope(&e);
	envelope_free(&e);

	/* oldest: held, null sender, one pending recipient */
	make_envelope(&e, "00000000000000A2", T0, "", 1000);
	e.flags = ENV_HELD;
	envelope_add_rcpt(&e, "M\xfcller@example.de", NULL, 0);
	put_envelope(&e);
	envelope_free(&e);

	/* a damaged entry: skipped, the rest listed */
	char *path = xasprintf("%s/queue/00000000000000B3.env", spool);
	write_file(path, "sealpost-envelope 1\nid 00000000000000B3\ngarbage\n");
	free(path);
	/* not a queue entry at all: ignored */
	path = xasprintf("%s/queue/README", spool);
	write_file(path, "x");
	free(path);
}

static char *listing_in(const char *dir, bool json, int *rc)
{
	struct sp_config cfg = { 0 };
	cfg.spool_dir = (char *)dir;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char err[256] = "";
	*rc = mailq_print(&cfg, json, f, err, sizeof(err));
	fclose(f);
	return text;
}

static char *listing(bool json, int *rc)
{
	return listing_in(spool, json, rc);
}

static void test_listing(void)
{
	int rc;
	char *out = listing(false, &rc);
	CHECK(rc == 0, "empty spool: rc %d", rc);
	CHECK_STR(out, "Mail queue is empty\n", "no queue directory");
	free(out);
	out = listing(true, &rc);
	CHECK_STR(out, "[]\n", "no queue directory (json)");
	free(out);

	char err[256];
	CHECK(spool_ensure_dirs(spool, err, sizeof(err)) == 0, "%s", err);
	out = listing(false, &rc);
	CHECK_STR(out, "Mail queue is empty\n", "empty queue");
	free(out);
	out = listing(true, &rc);
	CHECK_STR(out, "[]\n", "empty queue (json)");
	free(out);

	fill_spool();
	out = listing(false, &rc);
	CHECK(rc == 0, "rc %d", rc);
	CHECK_STR(out,
		  "-Queue ID-------- --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
		  "00000000000000A2!     1000 Sat Nov 28 12:00:00  MAILER-DAEMON\n"
		  "                                                M?ller@example.de\n"
		  "\n"
		  "0000000000000001      4096 Sat Nov 28 12:01:00  a@example.org\n"
		  "                                                (connect to smtp.example.net[192.0.2.7]:587: Connection refused)\n"
		  "                                                b@example.net  [deferred, attempt 3, next Sat Nov 28 12:06:00]\n"
		  "                                                c@example.net  [deferred, attempt 3, next Sat Nov 28 12:06:00]\n"
		  "                                                (550 5.1.1 ?[31mno such user?? \"quoted\")\n"
		  "                                                gone@example.net  [failed, attempt 1]\n"
		  "\n"
		  "-- 5 Kbytes in 2 Requests.\n",
		  "human layout");
	free(out);

	out = listing(true, &rc);
	CHECK(rc == 0, "rc %d", rc);
	CHECK_STR(out,
		  "[\n"
		  "{\"id\": \"00000000000000A2\", \"size\": 1000, \"arrival\": \"2026-11-28T12:00:00Z\", "
		  "\"sender\": \"\", \"held\": true, \"recipients\": [{\"address\": \"M\\u00fcller@example.de\", "
		  "\"state\": \"pending\", \"attempts\": 0, \"next_attempt\": null, \"last_error\": null}]},\n"
		  "{\"id\": \"0000000000000001\", \"size\": 4096, \"arrival\": \"2026-11-28T12:01:00Z\", "
		  "\"sender\": \"a@example.org\", \"held\": false, \"recipients\": ["
		  "{\"address\": \"b@example.net\", \"state\": \"deferred\", \"attempts\": 3, "
		  "\"next_attempt\": \"2026-11-28T12:06:00Z\", \"last_error\": "
		  "\"connect to smtp.example.net[192.0.2.7]:587: Connection refused\"}, "
		  "{\"address\": \"c@example.net\", \"state\": \"deferred\", \"attempts\": 3, "
		  "\"next_attempt\": \"2026-11-28T12:06:00Z\", \"last_error\": "
		  "\"connect to smtp.example.net[192.0.2.7]:587: Connection refused\"}, "
		  "{\"address\": \"gone@example.net\", \"state\": \"failed\", \"attempts\": 1, "
		  "\"next_attempt\": null, \"last_error\": \"550 5.1.1 \\u001b[31mno such user\\r\\n \\\"quoted\\\"\"}]}\n"
		  "]\n",
		  "json");
	free(out);
}

/* One message: "Request", singular, as Postfix says it. */
static void test_single(void)
{
	char *path = xasprintf("%s/queue/0000000000000001.env", spool);
	unlink(path);
	free(path);
	int rc;
	char *out = listing(false, &rc);
	CHECK(out && strstr(out, "\n-- 1 Kbytes in 1 Request.\n") != NULL, "singular: %s", out);
	free(out);
}

static void test_many(void)
{
	struct envelope e;
	for (int i = 0; i < 10000; i++) {
		char id[SPOOL_ID_LEN + 1];
		snprintf(id, sizeof(id), "%016X", 0x10000 + i);
		make_envelope(&e, id, T0 + 10000 - i, "a@example.org", 4096);
		envelope_add_rcpt(&e, "b@example.net", NULL, 0);
		put_envelope(&e);
		envelope_free(&e);
	}
	struct sp_config cfg = { 0 };
	cfg.spool_dir = spool;
	char err[256];
	for (int json = 0; json < 2; json++) {
		FILE *devnull = fopen("/dev/null", "w");
		uint64_t t = now_ms();
		int rc = mailq_print(&cfg, json, devnull, err, sizeof(err));
		t = now_ms() - t;
		fclose(devnull);
		CHECK(rc == 0, "rc %d", rc);
		/* a figure, not a check: speed belongs to `make bench` */
		printf("# mailq%s over 10,001 entries: %llu ms\n", json ? " --json" : "",
		       (unsigned long long)t);
	}
	/* order is by arrival, not by id: the last id arrived first */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	mailq_print(&cfg, true, f, err, sizeof(err));
	fclose(f);
	const char *first = strstr(text, "\"id\": ");
	CHECK(first && strncmp(first + 7, "00000000000000A2", 16) == 0, "oldest first");
	const char *second = first ? strstr(first + 1, "\"id\": ") : NULL;
	CHECK(second && strncmp(second + 7, "000000000001270F", 16) == 0, "then by arrival: %.30s",
	      second ? second : "");
	free(text);
}

/* Times are formatted once per minute and patched (mailq.c): every second
 * across a daylight saving change must still read as strftime says, and
 * equal arrivals are ordered by id as strcmp orders them ('9' < 'A'). */
#define DST_START_2026 1774746000 /* 2026-03-29T01:00:00Z: CET -> CEST */

static const struct {
	const char *name;
	const char *tz;
} time_zones[] = {
	{ "Berlin", "Europe/Berlin" },
	/* the clocks change 30 s into a minute (01:00:30Z): that minute must
	 * not be reused */
	{ "mid-minute change", "AAA-1BBB,M3.5.0/2:00:30,M10.5.0/3" },
};

static void test_times(const char *name, const char *tz)
{
	char dir[] = "/tmp/test_mailq_times.XXXXXX", err[256];
	CHECK(mkdtemp(dir) != NULL && spool_ensure_dirs(dir, err, sizeof(err)) == 0, "times spool");
	setenv("TZ", tz, 1);
	tzset();
	/* three arrivals in one second: listed 99, 9F, A0 whatever the directory order */
	static const char *const tie_ids[] = { "0000000000000099", "000000000000009F", "00000000000000A0" };
	struct buf want;
	buf_init(&want);
	buf_adds(&want, "-Queue ID-------- --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
	struct envelope e;
	int n = 0;
	for (int k = -130; k < 130; k++, n++) {
		char id[SPOOL_ID_LEN + 1], when[32], next[32];
		time_t t = DST_START_2026 + k, t_next = DST_START_2026 - k * 7;
		bool tie = k >= 5 && k <= 7;
		snprintf(id, sizeof(id), "%016X", 0x1000 + k);
		const char *use_id = tie ? tie_ids[k - 5] : id;
		time_t shown = tie ? DST_START_2026 + 5 : t;
		make_envelope(&e, use_id, shown, "a@example.org", 10);
		envelope_add_rcpt(&e, "b@example.net", NULL, 0);
		e.rcpts[0].state = RCPT_DEFERRED;
		e.rcpts[0].attempts = 1;
		e.rcpts[0].next_attempt = t_next;
		put_envelope_in(dir, &e);
		envelope_free(&e);
		struct tm tm;
		localtime_r(&shown, &tm);
		strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
		localtime_r(&t_next, &tm);
		strftime(next, sizeof(next), "%a %b %e %H:%M:%S", &tm);
		buf_printf(&want, "%-17s %8d %-20s a@example.org\n%48sb@example.net  [deferred, attempt 1, next %s]\n\n",
			   use_id, 10, when, "", next);
	}
	buf_printf(&want, "-- %d Kbytes in %d Requests.\n", (n * 10 + 1023) / 1024, n);
	int rc;
	char *out = listing_in(dir, false, &rc);
	CHECK(rc == 0, "rc %d", rc);
	char label[128];
	snprintf(label, sizeof(label), "%s: every second across a DST change, ties by id", name);
	CHECK_STR(out, want.data, label);
	free(out);
	buf_free(&want);
	setenv("TZ", "UTC", 1);
	tzset();
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	strcpy(spool, "/tmp/test_mailq.XXXXXX");
	if (!mkdtemp(spool))
		return 99;
	test_escapers();
	test_listing();
	test_single();
	test_many();
	for (size_t i = 0; i < ARRAY_LEN(time_zones); i++)
		test_times(time_zones[i].name, time_zones[i].tz);
	char *cmd = xasprintf("rm -rf '%s'", spool);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", spool);
	free(cmd);
	return unit_done("test_mailq");
}
