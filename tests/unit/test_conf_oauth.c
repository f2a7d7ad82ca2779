/*
 * test_conf_oauth.c - the oauth2 block of a relay (src/common/conf_oauth.c
 * through conf.h/conf_oauth.h): every bad block fails with FILE:LINE and a
 * message that says what to fix; provider defaults (Microsoft endpoints
 * from the tenant, the scope per grant, Google); and the --check-config
 * dump shows the block and the token file, never a secret.
 */
#include "config.h"

#include "conf.h"
#include "conf_oauth.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[200];

static struct sp_config *load(const char *name, const char *text, char *err, size_t errlen)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		exit(99);
	struct sp_config *c = NULL;
	err[0] = '\0';
	if (conf_load(path, false, &c, err, errlen) != 0)
		return NULL;
	return c;
}

#define R "relay \"m\" {\n  host = \"smtp.example.net\"\n  username = \"a@example.net\"\n"
#define MS "  oauth2 {\n    provider = \"microsoft\"\n    tenant = \"contoso.onmicrosoft.com\"\n    client_id = \"id-1\"\n"

static const struct {
	const char *name, *text;
	int line;
	const char *want;
} bad[] = {
	{ "no_provider", R "  oauth2 {\n    client_id = \"x\"\n  }\n}\n", 4, "provider is required" },
	{ "bad_provider", R "  oauth2 {\n    provider = \"yahoo\"\n  }\n}\n", 5, "must be \"microsoft\", \"google\" or \"custom\"" },
	{ "no_client_id", R "  oauth2 {\n    provider = \"google\"\n  }\n}\n", 4, "client_id is required" },
	{ "no_grant", R MS "  }\n}\n", 4, "grant is required" },
	{ "bad_grant", R MS "    grant = \"password\"\n  }\n}\n", 8, "must be \"client_credentials\" or \"refresh_token\"" },
	{ "ms_no_tenant", R "  oauth2 {\n    provider = \"microsoft\"\n    client_id = \"x\"\n    grant = \"refresh_token\"\n  }\n}\n", 5, "needs tenant" },
	{ "tenant_google", R "  oauth2 {\n    provider = \"google\"\n    client_id = \"x\"\n    tenant = \"t\"\n  }\n}\n", 7, "tenant is only used with provider \"microsoft\"" },
	{ "google_cc", R "  oauth2 {\n    provider = \"google\"\n    client_id = \"x\"\n    grant = \"client_credentials\"\n  }\n}\n", 7, "Google has no client_credentials" },
	{ "custom_no_url", R "  oauth2 {\n    provider = \"custom\"\n    client_id = \"x\"\n    grant = \"refresh_token\"\n  }\n}\n", 5, "needs token_url" },
	{ "http_url", R "  oauth2 {\n    provider = \"custom\"\n    token_url = \"http://idp.example/token\"\n  }\n}\n", 6, "must be an https:// URL" },
	{ "cc_no_secret", R MS "    grant = \"client_credentials\"\n  }\n}\n", 8, "needs client_secret_file" },
	{ "relative_secret", R MS "    client_secret_file = \"secret\"\n  }\n}\n", 8, "must be an absolute path" },
	{ "with_password", R "  password_file = \"/etc/pw\"\n" MS "    grant = \"refresh_token\"\n  }\n}\n", 4, "oauth2 and password_file are exclusive" },
	{ "no_username", "relay \"m\" {\n  host = \"h.example\"\n" MS "    grant = \"refresh_token\"\n  }\n}\n", 3, "oauth2 needs username" },
	{ "auth_plain", R "  auth = \"plain\"\n" MS "    grant = \"refresh_token\"\n  }\n}\n", 4, "auth must be \"auto\", \"xoauth2\" or \"oauthbearer\"" },
	{ "twice", R MS "    grant = \"refresh_token\"\n  }\n  oauth2 {\n  }\n}\n", 10, "oauth2 is given twice in relay \"m\"" },
	{ "key_twice", R MS "    grant = \"refresh_token\"\n    client_id = \"y\"\n  }\n}\n", 9, "client_id is set twice" },
	{ "unknown_key", R MS "    secret = \"x\"\n  }\n}\n", 8, "unknown key 'secret'" },
	{ "cc_device", R MS "    grant = \"client_credentials\"\n    client_secret_file = \"/s\"\n    device_url = \"https://x.example/d\"\n  }\n}\n", 10, "device_url and authorize_url are for grant \"refresh_token\"" },
	{ "dot_name", "relay \"..\" {\n  host = \"h.example\"\n  username = \"u\"\n" MS "    grant = \"refresh_token\"\n  }\n}\n", 1, "must not start with '.'" },
	{ "quote_scope", R MS "    grant = \"refresh_token\"\n    scope = \"a\\\"b\"\n  }\n}\n", 9, "must not contain quotes" },
};

static void test_bad(void)
{
	char err[600];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sp_config *c = load(bad[i].name, bad[i].text, err, sizeof(err));
		CHECK(c == NULL, "%s: accepted", bad[i].name);
		conf_free(c);
		char at[32];
		snprintf(at, sizeof(at), ".conf:%d: ", bad[i].line);
		CHECK(strstr(err, at) != NULL, "%s: wrong line: %s", bad[i].name, err);
		CHECK(strstr(err, bad[i].want) != NULL, "%s: message: %s", bad[i].name, err);
	}
}

static void test_defaults(void)
{
	char err[600];
	struct sp_config *c = load("ms_app", "spool_dir = \"/var/spool/sp\"\n" R "  auth = \"oauthbearer\"\n" MS
				   "    grant = \"client_credentials\"\n    client_secret_file = \"/etc/sp/m.secret\"\n  }\n}\n"
				   "relay \"g\" {\n  host = \"smtp.gmail.com\"\n  username = \"me@gmail.com\"\n"
				   "  oauth2 {\n    provider = \"google\"\n    client_id = \"g.apps\"\n  }\n}\n"
				   "relay \"d\" {\n  host = \"smtp.office365.com\"\n  username = \"a@contoso.com\"\n" MS
				   "    grant = \"refresh_token\"\n  }\n}\n", err, sizeof(err));
	CHECK(c != NULL, "good config refused: %s", err);
	if (!c)
		return;
	const struct sp_oauth2 *m = c->relays[0].oauth2, *g = c->relays[1].oauth2, *d = c->relays[2].oauth2;
	CHECK(m && m->grant == SP_GRANT_CLIENT_CREDENTIALS, "microsoft grant");
	CHECK_STR(m->token_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", "ms token_url");
	CHECK_STR(m->scope, "https://outlook.office365.com/.default", "ms app scope");
	CHECK(m->device_url == NULL && m->authorize_url == NULL, "no sign-in endpoints for client_credentials");
	CHECK_STR(c->relays[0].auth, "oauthbearer", "auth");
	CHECK(g && g->grant == SP_GRANT_REFRESH_TOKEN, "google defaults to refresh_token");
	CHECK_STR(g->token_url, "https://oauth2.googleapis.com/token", "google token_url");
	CHECK_STR(g->scope, "https://mail.google.com/", "google scope");
	CHECK(g->device_url == NULL && g->authorize_url != NULL, "google: code flow, no device flow");
	CHECK_STR(d->scope, "https://outlook.office.com/SMTP.Send offline_access", "ms delegated scope");
	CHECK_STR(d->device_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode", "ms device");
	char *p = conf_oauth_token_path(c, &c->relays[0]);
	CHECK_STR(p, "/var/spool/sp/oauth/m", "token path");
	free(p);

	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	conf_dump(c, f);
	fclose(f);
	CHECK(strstr(out, "client_secret_file = \"/etc/sp/m.secret\"") != NULL, "dump names the secret file");
	CHECK(strstr(out, "# token file: /var/spool/sp/oauth/m") != NULL, "dump names the token file");
	CHECK(strstr(out, "# provider default") != NULL, "dump marks defaults");
	/* the dump loads again */
	char path[256];
	snprintf(path, sizeof(path), "%s/dump.conf", dir);
	f = fopen(path, "w");
	fputs(out, f);
	fclose(f);
	struct sp_config *again = NULL;
	CHECK(conf_load(path, false, &again, err, sizeof(err)) == 0, "dump does not load: %s", err);
	CHECK(again && again->relays[0].oauth2 && again->relays[0].oauth2->grant == SP_GRANT_CLIENT_CREDENTIALS,
	      "dump round trip");
	conf_free(again);
	free(out);
	conf_free(c);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s/test_conf_oauth.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 99;
	test_bad();
	test_defaults();
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done("test_conf_oauth");
}
