/*
 * submit.h - queue one message: envelope sender, recipients (aliased and
 * qualified), message bytes through intake, then the durable commit. Used
 * by the command-line path and by the -bs dialogue alike. Every function
 * returns 0 or a sysexits code with a one-line reason in err.
 */
#ifndef SEALPOST_SUBMIT_H
#define SEALPOST_SUBMIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "aliases.h"
#include "conf.h"
#include "intake.h"
#include "spool.h"

/* Who is submitting and how: fixed for the whole process. */
struct submit_ctx {
	const struct sp_config *cfg;
	const struct aliases *aliases;
	uid_t uid;
	const char *user;        /* login name of the caller */
	const char *gecos_name;  /* full name from the password database; may be NULL */
};

/* Per-message options. */
struct submit_opts {
	bool extract_recipients; /* -t */
	const char *full_name;   /* -F */
	unsigned notify;         /* -N, NOTIFY_* bits; 0 = not given */
	const char *ret;         /* -R: "FULL" / "HDRS" / NULL */
	const char *envid;       /* -V */
};

struct submission {
	const struct submit_ctx *ctx;
	struct submit_opts opts;
	struct spool_writer writer;
	struct intake *intake;
	struct envelope env;
	bool open;
	bool direct;             /* the caller's own spool: written in place */
};

/* sender: as given (-f/-r or MAIL FROM), NULL = the caller's address,
 * "" or "<>" = null sender. Creates the spool file. */
int submit_begin(struct submission *s, const struct submit_ctx *ctx, const struct submit_opts *o,
		 const char *sender, char *err, size_t errlen);
/* One recipient argument: may hold a comma-separated list; aliases and
 * qualification are applied; CR/LF is rejected (EX_DATAERR / EX_USAGE). */
int submit_add_rcpt(struct submission *s, const char *arg, char *err, size_t errlen);
/* Message bytes (already unstuffed in -bs; any line ends). */
int submit_feed(struct submission *s, const char *p, size_t n, char *err, size_t errlen);
/* Finish intake, add -t recipients, refuse an empty recipient list
 * (EX_DATAERR... EX_USAGE?), commit durably. id receives the queue id. */
int submit_commit(struct submission *s, char id[SPOOL_ID_LEN + 1], char *err, size_t errlen);
/* Discard everything (nothing is left in the spool). */
void submit_abort(struct submission *s);

#endif
