/*
 * probe.c - sealpostd --probe (see probe.h). Uses the delivery code path
 * (smtp_open) so what it reports is what delivery would do; the TLS layer
 * fills in the certificate details even when the policy rejects them.
 */
#include "config.h"

#include "probe.h"
#include "oauth_client.h"
#include "smtp.h"
#include "util.h"

#include <sysexits.h>

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
		if (relay->oauth2) {
			char line[512];
			oauth_describe(cfg, relay, line, sizeof(line));
			fprintf(out, "  %s\n", line);
		}
		int r = smtp_open(&s, cfg, relay, NULL, trace);
		fputs(report.data ? report.data : "", out);
		if (r == 0) {
			fprintf(out, "  result: OK, mail would be delivered (%s)\n", net_tls_summary(&s.conn));
			smtp_close(&s);
		} else {
			fprintf(out, "  result: FAILED at %s: %s\n", stage_name(s.fail.stage), s.fail.reason);
			result = EX_UNAVAILABLE;
		}
		buf_free(&report);
		fflush(out);
	}
	return result;
}
