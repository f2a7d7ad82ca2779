/*
 * conf_dump.c - print a loaded sealpost.conf back in config syntax with
 * every effective value (sealpostd --check-config, like postconf -n), and
 * the spellings of values shared with logs: durations, TLS modes and
 * verify modes.
 *
 * Privilege: none; the worker runs it after loading the config. Trusts
 * the struct sp_config that conf_load validated. Secrets stay secret:
 * password_command is printed masked, password_file by name only, and no
 * password is ever read here.
 */
#include "config.h"

#include "conf_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- spellings ------------------------------------------------------------ */

void conf_format_duration(unsigned secs, char out[16])
{
	if (secs == 0)
		snprintf(out, 16, "0");
	else if (secs % 86400 == 0)
		snprintf(out, 16, "%ud", secs / 86400);
	else if (secs % 3600 == 0)
		snprintf(out, 16, "%uh", secs / 3600);
	else if (secs % 60 == 0)
		snprintf(out, 16, "%um", secs / 60);
	else
		snprintf(out, 16, "%us", secs);
}

const char *conf_tls_mode_name(enum sp_tls_mode mode)
{
	return mode == SP_TLS_IMPLICIT ? "implicit" : "starttls";
}

const char *conf_verify_name(enum sp_verify verify)
{
	return verify == SP_VERIFY_PIN ? "pin" : verify == SP_VERIFY_ENCRYPT ? "encrypt" : "ca";
}


/* The config spelling of min_version (12 or 13). */
static const char *min_version_name(int min_version)
{
	return min_version == 13 ? "TLS1.3" : "TLS1.2";
}

/* ---- conf_dump ------------------------------------------------------------ */

/* A value in config syntax: quoted, with " and \ escaped. */
static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void put_str(FILE *out, const char *indent, const char *key, const char *v,
		    const char *unset)
{
	if (!v) {
		fprintf(out, "%s# %-16s (unset: %s)\n", indent, key, unset);
		return;
	}
	fprintf(out, "%s%-16s = ", indent, key);
	put_quoted(out, v);
	fputc('\n', out);
}

static void put_values(FILE *out, char **v, size_t n)
{
	fputc('{', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", out);
		put_quoted(out, v[i]);
	}
	fputc('}', out);
}

static void put_list(FILE *out, const char *indent, const char *key, char **v, size_t n)
{
	fprintf(out, "%s%-16s = ", indent, key);
	put_values(out, v, n);
	fputc('\n', out);
}

static void put_duration(FILE *out, const char *key, unsigned secs)
{
	char d[16];
	conf_format_duration(secs, d);
	fprintf(out, "  %-13s = %s\n", key, d);
}

static const char *verify_meaning(enum sp_verify v)
{
	switch (v) {
	case SP_VERIFY_PIN:
		return "pinned public key; chain and name not checked";
	case SP_VERIFY_ENCRYPT:
		return "WARNING: encrypted but NOT authenticated";
	default:
		return "certificate chain and host name";
	}
}

static void dump_effective_policy(FILE *out, const struct sp_config *cfg, const struct sp_relay *r)
{
	const struct sp_tls_policy *p = conf_policy_for(cfg, r->host);
	if (p == &conf_builtin_policy)
		fprintf(out, "  # TLS policy: built-in default (no tls_policy \"%s\" or \"*\")\n",
			r->host);
	else if (strcmp(p->host, "*") == 0)
		fprintf(out, "  # TLS policy: tls_policy \"*\" (no tls_policy \"%s\")\n", r->host);
	else
		fprintf(out, "  # TLS policy: tls_policy \"%s\"\n", p->host);
	fprintf(out, "  #   verify      = %s (%s)\n", conf_verify_name(p->verify),
		verify_meaning(p->verify));
	if (p->verify == SP_VERIFY_CA) {
		fprintf(out, "  #   ca_file     = %s\n", p->ca_file ? p->ca_file : "system trust store");
		fprintf(out, "  #   verify_name = %s\n", p->verify_name ? p->verify_name : r->host);
	}
	for (size_t i = 0; i < p->npins; i++)
		fprintf(out, "  #   pin_sha256  = %s\n", p->pins[i]);
	fprintf(out, "  #   min_version = %s\n", min_version_name(p->min_version));
	fprintf(out, "  #   priority    = %s\n", p->priority ? p->priority : "built-in");
	fprintf(out, "  #   security_profile = %s\n", p->security_profile ? p->security_profile : "medium");
	if (p->client_cert)
		fprintf(out, "  #   client_cert = %s, client_key = %s\n", p->client_cert, p->client_key);
}

static void dump_relay(FILE *out, const struct sp_config *cfg, const struct sp_relay *r)
{
	fputs("relay ", out);
	put_quoted(out, r->name);
	fputs(" {\n", out);
	put_str(out, "  ", "host", r->host, "");
	fprintf(out, "  %-16s = %u\n", "port", r->port);
	put_str(out, "  ", "tls", conf_tls_mode_name(r->tls), "");
	put_str(out, "  ", "username", r->username, "no AUTH");
	if (r->password_command)
		put_str(out, "  ", "password_command", "<command, masked>", "");
	else
		put_str(out, "  ", "password_file", r->password_file, "no AUTH");
	put_str(out, "  ", "auth", r->username ? r->auth : NULL, "no AUTH");
	put_list(out, "  ", "senders", r->senders, r->nsenders);
	if (r->nsenders == 0)
		fputs("  # senders: any envelope sender\n", out);
	put_str(out, "  ", "from_rewrite", r->from_rewrite, "off");
	conf_limits_dump(out, cfg, r);
	dump_effective_policy(out, cfg, r);
	fputs("}\n", out);
}

static void dump_policy(FILE *out, const struct sp_tls_policy *p)
{
	fputs("tls_policy ", out);
	put_quoted(out, p->host);
	fputs(" {\n", out);
	put_str(out, "  ", "verify", conf_verify_name(p->verify), "");
	put_str(out, "  ", "ca_file", p->ca_file, "system trust store");
	put_str(out, "  ", "verify_name", p->verify_name, "the relay host");
	put_list(out, "  ", "pin_sha256", p->pins, p->npins);
	put_str(out, "  ", "min_version", min_version_name(p->min_version), "");
	put_str(out, "  ", "priority", p->priority, "built-in");
	put_str(out, "  ", "security_profile", p->security_profile, "medium");
	put_str(out, "  ", "client_cert", p->client_cert, "none");
	put_str(out, "  ", "client_key", p->client_key, "none");
	fputs("}\n", out);
}

void conf_dump(const struct sp_config *cfg, FILE *out)
{
	if (cfg->path)
		fprintf(out, "# sealpost configuration from %s (effective values)\n", cfg->path);
	else
		fputs("# sealpost configuration: built-in defaults (no config file)\n", out);
	put_str(out, "", "hostname", cfg->hostname, "");
	put_str(out, "", "log", cfg->log, "");
	put_str(out, "", "log_format", cfg->log_format, "");
	put_str(out, "", "domain", cfg->domain, "");
	put_str(out, "", "spool_dir", cfg->spool_dir, "");
	put_str(out, "", "aliases", cfg->aliases_file ? cfg->aliases_file : "", "");
	fprintf(out, "%-16s = %llu\n", "max_message_size",
		(unsigned long long)cfg->max_message_size);
	put_str(out, "", "sender_rewrite", cfg->sender_rewrite ? cfg->sender_rewrite : "", "");
	if (cfg->bounce_sender && cfg->bounce_sender[0])
		put_str(out, "", "bounce_sender", cfg->bounce_sender, "");
	else
		fprintf(out, "%-16s = \"MAILER-DAEMON@%s\"\n", "bounce_sender", cfg->domain ? cfg->domain : "");
	put_str(out, "", "metrics_file", cfg->metrics_file, "off");

	fputs("\nqueue {\n", out);
	put_duration(out, "retry_min", cfg->queue.retry_min);
	put_duration(out, "retry_max", cfg->queue.retry_max);
	put_duration(out, "lifetime", cfg->queue.lifetime);
	fprintf(out, "  %-13s = %u\n", "concurrency", cfg->queue.concurrency);
	put_duration(out, "delay_warning", cfg->queue.delay_warning);
	fputs("}\ntimeouts {\n", out);
	put_duration(out, "connect", cfg->timeouts.connect);
	put_duration(out, "command", cfg->timeouts.command);
	put_duration(out, "data", cfg->timeouts.data);
	fputs("}\n", out);

	if (cfg->naliases)
		fputc('\n', out);
	for (size_t i = 0; i < cfg->naliases; i++) {
		fputs("alias ", out);
		put_quoted(out, cfg->aliases[i].name);
		fputs(" { to = ", out);
		put_values(out, cfg->aliases[i].to, cfg->aliases[i].nto);
		fputs(" }\n", out);
	}

	if (cfg->nrelays == 0)
		fputs("\n# no relay configured: mail stays queued\n", out);
	for (size_t i = 0; i < cfg->nrelays; i++) {
		fputc('\n', out);
		dump_relay(out, cfg, &cfg->relays[i]);
	}
	for (size_t i = 0; i < cfg->npolicies; i++) {
		fputc('\n', out);
		dump_policy(out, &cfg->policies[i]);
	}
}
