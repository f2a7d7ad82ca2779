/*
 * tls_cache.h - TLS resumption data per relay in the spool
 * (spool_dir/tls-cache/RELAY-NAME), so that every worker process, also a
 * one-shot worker in a container, can resume the session another one
 * began. Only a performance hint: a resumed session's certificate is
 * verified again under the current policy (tls.c), and a file that is
 * missing, foreign, too big or made under another key (tls_cache_key:
 * host, port, mode, the whole TLS policy and the AUTH identity) is
 * ignored.
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

/* What a relay's resumption data is for: "host:port:mode:" and the
 * policy key (tls_policy_key: trust anchors, pins, verify name, client
 * certificate, versions, priority, profile, AUTH user). Data is shared
 * only between relays with equal keys, in the process and in the spool. */
#define TLS_CACHE_KEY_MAX 400
void tls_cache_key(const struct sp_config *cfg, const struct sp_relay *relay, char out[TLS_CACHE_KEY_MAX]);

/* Replace r by the file's data when the file changed since *stamp. */
void tls_cache_load(const struct sp_config *cfg, const struct sp_relay *relay, struct tls_resume *r,
		    struct tls_cache_stamp *stamp);

/* Write r for relay (atomically: a temporary file renamed into place). */
void tls_cache_store(const struct sp_config *cfg, const struct sp_relay *relay, const struct tls_resume *r,
		     struct tls_cache_stamp *stamp);

#endif
