/*
 * tls.c - the GnuTLS client (see tls.h): the only file that calls GnuTLS.
 *
 * Verification fails closed: a trust store that cannot be loaded is an
 * error, never "no verification". verify = "ca" uses GnuTLS's own chain and
 * name check during the handshake and checks the result again afterwards;
 * "pin" compares SHA-256 of the leaf's SubjectPublicKeyInfo; "encrypt"
 * authenticates nothing and says so in the log on every connection.
 * TLS < 1.2 and NULL ciphers are removed from every priority string and
 * refused again after the handshake. Runs as the worker's user.
 */
#include "config.h"

#include "tls.h"
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

struct tls_conn {
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	int fd;
	const struct sp_tls_policy *pol;
	char *host;                /* the relay host, for logs */
	char *check_name;          /* verify_name or host */
	struct tls_resume *resume;
	bool handshaken;
	char summary[128];
};

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

/* The priority string: the policy's (or NORMAL) with every version older
 * than the minimum and the NULL cipher removed last, so nothing in the
 * custom part can bring them back. */
static char *build_priority(const struct sp_tls_policy *pol)
{
	const char *base = pol->priority && pol->priority[0] ? pol->priority : "NORMAL";
	return xasprintf("%s:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL:-NULL%s", base,
			 pol->min_version >= 13 ? ":-VERS-TLS1.2" : "");
}

static void tls_free(struct tls_conn *t)
{
	if (!t)
		return;
	if (t->session)
		gnutls_deinit(t->session);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t->host);
	free(t->check_name);
	free(t);
}

static int load_trust(struct tls_conn *t, char *err, size_t errlen)
{
	const struct sp_tls_policy *pol = t->pol;
	int n;
	if (pol->ca_file && pol->ca_file[0]) {
		n = gnutls_certificate_set_x509_trust_file(t->cred, pol->ca_file, GNUTLS_X509_FMT_PEM);
		if (n <= 0) {
			set_err(err, errlen, "cannot load CA file %s: %s", pol->ca_file,
				n < 0 ? gnutls_strerror(n) : "no certificates in it");
			return -1;
		}
	} else {
		n = gnutls_certificate_set_x509_system_trust(t->cred);
		if (n <= 0) {
			set_err(err, errlen, "cannot load the system trust store: %s",
				n < 0 ? gnutls_strerror(n) : "it is empty");
			return -1;
		}
	}
	return 0;
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

	int r = gnutls_certificate_allocate_credentials(&t->cred);
	if (r < 0) {
		t->cred = NULL;
		set_err(err, errlen, "TLS credentials: %s", gnutls_strerror(r));
		goto fail;
	}
	if (pol->verify == SP_VERIFY_CA && load_trust(t, err, errlen) < 0)
		goto fail;
	if (pol->client_cert && pol->client_cert[0]) {
		const char *key = pol->client_key && pol->client_key[0] ? pol->client_key : pol->client_cert;
		r = gnutls_certificate_set_x509_key_file(t->cred, pol->client_cert, key, GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			set_err(err, errlen, "cannot load client certificate %s: %s", pol->client_cert, gnutls_strerror(r));
			goto fail;
		}
	}
	r = gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
	if (r < 0) {
		t->session = NULL;
		set_err(err, errlen, "TLS session: %s", gnutls_strerror(r));
		goto fail;
	}
	char *prio = build_priority(pol);
	const char *errpos = NULL;
	r = gnutls_priority_set_direct(t->session, prio, &errpos);
	if (r < 0) {
		set_err(err, errlen, "invalid TLS priority string \"%s\" at \"%s\"", prio, errpos ? errpos : "?");
		free(prio);
		goto fail;
	}
	free(prio);
	r = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (r < 0) {
		set_err(err, errlen, "TLS credentials: %s", gnutls_strerror(r));
		goto fail;
	}
	/* RFC 6066: no IP literals in SNI */
	if (!is_ip_literal(t->check_name))
		(void)gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, t->check_name, strlen(t->check_name));
	if (pol->verify == SP_VERIFY_CA)
		gnutls_session_set_verify_cert(t->session, t->check_name, 0);
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
	struct tls_conn *t = tls_conn_new(-1, pol, host, NULL, err, errlen);
	if (!t)
		return -1;
	tls_free(t);
	return 0;
}

/* Turn GnuTLS verification flags into exact reasons, joined by "; ". */
static void describe_status(struct tls_conn *t, unsigned status, char *out, size_t outlen)
{
	static const struct {
		unsigned flag;
		const char *why;
	} reasons[] = {
		{ GNUTLS_CERT_EXPIRED, "certificate expired" },
		{ GNUTLS_CERT_NOT_ACTIVATED, "certificate not yet valid" },
		{ GNUTLS_CERT_UNEXPECTED_OWNER, "certificate name mismatch" },
		{ GNUTLS_CERT_REVOKED, "certificate revoked" },
		{ GNUTLS_CERT_SIGNER_NOT_CA, "certificate signer is not a CA" },
		{ GNUTLS_CERT_INSECURE_ALGORITHM, "certificate uses an insecure algorithm" },
		{ GNUTLS_CERT_SIGNATURE_FAILURE, "certificate signature invalid" },
		{ GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "certificate signer constraints violated" },
		{ GNUTLS_CERT_PURPOSE_MISMATCH, "certificate not valid for TLS server use" },
		{ GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, "certificate has unknown critical extensions" },
		{ GNUTLS_CERT_MISSING_OCSP_STATUS, "certificate OCSP status missing" },
		{ GNUTLS_CERT_INVALID_OCSP_STATUS, "certificate OCSP status invalid" },
	};
	struct buf b;
	buf_init(&b);
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
		bool self_signed = false;
		unsigned n = 0;
		const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->session, &n);
		gnutls_x509_crt_t crt;
		if (certs && n == 1 && gnutls_x509_crt_init(&crt) >= 0) {
			if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0)
				self_signed = gnutls_x509_crt_check_issuer(crt, crt) != 0;
			gnutls_x509_crt_deinit(crt);
		}
		buf_adds(&b, self_signed ? "self-signed certificate" : "certificate signed by unknown authority");
	}
	for (size_t i = 0; i < ARRAY_LEN(reasons); i++) {
		if (status & reasons[i].flag) {
			if (b.len)
				buf_adds(&b, "; ");
			buf_adds(&b, reasons[i].why);
		}
	}
	if (b.len == 0)
		buf_printf(&b, "certificate not trusted (status 0x%x)", status);
	snprintf(out, outlen, "%s", b.data);
	buf_free(&b);
}

/* SHA-256 of the DER SubjectPublicKeyInfo of a DER certificate, base64. */
static int spki_pin(const gnutls_datum_t *der, char out[64])
{
	gnutls_pubkey_t pk;
	gnutls_datum_t spki = { NULL, 0 };
	unsigned char digest[32];
	int ok = -1;
	if (gnutls_pubkey_init(&pk) < 0)
		return -1;
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) >= 0) {
		if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_pubkey_import_x509(pk, crt, 0) >= 0 &&
		    gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &spki) >= 0 &&
		    gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, digest) >= 0) {
			base64_encode(digest, sizeof(digest), out);
			ok = 0;
		}
		gnutls_x509_crt_deinit(crt);
	}
	gnutls_free(spki.data);
	gnutls_pubkey_deinit(pk);
	return ok;
}

static int check_pin(struct tls_conn *t, char *err, size_t errlen)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->session, &n);
	char pin[64];
	if (!certs || n == 0) {
		set_err(err, errlen, "server sent no certificate");
		return LOCAL_TLS_VERIFY;
	}
	if (spki_pin(&certs[0], pin) < 0) {
		set_err(err, errlen, "cannot read the server's public key");
		return LOCAL_TLS_VERIFY;
	}
	for (size_t i = 0; i < t->pol->npins; i++)
		if (strcmp(t->pol->pins[i], pin) == 0)
			return 0;
	set_err(err, errlen, "certificate pin mismatch (server key pin-sha256 is %s)", pin);
	return LOCAL_TLS_VERIFY;
}

/* After the handshake: version, cipher and authentication, again. */
static int check_session(struct tls_conn *t, char *err, size_t errlen)
{
	gnutls_protocol_t v = gnutls_protocol_get_version(t->session);
	int min = t->pol->min_version >= 13 ? GNUTLS_TLS1_3 : GNUTLS_TLS1_2;
	if ((v != GNUTLS_TLS1_2 && v != GNUTLS_TLS1_3) || (int)v < min) {
		const char *name = gnutls_protocol_get_name(v);
		set_err(err, errlen, "TLS version too old: %s", name ? name : "unknown");
		return LOCAL_TLS;
	}
	gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(t->session);
	if (cipher == GNUTLS_CIPHER_NULL || cipher == GNUTLS_CIPHER_UNKNOWN) {
		set_err(err, errlen, "TLS without encryption refused");
		return LOCAL_TLS;
	}
	const char *how = "unauthenticated";
	if (t->pol->verify == SP_VERIFY_CA) {
		unsigned status = 0;
		int r = gnutls_certificate_verify_peers3(t->session, t->check_name, &status);
		if (r < 0 || status != 0) {
			if (r < 0)
				set_err(err, errlen, "certificate verification failed: %s", gnutls_strerror(r));
			else
				describe_status(t, status, err, errlen);
			return LOCAL_TLS_VERIFY;
		}
		how = "verified";
	} else if (t->pol->verify == SP_VERIFY_PIN) {
		int r = check_pin(t, err, errlen);
		if (r != 0)
			return r;
		how = "pinned";
	} else {
		log_msg(LOG_WARNING, "TLS to %s is encrypted but NOT authenticated (tls_policy verify = \"encrypt\")",
			t->host);
	}
	const char *cname = gnutls_cipher_get_name(cipher);
	snprintf(t->summary, sizeof(t->summary), "%s/%s %s", gnutls_protocol_get_name(v),
		 cname ? cname : "?", how);
	return 0;
}

int tls_handshake(struct tls_conn *t, uint64_t deadline_ms, char *err, size_t errlen)
{
	for (int spins = 0; spins < 10000; spins++) {
		int r = gnutls_handshake(t->session);
		if (r == 0) {
			t->handshaken = true;
			return check_session(t, err, errlen);
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
		if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			describe_status(t, gnutls_session_get_verify_cert_status(t->session), err, errlen);
			return LOCAL_TLS_VERIFY;
		}
		if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR || r == GNUTLS_E_PUSH_ERROR) {
			set_err(err, errlen, "connection closed during TLS handshake");
			return LOCAL_TLS;
		}
		if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
			const char *alert = gnutls_alert_get_name(gnutls_alert_get(t->session));
			set_err(err, errlen, "TLS handshake failed: server sent alert: %s", alert ? alert : "?");
			return LOCAL_TLS;
		}
		set_err(err, errlen, "TLS handshake failed: %s", gnutls_strerror(r));
		return LOCAL_TLS;
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
		if (r == GNUTLS_E_PREMATURE_TERMINATION) {
			set_err(err, errlen, "connection closed by server (no TLS close_notify)");
			return -1;
		}
		if (!gnutls_error_is_fatal((int)r))
			continue; /* renegotiation requests and warnings: ignored */
		if (r == GNUTLS_E_PULL_ERROR) {
			set_err(err, errlen, "connection lost (network error under TLS)");
			return -1;
		}
		set_err(err, errlen, "TLS read error: %s", gnutls_strerror((int)r));
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
	if (r == GNUTLS_E_PUSH_ERROR)
		set_err(err, errlen, "connection lost (network error under TLS)");
	else
		set_err(err, errlen, "TLS write error: %s", gnutls_strerror((int)r));
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

static void describe_time(struct buf *out, const char *label, time_t when, const char *flag)
{
	char ts[32];
	format_rfc3339(when, ts);
	buf_printf(out, "    %s %s%s\n", label, ts, flag);
}

static void describe_names(struct buf *out, gnutls_x509_crt_t crt)
{
	buf_adds(out, "    names:");
	for (unsigned seq = 0; seq < 64; seq++) {
		char name[256];
		size_t size = sizeof(name) - 1;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, name, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_SAN_DNSNAME && size < sizeof(name)) {
			name[size] = '\0';
			buf_printf(out, " DNS:%s", name);
		} else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
			char ip[64];
			if (inet_ntop(size == 4 ? AF_INET : AF_INET6, name, ip, sizeof(ip)))
				buf_printf(out, " IP:%s", ip);
		}
	}
	buf_addc(out, '\n');
}

void tls_describe_peer(struct tls_conn *t, struct buf *out)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->session, &n);
	if (!certs || n == 0) {
		buf_adds(out, "  no certificate received\n");
		return;
	}
	for (unsigned i = 0; i < n && i < 16; i++) {
		gnutls_x509_crt_t crt;
		if (gnutls_x509_crt_init(&crt) < 0)
			return;
		if (gnutls_x509_crt_import(crt, &certs[i], GNUTLS_X509_FMT_DER) >= 0) {
			gnutls_datum_t dn = { NULL, 0 };
			buf_printf(out, "  certificate %u:\n", i);
			if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0)
				buf_printf(out, "    subject: %s\n", dn.data);
			gnutls_free(dn.data);
			dn.data = NULL;
			describe_names(out, crt);
			if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) >= 0)
				buf_printf(out, "    issuer: %s\n", dn.data);
			gnutls_free(dn.data);
			time_t from = gnutls_x509_crt_get_activation_time(crt);
			time_t until = gnutls_x509_crt_get_expiration_time(crt);
			time_t now = time(NULL);
			describe_time(out, "not before:", from, from > now ? " (NOT YET VALID)" : "");
			describe_time(out, "not after: ", until, until < now ? " (EXPIRED)" : "");
			char pin[64];
			if (spki_pin(&certs[i], pin) == 0)
				buf_printf(out, "    pin-sha256: %s\n", pin);
		}
		gnutls_x509_crt_deinit(crt);
	}
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
			ok = spki_pin(&der, out);
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
