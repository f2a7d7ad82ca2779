/*
 * eyeballs.c - the connection race of RFC 8305 (see eyeballs.h). At most
 * RESOLVE_MAX sockets are open at once; every wait is bounded by the
 * earliest of the next attempt's start and the attempts' own deadlines.
 */
#include "config.h"

#include "eyeballs.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int eyeballs_avoided(const struct eyeballs_memory *m, uint64_t now_ms)
{
	return m->avoid_family != 0 && now_ms < m->until_ms ? m->avoid_family : 0;
}

void eyeballs_order(const struct resolved *in, int avoid_family, struct resolved *out)
{
	out->n = 0;
	if (in->n == 0)
		return;
	int first = in->a[0].family;
	if (first == avoid_family) {
		for (size_t i = 0; i < in->n; i++)
			if (in->a[i].family != avoid_family) {
				first = in->a[i].family;
				break;
			}
	}
	/* the next unused address of each family, in the resolver's order */
	size_t next_first = 0, next_other = 0;
	bool want_first = true;
	while (out->n < in->n) {
		size_t *cursor = want_first ? &next_first : &next_other;
		while (*cursor < in->n && (in->a[*cursor].family == first) != want_first)
			(*cursor)++;
		if (*cursor < in->n)
			out->a[out->n++] = in->a[(*cursor)++];
		want_first = !want_first;
	}
}

static void addr_text(const struct resolved_addr *a, char *out, size_t outlen)
{
	if (getnameinfo((const struct sockaddr *)&a->addr, a->len, out, (socklen_t)outlen, NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(out, outlen, "?");
}

/* Start a non-blocking connect: the socket (in progress or connected,
 * *done says which), or -1 with *error. */
static int start_attempt(const struct resolved_addr *a, bool *done, int *error)
{
	*done = false;
	int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error = errno;
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->addr, a->len) == 0) {
		*done = true;
		return fd;
	}
	if (errno == EINPROGRESS)
		return fd;
	*error = errno;
	close(fd);
	return -1;
}

/* Has the connect on fd finished? 1 connected, 0 still going, -1 failed
 * with *error. Only called after poll() reported the socket. */
static int finish_attempt(int fd, int *error)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr == EINPROGRESS || soerr == EALREADY)
		return 0;
	if (soerr != 0) {
		*error = soerr;
		return -1;
	}
	return 1;
}

struct attempt {
	int fd;                    /* open while the attempt is pending */
	uint64_t deadline;
	int error;                 /* errno, or ETIMEDOUT for our own deadline */
};

static void describe_failures(const struct resolved *addrs, const struct eyeballs_race *r,
			      const struct attempt *at, char *why, size_t whylen)
{
	if (addrs->n == 1) {
		set_err(why, whylen, "%s", at[0].error == ETIMEDOUT ? "connection timed out" : strerror(at[0].error));
		return;
	}
	size_t len = 0;
	why[0] = '\0';
	for (size_t i = 0; i < addrs->n && len + 1 < whylen; i++) {
		if (r->state[i] != EB_FAILED)
			continue;
		char ip[64];
		addr_text(&addrs->a[i], ip, sizeof(ip));
		int w = snprintf(why + len, whylen - len, "%s%s: %s", len ? "; " : "", ip,
				 at[i].error == ETIMEDOUT ? "connection timed out" : strerror(at[i].error));
		if (w < 0)
			break;
		len += (size_t)w < whylen - len ? (size_t)w : whylen - len - 1;
	}
}

int eyeballs_race(const struct resolved *addrs, unsigned stagger_ms, uint64_t timeout_ms, struct eyeballs_race *r,
		  char *why, size_t whylen)
{
	struct attempt at[RESOLVE_MAX];
	size_t n = addrs->n < RESOLVE_MAX ? addrs->n : RESOLVE_MAX;
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < RESOLVE_MAX; i++) {
		r->state[i] = EB_UNTRIED;
		at[i].fd = -1;
		at[i].error = 0;
	}
	if (n == 0) {
		set_err(why, whylen, "no address");
		return -1;
	}
	size_t next = 0, pending = 0;
	uint64_t next_at = now_ms();
	int won = -1;
	while (won < 0 && (next < n || pending > 0)) {
		uint64_t now = now_ms();
		/* start what is due: the stagger has passed, or nothing is left
		 * in flight (every earlier attempt failed) */
		while (won < 0 && next < n && (now >= next_at || pending == 0)) {
			size_t i = next++;
			bool done;
			at[i].fd = start_attempt(&addrs->a[i], &done, &at[i].error);
			at[i].deadline = now + timeout_ms;
			if (at[i].fd < 0) {
				r->state[i] = EB_FAILED;
				continue;
			}
			r->state[i] = EB_LOST; /* in flight: it loses unless it wins */
			pending++;
			next_at = now + stagger_ms;
			if (done)
				won = (int)i;
		}
		if (won >= 0 || (pending == 0 && next >= n))
			break;

		struct pollfd p[RESOLVE_MAX];
		size_t who[RESOLVE_MAX], np = 0;
		uint64_t wake = next < n ? next_at : UINT64_MAX;
		for (size_t i = 0; i < next; i++) {
			if (r->state[i] != EB_LOST || at[i].fd < 0)
				continue;
			if (at[i].deadline <= now) { /* this attempt's own timeout */
				close(at[i].fd);
				at[i].fd = -1;
				at[i].error = ETIMEDOUT;
				r->state[i] = EB_FAILED;
				pending--;
				next_at = now; /* a failure starts the next attempt now */
				continue;
			}
			if (at[i].deadline < wake)
				wake = at[i].deadline;
			p[np] = (struct pollfd){ .fd = at[i].fd, .events = POLLOUT };
			who[np++] = i;
		}
		if (np == 0)
			continue; /* all in flight just timed out: start the next at once */
		uint64_t left = wake > now ? wake - now : 0;
		int pr = poll(p, np, left > 60000 ? 60000 : (int)left);
		if (pr < 0 && errno != EINTR) {
			int e = errno;
			for (size_t k = 0; k < np; k++) {
				close(at[who[k]].fd);
				at[who[k]].fd = -1;
				at[who[k]].error = e;
				r->state[who[k]] = EB_FAILED;
			}
			pending = 0;
			next = n; /* poll itself is broken: stop */
			break;
		}
		for (size_t k = 0; pr > 0 && k < np && won < 0; k++) {
			if (p[k].revents == 0)
				continue;
			size_t i = who[k];
			int f = finish_attempt(at[i].fd, &at[i].error);
			if (f == 1) {
				won = (int)i;
			} else if (f < 0) {
				close(at[i].fd);
				at[i].fd = -1;
				r->state[i] = EB_FAILED;
				pending--;
				next_at = now_ms(); /* a failure starts the next attempt now */
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if ((int)i != won && at[i].fd >= 0) {
			close(at[i].fd);
			at[i].fd = -1;
		}
	if (won >= 0) {
		r->state[won] = EB_WON;
		r->winner = (size_t)won;
		/* commands are flushed as whole batches: never wait for delayed ACKs */
		int one = 1;
		(void)setsockopt(at[won].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		return at[won].fd;
	}
	r->all_timed_out = true;
	for (size_t i = 0; i < n; i++)
		if (r->state[i] == EB_FAILED && at[i].error != ETIMEDOUT)
			r->all_timed_out = false;
	describe_failures(addrs, r, at, why, whylen);
	return -1;
}

bool eyeballs_learn(struct eyeballs_memory *m, const struct resolved *addrs, const struct eyeballs_race *r,
		    uint64_t now_ms, int *avoided, int *preferred)
{
	size_t n = addrs->n < RESOLVE_MAX ? addrs->n : RESOLVE_MAX;
	bool some_won = false;
	for (size_t i = 0; i < n; i++)
		some_won = some_won || r->state[i] == EB_WON;
	if (!some_won)
		return false; /* nothing connected: no family is better than the other */
	int winner = addrs->a[r->winner].family;
	int loser = 0;
	for (size_t i = 0; i < n; i++)
		if (addrs->a[i].family != winner && (r->state[i] == EB_FAILED || r->state[i] == EB_LOST))
			loser = addrs->a[i].family;
	if (loser == 0) {
		if (m->avoid_family == winner)
			m->avoid_family = 0; /* it works again */
		return false;
	}
	bool fresh = eyeballs_avoided(m, now_ms) != loser;
	m->avoid_family = loser;
	m->until_ms = now_ms + EYEBALLS_AVOID_MS;
	*avoided = loser;
	*preferred = winner;
	return fresh;
}

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : family == AF_INET ? "IPv4" : "?";
}

int eyeballs_connect(const char *host, const struct resolved *addrs, unsigned timeout_s,
		     struct resolved_addr *winner, bool *timed_out, char *why, size_t whylen)
{
	static struct eyeballs_memory memory; /* this worker process's */
	struct resolved order;
	eyeballs_order(addrs, eyeballs_avoided(&memory, now_ms()), &order);
	struct eyeballs_race r;
	int fd = eyeballs_race(&order, EYEBALLS_STAGGER_MS, (uint64_t)timeout_s * 1000, &r, why, whylen);
	*timed_out = fd < 0 && r.all_timed_out;
	if (fd < 0)
		return -1;
	*winner = order.a[r.winner];
	int avoided = 0, preferred = 0;
	bool fresh = eyeballs_learn(&memory, &order, &r, now_ms(), &avoided, &preferred);
	if (r.winner > 0) { /* a fallback: say so, and whether it is remembered */
		char first[64], won[64];
		addr_text(&order.a[0], first, sizeof(first));
		addr_text(winner, won, sizeof(won));
		char note[96] = "";
		if (fresh)
			snprintf(note, sizeof(note), "; %s goes first for %u min", family_name(preferred),
				 EYEBALLS_AVOID_MS / 60000);
		log_msg(LOG_INFO, "relay host %s: connected to %s; %s failed or was slower than %u ms%s", host, won,
			first, EYEBALLS_STAGGER_MS, note);
	}
	return fd;
}
