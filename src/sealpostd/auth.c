/*
 * auth.c - SMTP AUTH client: mechanism choice, secret retrieval and the
 * PLAIN / LOGIN / XOAUTH2 exchanges. Runs as the worker's user, which is
 * the only one that may read the secrets. Every buffer that held the
 * secret (in any encoding) is wiped; nothing here logs a secret, and the
 * server's replies are only ever reported through reply_summary().
 */
#include "config.h"

#include "auth.h"
#include "base64.h"
#include "log.h"
#include "net.h"
#include "oauth_client.h"
#include "outcome.h"
#include "scram.h"
#include "secret_file.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


static const struct {
	const char *name;
	unsigned bit;
} mechs[] = {
	{ "PLAIN", AUTH_PLAIN },
	{ "LOGIN", AUTH_LOGIN },
	{ "XOAUTH2", AUTH_XOAUTH2 },
	{ "SCRAM-SHA-256", AUTH_SCRAM_SHA256 },
	{ "OAUTHBEARER", AUTH_OAUTHBEARER },
};

unsigned auth_mech_bit(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(mechs); i++)
		if (ascii_casecmp(name, mechs[i].name) == 0)
			return mechs[i].bit;
	return AUTH_OTHER;
}

void auth_mech_names(unsigned mask, char *out, size_t outlen)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < ARRAY_LEN(mechs); i++)
		if (mask & mechs[i].bit)
			buf_printf(&b, "%s%s", b.len ? " " : "", mechs[i].name);
	if (mask & AUTH_OTHER)
		buf_printf(&b, "%s(others)", b.len ? " " : "");
	snprintf(out, outlen, "%s", b.len ? b.data : "none");
	buf_free(&b);
}

unsigned auth_choose(const char *configured, unsigned offered, char *err, size_t errlen)
{
	char names[128];
	auth_mech_names(offered, names, sizeof(names));
	if (!configured || ascii_casecmp(configured, "auto") == 0) {
		/* SCRAM keeps the password to ourselves; inside verified TLS,
		 * PLAIN and LOGIN are equally strong and PLAIN is one round
		 * trip shorter. */
		static const unsigned order[] = { AUTH_SCRAM_SHA256, AUTH_PLAIN, AUTH_LOGIN };
		for (size_t i = 0; i < ARRAY_LEN(order); i++)
			if (offered & order[i])
				return order[i];
		set_err(err, errlen, "no common AUTH mechanism (server offers: %s)", names);
		return 0;
	}
	unsigned want = auth_mech_bit(configured);
	if (want == AUTH_OTHER) {
		set_err(err, errlen, "AUTH mechanism \"%s\" is not supported", configured);
		return 0;
	}
	if (!(offered & want)) {
		set_err(err, errlen, "server does not offer AUTH %s (offers: %s)", configured, names);
		return 0;
	}
	return want;
}

unsigned auth_choose_token(const char *configured, unsigned offered, char *err, size_t errlen)
{
	char names[128];
	auth_mech_names(offered, names, sizeof(names));
	bool any = !configured || ascii_casecmp(configured, "auto") == 0;
	if ((any || ascii_casecmp(configured, "oauthbearer") == 0) && (offered & AUTH_OAUTHBEARER))
		return AUTH_OAUTHBEARER;
	if ((any || ascii_casecmp(configured, "xoauth2") == 0) && (offered & AUTH_XOAUTH2))
		return AUTH_XOAUTH2;
	set_err(err, errlen, "server does not offer AUTH %s (offers: %s)",
		any ? "OAUTHBEARER or XOAUTH2" : configured, names);
	return 0;
}

/* Keep the first line only, without its line end. */
static void first_line(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

static char *secret_from_command(const char *cmd, unsigned timeout_s, char *err, size_t errlen)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		set_err(err, errlen, "password_command: pipe: %s", strerror(errno));
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		set_err(err, errlen, "password_command: fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return NULL;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(pfd[1], 1) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char *s = xmalloc(SECRET_FILE_MAX + 1);
	size_t n = 0;
	int rc = net_read_until_eof(pfd[0], s, SECRET_FILE_MAX, net_deadline(timeout_s), &n);
	bool too_long = rc == 1, timed_out = rc == -2;
	close(pfd[0]);
	if (rc != 0)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	s[n] = '\0';
	first_line(s);
	if (timed_out || too_long || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || s[0] == '\0') {
		if (timed_out)
			set_err(err, errlen, "password_command timed out after %us", timeout_s);
		else if (too_long)
			set_err(err, errlen, "password_command output too long");
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			set_err(err, errlen, "password_command failed (status %d)",
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		else
			set_err(err, errlen, "password_command printed nothing");
		free_secret(s);
		return NULL;
	}
	return s;
}

char *auth_get_secret(const struct sp_relay *relay, unsigned timeout_s, char *err, size_t errlen)
{
	if (relay->password_file)
		return secret_file_read(relay->password_file, "password_file", err, errlen);
	if (relay->password_command)
		return secret_from_command(relay->password_command, timeout_s, err, errlen);
	set_err(err, errlen, "relay %s has a username but no password_file or password_command", relay->name);
	return NULL;
}

/* Send "prefix" + base64(data) + CRLF, then wipe every copy. */
static int send_b64(struct netconn *c, const char *prefix, const void *data, size_t n,
		    uint64_t deadline_ms, char *err, size_t errlen)
{
	size_t elen = base64_encoded_len(n);
	char *enc = xmalloc(elen + 1);
	base64_encode(data, n, enc);
	int r = net_writes(c, prefix, deadline_ms, err, errlen);
	if (r == 0)
		r = net_write(c, enc, elen, deadline_ms, err, errlen);
	if (r == 0)
		r = net_writes(c, "\r\n", deadline_ms, err, errlen);
	if (r == 0)
		r = net_flush(c, deadline_ms, err, errlen);
	explicit_zero(c->wbuf, sizeof(c->wbuf));
	c->wlen = 0;
	explicit_zero(enc, elen);
	free(enc);
	return r;
}

static int read_reply(struct netconn *c, uint64_t deadline_ms, struct smtp_reply *last, char *err, size_t errlen)
{
	return net_read_reply(c, deadline_ms, last, err, errlen);
}

static int refused(const struct smtp_reply *last, char *err, size_t errlen)
{
	char summary[400];
	reply_summary(last, summary, sizeof(summary));
	set_err(err, errlen, "authentication failed: %s", summary);
	return LOCAL_AUTH;
}

/* The base64 payload of a 334 reply, decoded and NUL-terminated into out. */
static int challenge(const struct smtp_reply *r, char *out, size_t outlen)
{
	char line[REPLY_MAX_LINE + 1];
	if (r->code != 334 || !reply_line(r, 0, line, sizeof(line)))
		return -1;
	long n = base64_decode(line, strlen(line), (unsigned char *)out, outlen - 1);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return memchr(out, '\0', (size_t)n) ? -1 : 0;
}

static int run_scram(struct netconn *c, const char *user, const char *secret, uint64_t deadline_ms,
		     struct smtp_reply *last, char *err, size_t errlen)
{
	struct scram sc;
	char *first = scram_client_first(&sc, user, NULL);
	if (!first) {
		set_err(err, errlen, "no randomness for the SCRAM nonce");
		return LOCAL_AUTH;
	}
	char msg[2048];
	int r = send_b64(c, "AUTH SCRAM-SHA-256 ", first, strlen(first), deadline_ms, err, errlen);
	free(first);
	if (r == 0)
		r = read_reply(c, deadline_ms, last, err, errlen);
	if (r == 0 && last->code == 334) {
		char *final = NULL;
		if (challenge(last, msg, sizeof(msg)) < 0)
			set_err(err, errlen, "malformed SCRAM challenge");
		else
			final = scram_client_final(&sc, secret, msg, err, errlen);
		if (!final) {
			/* cancel the exchange (RFC 4954 4), then report */
			char why[256];
			snprintf(why, sizeof(why), "%s", err);
			(void)send_b64(c, "*", "", 0, deadline_ms, err, errlen);
			(void)read_reply(c, deadline_ms, last, err, errlen);
			set_err(err, errlen, "authentication failed: %s", why);
			scram_free(&sc);
			return LOCAL_AUTH;
		}
		r = send_b64(c, "", final, strlen(final), deadline_ms, err, errlen);
		explicit_zero(final, strlen(final));
		free(final);
		if (r == 0)
			r = read_reply(c, deadline_ms, last, err, errlen);
		if (r == 0 && last->code == 334) {
			bool proven = challenge(last, msg, sizeof(msg)) == 0 &&
				      scram_verify_server(&sc, msg, err, errlen) == 0;
			char why[256];
			snprintf(why, sizeof(why), "%s", proven ? "" : err);
			r = send_b64(c, proven ? "" : "*", "", 0, deadline_ms, err, errlen);
			if (r == 0)
				r = read_reply(c, deadline_ms, last, err, errlen);
			if (r == 0 && !proven) {
				set_err(err, errlen, "authentication failed: %s", why);
				r = LOCAL_AUTH;
			}
		} else if (r == 0 && last->code == 235) {
			log_msg(LOG_WARNING, "SCRAM: the server accepted us without proving it knows the password");
		}
	}
	scram_free(&sc);
	return r;
}

/* An RFC 5801 saslname: ',' and '=' escaped ("=2C", "=3D"). */
static void put_saslname(struct buf *b, const char *user)
{
	for (const char *p = user; *p; p++) {
		if (*p == ',')
			buf_adds(b, "=2C");
		else if (*p == '=')
			buf_adds(b, "=3D");
		else
			buf_addc(b, *p);
	}
}

/*
 * OAUTHBEARER (RFC 7628 3.1): "n,a=USER," ^A "host=H" ^A "port=P" ^A
 * "auth=Bearer TOKEN" ^A ^A. On failure the server sends 334 and a base64
 * JSON status; the client must answer with a lone ^A (3.2.3), then the
 * server sends its final failure.
 */
static int run_oauthbearer(struct netconn *c, const struct sp_relay *relay, const char *token,
			   uint64_t deadline_ms, struct smtp_reply *last, char *err, size_t errlen)
{
	struct buf m;
	buf_init(&m);
	buf_adds(&m, "n,a=");
	put_saslname(&m, relay->username);
	buf_printf(&m, ",\001host=%s\001port=%u\001auth=Bearer %s\001\001", relay->host, relay->port, token);
	int r = send_b64(c, "AUTH OAUTHBEARER ", m.data, m.len, deadline_ms, err, errlen);
	explicit_zero(m.data, m.len);
	buf_free(&m);
	if (r == 0)
		r = read_reply(c, deadline_ms, last, err, errlen);
	if (r == 0 && last->code == 334) {
		/* the error status (JSON): answer %x01 and read the final reply */
		r = send_b64(c, "", "\001", 1, deadline_ms, err, errlen);
		if (r == 0)
			r = read_reply(c, deadline_ms, last, err, errlen);
	}
	return r;
}

int auth_run(struct netconn *c, unsigned mech, const struct sp_relay *relay, const char *secret,
	     uint64_t deadline_ms, struct smtp_reply *last, char *err, size_t errlen)
{
	const char *user = relay->username;
	size_t ulen = strlen(user), slen = strlen(secret);
	int r;
	if (mech == AUTH_OAUTHBEARER) {
		r = run_oauthbearer(c, relay, secret, deadline_ms, last, err, errlen);
	} else if (mech == AUTH_PLAIN || mech == AUTH_XOAUTH2) {
		/* PLAIN: authzid NUL authcid NUL passwd (RFC 4616).
		 * XOAUTH2: "user=" U ^A "auth=Bearer " T ^A ^A. */
		size_t cap = ulen + slen + 32;
		char *msg = xmalloc(cap);
		size_t n;
		if (mech == AUTH_PLAIN) {
			msg[0] = '\0';
			memcpy(msg + 1, user, ulen);
			msg[1 + ulen] = '\0';
			memcpy(msg + 2 + ulen, secret, slen);
			n = 2 + ulen + slen;
		} else {
			n = (size_t)snprintf(msg, cap, "user=%s\001auth=Bearer %s\001\001", user, secret);
		}
		r = send_b64(c, mech == AUTH_PLAIN ? "AUTH PLAIN " : "AUTH XOAUTH2 ", msg, n, deadline_ms, err, errlen);
		explicit_zero(msg, cap);
		free(msg);
		if (r == 0)
			r = read_reply(c, deadline_ms, last, err, errlen);
		if (r == 0 && last->code == 334) {
			/* XOAUTH2 error details, or a server that wants a fresh
			 * line: answer empty, the final reply follows */
			r = net_writes(c, "\r\n", deadline_ms, err, errlen);
			if (r == 0)
				r = net_flush(c, deadline_ms, err, errlen);
			if (r == 0)
				r = read_reply(c, deadline_ms, last, err, errlen);
		}
	} else if (mech == AUTH_LOGIN) {
		r = net_writes(c, "AUTH LOGIN\r\n", deadline_ms, err, errlen);
		if (r == 0)
			r = net_flush(c, deadline_ms, err, errlen);
		if (r == 0)
			r = read_reply(c, deadline_ms, last, err, errlen);
		if (r == 0 && last->code == 334) {
			r = send_b64(c, "", user, ulen, deadline_ms, err, errlen);
			if (r == 0)
				r = read_reply(c, deadline_ms, last, err, errlen);
			if (r == 0 && last->code == 334) {
				r = send_b64(c, "", secret, slen, deadline_ms, err, errlen);
				if (r == 0)
					r = read_reply(c, deadline_ms, last, err, errlen);
			}
		}
	} else if (mech == AUTH_SCRAM_SHA256) {
		r = run_scram(c, user, secret, deadline_ms, last, err, errlen);
	} else {
		set_err(err, errlen, "unsupported AUTH mechanism");
		return LOCAL_AUTH;
	}
	if (r != 0)
		return r;
	if (last->code == 235)
		return 0;
	return refused(last, err, errlen);
}

int auth_oauth(struct netconn *c, const struct sp_config *cfg, const struct sp_relay *relay,
	       unsigned mech, struct smtp_reply *last, char *err, size_t errlen)
{
	struct oauth_lease lease;
	int got = oauth_get_token(cfg, relay, NULL, &lease, err, errlen);
	if (got < 0) /* an endpoint that is down is a connection failure, not a refusal */
		return got == -2 ? LOCAL_CONNECT : LOCAL_OAUTH_TOKEN;
	int r = auth_run(c, mech, relay, lease.token, net_deadline(cfg->timeouts.command), last, err, errlen);
	if (r == LOCAL_AUTH && last->code >= 500) {
		/* refused: the token may have been revoked or expired early;
		 * one new token (refreshed unless another worker already did),
		 * one retry on this connection (RFC 4954 allows a new AUTH) */
		char first[400];
		snprintf(first, sizeof(first), "%s", err);
		struct oauth_lease fresh;
		int again = oauth_get_token(cfg, relay, &lease, &fresh, err, errlen);
		if (again < 0) {
			/* the cause is the token, not the server's refusal: it
			 * goes first (--health shows a reason cut to 300 bytes) */
			char why[512];
			snprintf(why, sizeof(why), "%s", err);
			set_err(err, errlen, "%s (after the server refused the cached token: %s)", why, first);
			r = again == -2 ? LOCAL_CONNECT : LOCAL_OAUTH_TOKEN;
		} else {
			log_msg(LOG_INFO, "relay %s: %s; retrying once with a new token", relay->name, first);
			r = auth_run(c, mech, relay, fresh.token, net_deadline(cfg->timeouts.command), last, err, errlen);
			if (r == LOCAL_AUTH) {
				char why[400];
				snprintf(why, sizeof(why), "%s", err);
				set_err(err, errlen, "%s, also with a newly refreshed token: check the mailbox's "
					"permission to send (or run sealpostd --oauth-login %s)", why, relay->name);
			}
			oauth_lease_clear(&fresh);
		}
	}
	oauth_lease_clear(&lease);
	return r;
}
