/*
 * conf_oauth.h - the oauth2 { } block of a relay (SPEC section 7): its
 * schema, the rules its values follow, the provider defaults (token,
 * device and authorization endpoints, scope) and its --check-config dump.
 * Plain data; no secret is ever read here (client_secret_file is a path).
 */
#ifndef SEALPOST_CONF_OAUTH_H
#define SEALPOST_CONF_OAUTH_H

#include <stdio.h>

struct sp_config;
struct sp_relay;

enum sp_oauth_provider { SP_OAUTH_MICROSOFT, SP_OAUTH_GOOGLE, SP_OAUTH_CUSTOM };
enum sp_oauth_grant { SP_GRANT_CLIENT_CREDENTIALS, SP_GRANT_REFRESH_TOKEN };

struct sp_oauth2 {
	enum sp_oauth_provider provider;
	enum sp_oauth_grant grant;
	char *tenant;             /* microsoft: tenant id or domain */
	char *client_id;
	char *client_secret_file; /* NULL: a public client */
	char *ca_file;            /* NULL: system trust store */
	/* Effective values: the configured ones, or the provider's defaults
	 * (filled in at load, so every user sees the same). */
	char *scope;
	char *token_url;
	char *device_url;         /* NULL: no device flow */
	char *authorize_url;      /* NULL: no code flow */
	unsigned scope_default : 1, token_url_default : 1, device_url_default : 1,
		 authorize_url_default : 1;
};

const char *conf_oauth_provider_name(enum sp_oauth_provider p);
const char *conf_oauth_grant_name(enum sp_oauth_grant g);

/* The token file of a relay: spool_dir/oauth/NAME (a new string). */
char *conf_oauth_token_path(const struct sp_config *cfg, const struct sp_relay *relay);

/* --check-config: the relay's oauth2 block, effective values, the secret
 * file by name only, and where its token file is. */
void conf_oauth_dump(const struct sp_config *cfg, const struct sp_relay *relay, FILE *out);

void conf_oauth_free(struct sp_oauth2 *o);

#endif
