/*
 * conf_limits.c - a relay's `limits { connections messages }` section (SPEC
 * section 7): what the provider enforces, kept by sealpostd across all its
 * workers (src/sealpostd/relay_gate.c does the keeping). The schema, the
 * value rules and their FILE:LINE errors, and the --check-config lines.
 *
 *   limits {
 *     connections = 3          # sessions to this relay at once (1-64)
 *     messages    = "30/1m"    # at most N messages per period (N 1-100000,
 *   }                          # period 1s-7d)
 *
 * Privilege: none (runs inside conf_load, front end and worker). Trusts
 * nothing in the file: both values are bounded; a second limits block in a
 * relay is an error, never "last one wins".
 */
#include "config.h"

#include "conf_internal.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_MAX_CONNECTIONS 64
#define LIMIT_MAX_MESSAGES 100000
#define LIMIT_MAX_PERIOD (7 * 86400)

/* "N/DURATION" ("30/1m", "2000/1d") into its parts. */
static bool parse_rate(const char *s, unsigned *n, unsigned *period)
{
	const char *slash = strchr(s, '/');
	char num[16];
	uint64_t v;
	if (!slash || slash == s || (size_t)(slash - s) >= sizeof(num))
		return false;
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = '\0';
	if (!parse_u64(num, &v) || v < 1 || v > LIMIT_MAX_MESSAGES)
		return false;
	if (!conf_parse_duration(slash + 1, period) || *period < 1 || *period > LIMIT_MAX_PERIOD)
		return false;
	*n = (unsigned)v;
	return true;
}

static int cb_connections(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	uint64_t v;
	if (conf_failed() || conf_note_key(sec, opt, true) != 0)
		return -1;
	if (!parse_u64(value, &v) || v < 1 || v > LIMIT_MAX_CONNECTIONS) {
		conf_fail_at(sec->line, "connections = \"%s\": must be a number from 1 to %d (sessions to "
			     "this relay at once; Microsoft 365 allows 3 per mailbox)", value, LIMIT_MAX_CONNECTIONS);
		return -1;
	}
	*(long *)result = (long)v;
	return 0;
}

static int cb_messages(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	unsigned n, period;
	if (conf_failed() || conf_note_key(sec, opt, true) != 0)
		return -1;
	if (strlen(value) > 64 || !parse_rate(value, &n, &period)) {
		conf_fail_at(sec->line, "messages = \"%.64s\": must be \"N/PERIOD\", N from 1 to %d and "
			     "PERIOD a duration from 1s to 7d (e.g. \"30/1m\", \"2000/1d\")", value,
			     LIMIT_MAX_MESSAGES);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

cfg_opt_t conf_limits_opts[] = {
	CFG_STR_LIST_CB("\001open", "{open}", CFGF_NONE, conf_nested_section_opened),
	CFG_INT_CB("connections", 0, CFGF_NODEFAULT, cb_connections),
	CFG_STR_CB("messages", NULL, CFGF_NODEFAULT, cb_messages),
	CFG_END()
};

void conf_limits_take(struct sp_relay *r, cfg_t *relay_sec)
{
	memset(&r->limits, 0, sizeof(r->limits));
	unsigned n = cfg_size(relay_sec, "limits");
	if (n == 0)
		return;
	if (n > 1) {
		cfg_t *second = cfg_getnsec(relay_sec, "limits", 1);
		conf_fail_at(conf_line_of(second, NULL), "relay \"%s\": limits is given twice (first at line %d)",
			     r->name, conf_line_of(cfg_getnsec(relay_sec, "limits", 0), NULL));
		return;
	}
	cfg_t *l = cfg_getnsec(relay_sec, "limits", 0);
	if (cfg_size(l, "connections"))
		r->limits.connections = (unsigned)cfg_getint(l, "connections");
	if (cfg_size(l, "messages"))
		(void)parse_rate(cfg_getstr(l, "messages"), &r->limits.messages, &r->limits.period);
}

void conf_limits_dump(FILE *out, const struct sp_config *cfg, const struct sp_relay *r)
{
	const struct sp_limits *l = &r->limits;
	fputs("  limits {\n", out);
	if (l->connections)
		fprintf(out, "    connections = %u\n", l->connections);
	else
		fprintf(out, "    # connections (unset: each sealpostd keeps queue.concurrency = %u; "
			"not shared between workers)\n", cfg->queue.concurrency);
	if (l->messages) {
		char d[16];
		conf_format_duration(l->period, d);
		fprintf(out, "    messages    = \"%u/%s\"\n", l->messages, d);
	} else {
		fputs("    # messages    (unset: unlimited)\n", out);
	}
	fputs("  }\n", out);
}
