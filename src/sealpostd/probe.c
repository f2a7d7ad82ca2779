/*
 * probe.c - sealpostd --probe (see probe.h). Uses the delivery code path
 * (smtp_open) so what it reports is what delivery would do; the TLS layer
 * fills in the certificate details (purpose, key, signature, what the
 * policy refuses) even when the policy rejects them. When the built-in
 * priority finds no suite in common, one more handshake with priority
 * "NORMAL" (still TLS 1.2 or newer, still verified) tells whether a
 * wider priority would work; nothing is sent in it either.
 */
#include "config.h"

#include "probe.h"
#include "smtp.h"
#include "util.h"

#include <string.h>
#include <sysexits.h>

/* The relay's policy with priority = "NORMAL", as a one-policy config. */
static void wider_priority(const struct sp_config *cfg, const struct sp_relay *relay, FILE *out)
{
	struct sp_config wide = *cfg;
	struct sp_tls_policy pol = *conf_policy_for(cfg, relay->host);
	pol.host = relay->host;
	pol.priority = (char *)"NORMAL";
	wide.policies = &pol;
	wide.npolicies = 1;
	struct smtp_session s = { .probe = NULL };
	if (smtp_open(&s, &wide, relay, NULL, false) == 0) {
		fprintf(out, "  a wider priority would work: with priority = \"NORMAL\" the server negotiates %s\n",
			net_tls_summary(&s.conn));
		smtp_close(&s);
	} else {
		fprintf(out, "  priority = \"NORMAL\" does not help either: %s\n", s.fail.reason);
	}
}

int probe_relays(const struct sp_config *cfg, bool trace, FILE *out)
{
	int result = 0;
	for (size_t i = 0; i < cfg->nrelays; i++) {
		const struct sp_relay *relay = &cfg->relays[i];
		const struct sp_tls_policy *pol = conf_policy_for(cfg, relay->host);
		struct buf report;
		buf_init(&report);
		struct smtp_session s = { .probe = &report };
		fprintf(out, "relay \"%s\": %s port %u, tls = %s, policy \"%s\": verify = %s, name = %s, CA = %s\n",
			relay->name, relay->host, relay->port, conf_tls_mode_name(relay->tls), pol->host,
			conf_verify_name(pol->verify), pol->verify_name ? pol->verify_name : relay->host,
			pol->ca_file ? pol->ca_file : "system trust store");
		int r = smtp_open(&s, cfg, relay, NULL, trace);
		fputs(report.data ? report.data : "", out);
		if (r == 0) {
			fprintf(out, "  result: OK, mail would be delivered (%s)\n", net_tls_summary(&s.conn));
			smtp_close(&s);
		} else {
			fprintf(out, "  result: FAILED at %s: %s\n", stage_name(s.fail.stage), s.fail.reason);
			result = EX_UNAVAILABLE;
			if (!(pol->priority && pol->priority[0]) && strstr(s.fail.reason, "no cipher suite in common"))
				wider_priority(cfg, relay, out);
		}
		buf_free(&report);
		fflush(out);
	}
	return result;
}
