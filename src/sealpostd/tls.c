/*
 * tls.c - the GnuTLS client session (see tls.h): set up under a prepared
 * policy (tls_policy.c), handshake, the checks after every handshake
 * (suite: tls_policy.c; peer: tls_verify.c), record I/O, resumption data,
 * close. With tls_policy.c, tls_verify.c and tls_diag.c the only files
 * that call GnuTLS.
 *
 * Verification fails closed: a trust store that cannot be loaded is an
 * error, never "no verification". verify = "ca" uses GnuTLS's chain, name
 * and TLS-server purpose check during the handshake and checks again
 * afterwards (the only check a resumed session gets); "pin" compares
 * SHA-256 of the leaf's SubjectPublicKeyInfo; "encrypt" authenticates
 * nothing and says so in the log on every connection. Runs as the
 * worker's user.
 */
#include "config.h"

#include "tls.h"
#include "tls_internal.h"
#include "base64.h"
#include "log.h"
#include "net.h"
#include "outcome.h"

#include <arpa/inet.h>
#include <limits.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tls_resume_clear(struct tls_resume *r)
{
	if (r->data)
		gnutls_free(r->data);
	r->data = NULL;
	r->len = 0;
}

void tls_resume_set(struct tls_resume *r, const void *p, size_t n)
{
	tls_resume_clear(r);
	if (n == 0 || n > UINT_MAX)
		return;
	r->data = gnutls_malloc(n);
	if (!r->data)
		return; /* only a hint: no resumption */
	memcpy(r->data, p, n);
	r->len = n;
}

int tls_global_init(char *err, size_t errlen)
{
	int r = gnutls_global_init();
	if (r < 0) {
		set_err(err, errlen, "GnuTLS initialisation failed: %s", gnutls_strerror(r));
		return -1;
	}
	return 0;
}

void tls_global_deinit(void)
{
	gnutls_global_deinit();
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void tls_free(struct tls_conn *t)
{
	if (!t)
		return;
	if (t->session)
		gnutls_deinit(t->session);
	free(t->host);
	free(t->check_name);
	free(t);
}

struct tls_conn *tls_conn_new(int fd, const struct sp_tls_policy *pol, const char *host,
			      struct tls_resume *resume, char *err, size_t errlen)
{
	struct tls_conn *t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->pol = pol;
	t->host = xstrdup(host);
	t->check_name = xstrdup(pol->verify_name && pol->verify_name[0] ? pol->verify_name : host);
	t->resume = resume;
	snprintf(t->summary, sizeof(t->summary), "none");

	t->prep = tls_prepared_get(pol, true, err, errlen);
	if (!t->prep)
		goto fail;
	int r = gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
	if (r < 0) {
		t->session = NULL;
		set_err(err, errlen, "TLS session: %s", gnutls_strerror(r));
		goto fail;
	}
	r = gnutls_priority_set(t->session, t->prep->prio);
	if (r < 0) {
		set_err(err, errlen, "TLS priority: %s", gnutls_strerror(r));
		goto fail;
	}
	r = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->prep->cred);
	if (r < 0) {
		set_err(err, errlen, "TLS credentials: %s", gnutls_strerror(r));
		goto fail;
	}
	/* RFC 6066: no IP literals in SNI */
	if (!is_ip_literal(t->check_name))
		(void)gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, t->check_name, strlen(t->check_name));
	if (pol->verify == SP_VERIFY_CA)
		tls_verify_arm(t);
	gnutls_transport_set_int(t->session, fd);
	if (resume && resume->data && resume->len > 0)
		(void)gnutls_session_set_data(t->session, resume->data, resume->len);
	return t;
fail:
	tls_free(t);
	return NULL;
}

int tls_policy_check(const struct sp_tls_policy *pol, const char *host, char *err, size_t errlen)
{
	(void)host;
	return tls_prepared_get(pol, false, err, errlen) ? 0 : -1;
}

/* After the handshake: version, cipher and authentication, again. */
static int check_session(struct tls_conn *t, char *err, size_t errlen)
{
	int rc = tls_suite_check(t, err, errlen);
	if (rc != 0)
		return rc;
	const char *how = "unauthenticated";
	if (t->pol->verify == SP_VERIFY_CA) {
		rc = tls_verify_peer(t, err, errlen);
		if (rc != 0)
			return rc;
		how = "verified";
	} else if (t->pol->verify == SP_VERIFY_PIN) {
		rc = tls_check_pin(t, err, errlen);
		if (rc != 0)
			return rc;
		how = "pinned";
	} else {
		log_msg(LOG_WARNING, "TLS to %s is encrypted but NOT authenticated (tls_policy verify = \"encrypt\")",
			t->host);
	}
	const char *vname = gnutls_protocol_get_name(gnutls_protocol_get_version(t->session));
	const char *cname = gnutls_cipher_get_name(gnutls_cipher_get(t->session));
	snprintf(t->summary, sizeof(t->summary), "%s/%s %s", vname ? vname : "?", cname ? cname : "?", how);
	return 0;
}

int tls_handshake(struct tls_conn *t, uint64_t deadline_ms, char *err, size_t errlen)
{
	for (int spins = 0; spins < 10000; spins++) {
		int r = gnutls_handshake(t->session);
		if (r == 0) {
			t->handshaken = true;
			int rc = check_session(t, err, errlen);
			if (rc != 0 && tls_resumed(t)) /* say so: no certificate crossed this time */
				snprintf(err + strlen(err), errlen - strlen(err), " (resumed session)");
			return rc;
		}
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			int w = net_wait(t->fd, gnutls_record_get_direction(t->session) == 1, deadline_ms);
			if (w == 0) {
				set_err(err, errlen, "TLS handshake timed out");
				return LOCAL_TIMEOUT;
			}
			if (w < 0) {
				set_err(err, errlen, "TLS handshake: poll failed");
				return LOCAL_TLS;
			}
			continue;
		}
		if (!gnutls_error_is_fatal(r))
			continue; /* a warning alert */
		return tls_diag_error(t, r, "handshake", err, errlen);
	}
	set_err(err, errlen, "TLS handshake makes no progress");
	return LOCAL_TLS;
}

static ssize_t again_code(struct tls_conn *t)
{
	return gnutls_record_get_direction(t->session) == 1 ? TLS_WANT_WRITE : TLS_WANT_READ;
}

ssize_t tls_recv(struct tls_conn *t, void *p, size_t n, char *err, size_t errlen)
{
	if (!t->handshaken) {
		set_err(err, errlen, "TLS session not established");
		return -1;
	}
	for (int tries = 0; tries < 16; tries++) {
		ssize_t r = gnutls_record_recv(t->session, p, n);
		if (r >= 0)
			return r;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return again_code(t);
		if (!gnutls_error_is_fatal((int)r))
			continue; /* renegotiation requests and warnings: ignored */
		(void)tls_diag_error(t, (int)r, "read", err, errlen);
		return -1;
	}
	set_err(err, errlen, "TLS read error: too many non-fatal errors");
	return -1;
}

ssize_t tls_send(struct tls_conn *t, const void *p, size_t n, char *err, size_t errlen)
{
	if (!t->handshaken) {
		set_err(err, errlen, "TLS session not established");
		return -1;
	}
	ssize_t r = gnutls_record_send(t->session, p, n);
	if (r >= 0)
		return r;
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return again_code(t);
	(void)tls_diag_error(t, (int)r, "write", err, errlen);
	return -1;
}

size_t tls_pending(struct tls_conn *t)
{
	return t->handshaken ? gnutls_record_check_pending(t->session) : 0;
}

bool tls_resumed(const struct tls_conn *t)
{
	return t->handshaken && gnutls_session_is_resumed(t->session) != 0;
}

void tls_get_facts(struct tls_conn *t, struct tls_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->level = "Anonymous";
	if (!t->handshaken)
		return;
	const char *proto = gnutls_protocol_get_name(gnutls_protocol_get_version(t->session));
	/* GnuTLS says "TLS1.3"; Postfix logs OpenSSL's "TLSv1.3" */
	if (proto && strncmp(proto, "TLS", 3) == 0)
		snprintf(f->protocol, sizeof(f->protocol), "TLSv%s", proto + 3);
	else
		snprintf(f->protocol, sizeof(f->protocol), "%s", proto ? proto : "unknown");
	const char *suite = gnutls_ciphersuite_get(t->session);
	snprintf(f->cipher, sizeof(f->cipher), "%s", suite ? suite : "unknown");
	f->bits = (unsigned)gnutls_cipher_get_key_size(gnutls_cipher_get(t->session)) * 8;
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->session, &n);
	gnutls_x509_crt_t crt;
	if (certs && n > 0 && gnutls_x509_crt_init(&crt) >= 0) {
		if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0) {
			time_t exp = gnutls_x509_crt_get_expiration_time(crt);
			f->peer_cert_expiry = exp == (time_t)-1 ? 0 : exp;
		}
		gnutls_x509_crt_deinit(crt);
	}
	/* the handshake succeeded, so a ca or pin policy was satisfied */
	f->verified = t->pol->verify == SP_VERIFY_CA;
	f->pin_matched = t->pol->verify == SP_VERIFY_PIN;
	f->level = f->verified || f->pin_matched ? "Verified" : n > 0 ? "Untrusted" : "Anonymous";
}

const char *tls_summary(const struct tls_conn *t)
{
	return t->summary;
}

void tls_describe_peer(struct tls_conn *t, struct buf *out)
{
	tls_describe_chain(t, out);
}

bool tls_resume_save(struct tls_conn *t)
{
	if (!t || !t->handshaken || !t->resume)
		return false;
	/* TLS 1.3 data can resume only once a ticket arrived; a resumed
	 * session that brought no new ticket (Postfix/OpenSSL send none on
	 * resumption) keeps the data it used, which resumes again */
	unsigned flags = gnutls_session_get_flags(t->session);
	bool tls13 = gnutls_protocol_get_version(t->session) == GNUTLS_TLS1_3;
	if (tls13 ? !(flags & GNUTLS_SFLAGS_SESSION_TICKET) : gnutls_session_is_resumed(t->session) != 0)
		return false;
	gnutls_datum_t d = { NULL, 0 };
	if (gnutls_session_get_data2(t->session, &d) < 0 || d.size == 0) {
		if (d.data)
			gnutls_free(d.data);
		return false;
	}
	if (t->resume->data && t->resume->len == d.size && memcmp(t->resume->data, d.data, d.size) == 0) {
		gnutls_free(d.data);
		return false;
	}
	tls_resume_clear(t->resume);
	t->resume->data = d.data;
	t->resume->len = d.size;
	return true;
}

void tls_close(struct tls_conn *t, uint64_t deadline_ms)
{
	if (!t)
		return;
	if (t->handshaken) {
		(void)tls_resume_save(t);
		for (int spins = 0; spins < 100; spins++) {
			int r = gnutls_bye(t->session, GNUTLS_SHUT_WR);
			if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
				break;
			if (net_wait(t->fd, gnutls_record_get_direction(t->session) == 1, deadline_ms) <= 0)
				break;
		}
	}
	tls_free(t);
}

int tls_pin_of_file(const char *path, char out[64], char *err, size_t errlen)
{
	gnutls_datum_t data = { NULL, 0 };
	int r = gnutls_load_file(path, &data);
	if (r < 0) {
		set_err(err, errlen, "cannot read %s: %s", path, gnutls_strerror(r));
		return -1;
	}
	gnutls_x509_crt_t crt;
	gnutls_datum_t der = { NULL, 0 };
	int ok = -1;
	if (gnutls_x509_crt_init(&crt) >= 0) {
		if ((gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM) >= 0 ||
		     gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_DER) >= 0) &&
		    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0)
			ok = tls_spki_pin(&der, out);
		gnutls_x509_crt_deinit(crt);
	}
	gnutls_free(der.data);
	gnutls_free(data.data);
	if (ok < 0)
		set_err(err, errlen, "%s: not a certificate", path);
	return ok;
}

/* ---- crypto for SASL SCRAM ---- */

int tls_random(void *p, size_t n)
{
	return gnutls_rnd(GNUTLS_RND_NONCE, p, n) < 0 ? -1 : 0;
}

int tls_sha256(const void *data, size_t n, unsigned char out[32])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, n, out) < 0 ? -1 : 0;
}

int tls_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, unsigned char out[32])
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, data, n, out) < 0 ? -1 : 0;
}

int tls_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt, size_t saltlen, unsigned iter,
		      unsigned char out[32])
{
	gnutls_datum_t k = { (unsigned char *)pass, (unsigned)passlen };
	gnutls_datum_t s = { (unsigned char *)salt, (unsigned)saltlen };
	return gnutls_pbkdf2(GNUTLS_MAC_SHA256, &k, &s, iter, out, 32) < 0 ? -1 : 0;
}
