/*
 * oauth_client.c - access tokens for the worker (see oauth_client.h).
 *
 * Privilege: the worker's user. Trusts the token file's owner (ourselves)
 * but still parses it defensively (oauth_store.c); trusts the helper's
 * output only as far as its bounded, checked syntax. The helper gets no
 * secret through argv or the environment: only the config path, the relay
 * name and the generation of a refused token (a counter).
 */
#include "config.h"

#include "oauth_client.h"
#include "conf_oauth.h"
#include "net.h"
#include "oauth_store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_OUT_MAX (OAUTH_TOKEN_MAX + 1200)

void oauth_lease_clear(struct oauth_lease *l)
{
	free_secret(l->token);
	memset(l, 0, sizeof(*l));
}

char *oauth_helper_path(void)
{
	/* the build tree: src/sealpostd/sealpostd, src/oauth/sealpost-oauth */
	static const char *const rel[] = { "/../oauth/sealpost-oauth" };
	return program_near_self(rel, ARRAY_LEN(rel), PKGLIBEXECDIR "/sealpost-oauth");
}

/* The cached token from the file, when fresh and newer than refused. */
static int from_file(const struct sp_config *cfg, const struct sp_relay *relay,
		     const struct oauth_lease *refused, struct oauth_lease *out)
{
	char *path = conf_oauth_token_path(cfg, relay);
	struct oauth_token t;
	char err[256];
	int rc = -1;
	if (oauth_store_read(path, &t, err, sizeof(err)) == 0 && oauth_token_fresh(&t, time(NULL)) &&
	    (!refused || t.generation > refused->generation)) {
		out->token = t.access_token;
		t.access_token = NULL;
		out->generation = t.generation;
		out->expires = t.expires;
		rc = 0;
	}
	oauth_token_clear(&t);
	free(path);
	return rc;
}

/* Parse "ok GEN EXPIRES\nTOKEN\n" or "error CLASS text\n". */
static int parse_reply(char *s, const struct sp_relay *relay, struct oauth_lease *out, char *err, size_t errlen)
{
	char *nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	if (strncmp(s, "error ", 6) == 0) {
		for (char *p = s; *p; p++)
			if (*p < ' ' || *p > '~')
				*p = '?';
		char *text = strchr(s + 6, ' ');
		set_err(err, errlen, "OAuth token for relay %s: %s", relay->name, text ? text + 1 : s + 6);
		/* the endpoint down or garbled: nothing for a person to fix yet */
		return strncmp(s + 6, "unreachable ", 12) == 0 || strncmp(s + 6, "protocol ", 9) == 0 ? -2 : -1;
	}
	unsigned long long gen;
	long long exp;
	char *tok = nl ? nl + 1 : NULL;
	char *end = tok ? strchr(tok, '\n') : NULL;
	if (end)
		*end = '\0';
	if (sscanf(s, "ok %llu %lld", &gen, &exp) != 2 || !tok || !oauth_token_syntax_ok(tok)) {
		set_err(err, errlen, "OAuth token for relay %s: the helper sealpost-oauth gave no usable answer",
			relay->name);
		return -1;
	}
	out->token = xstrdup(tok);
	out->generation = gen;
	out->expires = exp;
	return 0;
}

/* Run the helper for a new token; wait at most timeout_s. */
static int from_helper(const struct sp_config *cfg, const struct sp_relay *relay,
		       const struct oauth_lease *refused, struct oauth_lease *out, char *err, size_t errlen)
{
	char *helper = oauth_helper_path();
	if (access(helper, X_OK) != 0) {
		set_err(err, errlen, "OAuth token for relay %s: the helper %s is missing (sealpost was "
			"built without libcurl and json-c?)", relay->name, helper);
		free(helper);
		return -1;
	}
	char gen[24];
	snprintf(gen, sizeof(gen), "%" PRIu64, refused ? refused->generation : 0);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		set_err(err, errlen, "OAuth token for relay %s: pipe: %s", relay->name, strerror(errno));
		free(helper);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* a scrubbed environment: nothing (proxies, CA overrides,
		 * preloads) reaches the helper from ours, except a sanitizer's
		 * or a test build's fault switch */
		char *env[5];
		size_t ne = 0;
		env[ne++] = (char *)"PATH=/usr/bin:/bin";
		static const char *const keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "SEALPOST_FAULT" };
		for (size_t i = 0; i < ARRAY_LEN(keep); i++) {
			const char *v = getenv(keep[i]);
			if (v)
				env[ne++] = xasprintf("%s=%s", keep[i], v);
		}
		env[ne] = NULL;
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(pfd[1], 1) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		char *argv[] = { (char *)"sealpost-oauth", (char *)"-C", cfg->path, (char *)"token",
				 relay->name, refused ? gen : NULL, NULL };
		execve(helper, argv, env);
		_exit(127);
	}
	close(pfd[1]);
	free(helper);
	if (pid < 0) {
		close(pfd[0]);
		set_err(err, errlen, "OAuth token for relay %s: fork: %s", relay->name, strerror(errno));
		return -1;
	}
	/* the helper waits up to 60 s for another refresh, then one bounded
	 * HTTPS exchange */
	unsigned timeout_s = 60 + 2 * (cfg->timeouts.connect < 60 ? cfg->timeouts.connect + 10 : 60);
	char *buf = xmalloc(HELPER_OUT_MAX + 1);
	size_t n = 0;
	int rc = net_read_until_eof(pfd[0], buf, HELPER_OUT_MAX, net_deadline(timeout_s), &n);
	close(pfd[0]);
	if (rc != 0)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[n] = '\0';
	int r;
	if (rc == -2)
		r = -2, set_err(err, errlen, "OAuth token for relay %s: the helper did not answer within %us",
				relay->name, timeout_s);
	else if (rc != 0 || memchr(buf, '\0', n))
		r = -1, set_err(err, errlen, "OAuth token for relay %s: unreadable answer from the helper",
				relay->name);
	else if (n == 0)
		r = -1, set_err(err, errlen, "OAuth token for relay %s: the helper failed (status %d)", relay->name,
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	else
		r = parse_reply(buf, relay, out, err, errlen);
	explicit_zero(buf, HELPER_OUT_MAX + 1);
	free(buf);
	return r;
}

int oauth_get_token(const struct sp_config *cfg, const struct sp_relay *relay,
		    const struct oauth_lease *refused, struct oauth_lease *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!cfg->path) {
		set_err(err, errlen, "OAuth token for relay %s: no config file", relay->name);
		return -1;
	}
	if (from_file(cfg, relay, refused, out) == 0)
		return 0;
	return from_helper(cfg, relay, refused, out, err, errlen);
}

int64_t oauth_token_expiry(const struct sp_config *cfg, const struct sp_relay *relay)
{
	if (!relay->oauth2)
		return 0;
	char *path = conf_oauth_token_path(cfg, relay);
	struct oauth_token t;
	char err[256];
	int64_t exp = oauth_store_read(path, &t, err, sizeof(err)) == 0 && t.access_token ? t.expires : 0;
	oauth_token_clear(&t);
	free(path);
	return exp;
}

void oauth_describe(const struct sp_config *cfg, const struct sp_relay *relay, char *out, size_t n)
{
	char *path = conf_oauth_token_path(cfg, relay);
	struct oauth_token t;
	char err[256];
	int rc = oauth_store_read(path, &t, err, sizeof(err));
	if (rc == 1) {
		snprintf(out, n, "OAuth: no token file %s yet%s", path,
			 relay->oauth2->grant == SP_GRANT_REFRESH_TOKEN ? ": run sealpostd --oauth-login first" : "");
	} else if (rc < 0) {
		snprintf(out, n, "OAuth: %s", err);
	} else {
		char when[32] = "none";
		if (t.access_token)
			format_rfc3339((time_t)t.expires, when);
		const char *state = !t.access_token ? "" : t.expires > time(NULL) ? "valid until " : "expired at ";
		snprintf(out, n, "OAuth: refresh token %s, access token %s%s%s%s", t.refresh_token ? "stored" : "none",
			 state, when, t.last_error ? "; last refresh failed: " : "", t.last_error ? t.last_error : "");
	}
	oauth_token_clear(&t);
	free(path);
}
