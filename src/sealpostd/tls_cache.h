/*
 * tls_cache.h - TLS resumption data per relay in the spool
 * (spool_dir/tls-cache/RELAY-NAME), so that every worker process, also a
 * one-shot worker in a container, can resume the session another one
 * began. Only a performance hint: a resumed session's certificate is
 * verified again under the current policy (tls.c), and a file that is
 * missing, foreign, too big or for another host/port/mode is ignored.
 * Runs as the worker's user; trusts only files that user owns (0600).
 */
#ifndef SEALPOSTD_TLS_CACHE_H
#define SEALPOSTD_TLS_CACHE_H

#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "tls.h"

/* What the last load or store saw, so an unchanged file is not reread. */
struct tls_cache_stamp {
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
};

/* Replace r by the file's data when the file changed since *stamp. */
void tls_cache_load(const char *spool_dir, const struct sp_relay *relay, struct tls_resume *r,
		    struct tls_cache_stamp *stamp);

/* Write r for relay (atomically: a temporary file renamed into place). */
void tls_cache_store(const char *spool_dir, const struct sp_relay *relay, const struct tls_resume *r,
		     struct tls_cache_stamp *stamp);

#endif
