/*
 * oauth_store.h - a relay's OAuth token file, spool_dir/oauth/RELAY (SPEC
 * section 7): the refresh token, the cached access token with its expiry,
 * a generation counter, and the back-off state of failed refreshes.
 *
 * Written only by the helper sealpost-oauth (and --oauth-login), always
 * whole: temporary file (0600), fsync, rename, directory fsync, so a crash
 * leaves the old file or the new one. Read by the worker without a lock
 * (rename is atomic) to reuse a cached access token. Refreshes are
 * serialised by flock on spool_dir/oauth/RELAY.lock. Every buffer that
 * held a token is wiped; nothing here logs one.
 *
 * File format: a first line "sealpost-oauth 1", then "key value" lines:
 * refresh_token, access_token, expires, obtained (Unix seconds),
 * generation, scope, failures, next_try, last_error. Tokens are RFC 6749
 * VSCHAR strings without spaces.
 */
#ifndef SEALPOST_OAUTH_STORE_H
#define SEALPOST_OAUTH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OAUTH_TOKEN_MAX 8192      /* longest token we accept (Microsoft JWTs: ~2.5 KiB) */
#define OAUTH_MAX_MARGIN 300      /* refresh this long before expiry, at most */

struct oauth_token {
	char *refresh_token;      /* NULL: none */
	char *access_token;       /* NULL: none cached */
	int64_t expires;          /* Unix time the access token expires */
	int64_t obtained;         /* Unix time it was obtained */
	uint64_t generation;      /* +1 for every new access token */
	char *scope;              /* as granted (informational) */
	unsigned failures;        /* refreshes failed in a row */
	int64_t next_try;         /* back-off: no refresh before this */
	char *last_error;         /* "CLASS text" of the last failure */
};

/* Whether s is a token we store: 1..OAUTH_TOKEN_MAX VSCHARs, no space. */
bool oauth_token_syntax_ok(const char *s);

/* 0 read, 1 no such file (t is empty), -1 unreadable or damaged (err). */
int oauth_store_read(const char *path, struct oauth_token *t, char *err, size_t errlen);

/* Replace path durably with t (mode 0600; the directory is created 0700
 * when missing), under the relay's lock; temporary files left by a writer
 * that was killed are removed. 0, or -1 with err (the old file is left as
 * it was). */
int oauth_store_write(const char *path, const struct oauth_token *t, char *err, size_t errlen);

/* Take the relay's refresh lock (flock on path.lock, waiting at most
 * timeout_s). The descriptor to close, or -1 with err. */
int oauth_store_lock(const char *path, unsigned timeout_s, char *err, size_t errlen);

/* The access token is usable at now for at least the refresh margin:
 * min(OAUTH_MAX_MARGIN, a quarter of its lifetime). */
bool oauth_token_fresh(const struct oauth_token *t, int64_t now);

/* Wipe and free every field (t itself is the caller's). */
void oauth_token_clear(struct oauth_token *t);

#endif
