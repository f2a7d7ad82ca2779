/*
 * auth.h - SMTP AUTH (RFC 4954) for the worker: choosing the mechanism,
 * fetching the secret (password_file or password_command) and running the
 * exchange. Called only on a connection whose TLS passed the policy; the
 * secret is wiped after use and never logged.
 */
#ifndef SEALPOSTD_AUTH_H
#define SEALPOSTD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "net.h"
#include "reply.h"

enum auth_mech {
	AUTH_PLAIN = 1,
	AUTH_LOGIN = 2,
	AUTH_XOAUTH2 = 4,
	AUTH_SCRAM_SHA256 = 8,
	AUTH_OAUTHBEARER = 16,
	AUTH_OTHER = 0x100, /* offered mechanisms we do not implement */
};

/* The bit for a mechanism name (case-insensitive), AUTH_OTHER if unknown. */
unsigned auth_mech_bit(const char *name);
/* Space-separated names of the mechanisms in mask ("PLAIN LOGIN"). */
void auth_mech_names(unsigned mask, char *out, size_t outlen);

/*
 * Pick the mechanism: configured is the relay's `auth` ("auto" or a name),
 * offered the server's post-TLS mechanisms. "auto" picks the strongest we
 * implement: SCRAM-SHA-256 (the password never leaves us, the server
 * proves it knows it), then PLAIN, then LOGIN; XOAUTH2 only when asked for
 * (its secret is a token, not a password). 0 with err when there is none.
 */
unsigned auth_choose(const char *configured, unsigned offered, char *err, size_t errlen);

/*
 * The mechanism for a relay with an oauth2 block: "auto" picks OAUTHBEARER
 * (RFC 7628), else XOAUTH2, as offered; "xoauth2"/"oauthbearer" as asked.
 * 0 with err when the server offers neither.
 */
unsigned auth_choose_token(const char *configured, unsigned offered, char *err, size_t errlen);

/*
 * Read the relay's secret: first line of password_file (which should not
 * be group/world readable: warned) or of password_command's output (run
 * with /bin/sh -c, no stdin, bounded output, killed after timeout_s).
 * Returns a string for free_secret(), or NULL with err.
 */
char *auth_get_secret(const struct sp_relay *relay, unsigned timeout_s, char *err, size_t errlen);

/*
 * Run the AUTH exchange over c (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER,
 * SCRAM-SHA-256; for SCRAM the server's signature is checked; for the
 * token mechanisms the secret is the access token, and host/port go into
 * OAUTHBEARER's message). 0 on 235; otherwise a local_error
 * (LOCAL_AUTH when the server refused, with its reply in *last and err;
 * LOCAL_TIMEOUT/LOCAL_CONNECT/LOCAL_PROTOCOL/LOCAL_TLS for I/O).
 */
int auth_run(struct netconn *c, unsigned mech, const struct sp_relay *relay, const char *secret,
	     uint64_t deadline_ms, struct smtp_reply *last, char *err, size_t errlen);

/*
 * AUTH with the relay's OAuth access token (relay->oauth2): a token from
 * the cache or the helper; when the server refuses it, one refresh and
 * one retry on the same connection (SPEC section 7). Returns like
 * auth_run; a token that cannot be had, first or after a refusal, is
 * LOCAL_OAUTH_TOKEN (a person must act: --health says "OAuth token") or
 * LOCAL_CONNECT (the token endpoint is down), with err saying
 * what failed and what to run; never a bounce (both are temporary).
 */
int auth_oauth(struct netconn *c, const struct sp_config *cfg, const struct sp_relay *relay,
	       unsigned mech, struct smtp_reply *last, char *err, size_t errlen);

#endif
