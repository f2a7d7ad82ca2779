/*
 * conf_oauth.c - the oauth2 { } block of a relay (SPEC section 7): schema,
 * value rules, the checks across the block and its relay, the provider
 * defaults, and its part of --check-config.
 *
 * Privilege: none (front end and worker both load the config). Trusts
 * nothing in the file: every value is bounded and checked here, endpoints
 * must be https:// URLs, and no secret is read (client_secret_file is only
 * a path; the helper sealpost-oauth reads it).
 */
#include "config.h"

#include "conf_oauth.h"
#include "conf.h"
#include "conf_internal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define OAUTH_MAX_VALUE 2048

/* ---- provider defaults ------------------------------------------------------ */

#define MS_LOGIN "https://login.microsoftonline.com/"
#define MS_SCOPE_APP "https://outlook.office365.com/.default"
#define MS_SCOPE_DELEGATED "https://outlook.office.com/SMTP.Send offline_access"
#define GOOGLE_TOKEN "https://oauth2.googleapis.com/token"
#define GOOGLE_AUTHORIZE "https://accounts.google.com/o/oauth2/v2/auth"
#define GOOGLE_SCOPE "https://mail.google.com/"

const char *conf_oauth_provider_name(enum sp_oauth_provider p)
{
	return p == SP_OAUTH_MICROSOFT ? "microsoft" : p == SP_OAUTH_GOOGLE ? "google" : "custom";
}

const char *conf_oauth_grant_name(enum sp_oauth_grant g)
{
	return g == SP_GRANT_CLIENT_CREDENTIALS ? "client_credentials" : "refresh_token";
}

/* ---- value rules ------------------------------------------------------------ */

static bool url_ok(const char *v)
{
	if (strncmp(v, "https://", 8) != 0 || !v[8] || v[8] == '/')
		return false;
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '\\' || *p == '<' || *p == '>' || *p == 0x7f)
			return false;
	return true;
}

static bool token_chars(const char *v, const char *extra)
{
	if (!*v)
		return false;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(extra, *p)))
			return false;
	return true;
}

/* Why value is not acceptable for key, or NULL. */
static const char *check_value(const char *key, const char *v)
{
	if (strlen(v) > OAUTH_MAX_VALUE)
		return "is too long";
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	if (strcmp(key, "provider") == 0)
		return strcmp(v, "microsoft") == 0 || strcmp(v, "google") == 0 || strcmp(v, "custom") == 0
		       ? NULL : "must be \"microsoft\", \"google\" or \"custom\"";
	if (strcmp(key, "grant") == 0)
		return strcmp(v, "client_credentials") == 0 || strcmp(v, "refresh_token") == 0
		       ? NULL : "must be \"client_credentials\" or \"refresh_token\"";
	if (strcmp(key, "tenant") == 0)
		return token_chars(v, ".-_") ? NULL : "must be a tenant id or domain";
	if (strcmp(key, "client_id") == 0)
		return token_chars(v, ".-_@:/+=~") ? NULL : "must be a client id (no spaces or quotes)";
	if (strcmp(key, "client_secret_file") == 0 || strcmp(key, "ca_file") == 0)
		return !*v || v[0] == '/' ? NULL : "must be an absolute path";
	if (strcmp(key, "scope") == 0)
		return strpbrk(v, "\"\\") ? "must not contain quotes or backslashes" : NULL;
	/* the endpoints */
	return !*v || url_ok(v) ? NULL : "must be an https:// URL (endpoints are HTTPS only)";
}

static int cb_oauth_string(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result)
{
	if (conf_failed() || conf_note_key(sec, opt, true) != 0)
		return -1;
	const char *why = check_value(opt->name, value);
	if (why) {
		conf_fail_at(sec->line, "%s = \"%s\": %s", opt->name, value, why);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

#define OSTR(name) CFG_STR_CB(name, NULL, CFGF_NODEFAULT, cb_oauth_string)

cfg_opt_t conf_oauth_opts[] = {
	CFG_STR_LIST_CB(CONF_SECTION_HOOK, "{open}", CFGF_NONE, conf_nested_section_opened),
	OSTR("provider"), OSTR("tenant"), OSTR("grant"), OSTR("client_id"),
	OSTR("client_secret_file"), OSTR("scope"), OSTR("token_url"), OSTR("device_url"),
	OSTR("authorize_url"), OSTR("ca_file"),
	CFG_END()
};

/* ---- from libconfuse to struct sp_oauth2 ----------------------------------- */

static bool is_set(cfg_t *sec, const char *key)
{
	return cfg_size(sec, key) && *cfg_getstr(sec, key);
}

static char *opt_str(cfg_t *sec, const char *key)
{
	return is_set(sec, key) ? xstrdup(cfg_getstr(sec, key)) : NULL;
}

/* Fill *field with the configured value, else with dflt (may be NULL). */
static void with_default(cfg_t *sec, const char *key, char **field, const char *dflt)
{
	*field = opt_str(sec, key);
	if (!*field && dflt)
		*field = xstrdup(dflt);
}

static void fill_defaults(struct sp_oauth2 *o, cfg_t *sec)
{
	char *token = NULL, *device = NULL, *authorize = NULL;
	const char *scope = NULL;
	if (o->provider == SP_OAUTH_MICROSOFT && o->tenant) {
		token = xasprintf(MS_LOGIN "%s/oauth2/v2.0/token", o->tenant);
		if (o->grant == SP_GRANT_REFRESH_TOKEN) { /* sign-in endpoints */
			device = xasprintf(MS_LOGIN "%s/oauth2/v2.0/devicecode", o->tenant);
			authorize = xasprintf(MS_LOGIN "%s/oauth2/v2.0/authorize", o->tenant);
		}
		scope = o->grant == SP_GRANT_CLIENT_CREDENTIALS ? MS_SCOPE_APP : MS_SCOPE_DELEGATED;
	} else if (o->provider == SP_OAUTH_GOOGLE) {
		token = xstrdup(GOOGLE_TOKEN);
		authorize = xstrdup(GOOGLE_AUTHORIZE);
		scope = GOOGLE_SCOPE;
	}
	o->scope_default = !is_set(sec, "scope");
	o->token_url_default = !is_set(sec, "token_url");
	o->device_url_default = !is_set(sec, "device_url");
	o->authorize_url_default = !is_set(sec, "authorize_url");
	with_default(sec, "scope", &o->scope, scope);
	with_default(sec, "token_url", &o->token_url, token);
	with_default(sec, "device_url", &o->device_url, device);
	with_default(sec, "authorize_url", &o->authorize_url, authorize);
	free(token);
	free(device);
	free(authorize);
}

/* The first problem of the block (with the key whose line to name), or
 * NULL. The relay's own keys are checked by conf.c. */
static const char *check_block(const struct sp_oauth2 *o, cfg_t *sec, const char **key)
{
	*key = NULL;
	if (!is_set(sec, "provider"))
		return "provider is required (\"microsoft\", \"google\" or \"custom\")";
	if (!o->client_id)
		return "client_id is required";
	if (!is_set(sec, "grant") && o->provider != SP_OAUTH_GOOGLE)
		return "grant is required (\"client_credentials\" or \"refresh_token\")";
	if (o->provider == SP_OAUTH_MICROSOFT && !o->tenant)
		return *key = "provider", "provider \"microsoft\" needs tenant (tenant id or domain)";
	if (o->provider != SP_OAUTH_MICROSOFT && o->tenant)
		return *key = "tenant", "tenant is only used with provider \"microsoft\"";
	if (o->provider == SP_OAUTH_GOOGLE && o->grant == SP_GRANT_CLIENT_CREDENTIALS)
		return *key = "grant", "Google has no client_credentials grant for mail: "
			"use grant = \"refresh_token\"";
	if (o->provider == SP_OAUTH_CUSTOM && !o->token_url)
		return *key = "provider", "provider \"custom\" needs token_url";
	if (o->grant == SP_GRANT_CLIENT_CREDENTIALS && !o->client_secret_file)
		return *key = "grant", "grant \"client_credentials\" needs client_secret_file "
			"(a confidential client)";
	if (o->grant == SP_GRANT_CLIENT_CREDENTIALS && (is_set(sec, "device_url") || is_set(sec, "authorize_url")))
		return *key = is_set(sec, "device_url") ? "device_url" : "authorize_url",
		       "device_url and authorize_url are for grant \"refresh_token\" (sign-in)";
	return NULL;
}

struct sp_oauth2 *conf_oauth_take(struct sp_relay *r, cfg_t *relay_sec)
{
	if (!cfg_size(relay_sec, "oauth2"))
		return NULL;
	cfg_t *sec = cfg_getsec(relay_sec, "oauth2");
	struct sp_oauth2 *o = xcalloc(1, sizeof(*o));
	if (cfg_size(relay_sec, "oauth2") > 1)
		conf_fail_at(conf_line_of(cfg_getnsec(relay_sec, "oauth2", 1), NULL),
			"oauth2 is given twice in relay \"%s\" (first at line %d)", r->name,
			conf_line_of(sec, NULL));
	char *v = opt_str(sec, "provider");
	o->provider = !v || strcmp(v, "microsoft") == 0 ? SP_OAUTH_MICROSOFT
		      : strcmp(v, "google") == 0 ? SP_OAUTH_GOOGLE : SP_OAUTH_CUSTOM;
	free(v);
	v = opt_str(sec, "grant");
	o->grant = v ? (strcmp(v, "client_credentials") == 0 ? SP_GRANT_CLIENT_CREDENTIALS
			: SP_GRANT_REFRESH_TOKEN) : SP_GRANT_REFRESH_TOKEN;
	free(v);
	o->tenant = opt_str(sec, "tenant");
	o->client_id = opt_str(sec, "client_id");
	o->client_secret_file = opt_str(sec, "client_secret_file");
	o->ca_file = opt_str(sec, "ca_file");
	fill_defaults(o, sec);

	const char *key;
	const char *why = check_block(o, sec, &key);
	if (why)
		conf_fail_at(conf_line_of(sec, key), "relay \"%s\": oauth2: %s", r->name, why);
	else if (r->name[0] == '.')
		conf_fail_at(conf_line_of(relay_sec, NULL), "relay \"%s\": with oauth2 the name must not "
			"start with '.' (it names the token file)", r->name);
	else if (r->password_file || r->password_command)
		conf_fail_at(conf_line_of(relay_sec, r->password_file ? "password_file" : "password_command"),
			"relay \"%s\": oauth2 and %s are exclusive: the token comes from the "
			"oauth2 block", r->name, r->password_file ? "password_file" : "password_command");
	else if (!r->username)
		conf_fail_at(conf_line_of(sec, NULL), "relay \"%s\": oauth2 needs username "
			"(the mailbox to sign in as)", r->name);
	else if (r->auth && strcmp(r->auth, "auto") != 0 && strcmp(r->auth, "xoauth2") != 0 &&
		 strcmp(r->auth, "oauthbearer") != 0)
		conf_fail_at(conf_line_of(relay_sec, "auth"), "relay \"%s\": with oauth2, auth must be "
			"\"auto\", \"xoauth2\" or \"oauthbearer\"", r->name);
	return o;
}

void conf_oauth_free(struct sp_oauth2 *o)
{
	if (!o)
		return;
	free(o->tenant);
	free(o->client_id);
	free(o->client_secret_file);
	free(o->ca_file);
	free(o->scope);
	free(o->token_url);
	free(o->device_url);
	free(o->authorize_url);
	free(o);
}

char *conf_oauth_token_path(const struct sp_config *cfg, const struct sp_relay *relay)
{
	return xasprintf("%s/oauth/%s", cfg->spool_dir, relay->name);
}

/* ---- --check-config ------------------------------------------------------- */

static void put(FILE *out, const char *key, const char *v, bool dflt, const char *unset)
{
	if (!v) {
		fprintf(out, "    # %-18s (unset: %s)\n", key, unset);
		return;
	}
	/* values passed check_value: no quotes, backslashes or controls */
	fprintf(out, "    %-18s = \"%s\"%s\n", key, v, dflt ? "  # provider default" : "");
}

void conf_oauth_dump(const struct sp_config *cfg, const struct sp_relay *relay, FILE *out)
{
	const struct sp_oauth2 *o = relay->oauth2;
	if (!o)
		return;
	fputs("  oauth2 {\n", out);
	put(out, "provider", conf_oauth_provider_name(o->provider), false, "");
	put(out, "tenant", o->tenant, false, "not microsoft");
	put(out, "grant", conf_oauth_grant_name(o->grant), false, "");
	put(out, "client_id", o->client_id, false, "");
	put(out, "client_secret_file", o->client_secret_file, false, "a public client, no secret");
	put(out, "scope", o->scope, o->scope_default, "none");
	put(out, "token_url", o->token_url, o->token_url_default, "");
	put(out, "device_url", o->device_url, o->device_url_default, "no device flow");
	put(out, "authorize_url", o->authorize_url, o->authorize_url_default, "no code flow");
	put(out, "ca_file", o->ca_file, false, "system trust store");
	char *path = conf_oauth_token_path(cfg, relay);
	fprintf(out, "    # token file: %s (owner: the worker's user, mode 0600; contents never shown)\n", path);
	free(path);
	fputs("  }\n", out);
}
