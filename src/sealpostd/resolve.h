/*
 * resolve.h - name resolution bounded by a timeout. A resolver that never
 * answers must not hold a worker longer than the connect timeout, and the
 * NSS modules a lookup loads should never map into the worker: a host
 * name is resolved in a short-lived child that reports the addresses over
 * a pipe (every address, both families, in the resolver's order; net.c
 * races them); an IP literal is converted in place.
 */
#ifndef SEALPOST_RESOLVE_H
#define SEALPOST_RESOLVE_H

#include <stddef.h>
#include <sys/socket.h>

#define RESOLVE_MAX 8 /* addresses per host: bounds the total connect time */

struct resolved_addr {
	int family;                /* AF_INET or AF_INET6 */
	socklen_t len;
	struct sockaddr_storage addr;
};

struct resolved {
	size_t n;
	struct resolved_addr a[RESOLVE_MAX];
};

/* 0, or an EAI_* code with the reason in err: EAI_AGAIN for a temporary
 * failure, the timeout included. */
int resolve_bounded(const char *host, unsigned port, unsigned timeout_s, struct resolved *out, char *err,
		    size_t errlen);

#endif
