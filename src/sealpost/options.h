/*
 * options.h - the sendmail command line (SPEC section 2), parsed the way
 * sendmail and Postfix parse it: flags combine (-ti), option arguments may
 * be attached or separate (-fuser@x, -f user@x), -o and -b take their
 * letter(s) from the same word, option parsing stops at the first
 * non-option word or at "--". Unknown options are usage errors.
 * Pure: no I/O, no privilege.
 */
#ifndef SEALPOST_OPTIONS_H
#define SEALPOST_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

enum run_mode {
	MODE_DELIVER,   /* -bm: read a message, queue it (default) */
	MODE_LIST,      /* -bp, mailq */
	MODE_SMTP,      /* -bs */
	MODE_ALIASES,   /* -bi, newaliases */
	MODE_VERIFY,    /* -bv */
	MODE_QUEUE_RUN, /* -q, -qf */
	MODE_QUEUE_CONTROL, /* --hold, --release, --delete ID... */
	MODE_HELP,
	MODE_VERSION,
};

enum delivery_mode {
	DELIVER_BACKGROUND,  /* -odb (default) */
	DELIVER_INTERACTIVE, /* -odi: wait for the attempt */
	DELIVER_QUEUE_ONLY,  /* -odq */
};

#include "queue_control.h" /* enum queue_action */

struct options {
	enum run_mode mode;
	enum delivery_mode delivery;
	bool extract_recipients; /* -t */
	bool ignore_dots;        /* -i, -oi */
	bool verbose;            /* -v */
	bool json;               /* --json (with -bp) */
	bool json_lines;         /* --json-lines (with -bp): postqueue -j form */
	bool queue_foreground;   /* -qf */
	const char *sender;      /* -f / -r; NULL if not given */
	const char *full_name;   /* -F */
	const char *config;      /* -C */
	unsigned notify;         /* -N, NOTIFY_* bits */
	const char *ret;         /* -R: "FULL" / "HDRS" */
	const char *envid;       /* -V */
	const char *queue_id;    /* -qI<id>: one message */
	enum queue_action queue_action; /* MODE_QUEUE_CONTROL; the ids are the remaining words */
	char **recipients;       /* the remaining words */
	size_t nrecipients;
};

/* Parse argv. prog is the invocation name (basename of argv[0]): "mailq"
 * means -bp, "newaliases" means -bi. Returns 0, or -1 with a message
 * (the caller prints it with usage and exits EX_USAGE). */
int options_parse(int argc, char **argv, const char *prog, struct options *o, char *err, size_t errlen);

/* Parse a -N value ("never" or a comma list of success,failure,delay). */
int options_parse_notify(const char *s, unsigned *out);

void options_usage(const char *prog);

#endif
