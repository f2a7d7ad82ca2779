/*
 * aliases.c - sendmail-style aliases for the front end.
 *
 * Sources: the config's inline `alias` sections, then the alias file
 * (`name: target, target`, `#` comment lines, continuation lines starting
 * with whitespace). Inline aliases win over a file entry of the same name;
 * a name repeated in the file is warned about and its first entry kept
 * (Postfix's postalias does the same). Targets that deliver locally
 * (`|command`, `/file`, `:include:`) are warned about and skipped: sealpost
 * only relays. Names are case-insensitive; "name@domain" with the
 * configured domain looks up "name".
 *
 * Expansion is iterative (no recursion) with a stack of at most
 * ALIAS_MAX_DEPTH aliases and at most ALIAS_MAX_RESULTS addresses.
 * An alias that lists itself ("root: root, ops@x") ends at its own name,
 * as in sendmail: that address is delivered (qualified). Any other cycle
 * ("a: b", "b: a") is an error naming the chain, because it can only be a
 * mistake and would otherwise mail a surprising address.
 *
 * No privilege: the file is read as the caller; its content is trusted as
 * configuration but parsed defensively (bounded line length).
 */
#include "config.h"

#include "aliases.h"
#include "address.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIAS_MAX_DEPTH 10
#define ALIAS_MAX_RESULTS 1000
#define ALIAS_LINE_MAX 65536

struct alias_entry {
	char *name;
	char **targets;
	size_t ntargets;
};

struct aliases {
	struct alias_entry *e;
	size_t n, cap;
};

static int cmp_entry(const void *a, const void *b)
{
	return ascii_casecmp(((const struct alias_entry *)a)->name, ((const struct alias_entry *)b)->name);
}

static const struct alias_entry *lookup(const struct aliases *a, const char *name)
{
	struct alias_entry key = { .name = (char *)name };
	if (!a || a->n == 0)
		return NULL;
	return bsearch(&key, a->e, a->n, sizeof(*a->e), cmp_entry);
}

static bool have_name(const struct aliases *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++) /* during loading only: not sorted yet */
		if (ascii_casecmp(a->e[i].name, name) == 0)
			return true;
	return false;
}

static void entry_free(struct alias_entry *e)
{
	for (size_t i = 0; i < e->ntargets; i++)
		free(e->targets[i]);
	free(e->targets);
	free(e->name);
}

void aliases_free(struct aliases *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		entry_free(&a->e[i]);
	free(a->e);
	free(a);
}

static int add_target(const char *addr, void *ctx)
{
	struct alias_entry *e = ctx;
	if ((e->ntargets & (e->ntargets - 1)) == 0) /* grow at powers of two */
		e->targets = xreallocarray(e->targets, e->ntargets ? e->ntargets * 2 : 1, sizeof(*e->targets));
	e->targets[e->ntargets++] = xstrdup(addr);
	return 0;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Parse one comma-separated target list into e. where: "FILE:LINE" or
 * "CONFIG: alias" for messages. */
static int parse_targets(struct alias_entry *e, const char *rhs, const char *where, char *err, size_t errlen)
{
	size_t len = strlen(rhs), start = 0;
	bool quoted = false;
	unsigned parens = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len) { /* find the commas outside quotes and comments */
			char c = rhs[i];
			if (quoted) {
				if (c == '\\' && i + 1 < len)
					i++;
				else if (c == '"')
					quoted = false;
				continue;
			}
			if (c == '"')
				quoted = true;
			else if (c == '(' && parens < 64)
				parens++;
			else if (c == ')' && parens > 0)
				parens--;
			if (c != ',' || parens > 0)
				continue;
		}
		const char *item = rhs + start;
		size_t n = i - start;
		start = i + 1;
		while (n > 0 && is_wsp(*item))
			item++, n--;
		while (n > 0 && is_wsp(item[n - 1]))
			n--;
		if (n == 0)
			continue;
		const char *p = item[0] == '"' ? item + 1 : item;
		if (*p == '|' || *p == '/' || ascii_ncasecmp(p, ":include:", 9) == 0) {
			log_msg(LOG_WARNING, "%s: alias %s: target %.*s delivers locally; sealpost only relays, skipped",
				where, e->name, (int)(n > 80 ? 80 : n), item);
			continue;
		}
		char perr[200];
		if (addrlist_parse(item, n, add_target, e, perr, sizeof(perr)) != 0) {
			set_err(err, errlen, "%s: alias %s: %s", where, e->name, perr);
			return -1;
		}
	}
	return 0;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == ',' || *s == '"')
			return false;
	return true;
}

static struct alias_entry *new_entry(struct aliases *a, const char *name)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->e = xreallocarray(a->e, a->cap, sizeof(*a->e));
	}
	struct alias_entry *e = &a->e[a->n];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	return e;
}

/* One logical line of the file: "name: targets". */
static int file_entry(struct aliases *a, char *text, const char *where, char *err, size_t errlen)
{
	char *colon = strchr(text, ':');
	if (!colon) {
		set_err(err, errlen, "%s: missing ':' after the alias name", where);
		return -1;
	}
	*colon = '\0';
	size_t n = strlen(text);
	while (n > 0 && is_wsp(text[n - 1]))
		text[--n] = '\0';
	if (!valid_name(text)) {
		set_err(err, errlen, "%s: invalid alias name \"%.64s\"", where, text);
		return -1;
	}
	if (have_name(a, text)) {
		log_msg(LOG_WARNING, "%s: alias %s defined again (inline or earlier); this entry is ignored",
			where, text);
		return 0;
	}
	struct alias_entry *e = new_entry(a, text);
	if (parse_targets(e, colon + 1, where, err, errlen) < 0) {
		entry_free(e);
		return -1;
	}
	a->n++;
	return 0;
}

static int load_file(struct aliases *a, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* no alias file: no aliases */
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct linereader *lr = xmalloc(sizeof(*lr));
	struct buf line, entry;
	unsigned lineno = 0, entry_line = 0;
	int rc = 0;
	char where[300];
	buf_init(&line);
	buf_init(&entry);
	lr_init(lr, fd);
	for (;;) {
		const char *p;
		size_t n;
		bool bol, eol;
		int r = lr_next(lr, &p, &n, &bol, &eol);
		if (r < 0) {
			set_err(err, errlen, "%s: %s", path, strerror(lr->error));
			rc = -1;
			break;
		}
		if (r == 1) {
			if (line.len + n > ALIAS_LINE_MAX) {
				set_err(err, errlen, "%s:%u: line too long", path, lineno + 1);
				rc = -1;
				break;
			}
			buf_add(&line, p, n);
			if (!eol)
				continue;
		} else if (line.len == 0) {
			break;
		}
		lineno++;
		while (line.len > 0 && (line.data[line.len - 1] == '\n' || line.data[line.len - 1] == '\r'))
			line.data[--line.len] = '\0';
		bool blank = true;
		for (size_t i = 0; i < line.len; i++)
			if (!is_wsp(line.data[i]))
				blank = false;
		if (line.len > 0 && line.data[0] == '#') {
			/* a comment line; it does not end an entry */
		} else if (!blank && is_wsp(line.data[0])) {
			if (entry.len == 0) {
				set_err(err, errlen, "%s:%u: continuation line without an alias", path, lineno);
				rc = -1;
				break;
			}
			if (entry.len + line.len > ALIAS_LINE_MAX) {
				set_err(err, errlen, "%s:%u: alias entry too long", path, lineno);
				rc = -1;
				break;
			}
			buf_add(&entry, line.data, line.len);
		} else {
			if (entry.len > 0) {
				snprintf(where, sizeof(where), "%s:%u", path, entry_line);
				if ((rc = file_entry(a, entry.data, where, err, errlen)) < 0)
					break;
			}
			buf_reset(&entry);
			if (!blank) {
				buf_add(&entry, line.data, line.len);
				entry_line = lineno;
			}
		}
		buf_reset(&line);
		if (r == 0)
			break;
	}
	if (rc == 0 && entry.len > 0) {
		snprintf(where, sizeof(where), "%s:%u", path, entry_line);
		rc = file_entry(a, entry.data, where, err, errlen);
	}
	buf_free(&line);
	buf_free(&entry);
	free(lr);
	close(fd);
	return rc;
}

int aliases_load(const struct sp_config *cfg, struct aliases **out, char *err, size_t errlen)
{
	struct aliases *a = xcalloc(1, sizeof(*a));
	char where[300];
	*out = NULL;
	for (size_t i = 0; i < cfg->naliases; i++) {
		const struct sp_alias *al = &cfg->aliases[i];
		snprintf(where, sizeof(where), "%s", cfg->path ? cfg->path : "config");
		if (!al->name || !valid_name(al->name)) {
			set_err(err, errlen, "%s: invalid alias name \"%.64s\"", where, al->name ? al->name : "");
			aliases_free(a);
			return -1;
		}
		if (have_name(a, al->name))
			continue; /* conf.c rejects duplicates; be safe anyway */
		struct alias_entry *e = new_entry(a, al->name);
		for (size_t k = 0; k < al->nto; k++) {
			if (parse_targets(e, al->to[k], where, err, errlen) < 0) {
				entry_free(e);
				aliases_free(a);
				return -1;
			}
		}
		a->n++;
	}
	if (cfg->aliases_file && *cfg->aliases_file && load_file(a, cfg->aliases_file, err, errlen) < 0) {
		aliases_free(a);
		return -1;
	}
	if (a->n > 1)
		qsort(a->e, a->n, sizeof(*a->e), cmp_entry);
	*out = a;
	return 0;
}

/* The '@' between local part and domain (a quoted local part may hold '@'). */
static const char *domain_at(const char *addr)
{
	const char *p = addr;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++)
			if (*p == '\\' && p[1])
				p++;
		if (!*p)
			return NULL;
		p++;
		return *p == '@' ? p : NULL;
	}
	return strchr(p, '@');
}

char *address_qualify(const char *addr, const char *domain)
{
	if (domain_at(addr) || !domain || !*domain || !*addr)
		return xstrdup(addr);
	return xasprintf("%s@%s", addr, domain);
}

/* The alias an address would hit: bare names, and name@domain. */
static const struct alias_entry *alias_for(const struct aliases *a, const char *addr, const char *domain)
{
	const char *at = domain_at(addr);
	if (!at)
		return lookup(a, addr);
	if (!domain || ascii_casecmp(at + 1, domain) != 0 || at == addr)
		return NULL;
	char *local = xstrndup(addr, (size_t)(at - addr));
	const struct alias_entry *e = lookup(a, local);
	free(local);
	return e;
}

struct results {
	char **v;
	size_t n;
};

static int add_result(struct results *r, const char *addr, const char *domain, const char *orig, char *err,
		      size_t errlen)
{
	char *q = address_qualify(addr, domain);
	for (size_t i = 0; i < r->n; i++) {
		if (ascii_casecmp(r->v[i], q) == 0) {
			free(q);
			return 0;
		}
	}
	if (r->n >= ALIAS_MAX_RESULTS) {
		free(q);
		set_err(err, errlen, "%s: alias expansion gives more than %d addresses", orig, ALIAS_MAX_RESULTS);
		return -1;
	}
	if ((r->n & (r->n - 1)) == 0)
		r->v = xreallocarray(r->v, r->n ? r->n * 2 : 1, sizeof(*r->v));
	r->v[r->n++] = q;
	return 0;
}

static void loop_error(const struct alias_entry **stack, size_t depth, const struct alias_entry *again,
		       char *err, size_t errlen)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < depth; i++)
		buf_printf(&b, "%s -> ", stack[i]->name);
	buf_adds(&b, again->name);
	set_err(err, errlen, "alias loop: %s", b.data);
	buf_free(&b);
}

static int expand(const struct aliases *a, const char *addr, const char *domain, struct results *r, char *err,
		  size_t errlen)
{
	const struct alias_entry *stack[ALIAS_MAX_DEPTH];
	size_t next[ALIAS_MAX_DEPTH];
	size_t depth = 0;
	const struct alias_entry *e = alias_for(a, addr, domain);
	if (!e)
		return add_result(r, addr, domain, addr, err, errlen);
	if (e->ntargets == 0) {
		set_err(err, errlen, "%s: alias %s has no target sealpost can relay to", addr, e->name);
		return -1;
	}
	stack[0] = e;
	next[0] = 0;
	depth = 1;
	while (depth > 0) {
		const struct alias_entry *cur = stack[depth - 1];
		if (next[depth - 1] == cur->ntargets) {
			depth--;
			continue;
		}
		const char *t = cur->targets[next[depth - 1]++];
		const struct alias_entry *te = alias_for(a, t, domain);
		if (!te || te == cur) { /* a final address, or the alias's own name */
			if (add_result(r, t, domain, addr, err, errlen) < 0)
				return -1;
			continue;
		}
		for (size_t i = 0; i < depth; i++) {
			if (stack[i] == te) {
				loop_error(stack, depth, te, err, errlen);
				return -1;
			}
		}
		if (depth == ALIAS_MAX_DEPTH) {
			set_err(err, errlen, "%s: aliases nested deeper than %d levels (at %s)", addr, ALIAS_MAX_DEPTH,
				te->name);
			return -1;
		}
		if (te->ntargets == 0) {
			set_err(err, errlen, "%s: alias %s has no target sealpost can relay to", addr, te->name);
			return -1;
		}
		stack[depth] = te;
		next[depth] = 0;
		depth++;
	}
	return 0;
}

int aliases_expand(const struct aliases *a, const char *addr, const char *domain,
		   int (*fn)(const char *addr, const char *orcpt, void *ctx), void *ctx, char *err, size_t errlen)
{
	struct results r = { NULL, 0 };
	int rc = expand(a, addr, domain, &r, err, errlen);
	for (size_t i = 0; i < r.n; i++) {
		if (rc == 0)
			rc = fn(r.v[i], addr, ctx);
		free(r.v[i]);
	}
	free(r.v);
	return rc;
}
