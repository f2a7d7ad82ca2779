/*
 * login.c - the interactive sign-in (see login.h).
 *
 * Privilege: the worker's user (sealpostd dropped root first), so the
 * token file gets the right owner. The person at the terminal is trusted
 * to sign in; the network is not: the loopback listener binds 127.0.0.1
 * only, takes one bounded request per connection, and accepts the code
 * only with the state it generated; the code is useless without the PKCE
 * verifier, which never leaves this process except to the token endpoint
 * over verified TLS. Prints URLs, codes, scope and expiry, never a token.
 */
#include "config.h"

#include "login.h"
#include "base64.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define LOGIN_WAIT_S (10 * 60)     /* how long a person has to sign in */
#define DEVICE_MAX_WAIT_S (30 * 60)
#define REQUEST_MAX 8192

static int exit_for(enum oauth_class c)
{
	return c == OC_UNREACHABLE ? EX_TEMPFAIL : c == OC_CONFIG ? EX_CONFIG : EX_UNAVAILABLE;
}

static void print_result(const struct relay_ctx *rc, const struct oauth_token *t)
{
	char when[32];
	format_rfc3339((time_t)t->expires, when);
	printf("relay %s: signed in.\n", rc->relay->name);
	if (rc->o->grant == SP_GRANT_REFRESH_TOKEN)
		printf("  refresh token: %s, stored in %s (mode 0600)\n",
		       t->refresh_token ? "received" : "NOT received (sign in again with offline access)",
		       rc->token_path);
	printf("  access token expires: %s\n", when);
	printf("  scope: %s\n", t->scope ? t->scope : rc->o->scope ? rc->o->scope : "(none)");
}

/* base64url without padding (RFC 7636 appendix A). */
static void b64url(const unsigned char *in, size_t n, char *out)
{
	base64_encode(in, n, out);
	char *w = out;
	for (char *p = out; *p; p++)
		if (*p != '=')
			*w++ = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	*w = '\0';
}

static int random_b64url(size_t nbytes, char *out)
{
	unsigned char r[64];
	if (nbytes > sizeof(r) || getrandom(r, nbytes, 0) != (ssize_t)nbytes)
		return -1;
	b64url(r, nbytes, out);
	explicit_zero(r, sizeof(r));
	return 0;
}

/* The end both sign-in flows share: when the flow got a token (st 0),
 * store it (73 if it cannot be) and say so; the token is wiped either way. */
static int finish_signin(const struct relay_ctx *rc, struct oauth_token *t, int st)
{
	char err[1024];
	if (st == 0) {
		if (token_store_signin(rc, t, err, sizeof(err)) < 0) {
			fprintf(stderr, "sealpostd: %s\n", err);
			st = EX_CANTCREAT;
		} else {
			print_result(rc, t);
		}
	}
	oauth_token_clear(t);
	return st;
}

/* ---- device flow (RFC 8628) ------------------------------------------------ */

static int device_flow(struct relay_ctx *rc)
{
	const struct sp_oauth2 *o = rc->o;
	char err[1024];
	struct form f = { 0 };
	form_add(&f, "client_id", o->client_id);
	if (o->scope)
		form_add(&f, "scope", o->scope);
	long status;
	json_object *j;
	if (http_post_form(o->device_url, o->ca_file, &f, rc->timeout_s, &status, &j, err, sizeof(err)) != HTTP_OK) {
		form_free(&f);
		fprintf(stderr, "sealpostd: device authorization: %s\n", err);
		return EX_TEMPFAIL;
	}
	form_free(&f);
	const char *dc = json_str(j, "device_code"), *uc = json_str(j, "user_code");
	const char *uri = json_str(j, "verification_uri");
	if (!uri)
		uri = json_str(j, "verification_url"); /* Google's spelling */
	long long interval = json_uint(j, "interval"), life = json_uint(j, "expires_in");
	if (status != 200 || !oauth_token_syntax_ok(dc) || !oauth_token_syntax_ok(uc) || !uri ||
	    strncmp(uri, "https://", 8) != 0 || strpbrk(uri, " \r\n")) {
		char e[64] = "";
		snprintf(e, sizeof(e), "%s", json_str(j, "error") ? json_str(j, "error") : "");
		fprintf(stderr, "sealpostd: device authorization refused (HTTP %ld%s%.60s)\n", status,
			e[0] ? ", " : "", e);
		json_put_wiped(j);
		return EX_UNAVAILABLE;
	}
	char *device_code = xstrdup(dc);
	printf("To sign in relay %s, open %.300s\nand enter the code %.40s\n", rc->relay->name, uri, uc);
	fflush(stdout);
	json_put_wiped(j); /* the device code */
	if (interval < 1 || interval > 60)
		interval = 5;
	if (life < 1 || life > DEVICE_MAX_WAIT_S)
		life = DEVICE_MAX_WAIT_S;
	time_t end = time(NULL) + life;
	struct oauth_token t = { 0 };
	int st = EX_TEMPFAIL;
	for (;;) {
		if (time(NULL) + interval > end) {
			fprintf(stderr, "sealpostd: the code expired before sign-in was completed\n");
			break;
		}
		sleep((unsigned)interval);
		form_add(&f, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
		form_add(&f, "device_code", device_code);
		char oe[64];
		enum oauth_class c = token_request(rc, &f, true, &t, oe, sizeof(oe), err, sizeof(err));
		if (c == OC_OK) {
			st = 0;
			break;
		}
		if (strcmp(oe, "authorization_pending") == 0)
			continue;
		if (strcmp(oe, "slow_down") == 0) {
			interval += 5; /* RFC 8628 3.5 */
			continue;
		}
		fprintf(stderr, "sealpostd: %s\n", err);
		st = exit_for(c);
		break;
	}
	free_secret(device_code);
	return finish_signin(rc, &t, st);
}

/* ---- authorization code + PKCE, loopback redirect (RFC 7636, 8252) -------- */

/* The value of name in a query string (into out, %-decoded); false if absent. */
static bool query_param(const char *q, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, name, nl) != 0 || p[nl] != '=')
			continue;
		const char *v = p + nl + 1;
		size_t j = 0;
		for (; *v && *v != '&' && *v != ' ' && j + 1 < n; v++) {
			unsigned hx;
			if (*v == '%' && v[1] && v[2] && sscanf(v + 1, "%2x", &hx) == 1) {
				out[j++] = (char)hx;
				v += 2;
			} else {
				out[j++] = *v == '+' ? ' ' : *v;
			}
		}
		out[j] = '\0';
		return true;
	}
	return false;
}

/* Wait for the browser's redirect with our state: 0 and the code, or -1. */
static int await_code(int ls, const char *state, char *code, size_t codelen)
{
	time_t end = time(NULL) + LOGIN_WAIT_S;
	while (time(NULL) < end) {
		struct pollfd p = { .fd = ls, .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			continue;
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		struct timeval tv = { 5, 0 };
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		char req[REQUEST_MAX + 1];
		size_t n = 0;
		ssize_t r;
		while (n < REQUEST_MAX && !memmem(req, n, "\r\n", 2) && (r = recv(c, req + n, REQUEST_MAX - n, 0)) > 0)
			n += (size_t)r;
		req[n] = '\0';
		char *eol = strstr(req, "\r\n");
		if (eol)
			*eol = '\0';
		char *q = strncmp(req, "GET /", 5) == 0 ? strchr(req, '?') : NULL;
		char got_state[256] = "", error[64] = "";
		bool have_code = q && query_param(q + 1, "code", code, codelen);
		bool state_ok = q && query_param(q + 1, "state", got_state, sizeof(got_state)) &&
				strcmp(got_state, state) == 0;
		bool refused = q && query_param(q + 1, "error", error, sizeof(error));
		const char *page = state_ok && have_code ? "Signed in: sealpost has the code. You can close this page.\n"
				  : state_ok && refused ? "Sign-in was refused.\n" : "Not a sign-in answer for sealpost.\n";
		char resp[256];
		int len = snprintf(resp, sizeof(resp), "HTTP/1.0 %s\r\nContent-Type: text/plain\r\n"
				   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				   state_ok ? "200 OK" : "400 Bad Request", strlen(page), page);
		(void)!write(c, resp, (size_t)len);
		close(c);
		explicit_zero(req, sizeof(req));
		if (state_ok && have_code && oauth_token_syntax_ok(code))
			return 0;
		if (state_ok && refused) {
			for (char *e = error; *e; e++)
				if (*e < ' ' || *e > '~')
					*e = '?';
			fprintf(stderr, "sealpostd: sign-in refused: %s\n", error);
			return -1;
		}
	}
	fprintf(stderr, "sealpostd: no sign-in within %d minutes\n", LOGIN_WAIT_S / 60);
	return -1;
}

static int code_flow(struct relay_ctx *rc)
{
	const struct sp_oauth2 *o = rc->o;
	char verifier[96], challenge[64], state[48];
	unsigned char digest[32];
	if (random_b64url(48, verifier) < 0 || random_b64url(24, state) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier), digest) < 0) {
		fprintf(stderr, "sealpostd: no randomness for PKCE\n");
		return EX_SOFTWARE;
	}
	b64url(digest, sizeof(digest), challenge);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		fprintf(stderr, "sealpostd: cannot listen on 127.0.0.1: %s\n", strerror(errno));
		if (ls >= 0)
			close(ls);
		return EX_OSERR;
	}
	char redirect[64];
	snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%u/", (unsigned)ntohs(a.sin_port));
	struct form q = { 0 };
	form_add(&q, "response_type", "code");
	form_add(&q, "client_id", o->client_id);
	form_add(&q, "redirect_uri", redirect);
	if (o->scope)
		form_add(&q, "scope", o->scope);
	form_add(&q, "state", state);
	form_add(&q, "code_challenge", challenge);
	form_add(&q, "code_challenge_method", "S256");
	if (o->provider == SP_OAUTH_GOOGLE) {
		form_add(&q, "access_type", "offline"); /* else no refresh token */
		form_add(&q, "prompt", "consent");
	}
	printf("To sign in relay %s, open this URL in a browser:\n\n%s%s%s\n\n"
	       "It redirects to %s on this machine; from another machine, forward the port first:\n"
	       "  ssh -L %u:127.0.0.1:%u THIS-HOST\nWaiting...\n",
	       rc->relay->name, o->authorize_url, strchr(o->authorize_url, '?') ? "&" : "?", q.data, redirect,
	       (unsigned)ntohs(a.sin_port), (unsigned)ntohs(a.sin_port));
	fflush(stdout);
	form_free(&q);
	char code[OAUTH_TOKEN_MAX + 1];
	int got = await_code(ls, state, code, sizeof(code));
	close(ls);
	if (got < 0)
		return EX_UNAVAILABLE;
	struct form f = { 0 };
	form_add(&f, "grant_type", "authorization_code");
	form_add(&f, "code", code);
	form_add(&f, "redirect_uri", redirect);
	form_add(&f, "code_verifier", verifier);
	explicit_zero(code, sizeof(code));
	explicit_zero(verifier, sizeof(verifier));
	struct oauth_token t = { 0 };
	char err[1024];
	enum oauth_class c = token_request(rc, &f, true, &t, NULL, 0, err, sizeof(err));
	int st = 0;
	if (c != OC_OK) {
		fprintf(stderr, "sealpostd: %s\n", err);
		st = exit_for(c);
	}
	return finish_signin(rc, &t, st);
}

int login_run(struct relay_ctx *rc)
{
	if (rc->o->grant == SP_GRANT_CLIENT_CREDENTIALS) {
		/* nothing to sign in: get a token now, so a wrong secret or
		 * missing consent shows here rather than in the queue */
		struct oauth_token t;
		char err[1024];
		enum oauth_class c = token_get(rc, false, 0, true, &t, err, sizeof(err));
		if (c != OC_OK) {
			fprintf(stderr, "sealpostd: relay %s: %s\n", rc->relay->name, err);
			return exit_for(c);
		}
		print_result(rc, &t);
		oauth_token_clear(&t);
		return 0;
	}
	if (rc->o->device_url)
		return device_flow(rc);
	if (rc->o->authorize_url)
		return code_flow(rc);
	fprintf(stderr, "sealpostd: relay %s: oauth2 has neither device_url nor authorize_url: "
		"no way to sign in\n", rc->relay->name);
	return EX_CONFIG;
}
