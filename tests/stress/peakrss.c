/*
 * peakrss.c - run a command and report its peak resident set size:
 *   peakrss OUTFILE COMMAND [ARG...]
 * writes "MAXRSS_KB" to OUTFILE and exits with the command's status
 * (128 + N for a signal). A small launcher matters: a child's peak RSS
 * starts from its parent's memory at fork, so measuring a child forked
 * straight from a big test driver would report the driver. Test tool
 * (tests/stress/hostile.sh builds it); trusts its arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: peakrss OUTFILE COMMAND [ARG...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("peakrss: fork");
		return 2;
	}
	if (pid == 0) {
		execv(argv[2], argv + 2);
		perror("peakrss: exec");
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("peakrss: wait4");
		return 2;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0) {
		perror("peakrss: report");
		return 2;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
