/*
 * resolve.c - bounded name resolution (see resolve.h). The child runs
 * getaddrinfo() and writes one fixed-size report to a pipe; the parent
 * reads it until the deadline, then kills and reaps the child. The report
 * is checked like any other input before it is used.
 */
#include "config.h"

#include "resolve.h"
#include "net.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct report {
	int gai;                   /* getaddrinfo's result */
	struct resolved list;
};

static bool usable(const struct addrinfo *ai, size_t maxlen)
{
	return (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) && ai->ai_addrlen <= maxlen;
}

/* Keep up to RESOLVE_MAX addresses in the resolver's order, but never let
 * one family crowd the other out: up to half the slots are reserved for
 * each family, the rest go to whichever has more (for the race of
 * eyeballs.h, which needs both). */
static void fill(const struct addrinfo *res, struct resolved *out)
{
	enum { SCAN_MAX = 64 }; /* answers looked at: bounds the work */
	bool take[SCAN_MAX] = { false };
	size_t per_family[2] = { 0, 0 }, taken = 0, k = 0;
	for (const struct addrinfo *ai = res; ai && k < SCAN_MAX; ai = ai->ai_next, k++) {
		size_t f = ai->ai_family == AF_INET6;
		if (usable(ai, sizeof(out->a[0].addr)) && per_family[f] < RESOLVE_MAX / 2) {
			take[k] = true;
			per_family[f]++;
			taken++;
		}
	}
	k = 0;
	for (const struct addrinfo *ai = res; ai && k < SCAN_MAX && taken < RESOLVE_MAX; ai = ai->ai_next, k++)
		if (!take[k] && usable(ai, sizeof(out->a[0].addr))) {
			take[k] = true;
			taken++;
		}
	out->n = 0;
	k = 0;
	for (const struct addrinfo *ai = res; ai && k < SCAN_MAX; ai = ai->ai_next, k++) {
		if (!take[k])
			continue;
		struct resolved_addr *a = &out->a[out->n++];
		a->family = ai->ai_family;
		a->len = ai->ai_addrlen;
		memcpy(&a->addr, ai->ai_addr, ai->ai_addrlen);
	}
}

static int lookup(const char *host, unsigned port, int flags, struct resolved *out)
{
	char service[16];
	snprintf(service, sizeof(service), "%u", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = flags | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int gr = getaddrinfo(host, service, &hints, &res);
	if (gr == 0) {
		fill(res, out);
		freeaddrinfo(res);
	}
	return gr;
}

static bool report_valid(const struct report *r)
{
	if (r->gai != 0)
		return true;
	if (r->list.n > RESOLVE_MAX)
		return false;
	for (size_t i = 0; i < r->list.n; i++) {
		const struct resolved_addr *a = &r->list.a[i];
		socklen_t want = a->family == AF_INET ? sizeof(struct sockaddr_in)
			       : a->family == AF_INET6 ? sizeof(struct sockaddr_in6) : 0;
		if (want == 0 || a->len != want || a->addr.ss_family != a->family)
			return false;
	}
	return true;
}

int resolve_bounded(const char *host, unsigned port, unsigned timeout_s, struct resolved *out, char *err,
		    size_t errlen)
{
	/* an IP literal needs no resolver, and never blocks */
	int gr = lookup(host, port, AI_NUMERICHOST, out);
	if (gr == 0)
		return 0;

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		set_err(err, errlen, "cannot resolve %s: pipe: %s", host, strerror(errno));
		return EAI_AGAIN;
	}
	pid_t pid = fork();
	if (pid < 0) {
		set_err(err, errlen, "cannot resolve %s: fork: %s", host, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return EAI_AGAIN;
	}
	if (pid == 0) {
		close(pfd[0]);
		struct report r;
		memset(&r, 0, sizeof(r));
		r.gai = lookup(host, port, 0, &r.list);
		_exit(write_all(pfd[1], &r, sizeof(r)) == 0 ? 0 : 1);
	}
	close(pfd[1]);
	struct report r;
	size_t got = 0;
	int rc = net_read_until_eof(pfd[0], &r, sizeof(r), net_deadline(timeout_s), &got);
	close(pfd[0]);
	if (rc != 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (rc == -2) {
		set_err(err, errlen, "cannot resolve %s: no answer within %u s", host, timeout_s);
		return EAI_AGAIN;
	}
	if (rc != 0 || got != sizeof(r) || !report_valid(&r)) {
		set_err(err, errlen, "cannot resolve %s: the lookup failed", host);
		return EAI_AGAIN;
	}
	if (r.gai != 0) {
		set_err(err, errlen, "cannot resolve %s: %s", host, gai_strerror(r.gai));
		return r.gai;
	}
	if (r.list.n == 0) {
		set_err(err, errlen, "cannot resolve %s: no IPv4 or IPv6 address", host);
		return EAI_NONAME;
	}
	*out = r.list;
	return 0;
}
