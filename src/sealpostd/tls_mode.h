/*
 * tls_mode.h - tell the admin when a relay's tls mode does not match its
 * port (issue 15): tls = "starttls" against an implicit-TLS port (465),
 * whose server waits for our ClientHello and never greets, and tls =
 * "implicit" against a port that greets in plaintext (587, 25). Runs as
 * the worker's user inside a session; trusts nothing the server sends.
 * It never sends a byte in plaintext: the STARTTLS-mode check only waits
 * and peeks, and its probe is a second connection that only does a TLS
 * handshake (a ClientHello, verified like any session) and closes.
 */
#ifndef SEALPOSTD_TLS_MODE_H
#define SEALPOSTD_TLS_MODE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "net.h"

/* How long a server may stay silent before the greeting until we ask
 * whether the port speaks TLS (at most a third of the command timeout). */
#define TLS_MODE_SILENT_MS 3000
/* The probe handshake's bound (and never past the greeting's deadline). */
#define TLS_MODE_PROBE_MS 5000

/*
 * STARTTLS mode, before reading the greeting (deadline_ms: the
 * greeting's). 0: read the greeting as usual. -1: the port expects TLS
 * from the first byte (the server sent a TLS record, or stayed silent and
 * a TLS handshake on the same port succeeds); err holds the reason ending
 * in the hint `port N expects TLS from the first byte: set tls =
 * "implicit"`.
 */
int tls_mode_check_greeting(struct netconn *c, const struct sp_config *cfg, const struct sp_relay *relay,
			    const struct sp_tls_policy *pol, uint64_t deadline_ms, char *err, size_t errlen);

/* Implicit mode, after a failed handshake (rc, err from net_start_tls):
 * when the server spoke plaintext ("An unexpected TLS packet was
 * received."), append the reverse hint to err. */
void tls_mode_hint_implicit(const struct sp_relay *relay, int rc, char *err, size_t errlen);

#endif
