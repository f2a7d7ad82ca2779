/*
 * tls_policy.c - a tls_policy (conf.h) turned into GnuTLS settings: the
 * priority string, checked with GnuTLS itself against an allowlist of
 * what sealpost ever negotiates; the security profile; the trust store and
 * the client key, loaded once per policy (main.c preloads them before the
 * privilege drop, so they may be readable by root only); the key that
 * names a policy for session resumption; the warnings --check-config and
 * the log give when a policy weakens the defaults. Trusts the config's
 * values only as far as GnuTLS parses them.
 *
 * The floor, whatever the priority says: TLS 1.2 or newer (1.3 with
 * min_version = "TLS1.3"), no NULL cipher, and a certificate verification
 * profile of at least security_profile ("medium": RSA, DSA and DH keys of
 * 2048 bits or more, ECC of 224 or more, no SHA-1 or MD5 signatures below
 * the trust anchor). "high" would refuse RSA-2048 leaves, which is what
 * the big providers present today (Gmail, Outlook, SES, SendGrid serve
 * RSA-2048 or ECDSA P-256 leaves; not measured here: the build machine
 * has no internet), so "medium" is the default.
 */
#include "config.h"

#include "tls_internal.h"
#include "log.h"
#include "outcome.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The built-in priority: TLS 1.3, and TLS 1.2 with forward-secret AEAD
 * suites only (no static-RSA key exchange, no CBC). */
#define STRICT_PRIORITY                                                                      \
	"NORMAL:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:+AES-256-CCM:+AES-128-CCM" \
	":-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA"

static const struct profile {
	const char *name;   /* security_profile value */
	const char *token;  /* GnuTLS priority keyword */
	int level;
} profiles[] = {
	{ "very_weak", "%PROFILE_VERY_WEAK", 0 },
	{ "low", "%PROFILE_LOW", 1 },
	{ "legacy", "%PROFILE_LEGACY", 2 },
	{ "medium", "%PROFILE_MEDIUM", 3 },
	{ "high", "%PROFILE_HIGH", 4 },
	{ "suiteb128", "%PROFILE_SUITEB128", 4 },
	{ "ultra", "%PROFILE_ULTRA", 5 },
	{ "suiteb192", "%PROFILE_SUITEB192", 5 },
	{ "future", "%PROFILE_FUTURE", 6 },
};
#define DEFAULT_PROFILE 3 /* profiles[3], "medium" */

static const struct profile *profile_named(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(profiles); i++)
		if (ascii_casecmp(name, profiles[i].name) == 0)
			return &profiles[i];
	return &profiles[DEFAULT_PROFILE];
}

/* The profile the policy asks for (security_profile, default medium). */
static const struct profile *policy_profile(const struct sp_tls_policy *pol)
{
	return pol->security_profile ? profile_named(pol->security_profile) : &profiles[DEFAULT_PROFILE];
}

/* The weakest and strongest %PROFILE_ tokens in the priority string. */
static void priority_profiles(const char *prio, const struct profile **weakest, const struct profile **strongest)
{
	*weakest = *strongest = NULL;
	for (const char *p = prio ? prio : ""; *p;) {
		size_t n = strcspn(p, ":");
		for (size_t i = 0; i < ARRAY_LEN(profiles); i++) {
			if (strlen(profiles[i].token) == n && ascii_ncasecmp(p, profiles[i].token, n) == 0) {
				if (!*weakest || profiles[i].level < (*weakest)->level)
					*weakest = &profiles[i];
				if (!*strongest || profiles[i].level > (*strongest)->level)
					*strongest = &profiles[i];
			}
		}
		p += n + (p[n] == ':');
	}
}

/* The profile in force: the policy's, raised (never lowered) by the
 * priority string. Our token goes last, so it is the one GnuTLS keeps. */
static const struct profile *effective_profile(const struct sp_tls_policy *pol)
{
	const struct profile *want = policy_profile(pol), *weak, *strong;
	priority_profiles(pol->priority, &weak, &strong);
	return strong && strong->level > want->level ? strong : want;
}

/* Priority string options ("%NAME") that may appear: they change how
 * the session behaves, never what it accepts. Anything else (%VERIFY_*,
 * %NO_EXTENSIONS, %UNSAFE_RENEGOTIATION, %NO_SESSION_HASH, ...) relaxes a
 * check and is refused. */
static const char *const harmless_options[] = {
	"%NO_TICKETS", "%NO_TICKETS_TLS12", "%SERVER_PRECEDENCE", "%COMPAT", "%DUMBFW", "%NO_ETM",
	"%FORCE_ETM", "%SAFE_RENEGOTIATION", "%PARTIAL_RENEGOTIATION", "%DISABLE_TLS13_COMPAT_MODE",
	"%NO_STATUS_REQUEST", "%LATEST_RECORD_VERSION", "%NO_AUTO_REKEY", "%NO_SHUFFLE_EXTENSIONS",
};

static int check_options(const char *prio, char *err, size_t errlen)
{
	for (const char *p = prio; *p;) {
		size_t n = strcspn(p, ":");
		bool ok = p[0] != '%' || (n > 9 && ascii_ncasecmp(p, "%PROFILE_", 9) == 0);
		for (size_t i = 0; !ok && i < ARRAY_LEN(harmless_options); i++)
			ok = strlen(harmless_options[i]) == n && ascii_ncasecmp(p, harmless_options[i], n) == 0;
		if (!ok) {
			set_err(err, errlen, "priority option \"%.*s\" is not allowed: it relaxes a check", (int)n, p);
			return -1;
		}
		p += n + (p[n] == ':');
	}
	return 0;
}

/* What sealpost may ever negotiate. strict: the built-in priority's
 * forward-secret AEAD suites; otherwise a priority may widen TLS 1.2 to
 * CBC and static-RSA key exchange for an old server, and no further. */
static bool suite_allowed(gnutls_kx_algorithm_t kx, gnutls_cipher_algorithm_t cipher, gnutls_mac_algorithm_t mac,
			  bool strict)
{
	switch (cipher) {
	case GNUTLS_CIPHER_AES_128_GCM: case GNUTLS_CIPHER_AES_256_GCM: case GNUTLS_CIPHER_AES_128_CCM:
	case GNUTLS_CIPHER_AES_256_CCM: case GNUTLS_CIPHER_CHACHA20_POLY1305:
		if (mac != GNUTLS_MAC_AEAD)
			return false;
		break;
	case GNUTLS_CIPHER_AES_128_CBC: case GNUTLS_CIPHER_AES_256_CBC:
		if (strict || (mac != GNUTLS_MAC_SHA1 && mac != GNUTLS_MAC_SHA256 && mac != GNUTLS_MAC_SHA384))
			return false;
		break;
	default:
		return false;
	}
	switch (kx) {
	case GNUTLS_KX_UNKNOWN: /* a TLS 1.3 suite: the key exchange is always (EC)DHE or a resumption */
	case GNUTLS_KX_ECDHE_RSA: case GNUTLS_KX_ECDHE_ECDSA: case GNUTLS_KX_DHE_RSA:
		return true;
	case GNUTLS_KX_RSA:
		return !strict;
	default:
		return false;
	}
}

/* Every suite the priority enables must be allowed: a priority that adds
 * 3DES, RC4, anonymous or PSK suites is refused, not trimmed. */
static int check_suites(gnutls_priority_t prio, bool strict, char *err, size_t errlen)
{
	unsigned enabled = 0;
	for (unsigned idx = 0; idx < 4096; idx++) {
		unsigned sidx;
		int r = gnutls_priority_get_cipher_suite_index(prio, idx, &sidx);
		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r < 0)
			continue;
		unsigned char id[2];
		gnutls_kx_algorithm_t kx;
		gnutls_cipher_algorithm_t cipher;
		gnutls_mac_algorithm_t mac;
		gnutls_protocol_t minv;
		const char *name = gnutls_cipher_suite_info(sidx, id, &kx, &cipher, &mac, &minv);
		if (!name)
			continue;
		if (!suite_allowed(kx, cipher, mac, strict)) {
			set_err(err, errlen, "priority enables %s, which sealpost never negotiates", name);
			return -1;
		}
		enabled++;
	}
	if (enabled == 0) {
		set_err(err, errlen, "priority enables no cipher suite");
		return -1;
	}
	return 0;
}

/* Everything that distinguishes one policy's GnuTLS settings from
 * another's, as text: the registry key, and part of the resumption key. */
static char *policy_text(const struct sp_tls_policy *pol)
{
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "verify=%d\nca_file=%s\nmin=%d\npriority=%s\nprofile=%s\ncert=%s\nkey=%s\n", (int)pol->verify,
		   pol->verify == SP_VERIFY_CA ? (pol->ca_file ? pol->ca_file : "(system)") : "",
		   pol->min_version, pol->priority ? pol->priority : "", policy_profile(pol)->name,
		   pol->client_cert ? pol->client_cert : "", pol->client_key ? pol->client_key : "");
	for (size_t i = 0; i < pol->npins; i++)
		buf_printf(&b, "pin=%s\n", pol->pins[i]);
	return buf_steal(&b);
}

void tls_policy_key(const struct sp_tls_policy *pol, const char *host, const char *identity, char out[65])
{
	char *text = policy_text(pol);
	char *all = xasprintf("%sname=%s\nidentity=%s\n", text,
			      pol->verify_name && pol->verify_name[0] ? pol->verify_name : host, identity ? identity : "");
	unsigned char d[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, all, strlen(all), d) < 0)
		memset(d, 0, sizeof(d)); /* cannot happen; an all-zero key still separates nothing else */
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	free(all);
	free(text);
}

static int load_trust(gnutls_certificate_credentials_t cred, const struct sp_tls_policy *pol, char *err,
		      size_t errlen)
{
	int n;
	if (pol->ca_file && pol->ca_file[0]) {
		n = gnutls_certificate_set_x509_trust_file(cred, pol->ca_file, GNUTLS_X509_FMT_PEM);
		if (n <= 0) {
			set_err(err, errlen, "cannot load CA file %s: %s", pol->ca_file,
				n < 0 ? gnutls_strerror(n) : "no certificates in it");
			return -1;
		}
	} else {
		n = gnutls_certificate_set_x509_system_trust(cred);
		if (n <= 0) {
			set_err(err, errlen, "cannot load the system trust store: %s",
				n < 0 ? gnutls_strerror(n) : "it is empty");
			return -1;
		}
	}
	return 0;
}

static int make_priority(struct tls_prepared *p, const struct sp_tls_policy *pol, char *err, size_t errlen)
{
	bool custom = pol->priority && pol->priority[0];
	if (custom && check_options(pol->priority, err, errlen) < 0)
		return -1;
	p->strict = !custom;
	p->profile = effective_profile(pol)->name;
	/* the floor goes last, so nothing in the custom part brings back
	 * what it removes, and our profile token is the one in force */
	p->prio_text = xasprintf("%s:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL:-NULL%s:%s",
				 custom ? pol->priority : STRICT_PRIORITY, pol->min_version >= 13 ? ":-VERS-TLS1.2" : "",
				 effective_profile(pol)->token);
	const char *errpos = NULL;
	int r = gnutls_priority_init(&p->prio, p->prio_text, &errpos);
	if (r < 0) {
		p->prio = NULL;
		set_err(err, errlen, "invalid TLS priority string \"%s\" at \"%s\"", custom ? pol->priority : "",
			errpos ? errpos : "?");
		return -1;
	}
	return check_suites(p->prio, p->strict, err, errlen);
}

static struct tls_prepared *prepare(const struct sp_tls_policy *pol, char *err, size_t errlen)
{
	struct tls_prepared *p = xcalloc(1, sizeof(*p));
	p->key = policy_text(pol);
	int r = gnutls_certificate_allocate_credentials(&p->cred);
	if (r < 0) {
		p->cred = NULL;
		set_err(err, errlen, "TLS credentials: %s", gnutls_strerror(r));
		goto fail;
	}
	tls_verify_setup(p->cred);
	if (pol->verify == SP_VERIFY_CA && load_trust(p->cred, pol, err, errlen) < 0)
		goto fail;
	if (pol->client_cert && pol->client_cert[0]) {
		const char *key = pol->client_key && pol->client_key[0] ? pol->client_key : pol->client_cert;
		r = gnutls_certificate_set_x509_key_file(p->cred, pol->client_cert, key, GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			set_err(err, errlen, "cannot load client certificate %s: %s", pol->client_cert, gnutls_strerror(r));
			goto fail;
		}
		p->client_cert = true;
	}
	if (make_priority(p, pol, err, errlen) < 0)
		goto fail;
	return p;
fail:
	if (p->prio)
		gnutls_priority_deinit(p->prio);
	if (p->cred)
		gnutls_certificate_free_credentials(p->cred);
	free(p->prio_text);
	free(p->key);
	free(p);
	return NULL;
}

#define MAX_PREPARED 64
static struct tls_prepared *prepared[MAX_PREPARED];
static size_t nprepared;

const struct tls_prepared *tls_prepared_get(const struct sp_tls_policy *pol, bool announce, char *err,
					    size_t errlen)
{
	char *key = policy_text(pol);
	for (size_t i = 0; i < nprepared; i++) {
		if (strcmp(prepared[i]->key, key) == 0) {
			free(key);
			return prepared[i];
		}
	}
	free(key);
	struct tls_prepared *p = prepare(pol, err, errlen);
	if (!p)
		return NULL;
	if (announce) {
		struct buf w;
		buf_init(&w);
		tls_policy_warnings(pol, &w);
		for (char *line = w.data, *nl; line && *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl)
				break;
			*nl = '\0';
			log_msg(LOG_WARNING, "%s", line);
		}
		buf_free(&w);
	}
	if (nprepared < MAX_PREPARED)
		prepared[nprepared++] = p;
	/* else: more distinct policies than any real config has; this one
	 * leaks, as every entry does, for the life of the process */
	return p;
}

void tls_policy_preload(const struct sp_config *cfg)
{
	for (size_t i = 0; i < cfg->nrelays; i++) {
		char err[512];
		const struct sp_tls_policy *pol = conf_policy_for(cfg, cfg->relays[i].host);
		if (!tls_prepared_get(pol, true, err, sizeof(err)))
			log_msg(LOG_WARNING, "relay %s: TLS policy \"%s\" cannot be applied: %s", cfg->relays[i].name,
				pol->host, err);
	}
}

int tls_policy_warnings(const struct sp_tls_policy *pol, struct buf *out)
{
	int n = 0;
	const struct profile *want = policy_profile(pol), *weak, *strong;
	priority_profiles(pol->priority, &weak, &strong);
	if (want->level < profiles[DEFAULT_PROFILE].level) {
		buf_printf(out, "tls_policy \"%s\": security_profile = \"%s\" accepts certificates and keys weaker "
			   "than the default \"medium\" (RSA/DH keys under 2048 bits)\n", pol->host, want->name);
		n++;
	}
	if (weak && weak->level < want->level) {
		buf_printf(out, "tls_policy \"%s\": priority's %s is ignored: it would weaken security_profile \"%s\" "
			   "(set security_profile = \"%s\" to mean it)\n", pol->host, weak->token, want->name, weak->name);
		n++;
	}
	if (pol->priority && pol->priority[0]) {
		gnutls_priority_t prio;
		char *text = xasprintf("%s:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1", pol->priority);
		if (gnutls_priority_init(&prio, text, NULL) >= 0) {
			char why[128];
			if (check_suites(prio, true, why, sizeof(why)) < 0) {
				buf_printf(out, "tls_policy \"%s\": priority widens TLS 1.2 beyond forward-secret AEAD "
					   "suites (%s)\n", pol->host, why);
				n++;
			}
			gnutls_priority_deinit(prio);
		}
		free(text);
	}
	return n;
}

int tls_suite_check(struct tls_conn *t, char *err, size_t errlen)
{
	gnutls_protocol_t v = gnutls_protocol_get_version(t->session);
	int min = t->pol->min_version >= 13 ? GNUTLS_TLS1_3 : GNUTLS_TLS1_2;
	if ((v != GNUTLS_TLS1_2 && v != GNUTLS_TLS1_3) || (int)v < min) {
		const char *name = gnutls_protocol_get_name(v);
		set_err(err, errlen, "TLS version too old: %s", name ? name : "unknown");
		return LOCAL_TLS;
	}
	/* X.509 only: a raw public key (+CTYPE-SRV-RAWPK) has no chain or name */
	if (gnutls_certificate_type_get2(t->session, GNUTLS_CTYPE_SERVER) != GNUTLS_CRT_X509) {
		set_err(err, errlen, "the server authenticated with something other than an X.509 certificate");
		return LOCAL_TLS;
	}
	gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(t->session);
	gnutls_mac_algorithm_t mac = gnutls_mac_get(t->session);
	/* TLS 1.3 names no key exchange in its suites (and a resumption
	 * reports a PSK one): the allowlist judges its cipher and MAC */
	gnutls_kx_algorithm_t kx = v == GNUTLS_TLS1_3 ? GNUTLS_KX_UNKNOWN : gnutls_kx_get(t->session);
	if (cipher == GNUTLS_CIPHER_NULL || !suite_allowed(kx, cipher, mac, t->prep->strict)) {
		const char *kxn = gnutls_kx_get_name(kx), *cn = gnutls_cipher_get_name(cipher);
		set_err(err, errlen, "TLS suite not allowed by the policy: %s/%s", kxn ? kxn : "-", cn ? cn : "?");
		return LOCAL_TLS;
	}
	return 0;
}

void tls_offer_summary(const struct tls_conn *t, char *out, size_t n)
{
	const char *versions = t->pol->min_version >= 13 ? "TLS1.3 only" : "TLS1.2 and TLS1.3";
	if (t->prep->strict)
		snprintf(out, n, "%s, forward-secret AEAD suites only", versions);
	else
		snprintf(out, n, "%s, the suites of priority \"%s\"", versions, t->pol->priority);
}
