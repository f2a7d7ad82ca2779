/*
 * control_client.c - talk to sealpostd over SPOOL/sealpostd.sock (see
 * control_client.h). Trusts the daemon's answers no more than a file:
 * lengths are bounded, envelopes parsed strictly, text sanitized by the
 * printer (mailq.c) or shown as one bounded line.
 */
#include "config.h"

#include "control_client.h"
#include "control_proto.h"
#include "dropfmt.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#define CLIENT_TIMEOUT 60 /* seconds: a busy daemon, a long listing */

static int connect_daemon(const char *spool_dir, const char *request, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" CONTROL_SOCKET, spool_dir) >=
	    sizeof(sa.sun_path)) {
		set_err(err, errlen, "%s: path too long for the control socket", spool_dir);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		set_err(err, errlen, "the mail system is down: sealpostd is not running on %s (%s); only root "
			"can do this without it", spool_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char line[CONTROL_MAX_REQUEST + 2];
	int n = snprintf(line, sizeof(line), "%s\n", request);
	if (n < 0 || (size_t)n >= sizeof(line) || strchr(request, '\n') || write_all(fd, line, (size_t)n) < 0) {
		set_err(err, errlen, "cannot send the request to sealpostd");
		close(fd);
		return -1;
	}
	return fd;
}

/* One line (without its newline) of at most cap-1 bytes. */
static bool read_line(int fd, char *line, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read_retry(fd, line + n, 1);
		if (r <= 0)
			return false;
		if (line[n] == '\n') {
			line[n] = '\0';
			return true;
		}
		n++;
	}
	return false;
}

/* "error CODE TEXT": code and text; anything else is EX_PROTOCOL. */
static int error_reply(const char *line, char *err, size_t errlen)
{
	uint64_t code = 0;
	const char *sp = strncmp(line, "error ", 6) == 0 ? strchr(line + 6, ' ') : NULL;
	char num[8] = "";
	if (sp && (size_t)(sp - (line + 6)) < sizeof(num)) {
		memcpy(num, line + 6, (size_t)(sp - (line + 6)));
		num[sp - (line + 6)] = '\0';
	}
	if (!sp || !parse_u64(num, &code) || code == 0 || code > 125) {
		set_err(err, errlen, "sealpostd gave no usable answer");
		return EX_PROTOCOL;
	}
	set_err(err, errlen, "%s", sp + 1);
	return (int)code;
}

int control_request(const char *spool_dir, const char *request, FILE *out, char *err, size_t errlen)
{
	int fd = connect_daemon(spool_dir, request, err, errlen);
	if (fd < 0)
		return EX_TEMPFAIL;
	char line[CONTROL_MAX_REPLY];
	bool got = read_line(fd, line, sizeof(line));
	close(fd);
	if (!got) {
		set_err(err, errlen, "sealpostd closed the connection (busy, or the request timed out)");
		return EX_TEMPFAIL;
	}
	if (strncmp(line, "ok ", 3) == 0) {
		fprintf(out, "%s\n", line + 3);
		return 0;
	}
	return error_reply(line, err, errlen);
}

int control_list(const char *spool_dir, int (*fn)(const char *id, struct envelope *env, const char *why, void *ctx),
		 void *ctx, size_t *hidden, char *err, size_t errlen)
{
	*hidden = 0;
	int fd = connect_daemon(spool_dir, "list", err, errlen);
	if (fd < 0)
		return EX_TEMPFAIL;
	int status = EX_PROTOCOL;
	set_err(err, errlen, "sealpostd's listing was cut short");
	char line[CONTROL_MAX_REPLY];
	char *text = NULL;
	while (read_line(fd, line, sizeof(line))) {
		uint64_t v;
		if (strncmp(line, "end ", 4) == 0 && parse_u64(line + 4, &v)) {
			*hidden = (size_t)v;
			status = 0;
			break;
		}
		if (strncmp(line, "error ", 6) == 0) {
			status = error_reply(line, err, errlen);
			break;
		}
		if (strncmp(line, "envelope ", 9) != 0 || !parse_u64(line + 9, &v) || v > DROP_MAX_ENVELOPE)
			break;
		text = xrealloc(text, (size_t)v + 1);
		size_t got = 0;
		while (got < v) {
			ssize_t r = read_retry(fd, text + got, (size_t)v - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		if (got < v)
			break;
		text[v] = '\0';
		struct envelope env;
		envelope_init(&env);
		char why[256];
		if (envelope_parse(text, (size_t)v, &env, why, sizeof(why)) < 0)
			fn("?", NULL, why, ctx);
		else
			fn(env.id, &env, NULL, ctx);
	}
	free(text);
	close(fd);
	return status;
}
