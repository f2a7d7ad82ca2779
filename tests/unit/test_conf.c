/*
 * test_conf.c - sealpost.conf loading (src/common/conf.c, conf_text.c and
 * conf_dump.c, through the public conf.h only): every bad config fails
 * with "FILE:LINE: message" naming the right line, good configs give the
 * right values and defaults, durations, pins, policy lookup, sender
 * patterns, and a dump that masks secrets and loads again.
 * Configs are written into a temporary directory.
 */
#include "config.h"

#include "conf.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[200];

static const char *write_conf(const char *name, const char *text, size_t len)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
	return path;
}

static struct sp_config *load_text(const char *name, const char *text, char *err, size_t errlen)
{
	struct sp_config *c = NULL;
	const char *path = write_conf(name, text, strlen(text));
	err[0] = '\0';
	if (conf_load(path, false, &c, err, errlen) != 0) {
		CHECK(c == NULL, "%s: config returned on error", name);
		return NULL;
	}
	return c;
}

#define RELAY "relay \"r\" {\n  host = \"smtp.example.net\"\n"
#define POLICY "tls_policy \"smtp.example.net\" {\n"
#define PIN "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

struct bad_case {
	const char *name;
	const char *text;
	int line;               /* the line the message must name */
	const char *want;       /* a part of the message */
};

static const struct bad_case bad[] = {
	{ "unknown_key", "hostname = \"a.example\"\nfoo = 1\n", 2, "unknown key or section 'foo'" },
	{ "unknown_key_in_relay", RELAY "  hots = \"x\"\n}\n", 3, "unknown key 'hots' in relay \"r\"" },
	{ "unknown_section", "\n\nbogus {\n}\n", 3, "'bogus'" },
	{ "unknown_titled_section", "smarthost \"x\" {\n}\n", 1, "'smarthost'" },
	{ "list_for_scalar", "\nhostname = {\"a\"}\n", 2, "unexpected '{'" },
	{ "value_for_section", "queue = 5\n", 1, "queue is a section" },
	{ "relay_without_title", "relay {\n host = \"h\"\n}\n", 1, "relay needs a quoted name" },
	{ "port_not_number", RELAY "  port = \"abc\"\n}\n", 3, "port = \"abc\": must be a number from 1 to 65535" },
	{ "port_zero", RELAY "  port = 0\n}\n", 3, "from 1 to 65535" },
	{ "port_too_big", RELAY "  port = 70000\n}\n", 3, "from 1 to 65535" },
	{ "tls_none", RELAY "  tls = \"none\"\n}\n", 3, "plaintext is never allowed" },
	{ "tls_plain", RELAY "  tls = \"plain\"\n}\n", 3, "plaintext is never allowed" },
	{ "tls_off", RELAY "  tls = off\n}\n", 3, "plaintext is never allowed" },
	{ "tls_no", RELAY "  tls = no\n}\n", 3, "plaintext is never allowed" },
	{ "tls_empty", RELAY "  tls = \"\"\n}\n", 3, "plaintext is never allowed" },
	{ "tls_other", RELAY "  tls = \"ssl\"\n}\n", 3, "plaintext is never allowed" },
	{ "duplicate_relay", RELAY "}\n\nrelay \"r\" {\n host = \"b.example\"\n}\n", 5, "duplicate relay \"r\" (first at line 1)" },
	{ "duplicate_relay_case", RELAY "}\nrelay \"R\" {\n host = \"b.example\"\n}\n", 4, "duplicate relay \"R\"" },
	{ "duplicate_policy", POLICY "}\n" "tls_policy \"SMTP.example.net\" {\n}\n", 3, "duplicate tls_policy" },
	{ "duplicate_alias", "alias \"root\" { to = {\"a@x.example\"} }\nalias \"root\" { to = {\"b@x.example\"} }\n", 2, "duplicate alias \"root\"" },
	{ "duplicate_queue", "queue {\n}\nqueue {\n}\n", 3, "queue is given twice (first at line 1)" },
	{ "duplicate_key_relay", RELAY "  port = 587\n  host = \"other.example\"\n}\n", 4, "host is set twice in relay \"r\" (first at line 2)" },
	{ "duplicate_key_top", "domain = \"a.example\"\n\ndomain = \"b.example\"\n", 3, "domain is set twice in the top level (first at line 1)" },
	{ "duplicate_list_key", RELAY "  senders = {\"a@x.example\"}\n  senders = {\"b@x.example\"}\n}\n", 4, "senders is set twice" },
	{ "assign_after_append", RELAY "  senders += {\"a@x.example\"}\n  senders = {\"b@x.example\"}\n}\n", 4, "senders is set twice" },
	{ "missing_host", "\nrelay \"r\" {\n  port = 465\n}\n", 2, "relay \"r\": host is required" },
	{ "bad_relay_name", "relay \"a b\" {\n  host = \"h.example\"\n}\n", 1, "name must be" },
	{ "bad_duration", "queue {\n  retry_min = 5x\n}\n", 2, "retry_min = \"5x\": must be a duration" },
	{ "negative_duration", "timeouts {\n  connect = -5\n}\n", 2, "must be a duration" },
	{ "timeout_zero", "timeouts {\n  data = 0\n}\n", 2, "from 1s to 1h" },
	{ "timeout_too_long", "timeouts {\n  command = 2h\n}\n", 2, "from 1s to 1h" },
	{ "retry_min_gt_max", "queue {\n  retry_max = 10m\n  retry_min = 1h\n}\n", 3, "retry_min must not be longer than retry_max" },
	{ "concurrency_zero", "queue { concurrency = 0 }\n", 1, "from 1 to 64" },
	{ "concurrency_too_big", "queue {\n concurrency = 65\n}\n", 2, "from 1 to 64" },
	{ "delay_warning_ge_lifetime", "queue {\n lifetime = 1d\n delay_warning = 2d\n}\n", 3, "delay_warning must be shorter" },
	{ "verify_none", POLICY "  verify = \"none\"\n}\n", 2, "verify = \"none\" is not allowed" },
	{ "verify_insecure", POLICY "  verify = insecure\n}\n", 2, "is not allowed" },
	{ "verify_empty", POLICY "  verify = \"\"\n}\n", 2, "is not allowed" },
	{ "pin_without_pins", POLICY "  verify = \"pin\"\n}\n", 2, "needs at least one pin_sha256" },
	{ "malformed_pin", POLICY "  verify = \"pin\"\n  pin_sha256 = {\"abc\"}\n}\n", 3, "must be the base64 of a SHA-256" },
	{ "pin_not_canonical", POLICY "  verify = \"pin\"\n  pin_sha256 = {\n\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\"}\n}\n", 4, "base64" },
	{ "pins_without_pin_mode", POLICY "  pin_sha256 = {\"" PIN "\"}\n}\n", 2, "only used with verify = \"pin\"" },
	{ "min_version_tls10", POLICY "  min_version = \"TLS1.0\"\n}\n", 2, "obsolete" },
	{ "min_version_tls11", POLICY "  min_version = \"TLS1.1\"\n}\n", 2, "obsolete" },
	{ "min_version_ssl3", POLICY "  min_version = \"SSL3\"\n}\n", 2, "obsolete" },
	{ "client_cert_without_key", POLICY "  client_cert = \"/etc/c.pem\"\n}\n", 2, "client_cert and client_key go together" },
	{ "client_key_without_cert", POLICY "\n  client_key = \"/etc/k.pem\"\n}\n", 3, "go together" },
	{ "encrypt_with_ca_file", POLICY "  verify = \"encrypt\"\n  ca_file = \"/etc/ca.pem\"\n}\n", 3, "ca_file is only used with verify = \"ca\"" },
	{ "priority_not_a_priority", POLICY "  priority = \"NORMAL; rm\"\n}\n", 2, "is not a GnuTLS priority string" },
	{ "bad_security_profile", POLICY "  security_profile = \"weak\"\n}\n", 2, "must be one of low, legacy, medium" },
	{ "policy_wildcard", "tls_policy \"*.example.net\" {\n}\n", 1, "no other wildcards" },
	{ "password_file_and_command", RELAY "  username = \"u\"\n  password_file = \"/etc/p\"\n  password_command = \"pass x\"\n}\n", 5, "exclusive" },
	{ "password_without_username", RELAY "  password_file = \"/etc/p\"\n}\n", 3, "a password without a username" },
	{ "username_without_password", RELAY "  username = \"u\"\n}\n", 3, "username needs password_file or password_command" },
	{ "auth_without_username", RELAY "  auth = \"plain\"\n}\n", 3, "auth without a username" },
	{ "bad_auth", RELAY "  username = \"u\"\n  password_file = \"/p\"\n  auth = \"digest-md5\"\n}\n", 5, "must be one of auto" },
	{ "relative_password_file", RELAY "  username = \"u\"\n  password_file = \"p.secret\"\n}\n", 4, "must be an absolute path" },
	{ "empty_hostname", "hostname = \"\"\n", 1, "hostname = \"\": must not be empty" },
	{ "bad_hostname", "hostname = \"web 1\"\n", 1, "not a valid host name" },
	{ "bad_address_literal", "hostname = \"[192.0.2.1 x]\"\n", 1, "not a valid address literal" },
	{ "relative_spool", "spool_dir = \"spool\"\n", 1, "absolute path" },
	{ "bad_log", "log = \"file:log.txt\"\n", 1, "file:/absolute/path" },
	{ "bad_log_format", "log_format = \"xml\"\n", 1, "\"text\" or \"json\"" },
	{ "size_zero", "max_message_size = 0\n", 1, "there is no unlimited" },
	{ "size_junk", "max_message_size = 10x\n", 1, "must be a size" },
	{ "bad_sender_rewrite", "sender_rewrite = \"not an address\"\n", 1, "plain address" },
	{ "alias_without_to", "alias \"root\" {\n}\n", 1, "to must list at least one address" },
	{ "alias_pipe", "alias \"root\" {\n to = {\"|/bin/sh\"}\n}\n", 2, "no pipes" },
	{ "line_after_comments", "# one\n# two\n// three\n/* four\n five */\nhostname = \"a.example\" # six\nbogus = 1\n", 7, "'bogus'" },
	{ "comment_in_list_then_error", RELAY "  senders = {\n    \"a@x.example\", # first\n    \"b@x.example\"\n  }\n  port = 99999\n}\n", 7, "port" },
	{ "unterminated_string", "\nhostname = \"abc\n", 2, "string not closed" },
	{ "unterminated_comment", "/* open\n\nhostname = \"a\"\n", 1, "comment not closed" },
	{ "missing_brace", "\n" RELAY "\n", 2, "'{' not closed" },
	{ "missing_inner_brace", RELAY "  senders = {\"a@b.example\"\n}\n", 1, "'{' not closed" },
	{ "extra_brace", RELAY "}\n}\n", 4, "'}' without a matching '{'" },
	{ "control_byte", "hostname = \"a\001\"\n", 1, "control character" },
	{ "env_expansion", "spool_dir = ${HOME}\n", 1, "not expanded" },
	{ "bare_star", RELAY "  senders = {*@example.org}\n}\n", 3, "unexpected '*'" },
	{ "bad_escape", "hostname = \"a\\nb\"\n", 1, "unsupported escape" },
	{ "nul_byte", "hostname = \"a\"\n", 1, "NUL byte" }, /* a NUL is written in */
	{ "many_pins", POLICY "  verify = pin\n  pin_sha256 = {\n"
		"\"" PIN "\", \"" PIN "\", \"" PIN "\", \"" PIN "\", \"" PIN "\", \"" PIN "\",\n"
		"\"" PIN "\", \"" PIN "\", \"" PIN "\", \"" PIN "\", \"" PIN "\", \"" PIN "\",\n"
		"\"" PIN "\", \"" PIN "\", \"" PIN "\", \"" PIN "\", \"" PIN "\"}\n}\n", 6, "too many values" },
};

static void test_bad_configs(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *t = &bad[i];
		char err[512] = "", want_loc[300];
		struct sp_config *c = NULL;
		const char *path;
		if (strcmp(t->name, "nul_byte") == 0) {
			const char text[] = "hostname = \"a\0\"\n";
			path = write_conf(t->name, text, sizeof(text) - 1);
		} else {
			path = write_conf(t->name, t->text, strlen(t->text));
		}
		int rc = conf_load(path, false, &c, err, sizeof(err));
		CHECK(rc == -1 && c == NULL, "%s: loaded, want an error", t->name);
		snprintf(want_loc, sizeof(want_loc), "%s:%d: ", path, t->line);
		CHECK(strncmp(err, want_loc, strlen(want_loc)) == 0, "%s: message \"%s\", want it to start \"%s\"",
		      t->name, err, want_loc);
		CHECK(strstr(err, t->want) != NULL, "%s: message \"%s\" lacks \"%s\"", t->name, err, t->want);
		conf_free(c);
	}
}

static void test_file_errors(void)
{
	char err[512], path[256];
	struct sp_config *c = NULL;

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", dir);
	CHECK(conf_load(path, false, &c, err, sizeof(err)) == -1 && !c, "missing file loaded");
	CHECK(strstr(err, path) && strstr(err, "No such file"), "missing file: %s", err);

	CHECK(conf_load(path, true, &c, err, sizeof(err)) == 0 && c, "missing_ok: %s", err);
	if (c) {
		CHECK(c->path == NULL, "missing_ok: path should be NULL");
		CHECK(c->nrelays == 0 && c->queue.retry_min == 60, "missing_ok: not the defaults");
		conf_free(c);
		c = NULL;
	}

	snprintf(path, sizeof(path), "%s/a-directory.conf", dir);
	mkdir(path, 0700);
	CHECK(conf_load(path, true, &c, err, sizeof(err)) == -1 && !c, "directory loaded");
	CHECK(strstr(err, path) && strstr(err, "not a regular file"), "directory: %s", err);

	if (geteuid() != 0) {
		const char *p = write_conf("unreadable", "hostname = \"a\"\n", 15);
		chmod(p, 0);
		CHECK(conf_load(p, true, &c, err, sizeof(err)) == -1 && !c, "unreadable file loaded");
		CHECK(strstr(err, p) && strstr(err, "Permission denied"), "unreadable: %s", err);
	} else {
		printf("# unreadable-file case skipped: running as root\n");
	}

	/* Bigger than the 1 MiB bound. */
	size_t big = 1024 * 1024 + 10;
	char *text = malloc(big);
	memset(text, '\n', big);
	const char *p = write_conf("too-big", text, big);
	free(text);
	CHECK(conf_load(p, false, &c, err, sizeof(err)) == -1 && !c, "oversized file loaded");
	CHECK(strstr(err, p) && strstr(err, "larger than"), "too big: %s", err);
}

static const char full_config[] =
	"# a realistic config\n"
	"hostname = \"web1.example.com\"\n"
	"log = \"file:/var/log/sealpost.log\"\n"
	"log_format = JSON\n"
	"domain = \"example.com\"\n"
	"spool_dir = '/srv/spool'\n"
	"aliases = \"\"\n"
	"max_message_size = 10M\n"
	"sender_rewrite = \"noreply@example.com\"\n"
	"alias \"root\" { to = {\"ops@example.com\", \"admin\"} }\n"
	"relay \"main\" {\r\n"
	"  host = \"smtp.example.net\"\r\n"
	"  username = \"app@example.net\"\n"
	"  password_command = \"/usr/bin/pass show mail/secret-token\"\n"
	"  auth = PLAIN\n"
	"  senders = {\n"
	"    \"*@example.com\",   # the main domain\n"
	"    \"<>\"\n"
	"  }\n"
	"}\n"
	"relay \"backup\" {\n"
	"  host = \"backup.example.org\"\n"
	"  tls = \"IMPLICIT\"\n"
	"  username = \"u\"\n"
	"  password_file = \"/etc/sealpost/backup.secret\"\n"
	"}\n"
	"relay \"third\" { host = \"2001:db8::1\" }\n"
	"tls_policy \"*\" { min_version = \"TLS1.3\" }\n"
	"tls_policy \"SMTP.example.net\" {\n"
	"  verify = \"pin\"\n"
	"  pin_sha256 = {\"" PIN "\"}\n"
	"  client_cert = \"/etc/sealpost/c.pem\"\n"
	"  client_key = \"/etc/sealpost/k.pem\"\n"
	"}\n"
	"queue {\n"
	"  retry_min = 60s\n"
	"  retry_max = \"2h\"\n"
	"  lifetime = 3d\n"
	"  concurrency = 8\n"
	"  delay_warning = 4h\n"
	"}\n"
	"timeouts { connect = 10  command = 1m  data = \"15m\" }\n";

static void test_full_config(void)
{
	char err[512];
	struct sp_config *c = load_text("full", full_config, err, sizeof(err));
	CHECK(c != NULL, "full config: %s", err);
	if (!c)
		return;
	CHECK_STR(c->hostname, "web1.example.com", "hostname");
	CHECK_STR(c->log, "file:/var/log/sealpost.log", "log");
	CHECK_STR(c->log_format, "json", "log_format (canonical case)");
	CHECK_STR(c->domain, "example.com", "domain");
	CHECK_STR(c->spool_dir, "/srv/spool", "spool_dir");
	CHECK(c->aliases_file == NULL, "aliases = \"\" means none");
	CHECK(c->max_message_size == 10 * 1024 * 1024, "max_message_size %llu",
	      (unsigned long long)c->max_message_size);
	CHECK_STR(c->sender_rewrite, "noreply@example.com", "sender_rewrite");
	CHECK(c->naliases == 1 && c->aliases[0].nto == 2, "aliases");
	if (c->naliases == 1 && c->aliases[0].nto == 2) {
		CHECK_STR(c->aliases[0].name, "root", "alias name");
		CHECK_STR(c->aliases[0].to[1], "admin", "alias target");
	}
	CHECK(c->nrelays == 3, "nrelays %zu", c->nrelays);
	if (c->nrelays == 3) {
		struct sp_relay *m = &c->relays[0], *b = &c->relays[1];
		CHECK_STR(m->name, "main", "relay order");
		CHECK(m->tls == SP_TLS_STARTTLS && m->port == 587, "starttls default port %u", m->port);
		CHECK_STR(m->auth, "plain", "auth lower-cased");
		CHECK(m->nsenders == 2, "senders with a comment inside the list");
		CHECK(m->password_file == NULL && m->password_command, "password_command");
		CHECK(b->tls == SP_TLS_IMPLICIT && b->port == 465, "implicit default port %u", b->port);
		CHECK_STR(b->auth, "auto", "auth default");
		CHECK_STR(c->relays[2].host, "2001:db8::1", "IPv6 host");
		CHECK(conf_relay_matches_sender(m, "Bob@EXAMPLE.com"), "sender glob, case-insensitive");
		CHECK(!conf_relay_matches_sender(m, "bob@example.org"), "sender glob mismatch");
		CHECK(conf_relay_matches_sender(m, ""), "<> matches the null sender");
		CHECK(conf_relay_matches_sender(b, "anyone@anywhere.example"), "no senders = any");
		CHECK(conf_relay_matches_sender(b, ""), "no senders = any, null sender too");

		const struct sp_tls_policy *p = conf_policy_for(c, m->host);
		CHECK(p && strcmp(p->host, "SMTP.example.net") == 0, "exact policy, case-insensitive");
		CHECK(p->verify == SP_VERIFY_PIN && p->npins == 1 && p->min_version == 12, "pin policy");
		CHECK_STR(p->client_key, "/etc/sealpost/k.pem", "client_key");
		p = conf_policy_for(c, b->host);
		CHECK(p && strcmp(p->host, "*") == 0 && p->min_version == 13, "default policy");
		CHECK(p->verify == SP_VERIFY_CA && !p->ca_file && !p->verify_name, "default verify ca");
	}
	CHECK(c->queue.retry_min == 60 && c->queue.retry_max == 7200, "retry %u %u",
	      c->queue.retry_min, c->queue.retry_max);
	CHECK(c->queue.lifetime == 3 * 86400 && c->queue.concurrency == 8, "lifetime/concurrency");
	CHECK(c->queue.delay_warning == 4 * 3600, "delay_warning");
	CHECK(c->timeouts.connect == 10 && c->timeouts.command == 60 && c->timeouts.data == 900,
	      "timeouts %u %u %u", c->timeouts.connect, c->timeouts.command, c->timeouts.data);
	conf_free(c);
}

static void test_defaults(void)
{
	char err[512];
	struct sp_config *c = load_text("empty", "", err, sizeof(err));
	CHECK(c != NULL, "empty config: %s", err);
	if (!c)
		return;
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	CHECK(c->path && strstr(c->path, "empty.conf"), "path kept");
	CHECK(c->hostname && (strcmp(c->hostname, host) == 0 || strcmp(c->hostname, "localhost") == 0),
	      "hostname default %s", c->hostname);
	CHECK_STR(c->domain, c->hostname, "domain defaults to hostname");
	CHECK_STR(c->log, "syslog", "log default");
	CHECK_STR(c->log_format, "text", "log_format default");
	CHECK_STR(c->spool_dir, SPOOLDIR, "spool_dir default");
	CHECK_STR(c->aliases_file, "/etc/aliases", "aliases default");
	CHECK(c->max_message_size == 52428800, "max_message_size default");
	CHECK(c->sender_rewrite == NULL, "sender_rewrite default off");
	CHECK(c->nrelays == 0 && c->npolicies == 0 && c->naliases == 0, "no sections");
	CHECK(c->queue.retry_min == 60 && c->queue.retry_max == 3600 && c->queue.lifetime == 432000,
	      "queue defaults");
	CHECK(c->queue.concurrency == 4 && c->queue.delay_warning == 0, "queue defaults 2");
	CHECK(c->timeouts.connect == 30 && c->timeouts.command == 300 && c->timeouts.data == 600,
	      "timeout defaults");
	const struct sp_tls_policy *p = conf_policy_for(c, "smtp.example.net");
	CHECK(p && p->verify == SP_VERIFY_CA && p->min_version == 12 && !p->ca_file && p->npins == 0,
	      "built-in policy");
	conf_free(c);

	/* "+=" appends to a list; it is not a second assignment. */
	c = load_text("append", RELAY "  senders = {\"a@x.example\"}\n  senders += {\"b@x.example\"}\n}\n",
		      err, sizeof(err));
	CHECK(c != NULL, "append: %s", err);
	if (c)
		CHECK(c->nrelays == 1 && c->relays[0].nsenders == 2, "append: two senders");
	conf_free(c);

	/* A value is taken literally: no ${VAR} expansion inside quotes. */
	c = load_text("literal", "hostname = \"h.example\"\nsender_rewrite = \"${USER}@example.com\"\n",
		      err, sizeof(err));
	CHECK(c != NULL, "literal: %s", err);
	if (c)
		CHECK_STR(c->sender_rewrite, "${USER}@example.com", "no environment expansion");
	conf_free(c);
}

struct duration_case {
	const char *in;
	bool ok;
	unsigned secs;
	const char *formatted;
};

static const struct duration_case durations[] = {
	{ "90", true, 90, "90s" },
	{ "90s", true, 90, "90s" },
	{ "5m", true, 300, "5m" },
	{ "1h", true, 3600, "1h" },
	{ "5d", true, 432000, "5d" },
	{ "0", true, 0, "0" },
	{ "120m", true, 7200, "2h" },
	{ "4294967295", true, 4294967295u, "4294967295s" },
	{ "", false, 0, NULL },
	{ "s", false, 0, NULL },
	{ "5x", false, 0, NULL },
	{ "-5", false, 0, NULL },
	{ " 5", false, 0, NULL },
	{ "5 m", false, 0, NULL },
	{ "5ms", false, 0, NULL },
	{ "4294967296", false, 0, NULL },
	{ "50000d", false, 0, NULL },
	{ "99999999999999999999", false, 0, NULL },
};

static void test_durations(void)
{
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		const struct duration_case *t = &durations[i];
		unsigned got = 12345;
		bool ok = conf_parse_duration(t->in, &got);
		CHECK(ok == t->ok, "duration \"%s\": ok=%d", t->in, ok);
		if (ok && t->ok) {
			char buf[16];
			const char *formatted = buf;
			CHECK(got == t->secs, "duration \"%s\" = %u, want %u", t->in, got, t->secs);
			conf_format_duration(got, buf);
			CHECK_STR(formatted, t->formatted, t->in);
		}
	}
}

static void test_pins(void)
{
	unsigned char raw[32];
	CHECK(conf_pin_decode(PIN, raw), "valid pin");
	CHECK(raw[0] == 0xe3 && raw[1] == 0xb0 && raw[31] == 0x55, "pin bytes (SHA-256 of \"\")");
	CHECK(conf_pin_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", raw), "zero pin");
	CHECK(!conf_pin_decode("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=", raw), "non-canonical");
	CHECK(!conf_pin_decode("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", raw), "no padding");
	CHECK(!conf_pin_decode("47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", raw), "base64url");
	CHECK(!conf_pin_decode("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", raw), "prefix");
	CHECK(!conf_pin_decode("", raw) && !conf_pin_decode(NULL, raw), "empty");
}

static char *dump_to_string(const struct sp_config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	conf_dump(c, f);
	fclose(f);
	return text;
}

static void test_dump(void)
{
	char err[512];
	struct sp_config *c = load_text("dump", full_config, err, sizeof(err));
	CHECK(c != NULL, "dump config: %s", err);
	if (!c)
		return;
	char *d1 = dump_to_string(c), *d2 = dump_to_string(c);
	CHECK(strcmp(d1, d2) == 0, "dump is deterministic");
	CHECK(strstr(d1, "password_command = \"<command, masked>\""), "command masked:\n%s", d1);
	CHECK(!strstr(d1, "secret-token") && !strstr(d1, "/usr/bin/pass"), "command leaked:\n%s", d1);
	CHECK(strstr(d1, "password_file    = \"/etc/sealpost/backup.secret\""), "password_file shown");
	CHECK(strstr(d1, "# TLS policy: tls_policy \"SMTP.example.net\"\n"), "exact policy named");
	CHECK(strstr(d1, "# TLS policy: tls_policy \"*\" (no tls_policy \"backup.example.org\")"),
	      "default policy named:\n%s", d1);
	CHECK(strstr(d1, "#   verify      = pin (pinned public key"), "verify mode shown");
	CHECK(strstr(d1, "#   pin_sha256  = " PIN), "pin shown");
	CHECK(strstr(d1, "#   min_version = TLS1.3"), "min version shown");
	CHECK(strstr(d1, "#   ca_file     = system trust store"), "CA source shown");
	CHECK(strstr(d1, "#   verify_name = backup.example.org"), "verified name shown");
	CHECK(strstr(d1, "retry_max     = 2h\n"), "durations in units");
	CHECK(strstr(d1, "alias \"root\" { to = {\"ops@example.com\", \"admin\"} }"), "alias line");

	/* The dump is itself a config that loads and dumps the same. */
	const char *p = write_conf("redump", d1, strlen(d1));
	struct sp_config *c2 = NULL;
	CHECK(conf_load(p, false, &c2, err, sizeof(err)) == 0, "dump does not load: %s", err);
	if (c2) {
		char *d3 = dump_to_string(c2);
		const char *b1 = strchr(d1, '\n'), *b3 = strchr(d3, '\n');
		CHECK(b1 && b3 && strcmp(b1, b3) == 0, "re-dump differs:\n%s\n----\n%s", d1, d3);
		free(d3);
		conf_free(c2);
	}
	free(d1);
	free(d2);
	conf_free(c);

	c = load_text("dump-builtin", RELAY "}\n", err, sizeof(err));
	CHECK(c != NULL, "dump-builtin: %s", err);
	if (c) {
		d1 = dump_to_string(c);
		CHECK(strstr(d1, "# TLS policy: built-in default"), "built-in policy named:\n%s", d1);
		CHECK(strstr(d1, "# username         (unset: no AUTH)"), "no AUTH shown");
		free(d1);
		conf_free(c);
	}
}

static void test_example(void)
{
	const char *path = getenv("SEALPOST_EXAMPLE_CONF");
#ifdef EXAMPLE_CONF
	if (!path)
		path = EXAMPLE_CONF;
#endif
	if (!path) {
		printf("# no example config given\n");
		return;
	}
	char err[512];
	struct sp_config *c = NULL;
	CHECK(conf_load(path, false, &c, err, sizeof(err)) == 0, "example config: %s", err);
	if (c) {
		CHECK(c->nrelays >= 1 && c->npolicies >= 1, "example has relays and policies");
		conf_free(c);
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s/test_conf.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	test_bad_configs();
	test_file_errors();
	test_full_config();
	test_defaults();
	test_durations();
	test_pins();
	test_dump();
	test_example();
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done("test_conf");
}
