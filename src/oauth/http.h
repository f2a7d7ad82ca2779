/*
 * http.h - the token helper's HTTPS client (libcurl on GnuTLS, json-c):
 * one form POST to an OAuth endpoint, its JSON answer parsed. HTTPS only,
 * certificate chain and host name verified against the system store or
 * the oauth2 block's ca_file before the request body (which holds the
 * secrets) is sent; no proxies, no redirects; bounded time and size.
 */
#ifndef SEALPOST_OAUTH_HTTP_H
#define SEALPOST_OAUTH_HTTP_H

#include <json-c/json.h>
#include <stddef.h>

#define HTTP_MAX_BODY (64 * 1024)

/* Why a request failed; the helper's error classes (oauth_helper.h). */
enum http_fail { HTTP_OK = 0, HTTP_UNREACHABLE, HTTP_PROTOCOL };

struct form {
	char *data;   /* "k=v&k=v", URL-encoded; wiped by form_free */
	size_t len;
};

void form_add(struct form *f, const char *key, const char *value);
void form_free(struct form *f);

int http_global_init(void);

/*
 * POST the form to url. On HTTP_OK, *status is the HTTP status and *json
 * the parsed body (an object; NULL when the body was not JSON). Otherwise
 * err says why (host, certificate problem, timeout, oversized reply).
 * timeout_s bounds the whole exchange.
 */
enum http_fail http_post_form(const char *url, const char *ca_file, const struct form *f,
			      unsigned timeout_s, long *status, json_object **json,
			      char *err, size_t errlen);

/* Release a parsed answer, its strings (tokens, codes) zeroed first. */
void json_put_wiped(json_object *o);
/* A JSON member as a string (NULL when absent or not a string). */
const char *json_str(json_object *o, const char *key);
/* A JSON member as a non-negative integer (a number or a numeric string,
 * as some providers send expires_in); -1 when absent or invalid. */
long long json_uint(json_object *o, const char *key);

#endif
