/*
 * oauth_client.h - the worker's side of OAuth 2.0 (SPEC section 7): an
 * access token for a relay's oauth2 block, taken from the relay's token
 * file while it is fresh, else from the helper sealpost-oauth (run as a
 * child over a pipe; it alone links libcurl and json-c, refreshes, and
 * writes the file). Runs as the worker's user; tokens are wiped after use
 * and never logged.
 */
#ifndef SEALPOSTD_OAUTH_CLIENT_H
#define SEALPOSTD_OAUTH_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct oauth_lease {
	char *token;          /* the access token, for oauth_lease_clear() */
	uint64_t generation;  /* tells the helper which token was refused */
	int64_t expires;
};

/*
 * An access token for relay (which has an oauth2 block). refused, when
 * not NULL, is the token the server just refused: a newer one is wanted.
 * 0; -2 when the token endpoint is unreachable or garbled (transient);
 * -1 when a person must act; both with err saying what failed and what
 * to run, e.g.
 * "OAuth token for relay m365: the token endpoint refused the grant
 * (invalid_grant: ...): run sealpostd --oauth-login m365".
 */
int oauth_get_token(const struct sp_config *cfg, const struct sp_relay *relay,
		    const struct oauth_lease *refused, struct oauth_lease *out, char *err, size_t errlen);

void oauth_lease_clear(struct oauth_lease *l);

/* When the relay's cached access token expires (Unix time), 0 when there
 * is none: for the metrics file and --probe. Reads the token file only. */
int64_t oauth_token_expiry(const struct sp_config *cfg, const struct sp_relay *relay);

/* One line for --probe: whether a refresh token and an access token are
 * stored, and until when (never the tokens). */
void oauth_describe(const struct sp_config *cfg, const struct sp_relay *relay, char *out, size_t n);

/* The helper's path (beside a build-tree sealpostd, else PKGLIBEXECDIR);
 * for --check-config and --oauth-login. A new string. */
char *oauth_helper_path(void);

#endif
