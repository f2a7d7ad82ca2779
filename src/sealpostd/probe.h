/*
 * probe.h - sealpostd --probe: connect to every relay, secure and
 * authenticate the session exactly as for delivery, and report the
 * capabilities, the certificate chain (names, issuer, expiry, SPKI pin)
 * and whether the policy accepts it. Sends no mail.
 */
#ifndef SEALPOSTD_PROBE_H
#define SEALPOSTD_PROBE_H

#include <stdbool.h>
#include <stdio.h>

#include "conf.h"

/* 0 when every relay was reachable and accepted, else EX_UNAVAILABLE. */
int probe_relays(const struct sp_config *cfg, bool trace, FILE *out);

#endif
