/*
 * aliases.h - recipient rewriting in the front end: sendmail-style alias
 * file plus the config's inline `alias` sections, expanded recursively with
 * loop detection, then bare names qualified with `domain`.
 * No privilege; the alias file is read as the caller.
 *
 * Semantics (details in aliases.c): inline aliases win over the file; a
 * name repeated in the file keeps its first entry (warning); |pipe, /file
 * and :include: targets are skipped with a warning; "name@domain" with the
 * configured domain matches alias "name"; an alias listing itself ends at
 * its own (qualified) name, as in sendmail; any other cycle is an error;
 * at most 10 levels and 1000 results; results are deduplicated
 * case-insensitively within one aliases_expand() call.
 */
#ifndef SEALPOST_ALIASES_H
#define SEALPOST_ALIASES_H

#include "conf.h"

struct aliases;

/* Load cfg's aliases_file (missing file: no aliases) and inline aliases.
 * 0, or -1 with "FILE:LINE: ..." in err (caller exits EX_CONFIG). */
int aliases_load(const struct sp_config *cfg, struct aliases **out, char *err, size_t errlen);
void aliases_free(struct aliases *a);

/* Expand addr (as given by the caller) to final qualified addresses; fn is
 * called once per distinct result with the original recipient (orcpt).
 * Returns 0, fn's non-zero value, or -1 (loop, bad target) with err. */
int aliases_expand(const struct aliases *a, const char *addr, const char *domain,
		   int (*fn)(const char *addr, const char *orcpt, void *ctx), void *ctx,
		   char *err, size_t errlen);

/* "root" -> "root@domain"; qualified addresses are returned as copies. */
char *address_qualify(const char *addr, const char *domain);

#endif
