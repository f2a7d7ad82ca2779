/*
 * submitters.c - benchmark driver: P parallel submitters run a command N
 * times in all (each submitter its share, one after the other), stdin from
 * FILE, stdout and stderr to /dev/null (or -e LOG). Prints one JSON line:
 * wall time, the user/system CPU and peak RSS of every process it waited
 * for (RUSAGE_CHILDREN includes the submitters' own waited-for children),
 * and failures. With -l FILE, the wall time of each run in microseconds,
 * one per line. With -R it is a child subreaper: processes the runs leave
 * in the background (a double-forked worker) become its children, and it
 * waits for them too (at most -T seconds), so their CPU is counted and
 * "wall_all_s" says when the last one ended.
 * With -u UID:GID each run executes as that user (groups: GID only), as
 * an ordinary user of a system install submits; the driver stays root.
 * A C parent so that neither Python's CPU nor its RSS
 * high-water mark (which survives execve) leaks into the figures.
 *   usage: submitters [-p P] [-n N] [-i FILE] [-e LOG] [-l LATFILE] [-R [-T SECONDS]]
 *                     [-u UID:GID] -- CMD ARGS...
 * Trusts its arguments (a benchmark tool, run by the benchmark only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUBMITTERS 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* -u UID:GID: the runs' user (-1: the driver's own). */
static long run_uid = -1, run_gid = -1;

/* In a run's child, after its files are open: become the user for good. */
static int become_user(void)
{
	if (run_uid < 0)
		return 0;
	gid_t g = (gid_t)run_gid;
	return setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 || setresuid((uid_t)run_uid, (uid_t)run_uid, (uid_t)run_uid) < 0
		       ? -1
		       : 0;
}

/* One run of the command; returns its exit status (-1: did not run). */
static int run_one(char **cmd, const char *input, const char *errlog)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = open(input ? input : "/dev/null", O_RDONLY);
		int out = open("/dev/null", O_WRONLY);
		int err = errlog ? open(errlog, O_WRONLY | O_APPEND | O_CREAT, 0644) : out;
		if (in < 0 || out < 0 || err < 0 || become_user() < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execv(cmd[0], cmd);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A submitter: runs its share, appends its latencies, exits with the
 * number of failed runs (capped). */
static int submitter(char **cmd, long runs, const char *input, const char *errlog, const char *latfile)
{
	long *lat = calloc(runs ? (size_t)runs : 1, sizeof(*lat));
	long failed = 0;
	if (!lat)
		return 255;
	for (long i = 0; i < runs; i++) {
		double t0 = now_s();
		if (run_one(cmd, input, errlog) != 0)
			failed++;
		lat[i] = (long)((now_s() - t0) * 1e6);
	}
	if (latfile) {
		size_t cap = (size_t)runs * 24 + 1, len = 0;
		char *text = malloc(cap);
		if (!text)
			return 255;
		for (long i = 0; i < runs; i++)
			len += (size_t)snprintf(text + len, cap - len, "%ld\n", lat[i]);
		int fd = open(latfile, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fd < 0 || write(fd, text, len) != (ssize_t)len)
			return 255;
		close(fd);
		free(text);
	}
	free(lat);
	return failed > 254 ? 254 : (int)failed;
}

int main(int argc, char **argv)
{
	long procs = 1, total = 1;
	const char *input = NULL, *errlog = NULL, *latfile = NULL;
	int subreaper = 0;
	unsigned reap_timeout = 600;
	int c;
	while ((c = getopt(argc, argv, "+p:n:i:e:l:RT:u:")) != -1) {
		switch (c) {
		case 'p': procs = strtol(optarg, NULL, 10); break;
		case 'n': total = strtol(optarg, NULL, 10); break;
		case 'i': input = optarg; break;
		case 'e': errlog = optarg; break;
		case 'l': latfile = optarg; break;
		case 'R': subreaper = 1; break;
		case 'T': reap_timeout = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'u':
			if (sscanf(optarg, "%ld:%ld", &run_uid, &run_gid) != 2 || run_uid < 0 || run_gid < 0)
				goto usage;
			break;
		default: goto usage;
		}
	}
	if (optind >= argc || procs < 1 || procs > MAX_SUBMITTERS || total < 1)
		goto usage;
	char **cmd = argv + optind;

	if (subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("prctl");
		return 2;
	}
	pid_t pids[MAX_SUBMITTERS];
	double t0 = now_s();
	for (long k = 0; k < procs; k++) {
		long share = total / procs + (k < total % procs);
		pids[k] = fork();
		if (pids[k] < 0) {
			perror("fork");
			return 2;
		}
		if (pids[k] == 0)
			_exit(submitter(cmd, share, input, errlog, latfile));
	}
	long failed = 0;
	for (long k = 0; k < procs; k++) {
		int st;
		while (waitpid(pids[k], &st, 0) < 0)
			if (errno != EINTR) {
				perror("waitpid");
				return 2;
			}
		failed += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	double wall = now_s() - t0, wall_all = wall;
	long orphans = 0, timed_out = 0;
	if (subreaper) {
		double deadline = now_s() + reap_timeout;
		for (;;) {
			int st;
			pid_t p = waitpid(-1, &st, WNOHANG);
			if (p > 0) {
				orphans++;
				continue;
			}
			if (p < 0 && errno == ECHILD)
				break;
			if (now_s() > deadline) {
				timed_out = 1;
				break;
			}
			usleep(2000);
		}
		wall_all = now_s() - t0;
	}
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("{\"runs\": %ld, \"procs\": %ld, \"wall_s\": %.6f, \"user_s\": %.6f, \"sys_s\": %.6f, "
	       "\"maxrss_kib\": %ld, \"failed\": %ld, \"wall_all_s\": %.6f, \"orphans\": %ld, "
	       "\"timed_out\": %ld}\n",
	       total, procs, wall, tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss, failed, wall_all, orphans,
	       timed_out);
	return failed ? 1 : 0;
usage:
	fprintf(stderr, "usage: submitters [-p P] [-n N] [-i FILE] [-e LOG] [-l LATFILE] [-R [-T SECONDS]] "
			"[-u UID:GID] -- CMD ARGS...\n");
	return 2;
}
