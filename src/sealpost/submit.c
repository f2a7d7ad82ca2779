/*
 * submit.c - queue one message: sender and recipients checked, aliased and
 * qualified; the message streamed through intake into a spool file; the
 * envelope written and everything committed durably. Shared by the
 * command line and -bs. Runs as the caller with no privilege: a spool of
 * the caller's own is written directly; in a system install the message
 * is buffered in memory-backed anonymous file and committed through
 * sealpost-drop (drop_client.c).
 */
#include "config.h"

#include "submit.h"
#include "address.h"
#include "drop_client.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECIPIENTS 10000

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static char *caller_address(const struct submit_ctx *ctx)
{
	return xasprintf("%s@%s", ctx->user, ctx->cfg->domain);
}

int submit_begin(struct submission *s, const struct submit_ctx *ctx, const struct submit_opts *o,
		 const char *sender, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->opts = *o;
	s->writer.fd = -1;
	envelope_init(&s->env);

	if ((sender && has_crlf(sender)) || (o->full_name && has_crlf(o->full_name))) {
		set_err(err, errlen, "line break in the sender or full name (-f/-F): refused");
		return EX_DATAERR;
	}
	char *addr = NULL;
	if (sender) {
		if (address_parse_one(sender, &addr, err, errlen) < 0)
			return EX_DATAERR;
		if (*addr) {
			char *q = address_qualify(addr, ctx->cfg->domain);
			free(addr);
			addr = q;
		}
	} else {
		addr = caller_address(ctx);
	}
	if (*addr && !address_smtp_safe(addr)) {
		set_err(err, errlen, "invalid sender address '%s'", addr);
		free(addr);
		return EX_DATAERR;
	}
	if (*addr && ctx->cfg->sender_rewrite && *ctx->cfg->sender_rewrite) {
		free(addr);
		addr = xstrdup(ctx->cfg->sender_rewrite);
	}
	s->env.sender = addr;
	s->env.uid = ctx->uid;
	s->env.user = xstrdup(ctx->user);
	s->env.arrival = time(NULL);
	s->env.ret = o->ret ? xstrdup(o->ret) : NULL;
	s->env.envid = o->envid ? xstrdup(o->envid) : NULL;

	s->direct = spool_is_callers(ctx->cfg->spool_dir);
	int r = s->direct ? spool_writer_open(&s->writer, ctx->cfg->spool_dir, err, errlen)
			  : spool_writer_open_anon(&s->writer, err, errlen);
	if (r < 0) {
		envelope_free(&s->env);
		return EX_CANTCREAT;
	}

	char *from_addr = *addr ? xstrdup(addr) : caller_address(ctx);
	struct intake_opts io = {
		.extract_recipients = o->extract_recipients,
		.from_addr = from_addr,
		.full_name = o->full_name ? o->full_name : ctx->gecos_name,
		.hostname = ctx->cfg->hostname,
		.max_size = ctx->cfg->max_message_size,
		.now = s->env.arrival,
	};
	s->intake = intake_new(&io, &s->writer);
	free(from_addr);
	s->open = true;
	return 0;
}

struct add_ctx {
	struct submission *s;
	char *err;
	size_t errlen;
	int status;
};

static int add_final(const char *addr, const char *orcpt, void *vctx)
{
	struct add_ctx *a = vctx;
	struct envelope *env = &a->s->env;
	if (!address_smtp_safe(addr)) {
		set_err(a->err, a->errlen, "invalid recipient address '%s'", addr);
		a->status = EX_DATAERR;
		return 1;
	}
	for (size_t i = 0; i < env->nrcpts; i++)
		if (ascii_casecmp(env->rcpts[i].addr, addr) == 0)
			return 0; /* once is enough */
	if (env->nrcpts >= MAX_RECIPIENTS) {
		set_err(a->err, a->errlen, "too many recipients (at most %d)", MAX_RECIPIENTS);
		a->status = EX_DATAERR;
		return 1;
	}
	envelope_add_rcpt(env, addr, strcmp(addr, orcpt) ? orcpt : NULL, a->s->opts.notify);
	if (address_needs_utf8(addr))
		env->flags |= ENV_SMTPUTF8;
	return 0;
}

static int add_parsed(const char *addr, void *vctx)
{
	struct add_ctx *a = vctx;
	const struct submit_ctx *ctx = a->s->ctx;
	int r = aliases_expand(ctx->aliases, addr, ctx->cfg->domain, add_final, a, a->err, a->errlen);
	if (r < 0) {
		a->status = EX_DATAERR;
		return 1;
	}
	return r;
}

static int add_list(struct submission *s, const char *list, char *err, size_t errlen)
{
	if (has_crlf(list)) {
		set_err(err, errlen, "line break in a recipient argument: refused");
		return EX_DATAERR;
	}
	struct add_ctx a = { s, err, errlen, 0 };
	int r = addrlist_parse(list, strlen(list), add_parsed, &a, err, errlen);
	if (a.status)
		return a.status;
	if (r < 0)
		return EX_DATAERR;
	return 0;
}

int submit_add_rcpt(struct submission *s, const char *arg, char *err, size_t errlen)
{
	return add_list(s, arg, err, errlen);
}

int submit_feed(struct submission *s, const char *p, size_t n, char *err, size_t errlen)
{
	return intake_feed(s->intake, p, n, err, errlen);
}

int submit_commit(struct submission *s, char id[SPOOL_ID_LEN + 1], char *err, size_t errlen)
{
	struct intake_result res;
	memset(&res, 0, sizeof(res));
	int r = intake_finish(s->intake, &res, err, errlen);
	if (r)
		goto fail;
	for (size_t i = 0; i < res.nrcpts && r == 0; i++)
		r = add_list(s, res.rcpts[i], err, errlen);
	if (r)
		goto fail;
	if (s->env.nrcpts == 0) {
		set_err(err, errlen, s->opts.extract_recipients
					     ? "no recipient addresses found in the message header"
					     : "no recipients given");
		r = s->opts.extract_recipients ? EX_DATAERR : EX_USAGE;
		goto fail;
	}
	if (res.eightbit)
		s->env.flags |= ENV_8BITMIME;
	if (res.smtputf8 || address_needs_utf8(s->env.sender))
		s->env.flags |= ENV_SMTPUTF8;

	if (s->direct) {
		r = spool_writer_commit(&s->writer, &s->env, err, errlen) < 0 ? EX_CANTCREAT : 0;
	} else {
		r = drop_submit(s->ctx->cfg->spool_dir, s->writer.fd, &s->env, err, errlen);
		close(s->writer.fd);
		s->writer.fd = -1;
	}
	if (r)
		goto fail;
	memcpy(id, s->env.id, SPOOL_ID_LEN + 1);
	intake_result_free(&res);
	intake_free(s->intake);
	s->intake = NULL;
	envelope_free(&s->env);
	s->open = false;
	return 0;
fail:
	intake_result_free(&res);
	submit_abort(s);
	return r;
}

void submit_abort(struct submission *s)
{
	if (!s->open)
		return;
	spool_writer_abort(&s->writer);
	intake_free(s->intake);
	s->intake = NULL;
	envelope_free(&s->env);
	s->open = false;
}
