/*
 * scram.c - SCRAM-SHA-256 client messages (see scram.h). Every secret
 * intermediate (SaltedPassword, ClientKey, proofs) is wiped after use.
 * A non-ASCII password is prepared with SASLprep (RFC 4013) by GNU
 * libidn's stringprep, the library that carries the Unicode 3.2 tables
 * stringprep is defined over (a current-Unicode NFKC would differ).
 */
#include "config.h"

#include "scram.h"
#include "base64.h"
#include "tls.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stringprep.h>

/* saslname: "=" and "," escaped (RFC 5802 5.1). */
static void add_saslname(struct buf *b, const char *user)
{
	for (const char *p = user; *p; p++) {
		if (*p == '=')
			buf_adds(b, "=3D");
		else if (*p == ',')
			buf_adds(b, "=2C");
		else
			buf_addc(b, *p);
	}
}

char *scram_saslprep(const char *password, char *err, size_t errlen)
{
	bool ascii = true;
	for (const unsigned char *p = (const unsigned char *)password; *p; p++)
		ascii = ascii && *p < 0x80;
	if (ascii)
		return xstrdup(password); /* SASLprep changes no printable ASCII */
	if (!utf8_valid(password, strlen(password))) {
		set_err(err, errlen, "the password is not UTF-8, which SCRAM needs (RFC 5802)");
		return NULL;
	}
	char *prepared = NULL;
	int rc = stringprep_profile(password, &prepared, "SASLprep", STRINGPREP_NO_UNASSIGNED);
	if (rc != STRINGPREP_OK || !prepared || !prepared[0]) {
		set_err(err, errlen, "the password cannot be used with SCRAM (RFC 4013 SASLprep: %s)",
			rc != STRINGPREP_OK ? stringprep_strerror(rc) : "empty after preparation");
		if (prepared)
			free_secret(prepared);
		return NULL;
	}
	return prepared;
}

char *scram_client_first(struct scram *sc, const char *user, const char *nonce)
{
	memset(sc, 0, sizeof(*sc));
	char fresh[33];
	if (!nonce) {
		unsigned char raw[24];
		if (tls_random(raw, sizeof(raw)) < 0)
			return NULL;
		base64_encode(raw, sizeof(raw), fresh); /* 32 chars, no ',' */
		nonce = fresh;
	}
	struct buf b;
	buf_init(&b);
	buf_adds(&b, "n=");
	add_saslname(&b, user);
	buf_printf(&b, ",r=%s", nonce);
	sc->client_first_bare = buf_steal(&b);
	return xasprintf("n,,%s", sc->client_first_bare);
}

/* The value of attribute "k=" at the start of s or after a ','; its length
 * in *n. NULL when absent. */
static const char *attr(const char *s, char k, size_t *n)
{
	for (const char *p = s; p;) {
		if (p[0] == k && p[1] == '=') {
			*n = strcspn(p + 2, ",");
			return p + 2;
		}
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return NULL;
}

char *scram_client_final(struct scram *sc, const char *password, const char *server_first, char *err,
			 size_t errlen)
{
	size_t nlen, slen, ilen;
	const char *nonce = attr(server_first, 'r', &nlen);
	const char *salt64 = attr(server_first, 's', &slen);
	const char *iter = attr(server_first, 'i', &ilen);
	if (strncmp(server_first, "m=", 2) == 0 || !nonce || !salt64 || !iter) {
		set_err(err, errlen, "malformed SCRAM server-first message");
		return NULL;
	}
	const char *mine = strstr(sc->client_first_bare, ",r=") + 3;
	if (nlen <= strlen(mine) || strncmp(nonce, mine, strlen(mine)) != 0) {
		set_err(err, errlen, "SCRAM server nonce does not extend ours");
		return NULL;
	}
	char ibuf[16];
	uint64_t iterations = 0;
	if (ilen == 0 || ilen >= sizeof(ibuf)) {
		set_err(err, errlen, "bad SCRAM iteration count");
		return NULL;
	}
	memcpy(ibuf, iter, ilen);
	ibuf[ilen] = '\0';
	if (!parse_u64(ibuf, &iterations) || iterations < SCRAM_MIN_ITER || iterations > SCRAM_MAX_ITER) {
		set_err(err, errlen, "SCRAM iteration count %s outside %d..%d", ibuf, SCRAM_MIN_ITER, SCRAM_MAX_ITER);
		return NULL;
	}
	unsigned char salt[256];
	long saltn = base64_decode(salt64, slen, salt, sizeof(salt));
	if (saltn <= 0) {
		set_err(err, errlen, "bad SCRAM salt");
		return NULL;
	}
	char *prepared = scram_saslprep(password, err, errlen);
	if (!prepared)
		return NULL;
	int derived = tls_pbkdf2_sha256(prepared, strlen(prepared), salt, (size_t)saltn, (unsigned)iterations,
					sc->salted);
	free_secret(prepared);
	if (derived < 0) {
		set_err(err, errlen, "SCRAM key derivation failed");
		return NULL;
	}
	struct buf without_proof;
	buf_init(&without_proof);
	buf_adds(&without_proof, "c=biws,r="); /* biws = base64("n,,") */
	buf_add(&without_proof, nonce, nlen);
	sc->auth_message = xasprintf("%s,%s,%s", sc->client_first_bare, server_first, without_proof.data);

	unsigned char client_key[32], stored_key[32], signature[32], proof[32];
	int ok = tls_hmac_sha256(sc->salted, 32, "Client Key", 10, client_key) == 0 &&
		 tls_sha256(client_key, 32, stored_key) == 0 &&
		 tls_hmac_sha256(stored_key, 32, sc->auth_message, strlen(sc->auth_message), signature) == 0;
	for (int i = 0; i < 32; i++)
		proof[i] = client_key[i] ^ signature[i];
	char proof64[48];
	base64_encode(proof, sizeof(proof), proof64);
	char *out = ok ? xasprintf("%s,p=%s", without_proof.data, proof64) : NULL;
	explicit_zero(client_key, sizeof(client_key));
	explicit_zero(stored_key, sizeof(stored_key));
	explicit_zero(proof, sizeof(proof));
	explicit_zero(proof64, sizeof(proof64));
	buf_free(&without_proof);
	if (!out)
		set_err(err, errlen, "SCRAM computation failed");
	return out;
}

int scram_verify_server(struct scram *sc, const char *server_final, char *err, size_t errlen)
{
	size_t vlen, elen;
	const char *e = attr(server_final, 'e', &elen);
	if (e) {
		set_err(err, errlen, "SCRAM server error: %.*s", (int)(elen > 100 ? 100 : elen), e);
		return -1;
	}
	const char *v = attr(server_final, 'v', &vlen);
	unsigned char got[32], server_key[32], want[32];
	if (!v || !sc->auth_message || base64_decode(v, vlen, got, sizeof(got)) != 32) {
		set_err(err, errlen, "malformed SCRAM server-final message");
		return -1;
	}
	if (tls_hmac_sha256(sc->salted, 32, "Server Key", 10, server_key) < 0 ||
	    tls_hmac_sha256(server_key, 32, sc->auth_message, strlen(sc->auth_message), want) < 0) {
		set_err(err, errlen, "SCRAM computation failed");
		return -1;
	}
	explicit_zero(server_key, sizeof(server_key));
	unsigned diff = 0;
	for (int i = 0; i < 32; i++)
		diff |= (unsigned)(got[i] ^ want[i]);
	if (diff) {
		set_err(err, errlen, "SCRAM server signature wrong: the server does not know the password");
		return -1;
	}
	return 0;
}

void scram_free(struct scram *sc)
{
	free(sc->client_first_bare);
	free(sc->auth_message);
	explicit_zero(sc->salted, sizeof(sc->salted));
	memset(sc, 0, sizeof(*sc));
}
