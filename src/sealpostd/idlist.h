/*
 * idlist.h - a growable list of queue ids (the due messages of a scan, a
 * worker's batch, the notifications a worker queued). No I/O.
 */
#ifndef SEALPOSTD_IDLIST_H
#define SEALPOSTD_IDLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "spool.h"

struct idlist {
	char (*ids)[SPOOL_ID_LEN + 1];
	size_t n, cap;
};

void idlist_add(struct idlist *l, const char *id);
bool idlist_has(const struct idlist *l, const char *id);
/* Remove the first k ids, keeping the order of the rest. */
void idlist_drop_front(struct idlist *l, size_t k);
void idlist_free(struct idlist *l);

#endif
