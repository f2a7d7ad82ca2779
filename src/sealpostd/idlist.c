/*
 * idlist.c - see idlist.h. Linear lookups: the lists the daemon compares
 * are bounded by concurrency times its batch size.
 */
#include "config.h"

#include "idlist.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void idlist_add(struct idlist *l, const char *id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->ids = xreallocarray(l->ids, l->cap, sizeof(*l->ids));
	}
	snprintf(l->ids[l->n++], SPOOL_ID_LEN + 1, "%s", id);
}

bool idlist_has(const struct idlist *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->ids[i], id) == 0)
			return true;
	return false;
}

void idlist_drop_front(struct idlist *l, size_t k)
{
	if (k >= l->n) {
		l->n = 0;
		return;
	}
	memmove(l->ids, l->ids + k, (l->n - k) * sizeof(*l->ids));
	l->n -= k;
}

void idlist_free(struct idlist *l)
{
	free(l->ids);
	memset(l, 0, sizeof(*l));
}
