/*
 * main.c - sealpost-oauth, the OAuth 2.0 token helper (SPEC section 7).
 * Installed under libexecdir; run by sealpostd, never by users directly:
 *
 *   sealpost-oauth -C FILE token RELAY [REFUSED-GENERATION]
 *       stdout: "ok GENERATION EXPIRES\nACCESS-TOKEN\n", exit 0; or
 *       "error CLASS what failed and what to do\n", exit 1 (classes:
 *       grant.h). With REFUSED-GENERATION the server refused that token:
 *       a newer one is returned (refreshed here unless another worker did).
 *   sealpost-oauth -C FILE login RELAY
 *       the interactive sign-in behind `sealpostd --oauth-login` (login.c).
 *
 * It is a separate program so that the delivering worker never maps
 * libcurl or json-c. Runs as the worker's user (sealpostd dropped root
 * before starting it), with a scrubbed environment; core dumps and ptrace
 * by others are off (PR_SET_DUMPABLE 0) since it holds the client secret
 * and tokens. Nothing secret is taken from argv or the environment.
 */
#include "config.h"

#include "conf.h"
#include "conf_oauth.h"
#include "grant.h"
#include "http.h"
#include "log.h"
#include "login.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: sealpost-oauth [-C FILE] token RELAY [GENERATION]\n"
			"       sealpost-oauth [-C FILE] login RELAY\n"
			"(run by sealpostd; see sealpostd(8) --oauth-login)\n");
	return EX_USAGE;
}

/* One line on stdout for the worker: never more than it reads. */
static int reply_error(enum oauth_class c, const char *msg)
{
	printf("error %s %.900s\n", oauth_class_name(c), msg);
	fflush(stdout);
	return 1;
}

static int cmd_token(struct relay_ctx *rc, const char *gen_arg)
{
	uint64_t gen = 0;
	if (gen_arg && !parse_u64(gen_arg, &gen))
		return usage();
	struct oauth_token t;
	char err[1024] = "";
	enum oauth_class c = token_get(rc, gen_arg != NULL, gen, false, &t, err, sizeof(err));
	if (c != OC_OK)
		return reply_error(c, err);
	printf("ok %llu %lld\n%s\n", (unsigned long long)t.generation, (long long)t.expires, t.access_token);
	fflush(stdout);
	oauth_token_clear(&t);
	return ferror(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	ensure_std_fds();
	umask(077);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);

	const char *conf_path = NULL;
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "-C") == 0) {
		conf_path = argv[i + 1];
		i += 2;
	}
	if (argc - i < 2 || argc - i > 3)
		return usage();
	const char *cmd = argv[i], *name = argv[i + 1], *gen = argc - i == 3 ? argv[i + 2] : NULL;
	bool login = strcmp(cmd, "login") == 0;
	if ((!login && strcmp(cmd, "token") != 0) || (login && gen))
		return usage();

	struct sp_config *cfg = NULL;
	char err[512];
	if (conf_load(conf_path, false, &cfg, err, sizeof(err)) < 0) {
		if (login)
			fprintf(stderr, "sealpost-oauth: %s\n", err);
		return login ? EX_CONFIG : reply_error(OC_CONFIG, err);
	}
	/* warnings (a readable secret file) go where the caller can see them */
	log_open("sealpost-oauth", login ? "stderr" : cfg->log, false);
	const struct sp_relay *relay = NULL;
	for (size_t k = 0; k < cfg->nrelays; k++)
		if (strcmp(cfg->relays[k].name, name) == 0)
			relay = &cfg->relays[k];
	int st;
	if (!relay || !relay->oauth2) {
		snprintf(err, sizeof(err), "relay \"%s\" %s", name,
			 relay ? "has no oauth2 block" : "is not in the configuration");
		if (login)
			fprintf(stderr, "sealpostd: %s\n", err);
		st = login ? EX_CONFIG : reply_error(OC_CONFIG, err);
	} else if (http_global_init() < 0) {
		st = login ? (fprintf(stderr, "sealpostd: cannot initialise libcurl\n"), EX_SOFTWARE)
			   : reply_error(OC_CONFIG, "cannot initialise libcurl");
	} else {
		struct relay_ctx rc = {
			.cfg = cfg, .relay = relay, .o = relay->oauth2,
			.token_path = conf_oauth_token_path(cfg, relay),
			.timeout_s = cfg->timeouts.connect < 60 ? cfg->timeouts.connect + 10 : 60,
		};
		st = login ? login_run(&rc) : cmd_token(&rc, gen);
		free(rc.token_path);
	}
	conf_free(cfg);
	log_close();
	return st;
}
