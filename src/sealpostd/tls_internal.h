/*
 * tls_internal.h - what the TLS layer's files share (tls.c: sessions and
 * record I/O; tls_policy.c: a policy turned into GnuTLS settings, loaded
 * once; tls_verify.c: the peer's certificate; tls_diag.c: failures told as
 * facts). GnuTLS types appear here and in those files only; the rest of
 * the worker uses tls.h.
 */
#ifndef SEALPOSTD_TLS_INTERNAL_H
#define SEALPOSTD_TLS_INTERNAL_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>

#include "conf.h"
#include "tls.h"
#include "util.h"

/* One policy's GnuTLS settings, made once per process (before the
 * privilege drop when main.c preloads them) and shared by every session
 * under that policy. Never freed: a worker has a handful. */
struct tls_prepared {
	char *key;                            /* tls_policy_text(): what made it */
	gnutls_certificate_credentials_t cred; /* trust store (verify = ca), client key */
	gnutls_priority_t prio;
	char *prio_text;                      /* the full priority string in force */
	const char *profile;                  /* "medium", ...: the verification profile */
	bool strict;                          /* built-in priority: forward-secret AEAD only */
	bool client_cert;                     /* a client certificate is configured */
};

struct tls_conn {
	gnutls_session_t session;
	const struct tls_prepared *prep;
	int fd;
	const struct sp_tls_policy *pol;
	char *host;                /* the relay host, for logs */
	char *check_name;          /* verify_name or host */
	gnutls_typed_vdata_st vdata[2]; /* name and purpose, for every verification */
	struct tls_resume *resume;
	bool handshaken;
	char summary[128];
};

/* tls_policy.c */
const struct tls_prepared *tls_prepared_get(const struct sp_tls_policy *pol, bool announce, char *err,
					    size_t errlen);
/* The negotiated version and suite against the policy, after every
 * handshake (full or resumed). 0 or LOCAL_TLS with err. */
int tls_suite_check(struct tls_conn *t, char *err, size_t errlen);
/* What a policy offers, for diagnostics: "TLS1.2 and TLS1.3, forward-secret AEAD suites only". */
void tls_offer_summary(const struct tls_conn *t, char *out, size_t n);

/* tls_verify.c */
void tls_verify_setup(gnutls_certificate_credentials_t cred);
void tls_verify_arm(struct tls_conn *t);
int tls_verify_peer(struct tls_conn *t, char *err, size_t errlen);
void tls_verify_explain(struct tls_conn *t, unsigned status, char *err, size_t errlen);
int tls_check_pin(struct tls_conn *t, char *err, size_t errlen);
int tls_spki_pin(const gnutls_datum_t *der, char out[64]);
void tls_describe_chain(struct tls_conn *t, struct buf *out);

/* tls_diag.c: a fatal GnuTLS error as a sentence naming the facts.
 * during: "handshake", "read", "write". Returns the local_error. */
int tls_diag_error(struct tls_conn *t, int gnutls_err, const char *during, char *err, size_t errlen);

#endif
