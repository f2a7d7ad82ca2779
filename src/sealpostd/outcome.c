/*
 * outcome.c - the single failure classifier (see outcome.h for the rules).
 * Pure functions over trusted enums and an untrusted reply (code, enhanced
 * code, text); the throttling table lives here too.
 */
#include "config.h"

#include "outcome.h"
#include "util.h"

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
	case LOCAL_OAUTH_TOKEN: return "4.7.8";
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

/*
 * Replies that mean "the relay is over a limit": defer, slow the relay down.
 * The texts are the providers' documented ones; a rule matches on code,
 * enhanced code and a word of the text, so a provider's rewording of the
 * rest does not lose the match. Keep each rule's source.
 */
static const struct throttle_rule throttle_rules[] = {
	{ 421, NULL, NULL, "service not available",
	  "RFC 5321 3.8 and 4.2.3: 421 closes the session at any point; e.g. Google "
	  "\"421 4.7.0 Try again later, closing connection.\" (Gmail SMTP errors and codes, "
	  "support.google.com/a/answer/3726730)" },
	{ 432, "4.3.2", NULL, "concurrent connection limit",
	  "Microsoft Exchange Online, 3 SMTP AUTH connections per mailbox: \"432 4.3.2 "
	  "STOREDRV.ClientSubmit; sender thread limit exceeded\" and \"432 4.3.2 concurrent "
	  "connection limit exceeded\" (Exchange Team blog, Changes coming to the SMTP "
	  "Authenticated Submission client protocol, 2018)" },
	{ 454, NULL, "throttling", "sending rate or daily quota",
	  "Amazon SES: \"454 Throttling failure: Maximum sending rate exceeded\" (after DATA) and "
	  "\"454 Throttling failure: Daily message quota exceeded\" (SES Developer Guide, Errors "
	  "related to the sending quotas)" },
	{ 451, "4.7.", "rate|limit|throttl|too many|quota|exceeded|busy", "rate limit",
	  "451 4.7.x rate replies: e.g. Exchange Online \"451 4.7.500 Server busy. Please try again "
	  "later\" (Exchange Online NDR codes), policy servers' \"451 4.7.1 ... rate limit exceeded\"" },
	{ 450, "4.2.1", "relay limit", "relay rate limit",
	  "Google Workspace SMTP relay: \"450 4.2.1 Peak SMTP relay limit exceeded for this "
	  "customer.\" (Gmail SMTP errors and codes)" },
	{ 550, "5.4.5", NULL, "daily sending quota",
	  "Google Workspace: \"550 5.4.5 Daily user sending limit exceeded.\" and \"550 5.4.5 Daily "
	  "SMTP relay limit exceeded for user.\" (Gmail SMTP errors and codes)" },
	{ 554, NULL, "quotaexceeded", "submission quota",
	  "Microsoft Exchange Online, 10,000 recipients a day: \"554 5.2.0 "
	  "STOREDRV.Submission.Exception:SubmissionQuotaExceededException\" (Exchange Online "
	  "limits, sending limits; NDR 5.2.0)" },
};

/* Whether one of the '|'-separated words occurs in text, ignoring case. */
static bool has_word(const char *text, const char *words)
{
	while (*words) {
		size_t n = strcspn(words, "|");
		for (const char *p = text; n && *p; p++)
			if (ascii_ncasecmp(p, words, n) == 0)
				return true;
		words += n;
		if (*words == '|')
			words++;
	}
	return false;
}

const struct throttle_rule *outcome_throttle(int code, const char *enhanced, const char *text)
{
	for (size_t i = 0; i < sizeof(throttle_rules) / sizeof(throttle_rules[0]); i++) {
		const struct throttle_rule *r = &throttle_rules[i];
		if (r->code != code)
			continue;
		if (r->enhanced && (!enhanced || strncmp(enhanced, r->enhanced, strlen(r->enhanced)) != 0))
			continue;
		if (r->words && !has_word(text ? text : "", r->words))
			continue;
		return r;
	}
	return NULL;
}

const struct throttle_rule *outcome_throttle_rules(size_t *n)
{
	*n = sizeof(throttle_rules) / sizeof(throttle_rules[0]);
	return throttle_rules;
}

enum outcome outcome_classify_reply(enum smtp_stage stage, int code, const char *enhanced, const char *text,
				    enum local_error local, char status[16], const struct throttle_rule **throttle)
{
	enum outcome o = outcome_classify(stage, code, enhanced, local, status);
	const struct throttle_rule *rule = local == LOCAL_NONE ? outcome_throttle(code, enhanced, text) : NULL;
	if (throttle)
		*throttle = rule;
	if (!rule)
		return o;
	status[0] = '4'; /* a quota is not the recipient's failure */
	return OUTCOME_TEMPORARY;
}

bool outcome_too_many_recipients(enum smtp_stage stage, int code)
{
	return stage == STAGE_RCPT && (code == 452 || code == 552);
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
