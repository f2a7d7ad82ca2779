/*
 * tls_diag.c - a failed TLS handshake or record operation told as the
 * facts an admin can act on: the server's alert by name, what we offered
 * when no version or suite was common ("server accepts at most TLS 1.2,
 * policy min_version = "TLS1.3""), a client certificate the server wants
 * and we do not have, the certificate refusal (tls_verify.c). Runs as the
 * worker's user; the alert is the peer's word, reported as such.
 */
#include "config.h"

#include "tls_internal.h"
#include "outcome.h"

#include <stdio.h>
#include <string.h>

/* The server asked for a client certificate (CertificateRequest) and the
 * policy has none, or ours was not sent (GnuTLS sends it only when its
 * issuer is among the CAs the server names) or refused. alert: the
 * server's, or -1 when it closed without one. NULL when none applies. */
static const char *client_cert_hint(struct tls_conn *t, int alert, char *buf, size_t n)
{
	bool requested = gnutls_certificate_client_get_request_status(t->session) != 0;
	bool cert_alert = alert == -1 || alert == GNUTLS_A_CERTIFICATE_REQUIRED || alert == GNUTLS_A_BAD_CERTIFICATE ||
			  alert == GNUTLS_A_UNKNOWN_CA || alert == GNUTLS_A_UNSUPPORTED_CERTIFICATE ||
			  alert == GNUTLS_A_CERTIFICATE_UNKNOWN || alert == GNUTLS_A_ACCESS_DENIED ||
			  alert == GNUTLS_A_HANDSHAKE_FAILURE;
	if (!t->prep->client_cert && (requested || alert == GNUTLS_A_CERTIFICATE_REQUIRED))
		return "the server requires a client certificate and none is configured "
		       "(set client_cert and client_key in the tls_policy)";
	if (t->prep->client_cert && requested && cert_alert) {
		const gnutls_datum_t *ours = gnutls_certificate_get_ours(t->session);
		if (!ours)
			return "our client certificate was not sent: its issuer is not among the CAs the server "
			       "accepts";
		gnutls_x509_crt_t crt;
		gnutls_datum_t dn = { NULL, 0 };
		if (gnutls_x509_crt_init(&crt) >= 0) {
			if (gnutls_x509_crt_import(crt, ours, GNUTLS_X509_FMT_DER) < 0 ||
			    gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) < 0)
				dn.data = NULL;
			gnutls_x509_crt_deinit(crt);
		}
		snprintf(buf, n, "the server refused our client certificate (issued by \"%s\": does the server "
			 "trust that CA?)", dn.data ? (const char *)dn.data : "?");
		gnutls_free(dn.data);
		return buf;
	}
	return NULL;
}

static int handshake_alert(struct tls_conn *t, char *err, size_t errlen)
{
	int alert = (int)gnutls_alert_get(t->session);
	const char *name = gnutls_alert_get_name((gnutls_alert_description_t)alert);
	char offer[300];
	tls_offer_summary(t, offer, sizeof(offer));
	char hintbuf[400];
	const char *hint = client_cert_hint(t, alert, hintbuf, sizeof(hintbuf));
	if (hint) {
		set_err(err, errlen, "TLS handshake failed: %s (server sent alert: %s)", hint, name ? name : "?");
	} else if (alert == GNUTLS_A_PROTOCOL_VERSION && t->pol->min_version >= 13) {
		set_err(err, errlen, "TLS handshake failed: server accepts at most TLS 1.2, policy min_version = "
			"\"TLS1.3\" (server sent alert: %s)", name ? name : "?");
	} else if (alert == GNUTLS_A_PROTOCOL_VERSION) {
		set_err(err, errlen, "TLS handshake failed: server accepts neither TLS 1.2 nor TLS 1.3; older "
			"versions are never used (server sent alert: %s)", name ? name : "?");
	} else if (alert == GNUTLS_A_HANDSHAKE_FAILURE || alert == GNUTLS_A_INSUFFICIENT_SECURITY) {
		set_err(err, errlen, "TLS handshake failed: no cipher suite in common: we offered %s (server sent "
			"alert: %s); sealpostd --probe says whether a wider priority would help", offer, name ? name : "?");
	} else {
		set_err(err, errlen, "TLS handshake failed: server sent alert: %s", name ? name : "?");
	}
	return LOCAL_TLS;
}

int tls_diag_error(struct tls_conn *t, int r, const char *during, char *err, size_t errlen)
{
	bool handshake = strcmp(during, "handshake") == 0;
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		tls_verify_explain(t, gnutls_session_get_verify_cert_status(t->session), err, errlen);
		return LOCAL_TLS_VERIFY;
	}
	if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		if (handshake)
			return handshake_alert(t, err, errlen);
		int alert = (int)gnutls_alert_get(t->session);
		const char *name = gnutls_alert_get_name((gnutls_alert_description_t)alert);
		char hintbuf[400];
		const char *hint = client_cert_hint(t, alert, hintbuf, sizeof(hintbuf));
		set_err(err, errlen, "TLS %s error: server sent alert: %s%s%s", during, name ? name : "?",
			hint ? ": " : "", hint ? hint : "");
		return LOCAL_TLS;
	}
	if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR || r == GNUTLS_E_PUSH_ERROR) {
		char hintbuf[400];
		const char *hint = client_cert_hint(t, -1, hintbuf, sizeof(hintbuf));
		if (handshake)
			set_err(err, errlen, "connection closed during TLS handshake%s%s", hint ? ": " : "", hint ? hint : "");
		else if (r == GNUTLS_E_PREMATURE_TERMINATION)
			set_err(err, errlen, "connection closed by server (no TLS close_notify)%s%s", hint ? ": " : "",
				hint ? hint : "");
		else
			set_err(err, errlen, "connection lost (network error under TLS)%s%s", hint ? ": " : "",
				hint ? hint : "");
		return handshake ? LOCAL_TLS : LOCAL_CONNECT;
	}
	if (handshake && (r == GNUTLS_E_UNSUPPORTED_VERSION_PACKET || r == GNUTLS_E_NO_CIPHER_SUITES ||
			  r == GNUTLS_E_UNKNOWN_CIPHER_SUITE || r == GNUTLS_E_INSUFFICIENT_SECURITY ||
			  r == GNUTLS_E_NO_COMMON_KEY_SHARE)) {
		char offer[300];
		tls_offer_summary(t, offer, sizeof(offer));
		set_err(err, errlen, "TLS handshake failed: the server chose what we did not offer (%s): we offered %s",
			gnutls_strerror(r), offer);
		return LOCAL_TLS;
	}
	if (handshake)
		set_err(err, errlen, "TLS handshake failed: %s", gnutls_strerror(r));
	else
		set_err(err, errlen, "TLS %s error: %s", during, gnutls_strerror(r));
	return LOCAL_TLS;
}
