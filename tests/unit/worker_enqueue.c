/*
 * worker_enqueue.c - test helper: queue a message straight through the
 * spool API, without the front end, so the worker tests control the
 * envelope exactly (flags, DSN fields, odd recipients).
 *
 * usage: worker_enqueue SPOOL_DIR [-8] [-u] [-B] [-H] [-a AGE] [-R RET]
 *                       [-V ENVID] [-N NOTIFY] SENDER RCPT... < message
 * The message is copied with LF turned into CRLF (CRLF kept). -8 sets
 * ENV_8BITMIME, -u ENV_SMTPUTF8, -B ENV_BOUNCE, -H ENV_HELD; -a AGE
 * back-dates the arrival by AGE seconds (expiry, delay warnings); -N is
 * the numeric NOTIFY mask for every recipient. Prints the queue id. Test
 * material only.
 */
#include "config.h"

#include "spool.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s SPOOL [-8] [-u] [-B] [-H] [-a AGE] [-R RET] [-V ENVID] [-N MASK] SENDER RCPT...\n", argv[0]);
		return 64;
	}
	const char *spool = argv[1];
	struct envelope env;
	envelope_init(&env);
	unsigned notify = 0;
	long age = 0;
	int i = 2;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "-8") == 0)
			env.flags |= ENV_8BITMIME;
		else if (strcmp(argv[i], "-u") == 0)
			env.flags |= ENV_SMTPUTF8;
		else if (strcmp(argv[i], "-B") == 0)
			env.flags |= ENV_BOUNCE;
		else if (strcmp(argv[i], "-H") == 0)
			env.flags |= ENV_HELD;
		else if (strcmp(argv[i], "-a") == 0 && i + 1 < argc)
			age = atol(argv[++i]);
		else if (strcmp(argv[i], "-R") == 0 && i + 1 < argc)
			env.ret = xstrdup(argv[++i]);
		else if (strcmp(argv[i], "-V") == 0 && i + 1 < argc)
			env.envid = xstrdup(argv[++i]);
		else if (strcmp(argv[i], "-N") == 0 && i + 1 < argc)
			notify = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 64;
		}
	}
	if (argc - i < 2) {
		fprintf(stderr, "need a sender and a recipient\n");
		return 64;
	}
	free(env.sender);
	env.sender = xstrdup(argv[i++]);
	for (; i < argc; i++)
		envelope_add_rcpt(&env, argv[i], argv[i], notify);
	env.arrival = time(NULL) - age;
	env.uid = getuid();
	free(env.user);
	env.user = xstrdup("test");

	char err[256];
	if (spool_ensure_dirs(spool, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 73;
	}
	struct spool_writer w;
	if (spool_writer_open(&w, spool, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 73;
	}
	struct buf out;
	buf_init(&out);
	int c, prev = 0;
	while ((c = getchar()) != EOF) {
		if (c == '\n' && prev != '\r')
			buf_addc(&out, '\r');
		buf_addc(&out, (char)c);
		prev = c;
	}
	if (write_all(w.fd, out.data ? out.data : "", out.len) < 0 ||
	    spool_writer_commit(&w, &env, err, sizeof(err)) < 0) {
		fprintf(stderr, "cannot queue: %s\n", err);
		spool_writer_abort(&w);
		return 73;
	}
	printf("%s\n", env.id);
	buf_free(&out);
	envelope_free(&env);
	return 0;
}
