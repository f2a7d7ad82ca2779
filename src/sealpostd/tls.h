/*
 * tls.h - the TLS client: the worker's only door to GnuTLS (tls.c,
 * tls_policy.c, tls_verify.c and tls_diag.c are behind it). Opens a
 * session on a connected non-blocking socket under a per-host policy
 * (conf.h: verify ca/pin/encrypt, min_version, priority,
 * security_profile, client cert), verifies the peer for TLS-server use,
 * and offers record I/O, peer facts for logs and --probe, and session
 * resumption. Trusts the policy; the peer is hostile.
 */
#ifndef SEALPOSTD_TLS_H
#define SEALPOSTD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "util.h"

struct tls_conn;

/* Resumption data for one relay (host, port and policy fixed by the
 * caller), kept across connections in one process. */
struct tls_resume {
	unsigned char *data;
	size_t len;
};
void tls_resume_clear(struct tls_resume *r);
/* Replace r's data by a copy of n bytes (tls_cache.c). */
void tls_resume_set(struct tls_resume *r, const void *p, size_t n);

/* Process-wide setup; 0 or -1 with err. */
int tls_global_init(char *err, size_t errlen);
void tls_global_deinit(void);

/*
 * Prepare a client session on fd for host (SNI unless an IP literal; the
 * name checked is pol->verify_name or host). resume may be NULL. Returns
 * NULL with err when the policy cannot be applied (trust store missing or
 * empty, unreadable client key, invalid priority string): fail closed.
 */
struct tls_conn *tls_conn_new(int fd, const struct sp_tls_policy *pol, const char *host,
			      struct tls_resume *resume, char *err, size_t errlen);

/* Load every relay's TLS policy now (trust store, client key, priority
 * string): main.c calls it before the privilege drop, so these files may
 * be readable by root only. Policies that cannot be applied are logged
 * and fail each connection later with the same reason. The warnings of
 * tls_policy_warnings are logged once here. */
void tls_policy_preload(const struct sp_config *cfg);

/* The ways pol weakens the defaults (security_profile below "medium", a
 * priority %PROFILE_ that is overridden, a priority wider than forward-
 * secret AEAD suites), one line each into out; returns how many. */
int tls_policy_warnings(const struct sp_tls_policy *pol, struct buf *out);

/* What a resumed session must have been made under: SHA-256 (hex) of
 * the policy (trust anchors, pins, name checked for host, client
 * certificate, min_version, priority, security_profile) and identity
 * (the AUTH user or ""). Two relays whose keys differ never share a
 * session. */
void tls_policy_key(const struct sp_tls_policy *pol, const char *host, const char *identity, char out[65]);

/* Apply pol as tls_conn_new would, without a connection (--check-config):
 * 0, or -1 with the reason (trust store, client key, priority string). */
int tls_policy_check(const struct sp_tls_policy *pol, const char *host, char *err, size_t errlen);

/*
 * Handshake and verify, bounded by deadline_ms (now_ms() clock). Returns 0,
 * or an enum local_error (outcome.h) with the exact reason in err:
 * "certificate expired", "certificate name mismatch", "TLS handshake
 * timed out", ...
 */
int tls_handshake(struct tls_conn *t, uint64_t deadline_ms, char *err, size_t errlen);

#define TLS_WANT_READ (-2)
#define TLS_WANT_WRITE (-3)
/* >0 bytes, 0 orderly end, TLS_WANT_*, or -1 with err. */
ssize_t tls_recv(struct tls_conn *t, void *p, size_t n, char *err, size_t errlen);
/* Sends up to n bytes as one record (n <= 16384 gives one record). Call
 * again with the same arguments after TLS_WANT_*. */
ssize_t tls_send(struct tls_conn *t, const void *p, size_t n, char *err, size_t errlen);
/* Bytes already decrypted and waiting inside the session. */
size_t tls_pending(struct tls_conn *t);

/* "TLS1.3/AES-256-GCM verified" (or "pinned", "unauthenticated"). */
const char *tls_summary(const struct tls_conn *t);
/* Whether the handshake resumed an earlier session (no certificate was
 * sent; the stored one was verified again under the policy). */
bool tls_resumed(const struct tls_conn *t);

/* Facts about an established session for log lines and metrics
 * (opslog.c). level is Postfix's word for how the peer was
 * authenticated: "Verified" (chain and name, or the pin, matched),
 * "Untrusted" (a certificate, not authenticated: verify = "encrypt"),
 * "Anonymous" (no certificate). */
struct tls_facts {
	char protocol[16];        /* "TLSv1.3", as OpenSSL and Postfix spell it */
	char cipher[96];          /* IANA suite name, "TLS_AES_256_GCM_SHA384" */
	unsigned bits;            /* symmetric key bits */
	const char *level;        /* "Verified" | "Untrusted" | "Anonymous" */
	bool verified;            /* verify = "ca" and the chain and name checked */
	bool pin_matched;         /* verify = "pin" and a pin matched */
	time_t peer_cert_expiry;  /* the leaf's notAfter; 0 when none */
};
void tls_get_facts(struct tls_conn *t, struct tls_facts *f);

/* Multi-line description of the peer's chain for --probe: per certificate
 * subject, names, issuer, purpose (extended key usage), key type and
 * size, signature algorithm, validity, SPKI pin, and "REFUSED by the
 * policy: why" for each certificate the policy refuses on its own. */
void tls_describe_peer(struct tls_conn *t, struct buf *out);

/* Store the session's resumption data into the resume given to
 * tls_conn_new when it is new and usable (TLS 1.3: a ticket arrived; a
 * resumed session without a new ticket keeps the old data). true when
 * the stored data changed. */
bool tls_resume_save(struct tls_conn *t);

/* Send close_notify (bounded by deadline_ms), save resumption data
 * (tls_resume_save), free. Never closes the fd. */
void tls_close(struct tls_conn *t, uint64_t deadline_ms);

/* Crypto for SASL SCRAM (auth.c), here so that GnuTLS stays in one file.
 * Each returns 0, or -1 on failure. */
int tls_random(void *p, size_t n);
int tls_sha256(const void *data, size_t n, unsigned char out[32]);
int tls_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, unsigned char out[32]);
int tls_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt, size_t saltlen, unsigned iter,
		      unsigned char out[32]);

/* Base64 SHA-256 of the SubjectPublicKeyInfo in a PEM/DER certificate
 * file (tests and --probe convenience). 0 or -1 with err. */
int tls_pin_of_file(const char *path, char out[64], char *err, size_t errlen);

#endif
