/*
 * health.h - sealpostd --health (SPEC section 8): is mail flowing, read
 * from the spool and the metrics state only (no daemon, no network), for
 * container health checks, systemd and monitoring plugins. Runs as
 * whoever calls it (it only reads); trusts the spool as the worker does.
 */
#ifndef SEALPOSTD_HEALTH_H
#define SEALPOSTD_HEALTH_H

#include <stdio.h>

#include "conf.h"

#define HEALTH_DEFAULT_MAX_AGE 3600

/*
 * 0 when no queued message (held ones aside: a person held them) is older
 * than max_age seconds and no configured relay's last attempt failed for
 * a reason a person must fix (certificate refused, AUTH refused, OAuth
 * token refused, configuration error); else 1. Either way one line on
 * out saying so ("OK: ..." or what is wrong, the worst first, with how
 * many more problems there are). A spool it cannot list is 1 too.
 */
int health_check(const struct sp_config *cfg, unsigned max_age, FILE *out);

#endif
