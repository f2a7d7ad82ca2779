/*
 * drop_client.c - commit a message through sealpost-drop (see
 * drop_client.h and dropfmt.h). The stream is the envelope and the
 * message, each behind its length; sealpost-drop adds the caller's uid in
 * front. Runs as the caller; trusts sealpost-drop's answer only as a
 * queue id of the right shape.
 */
#include "config.h"

#include "drop_client.h"
#include "dropfmt.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

extern char **environ;

bool spool_is_callers(const char *spool_dir)
{
	struct stat st;
	if (stat(spool_dir, &st) < 0)
		return errno == ENOENT; /* the direct path reports it */
	return st.st_uid == getuid();
}

char *helper_path(const char *const rel[], size_t nrel, const char *fallback)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			for (size_t i = 0; i < nrel; i++) {
				char *p = xasprintf("%s%s", self, rel[i]);
				if (access(p, X_OK) == 0)
					return p;
				free(p);
			}
		}
	}
	return xstrdup(fallback);
}

static char *drop_program(void)
{
	static const char *const rel[] = { "/sealpost-drop", "/../libexec/sealpost/sealpost-drop" };
	return helper_path(rel, ARRAY_LEN(rel), PKGLIBEXECDIR "/sealpost-drop");
}

/* The message from offset 0 to its end into the pipe. */
static int copy_message(int msg_fd, int out, uint64_t size)
{
	static char buf[65536];
	for (uint64_t off = 0; off < size;) {
		size_t want = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		ssize_t r = pread(msg_fd, buf, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (write_all(out, buf, (size_t)r) < 0)
			return -1;
		off += (uint64_t)r;
	}
	return 0;
}

static pid_t spawn_drop(const char *prog, const char *spool_dir, int in, int out)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	char *argv[] = { (char *)"sealpost-drop", (char *)spool_dir, NULL };
	pid_t pid;
	int e = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e) {
		errno = e;
		return -1;
	}
	return pid;
}

/* What sealpost-drop said: "ID\n", or "error: ...\n". */
static void read_answer(int fd, char *ans, size_t cap)
{
	size_t got = 0;
	while (got + 1 < cap) {
		ssize_t r = read_retry(fd, ans + got, cap - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	ans[got] = '\0';
	ans[strcspn(ans, "\n")] = '\0';
}

int drop_submit(const char *spool_dir, int msg_fd, struct envelope *env, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(msg_fd, &st) < 0) {
		set_err(err, errlen, "cannot read the message buffer: %s", strerror(errno));
		return EX_IOERR;
	}
	env->size = (uint64_t)st.st_size;
	memset(env->id, '0', SPOOL_ID_LEN); /* the worker names it; the parser wants one */
	env->id[SPOOL_ID_LEN] = '\0';
	char *text = envelope_format(env);
	char *head = xasprintf("envelope %zu\n%smessage %llu\n", strlen(text), text, (unsigned long long)env->size);
	free(text);

	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0) {
		free(head);
		set_err(err, errlen, "cannot start sealpost-drop: %s", strerror(errno));
		return EX_OSERR;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		free(head);
		set_err(err, errlen, "cannot start sealpost-drop: %s", strerror(errno));
		return EX_OSERR;
	}
	char *prog = drop_program();
	pid_t pid = spawn_drop(prog, spool_dir, in[0], out[1]);
	int spawn_errno = errno;
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		set_err(err, errlen, "cannot run %s: %s", prog, strerror(spawn_errno));
		free(prog);
		free(head);
		return EX_UNAVAILABLE;
	}
	free(prog);
	/* a drop program that dies early must not kill us with SIGPIPE */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old);
	bool sent = write_all(in[1], head, strlen(head)) == 0 && copy_message(msg_fd, in[1], env->size) == 0;
	close(in[1]);
	free(head);
	char ans[512];
	read_answer(out[0], ans, sizeof(ans));
	close(out[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGPIPE, &old, NULL);

	int code = WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
	if (code == 0 && sent && spool_id_valid(ans)) {
		memcpy(env->id, ans, SPOOL_ID_LEN + 1);
		return 0;
	}
	set_err(err, errlen, "cannot queue the message: %s",
		strncmp(ans, "error: ", 7) == 0 ? ans + 7 : "sealpost-drop failed");
	return EX_CANTCREAT; /* whatever went wrong, nothing was queued */
}
