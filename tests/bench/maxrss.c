/*
 * maxrss.c - run a command and print its peak RSS in KiB on stderr.
 * Linux keeps a process's RSS high-water mark across execve(), so a
 * child forked from a big parent (Python) reports the parent's size; this
 * tiny parent keeps the figure honest. The figure is the largest of the
 * command and the children it waited for (sealpost-drop under the front
 * end). With -u UID:GID the command runs as that user (groups: GID only).
 *   usage: maxrss [-u UID:GID] CMD ARGS... < input
 */
#define _GNU_SOURCE /* wait4, setresuid */
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long uid = -1, gid = -1;
	int first = 1;
	if (argc > 2 && strcmp(argv[1], "-u") == 0) {
		if (sscanf(argv[2], "%ld:%ld", &uid, &gid) != 2 || uid < 0 || gid < 0)
			argc = 0;
		first = 3;
	}
	if (argc < first + 1) {
		fprintf(stderr, "usage: maxrss [-u UID:GID] command [args...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		gid_t g = (gid_t)gid;
		if (uid >= 0 && (setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 ||
				 setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0))
			_exit(126);
		execv(argv[first], argv + first);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0)
		return 2;
	fprintf(stderr, "maxrss_kib=%ld\n", ru.ru_maxrss);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
