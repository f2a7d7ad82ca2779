/*
 * conf.c - load and validate sealpost.conf (SPEC section 5) with libconfuse:
 * the schema, the rules every value must follow, the checks across keys of
 * a section, conf_load/conf_free, and the lookups the programs use (TLS
 * policy for a host, relay for a sender, pins, durations). Reading the file
 * and reporting FILE:LINE are in conf_text.c, conf_dump in conf_dump.c.
 *
 * Privilege: none; runs in the front end (after it dropped any privilege
 * for a -C file) and in the worker. Trusts nothing in the file: every
 * value, list and section count is bounded, and every error names the
 * file and line. The value callbacks run inside libconfuse's parse and
 * report through the load in progress (conf_internal.h): one at a time.
 */
#include "config.h"

#include "conf.h"
#include "base64.h"
#include "conf_internal.h"
#include "util.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONF_MAX_VALUE 4096
#define CONF_MAX_LIST 256
#define CONF_MAX_PINS 16
#define SECTION_HOOK "\001open"

#define DEFAULT_MAX_MESSAGE_SIZE 52428800
#define MAX_MESSAGE_SIZE_LIMIT (UINT64_C(1) << 40)

/* ---- value rules ----------------------------------------------------------- */

enum vkind {
	V_TEXT, V_TEXT_OPT, V_HOSTNAME, V_DOMAIN, V_HOST, V_ABSPATH, V_ABSPATH_OPT,
	V_LOG, V_LOG_FORMAT, V_ADDRESS_OPT, V_TLS, V_AUTH, V_VERIFY, V_MIN_VERSION,
	V_PRIORITY, V_PROFILE, V_PIN, V_PATTERN, V_RECIPIENT,
	I_PORT, I_COUNT, I_SIZE, I_DURATION,
};

struct rule {
	const char *section;    /* NULL: top level */
	const char *key;
	enum vkind kind;
	unsigned min, max;      /* numbers and durations */
};

static const struct rule rules[] = {
	{ NULL, "hostname", V_HOSTNAME, 0, 0 },
	{ NULL, "log", V_LOG, 0, 0 },
	{ NULL, "log_format", V_LOG_FORMAT, 0, 0 },
	{ NULL, "domain", V_DOMAIN, 0, 0 },
	{ NULL, "spool_dir", V_ABSPATH, 0, 0 },
	{ NULL, "aliases", V_ABSPATH_OPT, 0, 0 },
	{ NULL, "max_message_size", I_SIZE, 0, 0 },
	{ NULL, "sender_rewrite", V_ADDRESS_OPT, 0, 0 },
	{ NULL, "bounce_sender", V_ADDRESS_OPT, 0, 0 },
	{ NULL, "metrics_file", V_ABSPATH_OPT, 0, 0 },
	{ "alias", "to", V_RECIPIENT, 0, 0 },
	{ "relay", "host", V_HOST, 0, 0 },
	{ "relay", "port", I_PORT, 1, 65535 },
	{ "relay", "tls", V_TLS, 0, 0 },
	{ "relay", "username", V_TEXT, 0, 0 },
	{ "relay", "password_file", V_ABSPATH, 0, 0 },
	{ "relay", "password_command", V_TEXT, 0, 0 },
	{ "relay", "auth", V_AUTH, 0, 0 },
	{ "relay", "senders", V_PATTERN, 0, 0 },
	{ "relay", "from_rewrite", V_ADDRESS_OPT, 0, 0 },
	{ "tls_policy", "verify", V_VERIFY, 0, 0 },
	{ "tls_policy", "ca_file", V_ABSPATH_OPT, 0, 0 },
	{ "tls_policy", "verify_name", V_HOST, 0, 0 },
	{ "tls_policy", "pin_sha256", V_PIN, 0, 0 },
	{ "tls_policy", "min_version", V_MIN_VERSION, 0, 0 },
	{ "tls_policy", "priority", V_PRIORITY, 0, 0 },
	{ "tls_policy", "security_profile", V_PROFILE, 0, 0 },
	{ "tls_policy", "client_cert", V_ABSPATH_OPT, 0, 0 },
	{ "tls_policy", "client_key", V_ABSPATH_OPT, 0, 0 },
	{ "queue", "retry_min", I_DURATION, 1, 7 * 86400 },
	{ "queue", "retry_max", I_DURATION, 1, 7 * 86400 },
	{ "queue", "lifetime", I_DURATION, 1, 60 * 86400 },
	{ "queue", "concurrency", I_COUNT, 1, 64 },
	{ "queue", "delay_warning", I_DURATION, 0, 60 * 86400 },
	{ "timeouts", "connect", I_DURATION, 1, 3600 },
	{ "timeouts", "command", I_DURATION, 1, 3600 },
	{ "timeouts", "data", I_DURATION, 1, 3600 },
};

static const struct rule *rule_for(const cfg_t *sec, const char *key)
{
	bool root = strcmp(sec->name, "root") == 0;
	for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
		if (strcmp(rules[i].key, key) != 0)
			continue;
		if (root ? rules[i].section == NULL
			 : rules[i].section && strcmp(rules[i].section, sec->name) == 0)
			return &rules[i];
	}
	return NULL;
}

static const char *const auth_names[] = {
	"auto", "plain", "login", "xoauth2", "scram-sha-256",
};

/* One of names, case-insensitively; returns the canonical spelling. */
static const char *one_of(const char *v, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_casecmp(v, names[i]) == 0)
			return names[i];
	return NULL;
}

static bool host_chars(const char *v, bool allow_colon)
{
	size_t n = strlen(v);
	if (n == 0 || n > 253 || v[0] == '.' || v[0] == '-' || strstr(v, ".."))
		return false;
	for (const char *p = v; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			  (allow_colon && *p == ':');
		if (!ok)
			return false;
	}
	return true;
}

static bool has_space(const char *v)
{
	return strpbrk(v, " \t") != NULL;
}

/* A GnuTLS priority string's characters; what it enables is checked by
 * the worker with GnuTLS itself (src/sealpostd/tls_policy.c). */
static bool priority_chars(const char *v)
{
	return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-!%:@._") == strlen(v);
}

/* Check v for rule; may replace it with a canonical spelling. Returns an
 * error message or NULL. */
static const char *check_string(const struct rule *ru, const char **v, char *why, size_t n)
{
	const char *s = *v;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	if (strlen(s) > CONF_MAX_VALUE)
		return "is too long";
	if (!*s && ru->kind != V_TEXT_OPT && ru->kind != V_ABSPATH_OPT &&
	    ru->kind != V_ADDRESS_OPT && ru->kind != V_PRIORITY &&
	    ru->kind != V_TLS && ru->kind != V_VERIFY)
		return "must not be empty";
	switch (ru->kind) {
	case V_TEXT: case V_TEXT_OPT:
		return NULL;
	case V_HOSTNAME:
		if (s[0] == '[' && s[strlen(s) - 1] == ']' && strlen(s) < 64) {
			char inner[64]; /* address literal: EHLO [192.0.2.1], [IPv6:2001:db8::1] */
			snprintf(inner, sizeof(inner), "%.*s", (int)strlen(s) - 2, s + 1);
			return host_chars(inner, true) ? NULL : "is not a valid address literal";
		}
		return host_chars(s, false) ? NULL : "is not a valid host name";
	case V_DOMAIN:
		return host_chars(s, false) ? NULL : "is not a valid domain";
	case V_HOST:
		return host_chars(s, true) ? NULL : "is not a valid host name or address";
	case V_ABSPATH: case V_ABSPATH_OPT:
		return !*s || s[0] == '/' ? NULL : "must be an absolute path";
	case V_LOG:
		if (strcmp(s, "syslog") == 0 || strcmp(s, "stderr") == 0 ||
		    (strncmp(s, "file:/", 6) == 0 && s[6]))
			return NULL;
		return "must be \"syslog\", \"stderr\" or \"file:/absolute/path\"";
	case V_LOG_FORMAT: {
		static const char *const f[] = { "text", "json" };
		return (*v = one_of(s, f, 2)) ? NULL : "must be \"text\" or \"json\"";
	}
	case V_ADDRESS_OPT:
		if (!*s || (strchr(s, '@') && !has_space(s) && !strpbrk(s, "<>,;\"")))
			return NULL;
		return "must be a plain address (user@domain) or \"\"";
	case V_TLS: {
		static const char *const m[] = { "starttls", "implicit" };
		if ((*v = one_of(s, m, 2)))
			return NULL;
		snprintf(why, n, "tls = \"%s\" is not allowed: plaintext is never allowed; "
			 "use \"starttls\" or \"implicit\"", s);
		return why;
	}
	case V_AUTH:
		if ((*v = one_of(s, auth_names, ARRAY_LEN(auth_names))))
			return NULL;
		return "must be one of auto, plain, login, xoauth2, scram-sha-256";
	case V_VERIFY: {
		static const char *const m[] = { "ca", "pin", "encrypt" };
		if ((*v = one_of(s, m, 3)))
			return NULL;
		snprintf(why, n, "verify = \"%s\" is not allowed: use \"ca\" (chain and name), "
			 "\"pin\" (pinned key) or \"encrypt\" (explicitly unauthenticated)", s);
		return why;
	}
	case V_MIN_VERSION:
		if (ascii_casecmp(s, "TLS1.2") == 0 || ascii_casecmp(s, "TLSv1.2") == 0)
			return (*v = "TLS1.2"), NULL;
		if (ascii_casecmp(s, "TLS1.3") == 0 || ascii_casecmp(s, "TLSv1.3") == 0)
			return (*v = "TLS1.3"), NULL;
		snprintf(why, n, "min_version = \"%s\" is not allowed: TLS 1.0, 1.1 and SSL are "
			 "obsolete; use \"TLS1.2\" or \"TLS1.3\"", s);
		return why;
	case V_PRIORITY:
		return priority_chars(s) ? NULL : "is not a GnuTLS priority string";
	case V_PROFILE: {
		static const char *const m[] = { "low", "legacy", "medium", "high", "ultra", "future" };
		return (*v = one_of(s, m, ARRAY_LEN(m))) ? NULL
			: "must be one of low, legacy, medium, high, ultra, future";
	}
	case V_PIN: {
		unsigned char raw[32];
		return conf_pin_decode(s, raw) ? NULL :
			"must be the base64 of a SHA-256 digest (44 characters, ending in \"=\")";
	}
	case V_PATTERN:
		return has_space(s) ? "must not contain spaces" : NULL;
	case V_RECIPIENT:
		if (has_space(s) || s[0] == '|' || s[0] == '/' || strncmp(s, ":include:", 9) == 0)
			return "must be an address or a local name (no pipes, files or :include:)";
		return NULL;
	default:
		return "internal error: not a string";
	}
}

static size_t list_limit(const struct rule *ru)
{
	return ru->kind == V_PIN ? CONF_MAX_PINS : CONF_MAX_LIST;
}

static int cb_string(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	if (conf_failed())
		return -1;
	bool list = (opt->flags & CFGF_LIST) != 0;
	if (conf_note_key(sec, opt, !list || opt->nvalues == 1) != 0)
		return -1;
	const struct rule *ru = rule_for(sec, opt->name);
	if (!ru) {
		conf_fail_at(sec->line, "internal error: no rule for %s", opt->name);
		return -1;
	}
	if (list && opt->nvalues > list_limit(ru)) {
		conf_fail_at(sec->line, "%s: too many values (at most %zu)", opt->name,
			list_limit(ru));
		return -1;
	}
	char why[256];
	const char *v = value;
	const char *msg = check_string(ru, &v, why, sizeof(why));
	if (msg) {
		if (msg == why)
			conf_fail_at(sec->line, "%s", why);
		else
			conf_fail_at(sec->line, "%s = \"%s\": %s", opt->name, value, msg);
		return -1;
	}
	*(const char **)result = v;
	return 0;
}

/* max_message_size: bytes, or with a K, M or G suffix (powers of 1024). */
static bool parse_size(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t mult = 1;
	char digits[32];
	if (n == 0 || n >= sizeof(digits))
		return false;
	switch (s[n - 1]) {
	case 'k': case 'K': mult = 1024; n--; break;
	case 'm': case 'M': mult = 1024 * 1024; n--; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; n--; break;
	}
	memcpy(digits, s, n);
	digits[n] = '\0';
	uint64_t v;
	if (!parse_u64(digits, &v) || v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

static int cb_number(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	if (conf_failed())
		return -1;
	if (conf_note_key(sec, opt, true) != 0)
		return -1;
	const struct rule *ru = rule_for(sec, opt->name);
	uint64_t v = 0;
	unsigned d;
	bool ok;
	if (!ru) {
		conf_fail_at(sec->line, "internal error: no rule for %s", opt->name);
		return -1;
	}
	switch (ru->kind) {
	case I_SIZE:
		ok = parse_size(value, &v) && v >= 1 && v <= MAX_MESSAGE_SIZE_LIMIT;
		if (!ok)
			conf_fail_at(sec->line,
				"%s = \"%s\": must be a size in bytes (optionally with K, M "
				"or G) from 1 to 1T; there is no unlimited", opt->name, value);
		break;
	case I_DURATION:
		ok = conf_parse_duration(value, &d) && d >= ru->min && d <= ru->max;
		v = d;
		if (!ok) {
			char lo[16], hi[16];
			conf_format_duration(ru->min, lo);
			conf_format_duration(ru->max, hi);
			conf_fail_at(sec->line,
				"%s = \"%s\": must be a duration from %s to %s (seconds, "
				"or a number with s, m, h or d)", opt->name, value, lo, hi);
		}
		break;
	default:
		ok = parse_u64(value, &v) && v >= ru->min && v <= ru->max;
		if (!ok)
			conf_fail_at(sec->line, "%s = \"%s\": must be a number from %u to %u",
				opt->name, value, ru->min, ru->max);
		break;
	}
	if (!ok)
		return -1;
	*(long *)result = (long)v;
	return 0;
}

/* ---- from libconfuse to struct sp_config ------------------------------------ */

const struct sp_tls_policy conf_builtin_policy = {
	.host = (char *)"*", .verify = SP_VERIFY_CA, .min_version = 12,
};

static struct sp_config *config_defaults(void)
{
	struct sp_config *c = xcalloc(1, sizeof(*c));
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) != 0 || !host_chars(host, false))
		snprintf(host, sizeof(host), "localhost");
	c->hostname = xstrdup(host);
	c->domain = xstrdup(host);
	c->log = xstrdup("syslog");
	c->log_format = xstrdup("text");
	c->spool_dir = xstrdup(SPOOLDIR);
	c->aliases_file = xstrdup("/etc/aliases");
	c->max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
	c->queue.retry_min = 60;
	c->queue.retry_max = 3600;
	c->queue.lifetime = 5 * 86400;
	c->queue.concurrency = 4;
	c->queue.delay_warning = 0;
	c->timeouts.connect = 30;
	c->timeouts.command = 300;
	c->timeouts.data = 600;
	return c;
}

/* A copy of a set, non-empty string; NULL when unset or "". */
static char *get_str(cfg_t *sec, const char *key)
{
	const char *s = cfg_size(sec, key) ? cfg_getstr(sec, key) : NULL;
	return s && *s ? xstrdup(s) : NULL;
}

/* Replace *field when key is set ("" sets it to NULL where allowed). */
static void take_str(cfg_t *sec, const char *key, char **field)
{
	if (cfg_size(sec, key)) {
		free(*field);
		*field = get_str(sec, key);
	}
}

static void take_num(cfg_t *sec, const char *key, unsigned *field)
{
	if (cfg_size(sec, key))
		*field = (unsigned)cfg_getint(sec, key);
}

static char **get_list(cfg_t *sec, const char *key, size_t *n)
{
	*n = cfg_size(sec, key);
	if (*n == 0)
		return NULL;
	char **v = xcalloc(*n, sizeof(*v));
	for (size_t i = 0; i < *n; i++)
		v[i] = xstrdup(cfg_getnstr(sec, key, (unsigned)i));
	return v;
}

static bool name_chars(const char *s, const char *extra)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

static void take_alias(struct sp_alias *a, cfg_t *sec)
{
	a->name = xstrdup(cfg_title(sec));
	a->to = get_list(sec, "to", &a->nto);
	if (!name_chars(a->name, "._+-"))
		conf_fail_at(conf_line_of(sec, NULL),
			"alias \"%s\": not a valid local name", a->name);
	else if (a->nto == 0)
		conf_fail_at(conf_line_of(sec, "to"),
			"alias \"%s\": to must list at least one address", a->name);
}

static void take_relay(struct sp_relay *r, cfg_t *sec)
{
	r->name = xstrdup(cfg_title(sec));
	r->host = get_str(sec, "host");
	char *tls = get_str(sec, "tls");
	r->tls = tls && strcmp(tls, "implicit") == 0 ? SP_TLS_IMPLICIT : SP_TLS_STARTTLS;
	free(tls);
	r->port = r->tls == SP_TLS_IMPLICIT ? 465 : 587;
	take_num(sec, "port", &r->port);
	r->username = get_str(sec, "username");
	r->password_file = get_str(sec, "password_file");
	r->password_command = get_str(sec, "password_command");
	r->auth = get_str(sec, "auth");
	bool auth_set = r->auth != NULL;
	if (!r->auth)
		r->auth = xstrdup("auto");
	r->senders = get_list(sec, "senders", &r->nsenders);
	conf_limits_take(r, sec);
	r->from_rewrite = get_str(sec, "from_rewrite");

	const char *n = r->name;
	const char *password_key = r->password_file ? "password_file" : "password_command";
	if (!name_chars(n, "._-"))
		conf_fail_at(conf_line_of(sec, NULL),
			"relay \"%s\": name must be 1-64 letters, digits, '.', '_' or '-'", n);
	else if (!r->host)
		conf_fail_at(conf_line_of(sec, NULL), "relay \"%s\": host is required", n);
	else if (r->password_file && r->password_command)
		conf_fail_at(conf_line_of(sec, "password_command"),
			"relay \"%s\": password_file and "
			"password_command are exclusive: choose one", n);
	else if ((r->password_file || r->password_command) && !r->username)
		conf_fail_at(conf_line_of(sec, password_key),
			"relay \"%s\": a password without a username", n);
	else if (r->username && !r->password_file && !r->password_command)
		conf_fail_at(conf_line_of(sec, "username"),
			"relay \"%s\": username needs password_file or password_command", n);
	else if (auth_set && !r->username)
		conf_fail_at(conf_line_of(sec, "auth"), "relay \"%s\": auth without a username", n);
	else if (r->from_rewrite && conf_from_rewrite_invalid(r->from_rewrite))
		conf_fail_at(conf_line_of(sec, "from_rewrite"), "relay \"%s\": from_rewrite %s", n,
			conf_from_rewrite_invalid(r->from_rewrite));
}

static void take_policy(struct sp_tls_policy *p, cfg_t *sec)
{
	p->host = xstrdup(cfg_title(sec));
	char *verify = get_str(sec, "verify");
	p->verify = !verify || strcmp(verify, "ca") == 0 ? SP_VERIFY_CA
		    : strcmp(verify, "pin") == 0 ? SP_VERIFY_PIN : SP_VERIFY_ENCRYPT;
	free(verify);
	p->ca_file = get_str(sec, "ca_file");
	p->verify_name = get_str(sec, "verify_name");
	p->pins = get_list(sec, "pin_sha256", &p->npins);
	char *minv = get_str(sec, "min_version");
	p->min_version = minv && strcmp(minv, "TLS1.3") == 0 ? 13 : 12;
	free(minv);
	p->priority = get_str(sec, "priority");
	p->security_profile = get_str(sec, "security_profile");
	p->client_cert = get_str(sec, "client_cert");
	p->client_key = get_str(sec, "client_key");

	const char *h = p->host;
	if (strcmp(h, "*") != 0 && !host_chars(h, true))
		conf_fail_at(conf_line_of(sec, NULL),
			"tls_policy \"%s\": must be a host name or \"*\" (no other wildcards)", h);
	else if (p->verify == SP_VERIFY_PIN && p->npins == 0)
		conf_fail_at(conf_line_of(sec, "verify"),
			"tls_policy \"%s\": verify = \"pin\" needs at least one pin_sha256", h);
	else if (p->verify != SP_VERIFY_PIN && p->npins)
		conf_fail_at(conf_line_of(sec, "pin_sha256"),
			"tls_policy \"%s\": pin_sha256 is only used with verify = \"pin\"", h);
	else if (p->verify != SP_VERIFY_CA && (p->ca_file || p->verify_name))
		conf_fail_at(conf_line_of(sec, p->ca_file ? "ca_file" : "verify_name"),
			"tls_policy \"%s\": %s is only used with verify = \"ca\"", h,
			p->ca_file ? "ca_file" : "verify_name");
	else if (!p->client_cert != !p->client_key)
		conf_fail_at(conf_line_of(sec, p->client_cert ? "client_cert" : "client_key"),
			"tls_policy \"%s\": client_cert and client_key go together", h);
}

static void take_queue(struct sp_config *c, cfg_t *root)
{
	if (cfg_size(root, "queue")) {
		cfg_t *q = cfg_getsec(root, "queue");
		take_num(q, "retry_min", &c->queue.retry_min);
		take_num(q, "retry_max", &c->queue.retry_max);
		take_num(q, "lifetime", &c->queue.lifetime);
		take_num(q, "concurrency", &c->queue.concurrency);
		take_num(q, "delay_warning", &c->queue.delay_warning);
		/* Name the line of retry_min when set, else of retry_max. */
		const char *retry_key = conf_key_line(q, "retry_min") ? "retry_min" : "retry_max";
		if (c->queue.retry_min > c->queue.retry_max)
			conf_fail_at(conf_line_of(q, retry_key),
				"retry_min must not be longer than retry_max");
		else if (c->queue.delay_warning && c->queue.delay_warning >= c->queue.lifetime)
			conf_fail_at(conf_line_of(q, "delay_warning"),
				"delay_warning must be shorter than lifetime (or 0: off)");
	}
	if (cfg_size(root, "timeouts")) {
		cfg_t *t = cfg_getsec(root, "timeouts");
		take_num(t, "connect", &c->timeouts.connect);
		take_num(t, "command", &c->timeouts.command);
		take_num(t, "data", &c->timeouts.data);
	}
}

static void take_config(struct sp_config *c, cfg_t *root)
{
	bool domain_set = cfg_size(root, "domain") != 0;
	take_str(root, "hostname", &c->hostname);
	take_str(root, "log", &c->log);
	take_str(root, "log_format", &c->log_format);
	take_str(root, "domain", &c->domain);
	if (!domain_set) {
		free(c->domain);
		c->domain = xstrdup(c->hostname);
	}
	take_str(root, "spool_dir", &c->spool_dir);
	take_str(root, "aliases", &c->aliases_file);
	if (cfg_size(root, "max_message_size"))
		c->max_message_size = (uint64_t)cfg_getint(root, "max_message_size");
	take_str(root, "sender_rewrite", &c->sender_rewrite);
	take_str(root, "bounce_sender", &c->bounce_sender);
	take_str(root, "metrics_file", &c->metrics_file);
	take_queue(c, root);

	size_t n = cfg_size(root, "alias");
	c->aliases = xcalloc(n + 1, sizeof(*c->aliases));
	for (size_t i = 0; i < n && !conf_failed(); i++, c->naliases++)
		take_alias(&c->aliases[i], cfg_getnsec(root, "alias", (unsigned)i));
	n = cfg_size(root, "relay");
	c->relays = xcalloc(n + 1, sizeof(*c->relays));
	for (size_t i = 0; i < n && !conf_failed(); i++, c->nrelays++)
		take_relay(&c->relays[i], cfg_getnsec(root, "relay", (unsigned)i));
	n = cfg_size(root, "tls_policy");
	c->policies = xcalloc(n + 1, sizeof(*c->policies));
	for (size_t i = 0; i < n && !conf_failed(); i++, c->npolicies++)
		take_policy(&c->policies[i], cfg_getnsec(root, "tls_policy", (unsigned)i));
}

#define HOOK CFG_STR_LIST_CB(SECTION_HOOK, "{open}", CFGF_NONE, conf_section_opened)
#define STR(name) CFG_STR_CB(name, NULL, CFGF_NODEFAULT, cb_string)
#define LIST(name) CFG_STR_LIST_CB(name, NULL, CFGF_NODEFAULT, cb_string)
#define NUM(name) CFG_INT_CB(name, 0, CFGF_NODEFAULT, cb_number)

/* Parse the cleaned text into c. */
static void parse_into(struct sp_config *c, struct buf *text)
{
	cfg_opt_t alias_opts[] = { HOOK, LIST("to"), CFG_END() };
	cfg_opt_t relay_opts[] = {
		HOOK, STR("host"), NUM("port"), STR("tls"), STR("username"),
		STR("password_file"), STR("password_command"), STR("auth"), LIST("senders"),
		STR("from_rewrite"), CFG_SEC("limits", conf_limits_opts, CFGF_MULTI), CFG_END()
	};
	cfg_opt_t policy_opts[] = {
		HOOK, STR("verify"), STR("ca_file"), STR("verify_name"), LIST("pin_sha256"),
		STR("min_version"), STR("priority"), STR("security_profile"), STR("client_cert"), STR("client_key"),
		CFG_END()
	};
	cfg_opt_t queue_opts[] = {
		HOOK, NUM("retry_min"), NUM("retry_max"), NUM("lifetime"), NUM("concurrency"),
		NUM("delay_warning"), CFG_END()
	};
	cfg_opt_t timeout_opts[] = { HOOK, NUM("connect"), NUM("command"), NUM("data"), CFG_END() };
	cfg_opt_t opts[] = {
		STR("hostname"), STR("log"), STR("log_format"), STR("domain"), STR("spool_dir"),
		STR("aliases"), NUM("max_message_size"), STR("sender_rewrite"), STR("bounce_sender"),
		STR("metrics_file"),
		CFG_SEC("alias", alias_opts, CFGF_MULTI | CFGF_TITLE),
		CFG_SEC("relay", relay_opts, CFGF_MULTI | CFGF_TITLE),
		CFG_SEC("tls_policy", policy_opts, CFGF_MULTI | CFGF_TITLE),
		CFG_SEC("queue", queue_opts, CFGF_MULTI),
		CFG_SEC("timeouts", timeout_opts, CFGF_MULTI),
		CFG_END()
	};
	cfg_t *root = cfg_init(opts, CFGF_NONE);
	if (!root)
		abort();
	cfg_set_error_function(root, conf_libconfuse_error);
	free(root->filename);
	root->filename = xstrdup(c->path);
	conf_note_root(root);
	if (text->len > 0) {
		FILE *fp = fmemopen(text->data, text->len, "r");
		if (!fp)
			abort();
		int rc = cfg_parse_fp(root, fp);
		fclose(fp);
		if (rc != CFG_SUCCESS && !conf_failed())
			conf_fail_at(root->line, "syntax error");
	}
	if (!conf_failed())
		take_config(c, root);
	cfg_free(root);
}

int conf_load(const char *path, bool missing_ok, struct sp_config **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!path)
		path = conf_default_path();
	bool missing;
	size_t len = 0;
	char *data = conf_read_file(path, missing_ok, &missing, &len, err, errlen);
	if (!data && !missing)
		return -1;
	struct sp_config *c = config_defaults();
	if (missing) {
		*out = c;
		return 0;
	}
	c->path = xstrdup(path);

	conf_load_begin(path, err, errlen);
	struct buf text;
	buf_init(&text);
	if (conf_clean_text(data, len, &text) == 0)
		parse_into(c, &text);
	buf_free(&text);
	free(data);
	if (conf_load_end()) {
		conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void conf_free(struct sp_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->naliases; i++) {
		free(c->aliases[i].name);
		free_list(c->aliases[i].to, c->aliases[i].nto);
	}
	for (size_t i = 0; i < c->nrelays; i++) {
		struct sp_relay *r = &c->relays[i];
		free(r->name);
		free(r->host);
		free(r->username);
		free(r->password_file);
		free(r->password_command);
		free(r->auth);
		free_list(r->senders, r->nsenders);
		free(r->from_rewrite);
	}
	for (size_t i = 0; i < c->npolicies; i++) {
		struct sp_tls_policy *p = &c->policies[i];
		free(p->host);
		free(p->ca_file);
		free(p->verify_name);
		free_list(p->pins, p->npins);
		free(p->priority);
		free(p->security_profile);
		free(p->client_cert);
		free(p->client_key);
	}
	free(c->aliases);
	free(c->relays);
	free(c->policies);
	free(c->path);
	free(c->hostname);
	free(c->log);
	free(c->log_format);
	free(c->domain);
	free(c->spool_dir);
	free(c->aliases_file);
	free(c->sender_rewrite);
	free(c->bounce_sender);
	free(c->metrics_file);
	free(c);
}

/* ---- small public helpers ------------------------------------------------ */

const char *conf_default_path(void)
{
	return SYSCONFDIR "/sealpost.conf";
}

bool conf_parse_duration(const char *s, unsigned *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (!s || *s < '0' || *s > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
	}
	uint64_t mult = 1;
	switch (*p) {
	case '\0': break;
	case 's': case 'S': p++; break;
	case 'm': case 'M': mult = 60; p++; break;
	case 'h': case 'H': mult = 3600; p++; break;
	case 'd': case 'D': mult = 86400; p++; break;
	default: return false;
	}
	if (*p != '\0' || v * mult > UINT32_MAX)
		return false;
	*out = (unsigned)(v * mult);
	return true;
}

bool conf_pin_decode(const char *b64, unsigned char out[32])
{
	/* 32 bytes are 44 characters; only the canonical spelling is a pin */
	unsigned char tmp[33];
	char again[45];
	if (!b64 || strlen(b64) != 44 || base64_decode(b64, 44, tmp, sizeof(tmp)) != 32)
		return false;
	base64_encode(tmp, 32, again);
	if (strcmp(again, b64) != 0)
		return false;
	memcpy(out, tmp, 32);
	return true;
}

bool conf_relay_matches_sender(const struct sp_relay *relay, const char *sender)
{
	if (!sender)
		sender = "";
	if (relay->nsenders == 0)
		return true;
	for (size_t i = 0; i < relay->nsenders; i++) {
		const char *pat = relay->senders[i];
		if (strcmp(pat, "<>") == 0 ? !*sender
		    : *sender && fnmatch(pat, sender, FNM_CASEFOLD) == 0)
			return true;
	}
	return false;
}

const struct sp_tls_policy *conf_policy_for(const struct sp_config *cfg, const char *host)
{
	const struct sp_tls_policy *fallback = &conf_builtin_policy;
	for (size_t i = 0; cfg && i < cfg->npolicies; i++) {
		const struct sp_tls_policy *p = &cfg->policies[i];
		if (strcmp(p->host, "*") == 0)
			fallback = p;
		else if (host && ascii_casecmp(p->host, host) == 0)
			return p;
	}
	return fallback;
}
