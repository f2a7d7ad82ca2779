/*
 * http.c - form POSTs to OAuth endpoints over verified HTTPS (see http.h).
 *
 * Privilege: the worker's user, inside the helper process only (the
 * delivering worker never links libcurl or json-c). Trusts nothing from the
 * server: the body is capped at HTTP_MAX_BODY (the transfer is aborted
 * beyond), parsed with a depth limit, and every string taken from it is
 * checked by the caller. curl verifies the peer during the handshake, so
 * the request body (client secret, refresh token, code verifier) is never
 * written to a connection whose certificate failed.
 */
#include "config.h"

#include "http.h"
#include "util.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void form_add(struct form *f, const char *key, const char *value)
{
	char *k = curl_easy_escape(NULL, key, 0);
	char *v = curl_easy_escape(NULL, value, 0);
	if (!k || !v)
		abort();
	size_t add = strlen(k) + strlen(v) + 2;
	char *n = xmalloc(f->len + add + 1);
	if (f->len)
		memcpy(n, f->data, f->len);
	size_t w = (size_t)snprintf(n + f->len, add + 1, "%s%s=%s", f->len ? "&" : "", k, v);
	if (f->data) {
		explicit_zero(f->data, f->len);
		free(f->data);
	}
	f->data = n;
	f->len += w;
	explicit_zero(v, strlen(v));
	curl_free(k);
	curl_free(v);
}

void form_free(struct form *f)
{
	if (f->data) {
		explicit_zero(f->data, f->len);
		free(f->data);
	}
	f->data = NULL;
	f->len = 0;
}

int http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

struct sink {
	char *data;
	size_t len;
	bool overflow;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	if (n > HTTP_MAX_BODY - s->len) {
		s->overflow = true;
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
	return n;
}

/* The host of an https URL, for messages. */
static void url_host(const char *url, char *out, size_t n)
{
	const char *h = strncmp(url, "https://", 8) == 0 ? url + 8 : url;
	size_t len = strcspn(h, "/?#");
	snprintf(out, n, "%.*s", (int)(len < 200 ? len : 200), h);
}

enum http_fail http_post_form(const char *url, const char *ca_file, const struct form *f,
			      unsigned timeout_s, long *status, json_object **json,
			      char *err, size_t errlen)
{
	*status = 0;
	*json = NULL;
	char host[256];
	url_host(url, host, sizeof(host));
	if (strncmp(url, "https://", 8) != 0) {
		set_err(err, errlen, "%s is not an https:// URL", url);
		return HTTP_PROTOCOL;
	}
	CURL *c = curl_easy_init();
	if (!c) {
		set_err(err, errlen, "cannot initialise libcurl");
		return HTTP_UNREACHABLE;
	}
	struct sink body = { .data = xmalloc(HTTP_MAX_BODY + 1) };
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_PROXY, "");      /* never through a proxy from the environment */
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 10 ? timeout_s : 10));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_BODY);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "sealpost/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, f->data ? f->data : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)f->len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);

	enum http_fail rc = HTTP_OK;
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		const char *what = cerr[0] ? cerr : curl_easy_strerror(cc);
		if (body.overflow || cc == CURLE_FILESIZE_EXCEEDED) {
			set_err(err, errlen, "%s: the response is larger than %d bytes", host, HTTP_MAX_BODY);
			rc = HTTP_PROTOCOL;
		} else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) {
			set_err(err, errlen, "%s: certificate not trusted (%s); nothing was sent", host, what);
			rc = HTTP_UNREACHABLE;
		} else if (cc == CURLE_OPERATION_TIMEDOUT) {
			set_err(err, errlen, "%s: no answer within %us", host, timeout_s);
			rc = HTTP_UNREACHABLE;
		} else {
			set_err(err, errlen, "%s: %s", host, what);
			rc = HTTP_UNREACHABLE;
		}
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		body.data[body.len] = '\0';
		struct json_tokener *tok = json_tokener_new_ex(16);
		json_object *o = tok ? json_tokener_parse_ex(tok, body.data, (int)body.len) : NULL;
		if (o && (json_tokener_get_error(tok) != json_tokener_success ||
			  !json_object_is_type(o, json_type_object))) {
			json_put_wiped(o);
			o = NULL;
		}
		if (tok)
			json_tokener_free(tok);
		*json = o;
	}
	explicit_zero(body.data, HTTP_MAX_BODY + 1);
	free(body.data);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc;
}

/* Zero every string under o in place. json-c hands out const pointers to
 * its own copies; writing through them is safe here because we own the
 * only reference and free it right after. Keys are not secret. */
static void wipe_strings(json_object *o)
{
	if (json_object_is_type(o, json_type_string)) {
		char *s = (char *)(uintptr_t)json_object_get_string(o); /* our copy, about to be freed */
		explicit_zero(s, (size_t)json_object_get_string_len(o));
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, v)
		{
			(void)key;
			if (v)
				wipe_strings(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			wipe_strings(json_object_array_get_idx(o, i));
	}
}

void json_put_wiped(json_object *o)
{
	if (!o)
		return;
	wipe_strings(o);
	json_object_put(o);
}

const char *json_str(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

long long json_uint(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return -1;
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);
		return n >= 0 ? n : -1;
	}
	uint64_t u;
	if (json_object_is_type(v, json_type_string) && parse_u64(json_object_get_string(v), &u) &&
	    u < (1ULL << 40))
		return (long long)u;
	return -1;
}
