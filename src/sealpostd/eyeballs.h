/*
 * eyeballs.h - dual-stack connects (RFC 8305, "Happy Eyeballs v2"): the
 * relay's addresses are tried in an order that alternates the families,
 * a new attempt every EYEBALLS_STAGGER_MS (or at once when the previous
 * one failed) while the earlier ones keep going; the first to connect
 * wins and the others are closed. A family that lost a race (it failed,
 * or had not connected when the other family did) goes second for
 * EYEBALLS_AVOID_MS, so a dead IPv6 route costs at most one stagger per
 * worker process, never the connect timeout on every message. Only the
 * TCP connect is raced: TLS verification afterwards is against the
 * configured name (tls.c), whichever address won. Runs as the worker's
 * user; addresses come from resolve.c, nothing else is trusted.
 */
#ifndef SEALPOSTD_EYEBALLS_H
#define SEALPOSTD_EYEBALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolve.h"

#define EYEBALLS_STAGGER_MS 250u                   /* RFC 8305 §8: recommended 250 ms */
#define EYEBALLS_AVOID_MS (10u * 60u * 1000u)      /* how long a losing family goes second */

/* What a worker process remembers between connects. */
struct eyeballs_memory {
	int avoid_family;          /* AF_INET6, AF_INET, or 0 */
	uint64_t until_ms;         /* monotonic ms when the avoidance ends */
};

/* The family to try second at time now_ms (0: none). */
int eyeballs_avoided(const struct eyeballs_memory *m, uint64_t now_ms);

/* Order in for the race (RFC 8305 §4): the families alternate, each in
 * the resolver's order, starting with the family of the first address
 * (getaddrinfo's RFC 6724 choice) unless that family is avoid_family and
 * the other one has addresses. */
void eyeballs_order(const struct resolved *in, int avoid_family, struct resolved *out);

enum eyeballs_attempt { EB_UNTRIED, EB_FAILED, EB_LOST, EB_WON };

struct eyeballs_race {
	enum eyeballs_attempt state[RESOLVE_MAX];  /* per address of the order raced */
	size_t winner;                             /* valid when the race returned a socket */
	bool all_timed_out;                        /* every attempt failed by timing out */
};

/*
 * Race the addresses of addrs in their order: attempt i starts stagger_ms
 * after attempt i-1, or as soon as every earlier attempt has failed; each
 * gets timeout_ms from its own start. Returns the connected socket
 * (non-blocking, close-on-exec), the others closed, or -1 with why
 * ("Connection refused", or "ADDR: reason; ADDR: reason" for several).
 */
int eyeballs_race(const struct resolved *addrs, unsigned stagger_ms, uint64_t timeout_ms, struct eyeballs_race *r,
		  char *why, size_t whylen);

/* Update m after a race over addrs at now_ms. True when a family has just
 * become avoided (*avoided, *preferred: which one lost, which one won). */
bool eyeballs_learn(struct eyeballs_memory *m, const struct resolved *addrs, const struct eyeballs_race *r,
		    uint64_t now_ms, int *avoided, int *preferred);

/*
 * The worker's connect: order by this process's memory, race with the
 * stagger, learn, and log (once per episode) a family that lost. Returns
 * the socket with *winner the address that connected, or -1 with why and
 * *timed_out. host names the relay in the log line only.
 */
int eyeballs_connect(const char *host, const struct resolved *addrs, unsigned timeout_s,
		     struct resolved_addr *winner, bool *timed_out, char *why, size_t whylen);

#endif
