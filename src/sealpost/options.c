/*
 * options.c - sendmail-compatible command line parsing. Pure: no I/O but
 * the usage text, no privilege. Values are only recorded here; they are
 * validated (CR/LF, address syntax) where they are used.
 */
#include "config.h"

#include "options.h"
#include "spool.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options that take a value: attached (-fuser) or as the next word. */
static const char with_value[] = "fFrCNRVBLhXOAo";
/* Options without value. -m (me too), -n (no aliasing), -U (initial
 * submission), -G (gateway), -x: accepted and ignored. */
static const char flags_only[] = "tivUGmnx";

int options_parse_notify(const char *s, unsigned *out)
{
	unsigned bits = 0;
	if (ascii_casecmp(s, "never") == 0) {
		*out = NOTIFY_NEVER;
		return 0;
	}
	char *copy = xstrdup(s), *save = NULL;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (ascii_casecmp(w, "success") == 0)
			bits |= NOTIFY_SUCCESS;
		else if (ascii_casecmp(w, "failure") == 0)
			bits |= NOTIFY_FAILURE;
		else if (ascii_casecmp(w, "delay") == 0)
			bits |= NOTIFY_DELAY;
		else {
			free(copy);
			return -1;
		}
	}
	free(copy);
	if (!bits)
		return -1;
	*out = bits;
	return 0;
}

static int set_b_mode(struct options *o, const char *v, char *err, size_t errlen)
{
	static const struct { const char *name; enum run_mode mode; } modes[] = {
		{ "m", MODE_DELIVER }, { "p", MODE_LIST },    { "s", MODE_SMTP },
		{ "i", MODE_ALIASES }, { "v", MODE_VERIFY },
	};
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		if (strcmp(v, modes[i].name) == 0) {
			o->mode = modes[i].mode;
			return 0;
		}
	}
	set_err(err, errlen, "unsupported mode -b%s", v);
	return -1;
}

static int set_o_option(struct options *o, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "i") == 0) {
		o->ignore_dots = true;
	} else if (v[0] == 'd') {
		if (strcmp(v, "db") == 0 || strcmp(v, "d") == 0)
			o->delivery = DELIVER_BACKGROUND;
		else if (strcmp(v, "di") == 0)
			o->delivery = DELIVER_INTERACTIVE;
		else if (strcmp(v, "dq") == 0 || strcmp(v, "dd") == 0)
			o->delivery = DELIVER_QUEUE_ONLY;
		else {
			set_err(err, errlen, "unknown delivery mode -o%s", v);
			return -1;
		}
	} else if (v[0] == 'e') {
		if (strchr("mpqwe", v[1]) == NULL || v[1] == '\0' || v[2] != '\0') {
			set_err(err, errlen, "unknown error mode -o%s", v);
			return -1;
		}
	}
	/* every other -oX is a sendmail.cf option: accepted, ignored */
	return 0;
}

static int set_value(struct options *o, char opt, const char *v, char *err, size_t errlen)
{
	switch (opt) {
	case 'f':
	case 'r':
		o->sender = v;
		return 0;
	case 'F':
		o->full_name = v;
		return 0;
	case 'C':
		o->config = v;
		return 0;
	case 'N':
		if (options_parse_notify(v, &o->notify) < 0) {
			set_err(err, errlen, "invalid -N value '%s' (never, or success,failure,delay)", v);
			return -1;
		}
		return 0;
	case 'R':
		if (ascii_casecmp(v, "full") == 0)
			o->ret = "FULL";
		else if (ascii_casecmp(v, "hdrs") == 0)
			o->ret = "HDRS";
		else {
			set_err(err, errlen, "invalid -R value '%s' (full or hdrs)", v);
			return -1;
		}
		return 0;
	case 'V':
		for (const char *p = v; *p; p++) {
			if (*p <= ' ' || *p >= 0x7f) {
				set_err(err, errlen, "invalid -V envelope id");
				return -1;
			}
		}
		if (strlen(v) > 100) {
			set_err(err, errlen, "-V envelope id longer than 100 characters");
			return -1;
		}
		o->envid = v;
		return 0;
	case 'o':
		return set_o_option(o, v, err, errlen);
	case 'b':
		return set_b_mode(o, v, err, errlen);
	default: /* B L h X O A: accepted, ignored (-X never opens a file) */
		return 0;
	}
}

static int set_queue(struct options *o, const char *v, char *err, size_t errlen)
{
	o->mode = MODE_QUEUE_RUN;
	if (*v == '\0')
		return 0;
	if (strcmp(v, "f") == 0) {
		o->queue_foreground = true;
		return 0;
	}
	if (v[0] == 'I') {
		if (!spool_id_valid(v + 1)) {
			set_err(err, errlen, "-qI needs a queue id");
			return -1;
		}
		o->queue_id = v + 1;
		return 0;
	}
	/* -q30m and the like ask for a periodic queue runner: the daemon's
	 * job; here it means "run the queue once now" */
	if ((v[0] >= '0' && v[0] <= '9'))
		return 0;
	set_err(err, errlen, "unsupported queue option -q%s", v);
	return -1;
}

static void set_queue_action(struct options *o, enum queue_action a)
{
	o->mode = MODE_QUEUE_CONTROL;
	o->queue_action = a;
}

static int parse_word(int argc, char **argv, int *i, struct options *o, char *err, size_t errlen)
{
	const char *w = argv[*i] + 1;
	while (*w) {
		char c = *w++;
		if (strchr(flags_only, c)) {
			if (c == 't')
				o->extract_recipients = true;
			else if (c == 'i')
				o->ignore_dots = true;
			else if (c == 'v')
				o->verbose = true;
			continue;
		}
		if (c == 'q')
			return set_queue(o, w, err, errlen);
		if (c == 'b' && *w == '\0') {
			set_err(err, errlen, "option -b needs a mode letter");
			return -1;
		}
		if (strchr(with_value, c) || c == 'b') {
			const char *v = w;
			if (*v == '\0') {
				if (*i + 1 >= argc) {
					set_err(err, errlen, "option -%c needs a value", c);
					return -1;
				}
				v = argv[++*i];
			}
			return set_value(o, c, v, err, errlen);
		}
		set_err(err, errlen, "unknown option -%c", c);
		return -1;
	}
	return 0;
}

int options_parse(int argc, char **argv, const char *prog, struct options *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->mode = MODE_DELIVER;
	if (strcmp(prog, "mailq") == 0)
		o->mode = MODE_LIST;
	else if (strcmp(prog, "newaliases") == 0)
		o->mode = MODE_ALIASES;

	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[1] == '-') {
			if (strcmp(a, "--json") == 0)
				o->json = true;
			else if (strcmp(a, "--json-lines") == 0)
				o->json_lines = true;
			else if (strcmp(a, "--hold") == 0)
				set_queue_action(o, QUEUE_HOLD);
			else if (strcmp(a, "--release") == 0)
				set_queue_action(o, QUEUE_RELEASE);
			else if (strcmp(a, "--delete") == 0)
				set_queue_action(o, QUEUE_DELETE);
			else if (strcmp(a, "--help") == 0)
				o->mode = MODE_HELP;
			else if (strcmp(a, "--version") == 0)
				o->mode = MODE_VERSION;
			else {
				set_err(err, errlen, "unknown option %s", a);
				return -1;
			}
			continue;
		}
		if (parse_word(argc, argv, &i, o, err, errlen) < 0)
			return -1;
	}
	o->recipients = argv + i;
	o->nrecipients = (size_t)(argc - i);
	if (o->json && o->mode != MODE_LIST) {
		set_err(err, errlen, "--json goes with -bp (mailq)");
		return -1;
	}
	if (o->json_lines && (o->mode != MODE_LIST || o->json)) {
		set_err(err, errlen, "--json-lines goes with -bp (mailq), without --json");
		return -1;
	}
	if (o->mode == MODE_QUEUE_CONTROL) {
		if (o->nrecipients == 0) {
			set_err(err, errlen, "--hold, --release and --delete need queue ids");
			return -1;
		}
		for (size_t k = 0; k < o->nrecipients; k++) {
			if (!spool_id_valid(o->recipients[k])) {
				set_err(err, errlen, "not a queue id: %.64s", o->recipients[k]);
				return -1;
			}
		}
	}
	return 0;
}

void options_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-t] [-i|-oi] [-f sender] [-F name] [-N dsn] [-R ret] [-V envid]\n"
		"          [-od{b,i,q}] [-C config] [--] [recipient ...] < message\n"
		"       %s -bp [--json|--json-lines]\n"
		"                         list the queue (mailq); --json-lines: postqueue -j form\n"
		"       %s -bs            SMTP dialogue on stdin/stdout\n"
		"       %s -bv rcpt...    show how recipients would be routed\n"
		"       %s -q[f] | -qI<id> run the queue (all, or one message) now\n"
		"       %s --hold|--release|--delete ID...\n"
		"                         hold, release or delete queued messages (root or owner)\n"
		"See sealpost(8).\n",
		prog, prog, prog, prog, prog, prog);
}
