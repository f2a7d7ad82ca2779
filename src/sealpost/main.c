/*
 * main.c - the sealpost front end (sendmail, mailq, newaliases). Runs as
 * the caller with no privilege at all (priv.c drops any group an old
 * setgid install left); in a system install the final write goes through
 * the setgid sealpost-drop. Reads the config, dispatches on the mode; the
 * message path is options -> submit -> intake -> spool or maildrop.
 */
#include "config.h"

#include "aliases.h"
#include "bs.h"
#include "conf.h"
#include "control_client.h"
#include "drop_client.h"
#include "log.h"
#include "mailq.h"
#include "options.h"
#include "priv.h"
#include "queue_control.h"
#include "submit.h"
#include "util.h"
#include "worker_kick.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

static const char *prog = "sealpost";

static void die(int code, const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg);
	exit(code);
}

struct caller {
	uid_t uid;
	char *user;
	char *gecos;
};

static void who_is_calling(struct caller *c)
{
	c->uid = getuid();
	struct passwd *pw = getpwuid(c->uid);
	if (pw && pw->pw_name && *pw->pw_name) {
		c->user = xstrdup(pw->pw_name);
		/* GECOS: the full name is the first comma-separated field */
		c->gecos = pw->pw_gecos ? xstrndup(pw->pw_gecos, strcspn(pw->pw_gecos, ",")) : NULL;
	} else {
		/* containers run arbitrary uids without a passwd entry */
		c->user = xasprintf("uid%lu", (unsigned long)c->uid);
		c->gecos = NULL;
	}
	if (c->gecos && !*c->gecos) {
		free(c->gecos);
		c->gecos = NULL;
	}
}

/* Read the message from stdin; without -i a line holding only "." ends it. */
static int read_stdin_into(struct submission *s, bool ignore_dots, char *err, size_t errlen)
{
	struct linereader *lr = xmalloc(sizeof(*lr));
	lr_init(lr, 0);
	const char *p;
	size_t n;
	bool bol, eol;
	int r, status = 0;
	while ((r = lr_next(lr, &p, &n, &bol, &eol)) > 0) {
		if (!ignore_dots && bol && eol &&
		    ((n == 2 && memcmp(p, ".\n", 2) == 0) || (n == 3 && memcmp(p, ".\r\n", 3) == 0)))
			break;
		status = submit_feed(s, p, n, err, errlen);
		if (status)
			break;
	}
	if (r < 0 && !status) {
		set_err(err, errlen, "cannot read the message: %s", strerror(lr->error));
		status = EX_IOERR;
	}
	free(lr);
	return status;
}

/*
 * -odi: lock the message file as a worker would, while it is still in
 * tmp/ (before the commit makes it visible), so that a daemon watching
 * the spool leaves it to the worker we start, whose exit status becomes
 * ours. The lock moves with the file into queue/. -1 when not possible:
 * the worker then waits for whoever has the message.
 */
static int lock_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* After the commit: is fd still the queued message? (A quoted-printable
 * re-encoding at commit replaces the file; then lock the new one.) */
static int relock_queued(const struct sp_config *cfg, const char *id, int fd)
{
	char *p = xasprintf("%s/queue/%s.msg", cfg->spool_dir, id);
	struct stat held, named;
	bool same = fd >= 0 && fstat(fd, &held) == 0 && stat(p, &named) == 0 && held.st_dev == named.st_dev &&
		    held.st_ino == named.st_ino;
	if (!same) {
		if (fd >= 0)
			close(fd);
		fd = lock_file(p);
	}
	free(p);
	return fd;
}

static int deliver_mode(const struct options *o, const struct submit_ctx *ctx)
{
	char err[512] = "";
	struct submit_opts so = {
		.extract_recipients = o->extract_recipients,
		.full_name = o->full_name,
		.notify = o->notify,
		.ret = o->ret,
		.envid = o->envid,
	};
	if (o->nrecipients == 0 && !o->extract_recipients)
		die(EX_USAGE, "no recipients given (use -t to read them from the message)");

	struct submission s;
	int r = submit_begin(&s, ctx, &so, o->sender, err, sizeof(err));
	for (size_t i = 0; r == 0 && i < o->nrecipients; i++)
		r = submit_add_rcpt(&s, o->recipients[i], err, sizeof(err));
	if (r == 0)
		r = read_stdin_into(&s, o->ignore_dots, err, sizeof(err));
	int lock_fd = -1;
	/* (in a system install the message goes to the maildrop: the worker
	 * picks it up, and nobody can lock it before) */
	bool direct = s.direct;
	if (r == 0 && o->delivery == DELIVER_INTERACTIVE && direct && s.writer.tmp_path)
		lock_fd = lock_file(s.writer.tmp_path);
	char id[SPOOL_ID_LEN + 1];
	if (r == 0)
		r = submit_commit(&s, id, err, sizeof(err));
	else
		submit_abort(&s);
	if (r)
		die(r, err);
	log_msg(LOG_INFO, "%s: uid=%lu user=%s queued", id, (unsigned long)ctx->uid, ctx->user);

	if (o->delivery == DELIVER_INTERACTIVE && direct)
		lock_fd = relock_queued(ctx->cfg, id, lock_fd);
	r = worker_kick(ctx->cfg, o, id, lock_fd);
	if (lock_fd >= 0)
		close(lock_fd);
	return r;
}

struct verify_ctx {
	const struct sp_config *cfg;
	int printed;
};

static int print_route(const char *addr, const char *orcpt, void *vctx)
{
	struct verify_ctx *v = vctx;
	const struct sp_config *cfg = v->cfg;
	printf("%s", addr);
	if (orcpt && strcmp(addr, orcpt) != 0)
		printf(" (from %s)", orcpt);
	if (cfg->nrelays == 0)
		printf(": queued; no relay configured\n");
	else
		printf(": deliverable via relay \"%s\" %s:%u (%s TLS)\n", cfg->relays[0].name,
		       cfg->relays[0].host, cfg->relays[0].port,
		       cfg->relays[0].tls == SP_TLS_IMPLICIT ? "implicit" : "STARTTLS");
	v->printed++;
	return 0;
}

static int verify_mode(const struct options *o, const struct submit_ctx *ctx)
{
	if (o->nrecipients == 0)
		die(EX_USAGE, "-bv needs recipients");
	int status = 0;
	for (size_t i = 0; i < o->nrecipients; i++) {
		char err[512] = "";
		struct verify_ctx v = { ctx->cfg, 0 };
		const char *arg = o->recipients[i];
		if (strpbrk(arg, "\r\n")) {
			fprintf(stderr, "%s: line break in a recipient argument\n", prog);
			status = EX_DATAERR;
			continue;
		}
		char *q = address_qualify(arg, ctx->cfg->domain);
		int r = aliases_expand(ctx->aliases, q, ctx->cfg->domain, print_route, &v, err, sizeof(err));
		free(q);
		if (r < 0) {
			printf("%s: undeliverable: %s\n", arg, err);
			status = EX_NOUSER;
		}
	}
	return status;
}

/* Root and the spool's owner act on the spool themselves; everybody else
 * asks sealpostd (control_client.c), which does the locking. */
static bool acts_directly(const struct sp_config *cfg)
{
	return getuid() == 0 || spool_is_callers(cfg->spool_dir);
}

/* The same request for each id through sealpostd (an id NULL: the verb
 * alone). */
static int control_each(const struct sp_config *cfg, const char *verb, const char *const *ids, size_t n)
{
	int status = 0;
	for (size_t i = 0; i < n; i++) {
		char err[512] = "", req[64];
		int r;
		if (!ids[i]) {
			r = control_request(cfg->spool_dir, verb, stdout, err, sizeof(err));
		} else if (!spool_id_valid(ids[i])) {
			snprintf(err, sizeof(err), "%.40s: not a queue id", ids[i]);
			r = EX_USAGE;
		} else {
			snprintf(req, sizeof(req), "%s %s", verb, ids[i]);
			r = control_request(cfg->spool_dir, req, stdout, err, sizeof(err));
		}
		if (r) {
			fprintf(stderr, "%s: %s\n", prog, err);
			if (!status)
				status = r;
			if (r == EX_TEMPFAIL && strncmp(err, "the mail system is down", 23) == 0)
				break;
		}
	}
	fflush(stdout);
	return status;
}

static const char *const action_verbs[] = {
	[QUEUE_HOLD] = "hold", [QUEUE_RELEASE] = "release", [QUEUE_DELETE] = "delete", [QUEUE_FLUSH] = "flush",
};

/* --hold, --release, --delete: each id under its lock; released messages
 * are handed to the worker like new mail. */
static int queue_control_mode(const struct sp_config *cfg, const struct options *o)
{
	if (!acts_directly(cfg))
		return control_each(cfg, action_verbs[o->queue_action], (const char *const *)o->recipients,
				    o->nrecipients);
	int status = 0;
	uid_t caller = getuid();
	char perr[512];
	if (priv_become_spool_owner(cfg->spool_dir, perr, sizeof(perr)) < 0)
		die(EX_NOPERM, perr);
	bool *released = xcalloc(o->nrecipients, sizeof(*released));
	for (size_t i = 0; i < o->nrecipients; i++) {
		char err[512] = "";
		int r = queue_control_one(cfg->spool_dir, o->queue_action, o->recipients[i], caller, stdout, err,
					  sizeof(err));
		if (r) {
			fprintf(stderr, "%s: %s\n", prog, err);
			if (!status)
				status = r;
		} else {
			released[i] = o->queue_action == QUEUE_RELEASE;
		}
	}
	fflush(stdout);
	for (size_t i = 0; i < o->nrecipients; i++)
		if (released[i])
			worker_kick(cfg, o, o->recipients[i], -1);
	free(released);
	return status;
}

int main(int argc, char **argv)
{
	priv_init();
	if (argc > 0 && argv[0]) {
		const char *slash = strrchr(argv[0], '/');
		prog = slash ? slash + 1 : argv[0];
	}

	struct options o;
	char err[512] = "";
	if (options_parse(argc, argv, prog, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		options_usage(prog);
		return EX_USAGE;
	}
	if (o.mode == MODE_HELP) {
		options_usage(prog);
		return 0;
	}
	if (o.mode == MODE_VERSION) {
		printf("sealpost %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (o.mode == MODE_ALIASES)
		return 0; /* nothing to rebuild: the alias file is read as text */

	struct sp_config *cfg = NULL;
	const char *path = o.config ? o.config : conf_default_path();
	if (conf_load(path, o.config == NULL, &cfg, err, sizeof(err)) < 0) {
		if (o.mode == MODE_SMTP)
			printf("421 4.3.5 sealpost: configuration error\r\n");
		else
			fprintf(stderr, "%s: %s\n", prog, err);
		return EX_CONFIG;
	}
	/* Only syslog: the front end must never chatter on a caller's stderr
	 * (cron mails it, Symfony treats it as failure). */
	if (strcmp(cfg->log, "syslog") == 0)
		log_open("sealpost", "syslog", false);
	else
		log_open("sealpost", "none", false);

	if (o.mode == MODE_QUEUE_RUN && !acts_directly(cfg)) {
		/* -q, -qI<id> of an ordinary user: sealpostd retries now */
		const char *ids[1] = { o.queue_id };
		int r = control_each(cfg, "flush", ids, 1);
		conf_free(cfg);
		return r;
	}
	if (o.mode == MODE_QUEUE_RUN) {
		return worker_run_queue(cfg, &o);
	}
	if (o.mode == MODE_QUEUE_CONTROL) {
		int r = queue_control_mode(cfg, &o);
		conf_free(cfg);
		log_close();
		return r;
	}
	if (o.mode == MODE_LIST) {
		int r;
		enum mailq_format fmt = o.json_lines ? MAILQ_JSON_LINES : o.json ? MAILQ_JSON : MAILQ_TEXT;
		if (acts_directly(cfg))
			r = priv_become_spool_owner(cfg->spool_dir, err, sizeof(err)) < 0
				    ? EX_NOPERM
				    : mailq_print(cfg, fmt, stdout, err, sizeof(err));
		else /* an ordinary user of a system install: through sealpostd */
			r = mailq_print_from(cfg, control_list, fmt, stdout, err, sizeof(err));
		if (r)
			fprintf(stderr, "%s: %s\n", prog, err);
		conf_free(cfg);
		return r;
	}

	struct aliases *al = NULL;
	if (aliases_load(cfg, &al, err, sizeof(err)) < 0) {
		if (o.mode == MODE_SMTP)
			printf("421 4.3.5 sealpost: alias configuration error\r\n");
		else
			fprintf(stderr, "%s: %s\n", prog, err);
		return EX_CONFIG;
	}
	struct caller c;
	who_is_calling(&c);
	struct submit_ctx ctx = { cfg, al, c.uid, c.user, c.gecos };

	int r;
	if (o.mode == MODE_SMTP) {
		r = bs_session(&ctx, 0, 1);
		worker_kick(cfg, &o, NULL, -1); /* whatever the session queued */
	}
	else if (o.mode == MODE_VERIFY)
		r = verify_mode(&o, &ctx);
	else
		r = deliver_mode(&o, &ctx);
	aliases_free(al);
	free(c.user);
	free(c.gecos);
	conf_free(cfg);
	log_close();
	return r;
}
