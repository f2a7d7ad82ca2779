/*
 * test_scram.c - SCRAM-SHA-256 client messages against the RFC 7677
 * example exchange, and the refusals a hostile server can provoke (wrong
 * nonce, weak or huge iteration counts, bad salt, mandatory extensions,
 * wrong server signature, server errors); SASLprep (RFC 4013) of
 * non-ASCII passwords with the RFC's own examples, and an exchange whose
 * expected proof was computed independently (Python hashlib/hmac over the
 * prepared password) from a password typed in another normalization form.
 */
#include "config.h"

#include "scram.h"
#include "tls.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define CHECK_EQ(got, want, name) \
	CHECK((got) && strcmp((got), (want)) == 0, "%s: got \"%s\", want \"%s\"", (name), (got) ? (got) : "(null)", (want))

static const char *const rfc_server_first =
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

static void test_rfc7677(void)
{
	struct scram sc;
	char err[128];
	char *first = scram_client_first(&sc, "user", "rOprNGfwEbeRWgbNEkqO");
	CHECK_EQ(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "client-first");
	char *final = scram_client_final(&sc, "pencil", rfc_server_first, err, sizeof(err));
	CHECK_EQ(final, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "client-final");
	CHECK(scram_verify_server(&sc, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", err, sizeof(err)) == 0,
	      "server signature: %s", err);
	CHECK(scram_verify_server(&sc, "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", err, sizeof(err)) < 0,
	      "a wrong server signature is refused");
	CHECK(strstr(err, "does not know the password") != NULL, "reason: %s", err);
	CHECK(scram_verify_server(&sc, "e=invalid-proof", err, sizeof(err)) < 0, "server error");
	CHECK(scram_verify_server(&sc, "v=short", err, sizeof(err)) < 0, "malformed v");
	free(first);
	free(final);
	scram_free(&sc);
}

static void test_refusals(void)
{
	static const struct {
		const char *name, *server_first;
	} bad[] = {
		{ "nonce not extended", "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096" },
		{ "foreign nonce", "r=XXXXNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096" },
		{ "weak iterations", "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1" },
		{ "huge iterations", "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000" },
		{ "iterations not a number", "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x" },
		{ "bad salt", "r=rOprNGfwEbeRWgbNEkqOabc,s=!!!!,i=4096" },
		{ "no salt", "r=rOprNGfwEbeRWgbNEkqOabc,i=4096" },
		{ "mandatory extension", "m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096" },
		{ "empty", "" },
		{ "garbage", ",,,,=,r" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct scram sc;
		char err[128] = "";
		char *first = scram_client_first(&sc, "user", "rOprNGfwEbeRWgbNEkqO");
		char *final = scram_client_final(&sc, "pencil", bad[i].server_first, err, sizeof(err));
		CHECK(final == NULL, "%s: accepted", bad[i].name);
		CHECK(err[0] != '\0', "%s: no reason", bad[i].name);
		CHECK(scram_verify_server(&sc, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", err, sizeof(err)) < 0,
		      "%s: verified without a final message", bad[i].name);
		free(first);
		free(final);
		scram_free(&sc);
	}
}

static void test_saslprep(void)
{
	static const struct {
		const char *name, *in, *want; /* want NULL: refused */
	} cases[] = {
		/* RFC 4013 section 3 */
		{ "SOFT HYPHEN mapped to nothing", "I\xc2\xadX", "IX" },
		{ "no transformation", "user", "user" },
		{ "case preserved", "USER", "USER" },
		{ "output is NFKC, input in ISO 8859-1", "\xc2\xaa", "a" },
		{ "output is NFKC, will match 1st", "\xe2\x85\xa8", "IX" },
		{ "error - prohibited character", "\x07\xc2\xa0", NULL },
		{ "error - bidirectional check", "\xd8\xa7\x31", NULL },
		/* more of the profile */
		{ "non-ASCII space mapped to SPACE", "a\xc2\xa0" "b", "a b" },
		{ "decomposed input composed", "pa\xcc\x88ss", "p\xc3\xa4ss" },
		{ "ligature folded", "\xef\xac\x81ne", "fine" },
		{ "only a soft hyphen: empty", "\xc2\xad", NULL },
		{ "unassigned code point (stored string)", "a\xf0\xaf\xbf\xbe", NULL },
		{ "not UTF-8", "p\xe4ss", NULL },
		{ "ASCII is left alone", "pencil \t x", "pencil \t x" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[160] = "";
		char *got = scram_saslprep(cases[i].in, err, sizeof(err));
		if (cases[i].want) {
			CHECK_EQ(got, cases[i].want, cases[i].name);
		} else {
			CHECK(got == NULL, "%s: accepted as \"%s\"", cases[i].name, got ? got : "");
			CHECK(err[0] != '\0', "%s: no reason", cases[i].name);
		}
		free(got);
	}

	/* typed decomposed, with a soft hyphen and a no-break space; the
	 * server stored "p\u00e4ssw\u00f6rd geheim" */
	struct scram sc;
	char err[160];
	char *first = scram_client_first(&sc, "user", "rOprNGfwEbeRWgbNEkqO");
	char *final = scram_client_final(&sc, "pa\xcc\x88ss\xc2\xadwo\xcc\x88rd\xc2\xa0geheim", rfc_server_first, err,
					 sizeof(err));
	CHECK_EQ(final, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			"p=uefmbSVTKP1+tWfH1zr7Qsw0yFXOeFEb2p6XYsklNYA=", "non-ASCII client-final");
	CHECK(scram_verify_server(&sc, "v=mRdh+wiw/PSrvjFs0ti51Dkz23UAXx0DlyJO+ocqHk8=", err, sizeof(err)) == 0,
	      "non-ASCII server signature: %s", err);
	free(first);
	free(final);
	scram_free(&sc);

	/* a password SASLprep refuses: no final message, the reason says why */
	first = scram_client_first(&sc, "user", "rOprNGfwEbeRWgbNEkqO");
	final = scram_client_final(&sc, "\x07\xc2\xa0", rfc_server_first, err, sizeof(err));
	CHECK(final == NULL && strstr(err, "SASLprep"), "prohibited password: %s", err);
	free(first);
	free(final);
	scram_free(&sc);
}

static void test_names(void)
{
	struct scram sc;
	char *first = scram_client_first(&sc, "a=b,c", "nonce");
	CHECK_EQ(first, "n,,n=a=3Db=2Cc,r=nonce", "saslname escaping");
	free(first);
	scram_free(&sc);
	first = scram_client_first(&sc, "user", NULL);
	CHECK(first && strlen(first) == strlen("n,,n=user,r=") + 32, "random nonce: %s", first ? first : "");
	free(first);
	scram_free(&sc);
}

int main(void)
{
	char err[128];
	if (tls_global_init(err, sizeof(err)) < 0)
		return 99;
	test_rfc7677();
	test_refusals();
	test_names();
	test_saslprep();
	tls_global_deinit();
	return unit_done("test_scram");
}
