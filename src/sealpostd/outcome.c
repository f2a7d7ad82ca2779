/*
 * outcome.c - the single failure classifier (see outcome.h for the rules).
 * Pure function over trusted enums and an untrusted reply code.
 */
#include "config.h"

#include "outcome.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void set_status(char status[16], const char *s)
{
	snprintf(status, 16, "%s", s);
}

/* DSN status for a local failure. RFC 3463 subject 4 (network/routing),
 * 5 (protocol), 6 (content), 7 (security). */
static const char *local_status(enum local_error e)
{
	switch (e) {
	case LOCAL_CONNECT: return "4.4.1";
	case LOCAL_TIMEOUT: return "4.4.2";
	case LOCAL_PROTOCOL: return "4.5.0";
	case LOCAL_TLS: return "4.7.5";
	case LOCAL_TLS_VERIFY: return "4.7.5";
	case LOCAL_NO_STARTTLS: return "4.7.4";
	case LOCAL_AUTH: return "4.7.8";
	case LOCAL_CONFIG: return "4.3.5";
	case LOCAL_IO: return "4.3.0";
	case LOCAL_NEED_SMTPUTF8: return "5.6.7";
	case LOCAL_TOO_BIG: return "5.3.4";
	case LOCAL_EXPIRED: return "4.4.7";
	case LOCAL_BAD_ADDRESS: return "5.1.3";
	case LOCAL_NONE: break;
	}
	return "4.0.0";
}

enum outcome outcome_classify(enum smtp_stage stage, int code, const char *enhanced,
			      enum local_error local, char status[16])
{
	if (local != LOCAL_NONE) {
		set_status(status, local_status(local));
		/* A message the server can never take is a permanent failure;
		 * expiry is final too (status 4.4.7 per RFC 3463: the last
		 * error was temporary, but delivery is given up). */
		if (local == LOCAL_NEED_SMTPUTF8 || local == LOCAL_TOO_BIG || local == LOCAL_EXPIRED ||
		    local == LOCAL_BAD_ADDRESS)
			return OUTCOME_PERMANENT;
		return OUTCOME_TEMPORARY;
	}
	int klass = code / 100;
	if (code < 200 || code > 599 || klass == 3) {
		/* no reply, or an intermediate reply where a final one belongs */
		set_status(status, "4.5.0");
		return OUTCOME_TEMPORARY;
	}
	/* Trust the enhanced code only when its class agrees with the code. */
	bool enh_ok = enhanced && enhanced[0] == (char)('0' + klass) && enhanced[1] == '.';
	char fallback[16];
	snprintf(fallback, sizeof(fallback), "%d.0.0", klass);
	set_status(status, enh_ok ? enhanced : fallback);

	bool recipient_stage = stage == STAGE_MAIL || stage == STAGE_RCPT || stage == STAGE_DATA || stage == STAGE_EOD;
	if (klass == 2)
		return recipient_stage ? OUTCOME_DELIVERED : OUTCOME_TEMPORARY;
	if (klass == 4)
		return OUTCOME_TEMPORARY;
	/* 5xx */
	if (!recipient_stage) {
		/* the relay refuses us (greeting, EHLO, AUTH...): not the
		 * recipient's fault; try again or elsewhere */
		status[0] = '4';
		return OUTCOME_TEMPORARY;
	}
	if (code == 530) {
		/* "authentication required" / "must issue STARTTLS first": the
		 * relay's configuration, not the recipient; wait for a fix */
		set_status(status, "4.7.0");
		return OUTCOME_TEMPORARY;
	}
	if (stage == STAGE_RCPT && code == 552) {
		set_status(status, "4.5.3");
		return OUTCOME_TEMPORARY;
	}
	return OUTCOME_PERMANENT;
}

const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_DELIVERED: return "sent";
	case OUTCOME_TEMPORARY: return "deferred";
	case OUTCOME_PERMANENT: return "bounced";
	}
	return "?";
}

const char *stage_name(enum smtp_stage s)
{
	static const char *const names[] = {
		[STAGE_CONNECT] = "connect",
		[STAGE_GREETING] = "greeting",
		[STAGE_EHLO] = "EHLO",
		[STAGE_STARTTLS] = "STARTTLS",
		[STAGE_TLS] = "TLS handshake",
		[STAGE_AUTH] = "AUTH",
		[STAGE_MAIL] = "MAIL FROM",
		[STAGE_RCPT] = "RCPT TO",
		[STAGE_DATA] = "DATA",
		[STAGE_EOD] = "end of data",
		[STAGE_RSET] = "RSET",
	};
	if ((unsigned)s < sizeof(names) / sizeof(names[0]) && names[s])
		return names[s];
	return "?";
}
