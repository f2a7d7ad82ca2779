/*
 * grant.h - the token life cycle inside the helper sealpost-oauth: token
 * requests (RFC 6749 client_credentials, refresh_token, and the final
 * exchange of the sign-in flows), their classified failures, rotation
 * saved before use, one refresh at a time per relay, and back-off.
 */
#ifndef SEALPOST_OAUTH_GRANT_H
#define SEALPOST_OAUTH_GRANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "conf_oauth.h"
#include "http.h"
#include "oauth_store.h"

/* The failure classes the worker reports (the first word of an error). */
enum oauth_class {
	OC_OK,
	OC_GRANT,        /* invalid_grant, no refresh token: sign in again */
	OC_CLIENT,       /* invalid_client / unauthorized_client: fix the app */
	OC_REFUSED,      /* another OAuth error (invalid_scope, ...) */
	OC_UNREACHABLE,  /* connect, TLS, timeout, 5xx: retried with back-off */
	OC_PROTOCOL,     /* not an RFC 6749 answer, oversized */
	OC_CONFIG,       /* local: secret file, token file */
};

const char *oauth_class_name(enum oauth_class c);

struct relay_ctx {
	const struct sp_config *cfg;
	const struct sp_relay *relay;
	const struct sp_oauth2 *o;
	char *token_path;
	unsigned timeout_s;           /* per HTTP exchange */
};

/*
 * POST a token request: the grant's own fields are in f; client_id, the
 * client secret (from client_secret_file) and, unless no_scope, the scope
 * are added here. On OC_OK, the new access token (and a rotated refresh
 * token, the granted scope, the expiry) are in t, generation + 1.
 * Otherwise err says exactly what failed, for logs and mailq. When
 * oauth_error is not NULL it receives the RFC 6749 "error" code.
 */
enum oauth_class token_request(const struct relay_ctx *rc, struct form *f, bool no_scope,
			       struct oauth_token *t, char *oauth_error, size_t oelen,
			       char *err, size_t errlen);

/*
 * An access token for the relay: the cached one while fresh (and, with
 * stale, newer than generation stale_gen: that one was refused), else a
 * refresh under the relay's lock, saved durably before it is returned;
 * during back-off the last failure is returned without a request.
 * force ignores the back-off (--oauth-login of a client_credentials relay).
 */
enum oauth_class token_get(const struct relay_ctx *rc, bool stale, uint64_t stale_gen, bool force,
			   struct oauth_token *out, char *err, size_t errlen);

/* Save t after a sign-in (under the lock), keeping the generation rising. */
int token_store_signin(const struct relay_ctx *rc, struct oauth_token *t, char *err, size_t errlen);

#endif
