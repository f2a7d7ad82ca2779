/*
 * test_eyeballs.c - the dual-stack connect race (src/sealpostd/eyeballs.c):
 * the order of the addresses (families interleaved, a losing family
 * second), the memory of a losing family on a fake clock, and the race
 * itself against loopback sockets: a refused address, a live listener,
 * and a listener whose accept queue is full (the kernel drops the SYNs:
 * a black hole that needs no privilege).
 */
#include "config.h"

#include "eyeballs.h"
#include "unit.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* "4:1" = 127.0.0.1, "6:2" = ::2, on port */
static struct resolved_addr addr(const char *spec, unsigned port)
{
	struct resolved_addr a;
	memset(&a, 0, sizeof(a));
	if (spec[0] == '4') {
		struct sockaddr_in *s = (struct sockaddr_in *)&a.addr;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		s->sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)atoi(spec + 2));
		a.family = AF_INET;
		a.len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a.addr;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		s->sin6_addr.s6_addr[15] = (unsigned char)atoi(spec + 2);
		a.family = AF_INET6;
		a.len = sizeof(*s);
	}
	return a;
}

/* "6:1 4:1 6:2" -> a resolved list */
static void list(const char *specs, unsigned port, struct resolved *out)
{
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", specs);
	out->n = 0;
	for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && out->n < RESOLVE_MAX;
	     t = strtok_r(NULL, " ", &save))
		out->a[out->n++] = addr(t, port);
}

static void spec_of(const struct resolved *r, char *out, size_t outlen)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->n && len + 8 < outlen; i++) {
		const struct resolved_addr *a = &r->a[i];
		unsigned last = a->family == AF_INET
				      ? ntohl(((const struct sockaddr_in *)&a->addr)->sin_addr.s_addr) & 0xff
				      : ((const struct sockaddr_in6 *)&a->addr)->sin6_addr.s6_addr[15];
		len += (size_t)snprintf(out + len, outlen - len, "%s%c:%u", i ? " " : "",
					a->family == AF_INET ? '4' : '6', last);
	}
}

/* CHECK_STR for arrays (its null test would warn) */
#define CHECK_TEXT(got, want, name) \
	CHECK(strcmp((got), (want)) == 0, "%s: got \"%s\", want \"%s\"", (name), (got), (want))

static void test_order(void)
{
	static const struct {
		const char *name, *in;
		int avoid;
		const char *want;
	} cases[] = {
		{ "IPv6 first, alternating", "6:1 6:2 4:1 4:2", 0, "6:1 4:1 6:2 4:2" },
		{ "IPv4 first when the resolver says so", "4:1 4:2 6:1", 0, "4:1 6:1 4:2" },
		{ "an avoided IPv6 goes second", "6:1 6:2 4:1 4:2", AF_INET6, "4:1 6:1 4:2 6:2" },
		{ "avoiding the family already second changes nothing", "6:1 4:1", AF_INET, "6:1 4:1" },
		{ "one family: avoidance cannot apply", "6:1 6:2", AF_INET6, "6:1 6:2" },
		{ "more of one family: the rest at the end", "4:1 6:1 6:2 6:3", 0, "4:1 6:1 6:2 6:3" },
		{ "a single address", "4:1", 0, "4:1" },
		{ "nothing", "", 0, "" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct resolved in, out;
		list(cases[i].in, 25, &in);
		eyeballs_order(&in, cases[i].avoid, &out);
		char got[128];
		spec_of(&out, got, sizeof(got));
		CHECK_TEXT(got, cases[i].want, cases[i].name);
	}
}

static struct eyeballs_race race_of(size_t n, const enum eyeballs_attempt *states, size_t winner)
{
	struct eyeballs_race r;
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < n; i++)
		r.state[i] = states[i];
	r.winner = winner;
	return r;
}

static void test_memory(void)
{
	struct eyeballs_memory m = { 0, 0 };
	struct resolved two;
	list("6:1 4:1", 25, &two);
	int avoided = 0, preferred = 0;

	/* IPv6 was still connecting when IPv4 won: IPv6 goes second */
	struct eyeballs_race r = race_of(2, (enum eyeballs_attempt[]){ EB_LOST, EB_WON }, 1);
	CHECK(eyeballs_learn(&m, &two, &r, 1000, &avoided, &preferred), "a new episode is reported");
	CHECK(avoided == AF_INET6 && preferred == AF_INET, "IPv6 lost to IPv4");
	CHECK(eyeballs_avoided(&m, 1000) == AF_INET6, "avoided at once");
	CHECK(eyeballs_avoided(&m, 1000 + EYEBALLS_AVOID_MS - 1) == AF_INET6, "avoided until the end");
	CHECK(eyeballs_avoided(&m, 1000 + EYEBALLS_AVOID_MS) == 0, "forgotten after EYEBALLS_AVOID_MS");

	/* losing again within the period is the same episode: not reported */
	CHECK(!eyeballs_learn(&m, &two, &r, 2000, &avoided, &preferred), "same episode");
	CHECK(eyeballs_avoided(&m, 2000 + EYEBALLS_AVOID_MS - 1) == AF_INET6, "the period restarts");

	/* the avoided family wins (the other one failed): it is trusted again */
	struct resolved back;
	list("4:1 6:1", 25, &back);
	r = race_of(2, (enum eyeballs_attempt[]){ EB_FAILED, EB_WON }, 1);
	CHECK(eyeballs_learn(&m, &back, &r, 3000, &avoided, &preferred), "IPv4 lost now");
	CHECK(eyeballs_avoided(&m, 3000) == AF_INET, "now IPv4 goes second");

	/* a first attempt that wins alone teaches nothing, but clears its family */
	r = race_of(2, (enum eyeballs_attempt[]){ EB_WON, EB_UNTRIED }, 0);
	CHECK(!eyeballs_learn(&m, &back, &r, 4000, &avoided, &preferred), "nothing to report");
	CHECK(eyeballs_avoided(&m, 4000) == 0, "IPv4 connected: no longer avoided");

	/* nothing connected: neither family is better */
	struct eyeballs_memory fresh = { 0, 0 };
	r = race_of(2, (enum eyeballs_attempt[]){ EB_FAILED, EB_FAILED }, 99); /* no socket: winner invalid */
	CHECK(!eyeballs_learn(&fresh, &two, &r, 5000, &avoided, &preferred), "all failed");
	CHECK(eyeballs_avoided(&fresh, 5000) == 0, "all failed: nothing avoided");

	/* losing to an address of the same family says nothing about families */
	struct resolved same;
	list("6:1 6:2", 25, &same);
	r = race_of(2, (enum eyeballs_attempt[]){ EB_LOST, EB_WON }, 1);
	CHECK(!eyeballs_learn(&fresh, &same, &r, 6000, &avoided, &preferred), "same family");
	CHECK(eyeballs_avoided(&fresh, 6000) == 0, "same family: nothing avoided");
}

/* A listener on 127.0.0.1 (backlog as given); its port in *port. */
static int listener(int backlog, unsigned *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, backlog) < 0)
		return -1;
	socklen_t len = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static unsigned closed_port(void)
{
	unsigned port = 0;
	int fd = listener(1, &port);
	close(fd);
	return port;
}

/* A listener whose accept queue is full: further SYNs are dropped, as a
 * black-holed route would. *filler is the connection that fills it. */
static int black_hole(unsigned *port, int *filler)
{
	int fd = listener(0, port);
	if (fd < 0)
		return -1;
	struct resolved_addr a = addr("4:1", *port);
	*filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(*filler, (struct sockaddr *)&a.addr, a.len) < 0)
		return -1;
	/* a probe must time out, or this kernel does not drop the SYNs */
	struct resolved probe = { .n = 1, .a = { a } };
	struct eyeballs_race r;
	char why[128];
	int p = eyeballs_race(&probe, 0, 300, &r, why, sizeof(why));
	if (p >= 0) {
		close(p);
		return -2;
	}
	return fd;
}

static void test_race(void)
{
	unsigned live_port = 0, hole_port = 0;
	int live = listener(16, &live_port);
	CHECK(live >= 0, "listener: %s", strerror(errno));
	unsigned refused_port = closed_port();
	struct eyeballs_race r;
	char why[300];

	/* refused, then live: the failure starts the next attempt at once
	 * (a 20 s stagger would otherwise be waited for) */
	struct resolved rl = { .n = 2, .a = { addr("4:1", refused_port), addr("4:1", live_port) } };
	uint64_t t0 = now_ms();
	int fd = eyeballs_race(&rl, 20000, 5000, &r, why, sizeof(why));
	uint64_t took = now_ms() - t0;
	CHECK(fd >= 0, "refused then live: %s", why);
	CHECK(r.winner == 1 && r.state[0] == EB_FAILED && r.state[1] == EB_WON, "winner %zu", r.winner);
	CHECK(took < 10000, "the stagger was waited for after a failure: %llu ms", (unsigned long long)took);
	if (fd >= 0)
		close(fd);

	/* every address refused: each reason, with its address */
	struct resolved rr = { .n = 2, .a = { addr("4:1", refused_port), addr("4:2", refused_port) } };
	fd = eyeballs_race(&rr, 250, 5000, &r, why, sizeof(why));
	CHECK(fd < 0 && !r.all_timed_out, "all refused");
	CHECK_TEXT(why, "127.0.0.1: Connection refused; 127.0.0.2: Connection refused", "all refused");

	/* one address: the reason alone, as before the race existed */
	struct resolved one = { .n = 1, .a = { addr("4:1", refused_port) } };
	fd = eyeballs_race(&one, 250, 5000, &r, why, sizeof(why));
	CHECK(fd < 0, "one refused");
	CHECK_TEXT(why, "Connection refused", "one refused");

	int filler = -1;
	int hole = black_hole(&hole_port, &filler);
	if (hole == -2) {
		printf("test_eyeballs: SYNs to a full accept queue are answered here: black-hole cases skipped\n");
	} else {
		CHECK(hole >= 0, "black hole listener: %s", strerror(errno));
		/* black hole first, live second: the live one starts after the
		 * stagger and wins; the black hole lost (still pending) */
		struct resolved hl = { .n = 2, .a = { addr("4:1", hole_port), addr("4:1", live_port) } };
		t0 = now_ms();
		fd = eyeballs_race(&hl, 50, 20000, &r, why, sizeof(why));
		took = now_ms() - t0;
		CHECK(fd >= 0, "black hole then live: %s", why);
		CHECK(r.winner == 1 && r.state[0] == EB_LOST && r.state[1] == EB_WON, "winner %zu", r.winner);
		CHECK(took >= 50, "the live address started before the stagger: %llu ms", (unsigned long long)took);
		CHECK(took < 10000, "the black hole's timeout was waited for: %llu ms", (unsigned long long)took);
		if (fd >= 0)
			close(fd);

		/* only the black hole: its own timeout, reported as a timeout */
		struct resolved h = { .n = 1, .a = { addr("4:1", hole_port) } };
		fd = eyeballs_race(&h, 50, 200, &r, why, sizeof(why));
		CHECK(fd < 0 && r.all_timed_out, "black hole alone times out");
		CHECK_TEXT(why, "connection timed out", "black hole alone");

		/* black hole and refused: not all timed out, both reasons */
		struct resolved hr = { .n = 2, .a = { addr("4:1", hole_port), addr("4:2", refused_port) } };
		fd = eyeballs_race(&hr, 50, 200, &r, why, sizeof(why));
		CHECK(fd < 0 && !r.all_timed_out, "black hole and refused");
		CHECK_TEXT(why, "127.0.0.1: connection timed out; 127.0.0.2: Connection refused", "hole+refused");
		close(filler);
		close(hole);
	}
	close(live);
}

int main(void)
{
	test_order();
	test_memory();
	test_race();
	return unit_done("test_eyeballs");
}
