/*
 * test_scram.c - SCRAM-SHA-256 client messages against the RFC 7677
 * example exchange, and the refusals a hostile server can provoke (wrong
 * nonce, weak or huge iteration counts, bad salt, mandatory extensions,
 * wrong server signature, server errors).
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
	tls_global_deinit();
	return unit_done("test_scram");
}
