/*
 * bs_parse.c - the -bs command parser: verbs, MAIL FROM:/RCPT TO: paths,
 * RFC 3461 xtext and NOTIFY values. Pure functions over one bounded
 * command line (BS_MAX_LINE), so they are unit-tested and fuzzable on
 * their own. No privilege; the input is the client's and hostile.
 */
#include "config.h"

#include "bs.h"

#include <string.h>

#include "address.h"
#include "util.h"

static const struct {
	const char *name;
	enum bs_verb verb;
} verbs[] = {
	{ "HELO", BS_HELO }, { "EHLO", BS_EHLO }, { "MAIL", BS_MAIL }, { "RCPT", BS_RCPT },
	{ "DATA", BS_DATA }, { "RSET", BS_RSET }, { "NOOP", BS_NOOP }, { "QUIT", BS_QUIT },
	{ "VRFY", BS_VRFY }, { "EXPN", BS_EXPN }, { "HELP", BS_HELP },
	{ "STARTTLS", BS_NOT_IMPLEMENTED }, { "AUTH", BS_NOT_IMPLEMENTED },
	{ "BDAT", BS_NOT_IMPLEMENTED }, { "ETRN", BS_NOT_IMPLEMENTED },
	{ "TURN", BS_NOT_IMPLEMENTED }, { "ATRN", BS_NOT_IMPLEMENTED },
};

enum bs_verb bs_parse_verb(const char *line, const char **arg)
{
	size_t n = strcspn(line, " ");
	const char *a = line + n;
	while (*a == ' ')
		a++;
	*arg = a;
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++) {
		if (strlen(verbs[i].name) == n && ascii_ncasecmp(line, verbs[i].name, n) == 0)
			return verbs[i].verb;
	}
	return BS_UNKNOWN;
}

int bs_parse_path(const char *arg, const char *keyword, struct bs_path *out)
{
	size_t kl = strlen(keyword);
	out->addr[0] = '\0';
	out->params = "";
	if (ascii_ncasecmp(arg, keyword, kl) != 0 || arg[kl] != ':')
		return -1;
	const char *p = arg + kl + 1;
	while (*p == ' ')
		p++;
	const char *inner, *end;
	if (*p == '<') {
		inner = ++p;
		bool quoted = false;
		for (; *p && (quoted || *p != '>'); p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (quoted && *p == '\\' && p[1])
				p++;
		}
		if (*p != '>')
			return -1;
		end = p++;
	} else {
		inner = p;
		p += strcspn(p, " ");
		end = p;
		if (end == inner)
			return -1;
	}
	if (*p != '\0' && *p != ' ')
		return -1;
	while (*p == ' ')
		p++;
	out->params = p;
	/* a source route (<@a,@b:user@x>) is accepted and ignored */
	if (*inner == '@') {
		const char *colon = memchr(inner, ':', (size_t)(end - inner));
		if (!colon)
			return -2;
		inner = colon + 1;
	}
	size_t n = (size_t)(end - inner);
	if (n > BS_MAX_PATH)
		return -2;
	memcpy(out->addr, inner, n);
	out->addr[n] = '\0';
	if (n == 0)
		return 0;
	return address_smtp_safe(out->addr) ? 0 : -2;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool bs_xtext_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (i + 2 >= n)
				return false;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=') {
			return false;
		}
		if (c < 0x20 || c == 0x7f || j + 1 >= outlen)
			return false;
		out[j++] = (char)c;
	}
	if (outlen == 0)
		return false;
	out[j] = '\0';
	return true;
}

unsigned bs_parse_notify(const char *s, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} kw[] = { { "NEVER", NOTIFY_NEVER }, { "SUCCESS", NOTIFY_SUCCESS },
		   { "FAILURE", NOTIFY_FAILURE }, { "DELAY", NOTIFY_DELAY } };
	unsigned bits = 0;
	size_t i = 0;
	while (i < n) {
		size_t len = 0;
		while (i + len < n && s[i + len] != ',')
			len++;
		unsigned bit = 0;
		for (size_t k = 0; k < ARRAY_LEN(kw); k++) {
			if (strlen(kw[k].name) == len && ascii_ncasecmp(s + i, kw[k].name, len) == 0)
				bit = kw[k].bit;
		}
		if (bit == 0 || (bits & bit))
			return 0;
		bits |= bit;
		i += len;
		if (i < n && ++i == n)
			return 0; /* trailing comma */
	}
	if ((bits & NOTIFY_NEVER) && bits != NOTIFY_NEVER)
		return 0;
	return bits;
}
