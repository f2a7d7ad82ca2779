/*
 * tls_mode.c - the wrong-TLS-mode diagnosis (see tls_mode.h). The
 * evidence is the server's own behaviour: a TLS record where a greeting
 * belongs, silence followed by a TLS handshake that works on the same
 * port, or GnuTLS meeting plaintext where a ServerHello belongs.
 */
#include "config.h"

#include "tls_mode.h"
#include "outcome.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void starttls_hint(char *err, size_t errlen, const char *what, unsigned port)
{
	set_err(err, errlen, "%s: port %u expects TLS from the first byte: set tls = \"implicit\"", what, port);
}

/* A TLS record header: handshake (22) or alert (21), version 3.x. */
static bool looks_like_tls_record(int fd)
{
	unsigned char b[2];
	ssize_t n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	return n == 2 && (b[0] == 0x16 || b[0] == 0x15) && b[1] == 0x03;
}

/* Does host:port answer a TLS handshake? Only a completed handshake, a
 * certificate our policy refuses, or a TLS alert count: a plaintext
 * server (that greets late) or a silent one does not. */
static bool port_speaks_tls(const struct sp_config *cfg, const struct sp_relay *relay,
			    const struct sp_tls_policy *pol, uint64_t deadline_ms)
{
	struct netconn p;
	char e[400] = "";
	net_init(&p);
	bool tls = false;
	if (net_connect(&p, relay->host, relay->port, cfg->timeouts.connect, e, sizeof(e)) == 0) {
		int rc = net_start_tls(&p, pol, relay->host, NULL, deadline_ms, e, sizeof(e));
		tls = rc == 0 || rc == LOCAL_TLS_VERIFY || (rc == LOCAL_TLS && strstr(e, "alert") != NULL);
	}
	net_close(&p);
	return tls;
}

int tls_mode_check_greeting(struct netconn *c, const struct sp_config *cfg, const struct sp_relay *relay,
			    const struct sp_tls_policy *pol, uint64_t deadline_ms, char *err, size_t errlen)
{
	if (c->tls || net_has_buffered(c))
		return 0;
	uint64_t now = now_ms();
	if (deadline_ms <= now)
		return 0;
	uint64_t silent = (deadline_ms - now) / 3;
	if (silent > TLS_MODE_SILENT_MS)
		silent = TLS_MODE_SILENT_MS;
	int w = net_wait(c->fd, false, now + silent);
	if (w > 0) {
		if (looks_like_tls_record(c->fd)) {
			starttls_hint(err, errlen, "the server sent a TLS record instead of a greeting", relay->port);
			return -1;
		}
		return 0;
	}
	if (w < 0)
		return 0; /* the greeting's read reports it */
	uint64_t probe_deadline = now_ms() + TLS_MODE_PROBE_MS;
	if (probe_deadline > deadline_ms)
		probe_deadline = deadline_ms;
	if (!port_speaks_tls(cfg, relay, pol, probe_deadline))
		return 0;
	char what[96];
	snprintf(what, sizeof(what), "no greeting after %u s, and the port answers a TLS handshake",
		 (unsigned)((silent + 999) / 1000));
	starttls_hint(err, errlen, what, relay->port);
	return -1;
}

void tls_mode_hint_implicit(const struct sp_relay *relay, int rc, char *err, size_t errlen)
{
	if (relay->tls != SP_TLS_IMPLICIT || rc != LOCAL_TLS ||
	    (!strstr(err, "unexpected TLS packet") && !strstr(err, "unexpected length")))
		return;
	size_t n = strlen(err);
	if (n + 1 < errlen)
		snprintf(err + n, errlen - n,
			 ": port %u greets in plaintext (STARTTLS): set tls = \"starttls\"", relay->port);
}
