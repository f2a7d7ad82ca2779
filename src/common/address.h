/*
 * address.h - RFC 5322 address parsing: display names, quoted strings,
 * comments, groups, folded headers, obsolete forms where harmless. Pure
 * functions, no privilege, input is hostile: every loop and nesting depth
 * is bounded. Used by the front end (-t, arguments, -bs) and fuzzed.
 */
#ifndef SEALPOST_ADDRESS_H
#define SEALPOST_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* Addresses are handed out in canonical SMTP form (a quoted local part is
 * unquoted when it is a dot-atom), at most 254 octets, local part at most
 * 64, valid UTF-8, RFC 5321 domain characters; so every one passes
 * address_smtp_safe(). Accepted leniencies: ';' outside a group separates
 * like ',', a group may lack its final ';', bare local names.
 *
 * Called once per addr-spec found ("local@domain" or a bare "local"), in
 * order. Return non-zero to stop parsing (that value is returned). */
typedef int (*addr_fn)(const char *addr, void *ctx);

/* Parse an address-list (a To:/Cc:/Bcc: value, or a recipient argument,
 * which may hold "a@x, b@y"). Empty groups yield nothing. Returns 0, the
 * callback's non-zero value, or -1 with a reason in err. */
int addrlist_parse(const char *s, size_t len, addr_fn fn, void *ctx, char *err, size_t errlen);

/* Parse exactly one address ("a@x", "<a@x>", "Name <a@x>", "<>" or "").
 * *out is malloc'ed ("" for the null sender). 0, or -1 with err. */
int address_parse_one(const char *s, char **out, char *err, size_t errlen);

/* True when the address is safe to put in SMTP MAIL/RCPT: no controls,
 * no spaces outside a quoted local part, bounded length (RFC 5321). */
bool address_smtp_safe(const char *addr);
/* True when the address has non-ASCII bytes (needs SMTPUTF8). */
bool address_needs_utf8(const char *addr);

#endif
