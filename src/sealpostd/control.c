/*
 * control.c - serve one request on sealpostd.sock (see control.h and
 * control_proto.h). The caller is who SO_PEERCRED says; root may see and
 * change everything, any other user only the messages whose envelope
 * carries their uid (recorded by sealpost-drop). The request is one short
 * line read with a timeout; replies are written with a timeout.
 */
#include "config.h"

#include "control.h"
#include "control_proto.h"
#include "log.h"
#include "queue_control.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

int control_listen(const char *spool_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" CONTROL_SOCKET, spool_dir) >=
	    sizeof(sa.sun_path)) {
		log_msg(LOG_WARNING, "%s: path too long for a socket: no queue control for users", spool_dir);
		return -1;
	}
	struct stat st;
	if (lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(sa.sun_path); /* a previous daemon's (we hold the spool lock) */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0666) < 0 ||
	    listen(fd, 16) < 0) {
		log_msg(LOG_WARNING, "cannot listen on %s: %s: no queue control for users", sa.sun_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void set_timeout(int fd, int opt, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* The request line, without its newline. false on timeout or junk. */
static bool read_request(int fd, char *line, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = recv(fd, line + n, 1, 0);
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

static void reply(int fd, int code, const char *text)
{
	char line[CONTROL_MAX_REPLY];
	int n = code ? snprintf(line, sizeof(line), "error %d %s\n", code, text)
		     : snprintf(line, sizeof(line), "ok %s\n", text);
	if (n > 0)
		write_all(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

struct list_ctx {
	int fd;
	uid_t uid;
	unsigned long hidden;
	bool broken;
};

static int send_env(const char *id, struct envelope *env, const char *why, void *vctx)
{
	(void)id;
	(void)why;
	struct list_ctx *l = vctx;
	if (!env)
		return 0; /* damaged: the worker moves it aside */
	if (l->uid != 0 && env->uid != l->uid) {
		l->hidden++;
	} else if (!l->broken) {
		char *text = envelope_format(env);
		char head[32];
		int n = snprintf(head, sizeof(head), "envelope %zu\n", strlen(text));
		if (write_all(l->fd, head, (size_t)n) < 0 || write_all(l->fd, text, strlen(text)) < 0)
			l->broken = true; /* the caller went away or stopped reading */
		free(text);
	}
	envelope_free(env);
	return l->broken ? 1 : 0;
}

static int serve_list(const struct sp_config *cfg, int fd, uid_t uid)
{
	struct list_ctx l = { .fd = fd, .uid = uid };
	errno = 0;
	int r = spool_scan_envelopes(cfg->spool_dir, send_env, &l);
	if (l.broken)
		return 1;
	if (r != 0 && errno != ENOENT) {
		reply(fd, EX_IOERR, "cannot list the queue");
		return 1;
	}
	char end[48];
	int n = snprintf(end, sizeof(end), "end %lu\n", l.hidden);
	return write_all(fd, end, (size_t)n) < 0;
}

/* flush without an id: every deferred message of the caller's (root: all) */
struct flush_ctx {
	const char *spool;
	uid_t uid;
	FILE *quiet;            /* queue_control_one's "ID: flushed" lines */
	unsigned long n;
};

static int flush_one(const char *id, struct envelope *env, const char *why, void *vctx)
{
	(void)why;
	struct flush_ctx *f = vctx;
	if (!env)
		return 0;
	bool deferred = false;
	for (size_t i = 0; i < env->nrcpts; i++)
		deferred |= env->rcpts[i].state == RCPT_DEFERRED;
	bool mine = f->uid == 0 || env->uid == f->uid;
	envelope_free(env);
	char err[256];
	if (mine && deferred && queue_control_one(f->spool, QUEUE_FLUSH, id, f->uid, f->quiet, err, sizeof(err)) == 0)
		f->n++;
	return 0;
}

static enum queue_action action_of(const char *verb, bool *ok)
{
	*ok = true;
	if (strcmp(verb, "hold") == 0)
		return QUEUE_HOLD;
	if (strcmp(verb, "release") == 0)
		return QUEUE_RELEASE;
	if (strcmp(verb, "delete") == 0)
		return QUEUE_DELETE;
	if (strcmp(verb, "flush") == 0)
		return QUEUE_FLUSH;
	*ok = false;
	return QUEUE_HOLD;
}

int control_serve(const struct sp_config *cfg, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof(cr))
		return 1;
	set_timeout(fd, SO_RCVTIMEO, CONTROL_REQUEST_TIMEOUT);
	set_timeout(fd, SO_SNDTIMEO, CONTROL_SEND_TIMEOUT);
	char line[CONTROL_MAX_REQUEST + 2];
	if (!read_request(fd, line, sizeof(line)))
		return 1; /* too slow, too long or gone: nothing was held */
	if (strcmp(line, "list") == 0)
		return serve_list(cfg, fd, cr.uid);
	if (strcmp(line, "flush") == 0) {
		struct flush_ctx f = { cfg->spool_dir, cr.uid, fopen("/dev/null", "w"), 0 };
		if (f.quiet)
			spool_scan_envelopes(cfg->spool_dir, flush_one, &f);
		if (f.quiet)
			fclose(f.quiet);
		char text[64];
		snprintf(text, sizeof(text), "%lu deferred message(s) flushed", f.n);
		reply(fd, 0, text);
		return 0;
	}
	char *sp = strchr(line, ' ');
	bool known = false;
	enum queue_action a = QUEUE_HOLD;
	if (sp) {
		*sp = '\0';
		a = action_of(line, &known);
	}
	if (!known) {
		reply(fd, EX_USAGE, "unknown request");
		return 1;
	}
	char err[512] = "", *text = NULL;
	size_t tlen = 0;
	FILE *out = open_memstream(&text, &tlen);
	if (!out) {
		reply(fd, EX_OSERR, "out of memory");
		return 1;
	}
	int r = queue_control_one(cfg->spool_dir, a, sp + 1, cr.uid, out, err, sizeof(err));
	fclose(out);
	if (r == 0 && tlen > 0 && text[tlen - 1] == '\n')
		text[tlen - 1] = '\0';
	reply(fd, r, r ? err : text);
	free(text);
	return r ? 1 : 0;
}
