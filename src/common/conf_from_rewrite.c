/*
 * conf_from_rewrite.c - the check of a relay's from_rewrite (SPEC §7) at
 * load time. The address is written verbatim into MAIL FROM:<...> and a
 * From: header, so it must be a plain ASCII addr-spec that the RFC 5322
 * parser reads back unchanged: no display name, no comment, no quoting
 * that would change meaning, no control or space. Runs wherever the
 * config is loaded; trusts nothing in the value.
 */
#include "config.h"

#include "address.h"
#include "conf_internal.h"

#include <stdlib.h>
#include <string.h>

const char *conf_from_rewrite_invalid(const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (!at || at == addr || !at[1])
		return "must be a plain address (user@domain)";
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		if (*p >= 0x80)
			return "must be ASCII (a From: header and MAIL FROM need no SMTPUTF8)";
	char *parsed = NULL;
	char why[128];
	bool same = address_parse_one(addr, &parsed, why, sizeof(why)) == 0 && strcmp(parsed, addr) == 0 &&
		    address_smtp_safe(parsed) && !strpbrk(addr, "()<>,;:\\\"[] \t");
	free(parsed);
	return same ? NULL : "must be a plain address (user@domain)";
}
