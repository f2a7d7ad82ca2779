/*
 * grant.c - token requests and the token life cycle (see grant.h).
 *
 * Privilege: the worker's user, in the helper only. Trusts nothing the
 * endpoint says: tokens must be RFC 6749 VSCHAR strings of bounded length,
 * lifetimes are clamped, error texts are cut to printable ASCII before they
 * reach a log or the spool. The client secret and tokens are wiped after
 * use and never appear in a message.
 */
#include "config.h"

#include "grant.h"
#include "secret_file.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCK_WAIT_S 60
#define DEFAULT_LIFETIME 3600
#define MAX_LIFETIME (90 * 86400)

const char *oauth_class_name(enum oauth_class c)
{
	static const char *const names[] = {
		[OC_OK] = "ok", [OC_GRANT] = "grant", [OC_CLIENT] = "client",
		[OC_REFUSED] = "refused", [OC_UNREACHABLE] = "unreachable",
		[OC_PROTOCOL] = "protocol", [OC_CONFIG] = "config",
	};
	return (unsigned)c < ARRAY_LEN(names) ? names[c] : "protocol";
}

static enum oauth_class class_of(const char *name)
{
	for (int c = OC_GRANT; c <= OC_CONFIG; c++)
		if (strcmp(name, oauth_class_name((enum oauth_class)c)) == 0)
			return (enum oauth_class)c;
	return OC_PROTOCOL;
}

/* Untrusted server text, cut to printable ASCII for logs and mailq. */
static void clean_text(const char *in, char *out, size_t n)
{
	size_t j = 0;
	for (; in && *in && j + 1 < n; in++)
		out[j++] = (*in >= ' ' && *in <= '~') ? *in : '?';
	out[j] = '\0';
}

static enum oauth_class classify_error(const struct relay_ctx *rc, const char *error, const char *desc,
				       long status, char *err, size_t errlen)
{
	char e[64], d[200];
	clean_text(error, e, sizeof(e));
	clean_text(desc, d, sizeof(d));
	const char *sep = d[0] ? ": " : "";
	const char *name = rc->relay->name;
	if (strcmp(e, "invalid_grant") == 0) {
		set_err(err, errlen, "the token endpoint refused the grant (invalid_grant%s%s): "
			"run sealpostd --oauth-login %s", sep, d, name);
		return OC_GRANT;
	}
	if (strcmp(e, "invalid_client") == 0 || strcmp(e, "unauthorized_client") == 0) {
		set_err(err, errlen, "the token endpoint refused the client (%s%s%s): check client_id "
			"and client_secret_file of relay %s", e, sep, d, name);
		return OC_CLIENT;
	}
	if (status >= 500 || status == 429 || status == 408 || strcmp(e, "temporarily_unavailable") == 0 ||
	    strcmp(e, "server_error") == 0) {
		set_err(err, errlen, "the token endpoint is unavailable (HTTP %ld%s%s)", status, e[0] ? ", " : "", e);
		return OC_UNREACHABLE;
	}
	if (e[0]) {
		set_err(err, errlen, "the token endpoint refused the request (%s%s%s, HTTP %ld)", e, sep, d,
			status);
		return OC_REFUSED;
	}
	set_err(err, errlen, "the token endpoint answered HTTP %ld without an OAuth error", status);
	return OC_PROTOCOL;
}

/* The successful answer into t (RFC 6749 5.1). */
static enum oauth_class take_tokens(json_object *j, struct oauth_token *t, char *err, size_t errlen)
{
	const char *at = json_str(j, "access_token");
	const char *type = json_str(j, "token_type");
	const char *rt = json_str(j, "refresh_token");
	const char *scope = json_str(j, "scope");
	if (!oauth_token_syntax_ok(at)) {
		set_err(err, errlen, "the token endpoint's answer has no usable access_token");
		return OC_PROTOCOL;
	}
	if (type && ascii_casecmp(type, "Bearer") != 0) {
		set_err(err, errlen, "the token endpoint issued a token of type \"%.20s\", not Bearer", type);
		return OC_PROTOCOL;
	}
	if (rt && !oauth_token_syntax_ok(rt)) {
		set_err(err, errlen, "the token endpoint's answer has an unusable refresh_token");
		return OC_PROTOCOL;
	}
	long long life = json_uint(j, "expires_in");
	if (life < 0)
		life = DEFAULT_LIFETIME;
	if (life > MAX_LIFETIME)
		life = MAX_LIFETIME;
	time_t now = time(NULL);
	free_secret(t->access_token);
	t->access_token = xstrdup(at);
	if (rt && (!t->refresh_token || strcmp(rt, t->refresh_token) != 0)) {
		free_secret(t->refresh_token); /* rotation: the caller saves before use */
		t->refresh_token = xstrdup(rt);
	}
	if (scope) {
		char s[512];
		clean_text(scope, s, sizeof(s));
		free(t->scope);
		t->scope = xstrdup(s);
	}
	t->obtained = now;
	t->expires = now + life;
	t->generation++;
	return OC_OK;
}

enum oauth_class token_request(const struct relay_ctx *rc, struct form *f, bool no_scope,
			       struct oauth_token *t, char *oauth_error, size_t oelen,
			       char *err, size_t errlen)
{
	const struct sp_oauth2 *o = rc->o;
	if (oauth_error && oelen)
		oauth_error[0] = '\0';
	form_add(f, "client_id", o->client_id);
	if (o->client_secret_file) {
		char *secret = secret_file_read(o->client_secret_file, "client_secret_file", err, errlen);
		if (!secret)
			return OC_CONFIG;
		form_add(f, "client_secret", secret);
		free_secret(secret);
	}
	if (!no_scope && o->scope)
		form_add(f, "scope", o->scope);
	long status = 0;
	json_object *j = NULL;
	enum http_fail hf = http_post_form(o->token_url, o->ca_file, f, rc->timeout_s, &status, &j, err, errlen);
	form_free(f);
	if (hf != HTTP_OK) {
		char why[400];
		snprintf(why, sizeof(why), "%s", err);
		set_err(err, errlen, "cannot reach the token endpoint: %s", why);
		return hf == HTTP_UNREACHABLE ? OC_UNREACHABLE : OC_PROTOCOL;
	}
	enum oauth_class c;
	if (status == 200 && j)
		c = take_tokens(j, t, err, errlen);
	else {
		if (oauth_error)
			clean_text(json_str(j, "error"), oauth_error, oelen);
		c = classify_error(rc, json_str(j, "error"), json_str(j, "error_description"), status, err,
				   errlen);
	}
	json_put_wiped(j); /* the tokens in json-c's copies */
	return c;
}

/* Back-off after n failures in a row: retry_min doubled, at most retry_max. */
static int64_t backoff(const struct sp_config *cfg, unsigned n)
{
	uint64_t d = cfg->queue.retry_min;
	for (unsigned i = 1; i < n && d < cfg->queue.retry_max; i++)
		d *= 2;
	return (int64_t)(d < cfg->queue.retry_max ? d : cfg->queue.retry_max);
}

/* Hand the fresh token in t over to out (t is left empty). */
static void hand_over(struct oauth_token *t, struct oauth_token *out)
{
	*out = *t;
	memset(t, 0, sizeof(*t));
}

enum oauth_class token_get(const struct relay_ctx *rc, bool stale, uint64_t stale_gen, bool force,
			   struct oauth_token *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int lock = oauth_store_lock(rc->token_path, LOCK_WAIT_S, err, errlen);
	if (lock < 0)
		return OC_CONFIG;
	struct oauth_token t;
	enum oauth_class c = OC_OK;
	if (oauth_store_read(rc->token_path, &t, err, errlen) < 0) {
		close(lock);
		return OC_CONFIG;
	}
	time_t now = time(NULL);
	if (oauth_token_fresh(&t, now) && (!stale || t.generation > stale_gen)) {
		hand_over(&t, out); /* another worker refreshed it meanwhile, or still cached */
		close(lock);
		return OC_OK;
	}
	if (!force && t.next_try > now && t.last_error) {
		char when[32];
		format_rfc3339((time_t)t.next_try, when);
		const char *sp = strchr(t.last_error, ' ');
		char cls[16];
		snprintf(cls, sizeof(cls), "%.*s", sp ? (int)(sp - t.last_error) : 0, t.last_error);
		set_err(err, errlen, "%s (no new attempt before %s)", sp ? sp + 1 : t.last_error, when);
		c = class_of(cls);
		oauth_token_clear(&t);
		close(lock);
		return c;
	}
	struct form f = { 0 };
	if (rc->o->grant == SP_GRANT_CLIENT_CREDENTIALS) {
		form_add(&f, "grant_type", "client_credentials");
	} else if (!t.refresh_token) {
		set_err(err, errlen, "no refresh token for relay %s yet: run sealpostd --oauth-login %s",
			rc->relay->name, rc->relay->name);
		oauth_token_clear(&t);
		close(lock);
		return OC_GRANT;
	} else {
		form_add(&f, "grant_type", "refresh_token");
		form_add(&f, "refresh_token", t.refresh_token);
	}
	c = token_request(rc, &f, false, &t, NULL, 0, err, errlen);
	if (c == OC_OK) {
		t.failures = 0;
		t.next_try = 0;
		free(t.last_error);
		t.last_error = NULL;
	} else {
		t.failures++;
		t.next_try = (int64_t)now + backoff(rc->cfg, t.failures);
		free(t.last_error);
		t.last_error = xasprintf("%s %s", oauth_class_name(c), err);
	}
	/* durably saved BEFORE the new access token (or rotated refresh
	 * token) is used: a crash from here on keeps a usable refresh token */
	char werr[512];
	if (oauth_store_write(rc->token_path, &t, werr, sizeof(werr)) < 0 && c == OC_OK) {
		set_err(err, errlen, "%s", werr);
		c = OC_CONFIG;
	}
	if (c == OC_OK)
		hand_over(&t, out);
	oauth_token_clear(&t);
	close(lock);
	return c;
}

int token_store_signin(const struct relay_ctx *rc, struct oauth_token *t, char *err, size_t errlen)
{
	int lock = oauth_store_lock(rc->token_path, LOCK_WAIT_S, err, errlen);
	if (lock < 0)
		return -1;
	struct oauth_token old;
	char rerr[256];
	if (oauth_store_read(rc->token_path, &old, rerr, sizeof(rerr)) == 0 && old.generation >= t->generation)
		t->generation = old.generation + 1;
	oauth_token_clear(&old);
	t->failures = 0;
	t->next_try = 0;
	int r = oauth_store_write(rc->token_path, t, err, errlen);
	close(lock);
	return r;
}
