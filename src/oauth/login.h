/*
 * login.h - `sealpostd --oauth-login RELAY`: obtain the first refresh token
 * with the device flow (RFC 8628) when the relay has a device endpoint,
 * else the authorization-code flow with PKCE (RFC 7636) and a loopback
 * redirect on 127.0.0.1 (RFC 8252); a client_credentials relay just gets
 * (and checks) a token. Prints what it got, never a token.
 */
#ifndef SEALPOST_OAUTH_LOGIN_H
#define SEALPOST_OAUTH_LOGIN_H

#include "grant.h"

/* Exit status: 0 signed in and stored, 69 refused, 75 endpoint
 * unreachable or timed out, 78 configuration. */
int login_run(struct relay_ctx *rc);

#endif
