/*
 * tls_verify.c - the peer's certificate: verification for TLS-server use
 * under the policy (verify = "ca": GnuTLS's chain, name and purpose
 * checks, during every full handshake and again after every handshake,
 * resumed ones included, on the chain the session recorded; "pin": the
 * leaf's SubjectPublicKeyInfo), the facts a refusal names (which
 * certificate, which name, which issuer, which key or signature), and the
 * chain as --probe shows it. Runs as the worker's user; the peer's
 * certificates are hostile input, read only through GnuTLS's parser.
 */
#include "config.h"

#include "tls_internal.h"
#include "base64.h"
#include "outcome.h"

#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CHAIN 16

/*
 * Verification flags (gnutls_certificate_verify_flags), each one
 * reviewed. None is set: every check GnuTLS has stays on, and the
 * security profile (tls_policy.c) adds the key-size and signature floor.
 *   DISABLE_CA_SIGN                 no: a signer must be a CA (basicConstraints
 *                                   CA:TRUE; keyCertSign when keyUsage is present).
 *   DO_NOT_ALLOW_IP_MATCHES         no: a relay given as an IP literal is matched
 *                                   against the certificate's IP addresses
 *                                   (RFC 6125 6.2.1), never against DNS names.
 *   DO_NOT_ALLOW_SAME               no: only matters for v1 trust anchors.
 *   ALLOW_ANY_X509_V1_CA_CRT        no: a v1 certificate (no basicConstraints) is
 *                                   never an intermediate CA. A v1 trust anchor
 *                                   the admin installed stays usable (GnuTLS's
 *                                   default); DO_NOT_ALLOW_X509_V1_CA_CRT would
 *                                   refuse old private CAs for no gain: an anchor
 *                                   is trusted by being there.
 *   ALLOW_SIGN_RSA_MD2/MD5          no: MD2 and MD5 signatures are refused.
 *   ALLOW_SIGN_WITH_SHA1            no: SHA-1 signatures below the trust anchor
 *                                   are refused (the anchor's own is never checked).
 *   DISABLE_TIME_CHECKS             no: expired or not yet valid leaves and
 *                                   intermediates are refused.
 *   DISABLE_TRUSTED_TIME_CHECKS     no: an expired trust anchor is refused too.
 *   DISABLE_CRL_CHECKS              no (moot: no CRLs are loaded).
 *   ALLOW_UNSORTED_CHAIN            default: GnuTLS sorts a chain sent out of
 *   DO_NOT_ALLOW_UNSORTED_CHAIN     order; order proves nothing, signatures do.
 *   DO_NOT_ALLOW_WILDCARDS          no: providers serve wildcard certificates
 *                                   (*.mail.protection.outlook.com). GnuTLS follows
 *                                   RFC 6125: one whole leftmost label, three or
 *                                   more labels, never an IP address.
 *   USE_TLS1_RSA                    no: TLS 1.0 is never negotiated.
 *   IGNORE_UNKNOWN_CRIT_EXTENSIONS  no: an unknown critical extension is refused
 *                                   (RFC 5280 4.2).
 *   RSA_PSS_FIXED_SALT_LENGTH       no: RSA-PSS salts are checked as RFC 4055 says.
 * Name constraints (RFC 5280 4.2.1.10) are always enforced by GnuTLS; a
 * NUL byte in a DNS name makes the name unmatchable (GnuTLS compares the
 * whole encoded length), so "good.example\0.evil" matches neither.
 */
void tls_verify_setup(gnutls_certificate_credentials_t cred)
{
	gnutls_certificate_set_verify_flags(cred, 0);
}

/* Name and purpose: the same typed data for the handshake's own check
 * and for the check after it (the only one a resumed session gets). */
void tls_verify_arm(struct tls_conn *t)
{
	t->vdata[0].type = GNUTLS_DT_DNS_HOSTNAME;
	t->vdata[0].data = (unsigned char *)t->check_name;
	t->vdata[0].size = 0;
	t->vdata[1].type = GNUTLS_DT_KEY_PURPOSE_OID;
	t->vdata[1].data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER;
	t->vdata[1].size = 0;
	gnutls_session_set_verify_cert2(t->session, t->vdata, 2, 0);
}

/* The peer's chain as parsed certificates; returns how many. */
static unsigned peer_chain(struct tls_conn *t, gnutls_x509_crt_t crts[MAX_CHAIN])
{
	unsigned n = 0, got = 0;
	const gnutls_datum_t *der = gnutls_certificate_get_peers(t->session, &n);
	for (unsigned i = 0; der && i < n && got < MAX_CHAIN; i++) {
		if (gnutls_x509_crt_init(&crts[got]) < 0)
			break;
		if (gnutls_x509_crt_import(crts[got], &der[i], GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crts[got]);
			break;
		}
		got++;
	}
	return got;
}

static void free_chain(gnutls_x509_crt_t crts[], unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
}

static void add_dn_as(struct buf *b, gnutls_x509_crt_t crt, bool issuer, const char *quote)
{
	gnutls_datum_t dn = { NULL, 0 };
	int r = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) : gnutls_x509_crt_get_dn3(crt, &dn, 0);
	buf_printf(b, "%s%s%s", quote, r >= 0 && dn.data ? (const char *)dn.data : "?", quote);
	gnutls_free(dn.data);
}

/* A subject or issuer name in quotes, for log lines. */
static void add_dn(struct buf *b, gnutls_x509_crt_t crt, bool issuer)
{
	add_dn_as(b, crt, issuer, "\"");
}

/* The DNS names and IP addresses the certificate is for, ", "-joined. */
static void add_names(struct buf *b, gnutls_x509_crt_t crt, const char *sep, const char *dns, const char *ip)
{
	size_t start = b->len;
	for (unsigned seq = 0; seq < 64; seq++) {
		char name[256];
		size_t size = sizeof(name) - 1;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, name, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		const char *lead = b->len > start ? sep : "";
		if (type == GNUTLS_SAN_DNSNAME && size < sizeof(name)) {
			name[size] = '\0';
			/* a NUL inside the name: show it, never cut it there */
			buf_printf(b, "%s%s%s%s", lead, dns, name, strlen(name) != size ? "\\0..." : "");
		} else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
			char text[64];
			if (inet_ntop(size == 4 ? AF_INET : AF_INET6, name, text, sizeof(text)))
				buf_printf(b, "%s%s%s", lead, ip, text);
		}
	}
}

static const struct {
	const char *oid, *name;
} purposes[] = {
	{ GNUTLS_KP_TLS_WWW_SERVER, "TLS server" }, { GNUTLS_KP_TLS_WWW_CLIENT, "TLS client" },
	{ GNUTLS_KP_EMAIL_PROTECTION, "email protection" }, { GNUTLS_KP_CODE_SIGNING, "code signing" },
	{ GNUTLS_KP_OCSP_SIGNING, "OCSP signing" }, { GNUTLS_KP_TIME_STAMPING, "time stamping" },
	{ GNUTLS_KP_ANY, "any" },
};

/* The extended key usage purposes; false when the certificate has no
 * such extension (any purpose, RFC 5280 4.2.1.12). *server: TLS server
 * use is allowed. */
static bool add_purposes(struct buf *b, gnutls_x509_crt_t crt, bool *server)
{
	*server = true;
	bool any = false;
	for (unsigned i = 0; i < 32; i++) {
		char oid[128];
		size_t size = sizeof(oid);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, NULL) < 0)
			break;
		if (!any)
			*server = false;
		const char *name = oid;
		for (size_t k = 0; k < ARRAY_LEN(purposes); k++)
			if (strcmp(oid, purposes[k].oid) == 0)
				name = purposes[k].name;
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) == 0 || strcmp(oid, GNUTLS_KP_ANY) == 0)
			*server = true;
		buf_printf(b, "%s%s", any ? ", " : "", name);
		any = true;
	}
	return any;
}

static gnutls_sec_param_t profile_sec_param(const char *profile)
{
	static const struct {
		const char *name;
		gnutls_sec_param_t param;
	} map[] = {
		{ "very_weak", GNUTLS_SEC_PARAM_VERY_WEAK }, { "low", GNUTLS_SEC_PARAM_LOW },
		{ "legacy", GNUTLS_SEC_PARAM_LEGACY }, { "medium", GNUTLS_SEC_PARAM_MEDIUM },
		{ "high", GNUTLS_SEC_PARAM_HIGH }, { "suiteb128", GNUTLS_SEC_PARAM_HIGH },
		{ "ultra", GNUTLS_SEC_PARAM_ULTRA }, { "suiteb192", GNUTLS_SEC_PARAM_ULTRA },
		{ "future", GNUTLS_SEC_PARAM_FUTURE },
	};
	for (size_t i = 0; i < ARRAY_LEN(map); i++)
		if (strcmp(profile, map[i].name) == 0)
			return map[i].param;
	return GNUTLS_SEC_PARAM_MEDIUM;
}

static bool self_signed(gnutls_x509_crt_t crt)
{
	return gnutls_x509_crt_check_issuer(crt, crt) != 0;
}

/*
 * Why the policy refuses certificate i of n on its own (key size under
 * the profile, an insecure signature below the anchor, a leaf not for TLS
 * servers, a CA that is not one, validity), "; "-joined into b. Returns
 * how many reasons. Chain and name checks are GnuTLS's; this names facts.
 */
static int refusals(struct buf *b, gnutls_x509_crt_t crt, unsigned i, unsigned n, const char *profile)
{
	int count = 0;
	unsigned bits = 0;
	int pk = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
	unsigned need = pk >= 0 ? gnutls_sec_param_to_pk_bits((gnutls_pk_algorithm_t)pk, profile_sec_param(profile)) : 0;
	if (need && bits && bits < need) {
		buf_printf(b, "%s%u-bit %s key, security_profile \"%s\" needs %u", count++ ? "; " : "", bits,
			   gnutls_pk_get_name((gnutls_pk_algorithm_t)pk), profile, need);
	}
	int sig = gnutls_x509_crt_get_signature_algorithm(crt);
	bool anchor_like = i == n - 1 && i > 0 && self_signed(crt); /* its own signature is never checked */
	if (!anchor_like && (sig < 0 || !gnutls_sign_is_secure2((gnutls_sign_algorithm_t)sig,
								GNUTLS_SIGN_FLAG_SECURE_FOR_CERTS))) {
		const char *name = sig >= 0 ? gnutls_sign_get_name((gnutls_sign_algorithm_t)sig) : NULL;
		buf_printf(b, "%ssigned with %s, an insecure algorithm", count++ ? "; " : "", name ? name : "an unknown");
	}
	if (i == 0) {
		struct buf tmp;
		bool server;
		buf_init(&tmp);
		if (add_purposes(&tmp, crt, &server) && !server)
			buf_printf(b, "%snot for TLS servers (extended key usage: %s)", count++ ? "; " : "", tmp.data);
		buf_free(&tmp);
	} else {
		unsigned critical = 0, ca = 0;
		int pathlen = -1;
		int r = gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &pathlen);
		if (gnutls_x509_crt_get_version(crt) < 3)
			buf_printf(b, "%san X.509 v%d certificate cannot be a CA", count++ ? "; " : "",
				   gnutls_x509_crt_get_version(crt));
		else if (r < 0 || !ca)
			buf_printf(b, "%sissues certificates but is not a CA (%s)", count++ ? "; " : "",
				   r < 0 ? "no basicConstraints" : "basicConstraints CA:FALSE");
	}
	time_t now = time(NULL);
	if (gnutls_x509_crt_get_expiration_time(crt) < now)
		buf_printf(b, "%sexpired", count++ ? "; " : "");
	if (gnutls_x509_crt_get_activation_time(crt) > now)
		buf_printf(b, "%snot yet valid", count++ ? "; " : "");
	return count;
}

/* "certificate 1 "CN=..." (<reasons>)" for the first certificate with a
 * reason of its own; false when none has one. */
static bool first_refused(struct buf *b, gnutls_x509_crt_t crts[], unsigned n, const char *profile)
{
	for (unsigned i = 0; i < n; i++) {
		struct buf why;
		buf_init(&why);
		if (refusals(&why, crts[i], i, n, profile) > 0) {
			buf_printf(b, ": certificate %u ", i);
			add_dn(b, crts[i], false);
			buf_printf(b, " %s", why.data);
			buf_free(&why);
			return true;
		}
		buf_free(&why);
	}
	return false;
}

static void explain_unknown_issuer(struct buf *b, gnutls_x509_crt_t crts[], unsigned n)
{
	if (n == 1 && self_signed(crts[0])) {
		buf_adds(b, "self-signed certificate");
		return;
	}
	buf_adds(b, "certificate signed by unknown authority: ");
	if (n == 1) {
		buf_adds(b, "the server sent no intermediate certificate; its issuer ");
		add_dn(b, crts[0], true);
		buf_adds(b, " is not in the trust store");
	} else if (n > 1 && self_signed(crts[n - 1])) {
		buf_adds(b, "the chain ends at ");
		add_dn(b, crts[n - 1], false);
		buf_adds(b, ", which is not in the trust store");
	} else if (n > 1) {
		buf_adds(b, "the chain ends with ");
		add_dn(b, crts[n - 1], false);
		buf_adds(b, ", whose issuer ");
		add_dn(b, crts[n - 1], true);
		buf_adds(b, " is not in the trust store");
	} else {
		buf_adds(b, "no certificate");
	}
}

void tls_verify_explain(struct tls_conn *t, unsigned status, char *err, size_t errlen)
{
	gnutls_x509_crt_t crts[MAX_CHAIN];
	unsigned n = peer_chain(t, crts);
	const char *profile = t->prep ? t->prep->profile : "medium";
	struct buf b;
	buf_init(&b);
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
		explain_unknown_issuer(&b, crts, n);
	if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
		buf_printf(&b, "%scertificate name mismatch: expected \"%s\", certificate has ", b.len ? "; " : "",
			   t->check_name);
		size_t at = b.len;
		buf_addc(&b, '"');
		if (n > 0)
			add_names(&b, crts[0], ", ", "", "");
		if (b.len == at + 1) {
			b.len = at;
			b.data[at] = '\0';
			buf_adds(&b, "no DNS name or IP address");
		} else {
			buf_addc(&b, '"');
		}
		buf_adds(&b, " (set verify_name if this is intended)");
	}
	static const struct {
		unsigned flag;
		const char *why;
	} reasons[] = {
		{ GNUTLS_CERT_EXPIRED, "certificate expired" },
		{ GNUTLS_CERT_NOT_ACTIVATED, "certificate not yet valid" },
		{ GNUTLS_CERT_PURPOSE_MISMATCH, "certificate not valid for TLS server use" },
		{ GNUTLS_CERT_INSECURE_ALGORITHM, "certificate uses an insecure algorithm or too small a key" },
		{ GNUTLS_CERT_SIGNER_NOT_CA, "certificate signer is not a CA" },
		{ GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "certificate signer constraints violated (name "
							  "constraints or path length)" },
		{ GNUTLS_CERT_REVOKED, "certificate revoked" },
		{ GNUTLS_CERT_SIGNATURE_FAILURE, "certificate signature invalid" },
		{ GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, "certificate has unknown critical extensions" },
		{ GNUTLS_CERT_MISSING_OCSP_STATUS, "certificate OCSP status missing" },
		{ GNUTLS_CERT_INVALID_OCSP_STATUS, "certificate OCSP status invalid" },
	};
	bool named = false;
	for (size_t i = 0; i < ARRAY_LEN(reasons); i++) {
		if (!(status & reasons[i].flag))
			continue;
		buf_printf(&b, "%s%s", b.len ? "; " : "", reasons[i].why);
		if (!named && (reasons[i].flag & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED |
						  GNUTLS_CERT_PURPOSE_MISMATCH | GNUTLS_CERT_INSECURE_ALGORITHM |
						  GNUTLS_CERT_SIGNER_NOT_CA)))
			named = first_refused(&b, crts, n, profile);
	}
	if (b.len == 0)
		buf_printf(&b, "certificate not trusted (status 0x%x)", status);
	snprintf(err, errlen, "%s", b.data);
	buf_free(&b);
	free_chain(crts, n);
}

int tls_verify_peer(struct tls_conn *t, char *err, size_t errlen)
{
	unsigned status = 0;
	int r = gnutls_certificate_verify_peers(t->session, t->vdata, 2, &status);
	if (r < 0) {
		set_err(err, errlen, "certificate verification failed: %s", gnutls_strerror(r));
		return LOCAL_TLS_VERIFY;
	}
	if (status != 0) {
		tls_verify_explain(t, status, err, errlen);
		return LOCAL_TLS_VERIFY;
	}
	return 0;
}

/* SHA-256 of the DER SubjectPublicKeyInfo of a DER certificate, base64. */
int tls_spki_pin(const gnutls_datum_t *der, char out[64])
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

int tls_check_pin(struct tls_conn *t, char *err, size_t errlen)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->session, &n);
	char pin[64];
	if (!certs || n == 0) {
		set_err(err, errlen, "server sent no certificate");
		return LOCAL_TLS_VERIFY;
	}
	if (tls_spki_pin(&certs[0], pin) < 0) {
		set_err(err, errlen, "cannot read the server's public key");
		return LOCAL_TLS_VERIFY;
	}
	for (size_t i = 0; i < t->pol->npins; i++)
		if (strcmp(t->pol->pins[i], pin) == 0)
			return 0;
	set_err(err, errlen, "certificate pin mismatch (server key pin-sha256 is %s)", pin);
	return LOCAL_TLS_VERIFY;
}

static void describe_time(struct buf *out, const char *label, time_t when, const char *flag)
{
	char ts[32];
	format_rfc3339(when, ts);
	buf_printf(out, "    %s %s%s\n", label, ts, flag);
}

static void describe_key(struct buf *out, gnutls_x509_crt_t crt)
{
	unsigned bits = 0;
	int pk = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
	const char *name = pk >= 0 ? gnutls_pk_get_name((gnutls_pk_algorithm_t)pk) : NULL;
	buf_printf(out, "    key: %s %u bits\n", name ? name : "unknown", bits);
	int sig = gnutls_x509_crt_get_signature_algorithm(crt);
	const char *sname = sig >= 0 ? gnutls_sign_get_name((gnutls_sign_algorithm_t)sig) : NULL;
	buf_printf(out, "    signature: %s\n", sname ? sname : "unknown");
}

void tls_describe_chain(struct tls_conn *t, struct buf *out)
{
	gnutls_x509_crt_t crts[MAX_CHAIN];
	unsigned n = peer_chain(t, crts);
	if (n == 0) {
		buf_adds(out, "  no certificate received\n");
		return;
	}
	unsigned nder = 0;
	const gnutls_datum_t *der = gnutls_certificate_get_peers(t->session, &nder);
	const char *profile = t->prep ? t->prep->profile : "medium";
	time_t now = time(NULL);
	for (unsigned i = 0; i < n; i++) {
		buf_printf(out, "  certificate %u:\n    subject: ", i);
		add_dn_as(out, crts[i], false, "");
		buf_adds(out, "\n    names: ");
		add_names(out, crts[i], " ", "DNS:", "IP:");
		buf_adds(out, "\n    issuer: ");
		add_dn_as(out, crts[i], true, "");
		buf_adds(out, "\n    purpose: ");
		bool server;
		if (!add_purposes(out, crts[i], &server))
			buf_adds(out, "any (no extended key usage)");
		buf_addc(out, '\n');
		describe_key(out, crts[i]);
		time_t from = gnutls_x509_crt_get_activation_time(crts[i]);
		time_t until = gnutls_x509_crt_get_expiration_time(crts[i]);
		describe_time(out, "not before:", from, from > now ? " (NOT YET VALID)" : "");
		describe_time(out, "not after: ", until, until < now ? " (EXPIRED)" : "");
		char pin[64];
		if (der && i < nder && tls_spki_pin(&der[i], pin) == 0)
			buf_printf(out, "    pin-sha256: %s\n", pin);
		struct buf why;
		buf_init(&why);
		if (t->pol->verify == SP_VERIFY_CA && refusals(&why, crts[i], i, n, profile) > 0)
			buf_printf(out, "    REFUSED by the policy: %s\n", why.data);
		buf_free(&why);
	}
	free_chain(crts, n);
}
