/*
 * scram.h - the client side of SASL SCRAM-SHA-256 (RFC 5802, RFC 7677),
 * without channel binding ("n,,"): the password never crosses the wire and
 * the server proves that it knows it too. Pure message logic over the
 * crypto helpers in tls.h; the server's messages are hostile and bounded.
 */
#ifndef SEALPOSTD_SCRAM_H
#define SEALPOSTD_SCRAM_H

#include <stddef.h>

#define SCRAM_MIN_ITER 4096      /* RFC 7677 */
#define SCRAM_MAX_ITER 1000000   /* bounds the work a server can ask for */

struct scram {
	char *client_first_bare;  /* "n=user,r=nonce" */
	char *auth_message;
	unsigned char salted[32]; /* SaltedPassword: wiped by scram_free */
};

/* The password as SCRAM hashes it (RFC 5802 Normalize): SASLprep (RFC
 * 4013) as a stored string when it has non-ASCII characters, unchanged
 * otherwise. malloc'ed (free with free_secret), or NULL with err when it
 * is not UTF-8 or SASLprep refuses it (prohibited, unassigned, bidi). */
char *scram_saslprep(const char *password, char *err, size_t errlen);

/* The client-first message ("n,,n=user,r=nonce"); nonce NULL = random.
 * NULL only when no randomness is available. */
char *scram_client_first(struct scram *sc, const char *user, const char *nonce);
/* The client-final message for server_first, or NULL with err (bad
 * message, nonce not extending ours, iteration count out of bounds, a
 * password scram_saslprep refuses). */
char *scram_client_final(struct scram *sc, const char *password, const char *server_first, char *err,
			 size_t errlen);
/* 0 when server_final ("v=...") proves the server knows the password. */
int scram_verify_server(struct scram *sc, const char *server_final, char *err, size_t errlen);
void scram_free(struct scram *sc);

#endif
