/*
 * conf_internal.h - what the three parts of the sealpost.conf loader share;
 * not part of the public conf.h.
 *
 *   conf.c       the schema, the value rules and conf_load itself
 *   conf_text.c  reading the file, the lexical pre-pass, and the load's
 *                record of where each section and key is (file:line errors)
 *   conf_dump.c  conf_dump (sealpostd --check-config) and value spellings
 *
 * A load is process-wide state (libconfuse's lexer is global and its
 * callbacks get no user pointer): conf_load_begin ... conf_load_end, one
 * load at a time, from one thread.
 */
#ifndef SEALPOST_CONF_INTERNAL_H
#define SEALPOST_CONF_INTERNAL_H

#include "conf.h"

#include <confuse.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct buf;

/* The policy conf_policy_for returns when neither the host nor "*" has
 * one: verify = ca, system trust store, TLS 1.2. */
extern const struct sp_tls_policy conf_builtin_policy;

/* ---- the load in progress (conf_text.c) ---- */

/* Start a load of path: errors go to err as "PATH:LINE: message". */
void conf_load_begin(const char *path, char *err, size_t errlen);
/* End it and free its records; returns whether it failed. */
bool conf_load_end(void);
/* Whether the load has failed (only its first error is kept). */
bool conf_failed(void);
/* Fail the load at line with a message (later calls are ignored). */
void conf_fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record libconfuse's root section, which has no "{" (line 1). */
void conf_note_root(const cfg_t *root);
/* Record that opt was set in sec at sec's current line; a second "="
 * assignment of a key is an error. For a list, first_value tells whether
 * this is the first element of an "=" (later ones and "+=" append).
 * Returns 0, or -1 after failing the load. */
int conf_note_key(cfg_t *sec, const cfg_opt_t *opt, bool first_value);
/* The line where key was set in sec; 0 when it was not set. */
int conf_key_line(const cfg_t *sec, const char *key);
/* The line of key in sec when set (key may be NULL), else of sec's "{". */
int conf_line_of(const cfg_t *sec, const char *key);

/* libconfuse callbacks: the hidden list option that runs as each section
 * opens (records its line, refuses a duplicate section or title), and the
 * error function (rewrites libconfuse's messages in our terms). */
int conf_section_opened(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result);
void conf_libconfuse_error(cfg_t *sec, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* The hook of a section nested in a titled one (relay's limits): records
 * its line like conf_section_opened, without the file-wide duplicate
 * check (every relay may have one); the owner checks its own count. */
int conf_nested_section_opened(cfg_t *sec, cfg_opt_t *opt, const char *value, void *result);

/* ---- relay limits { } (conf_limits.c) ---- */

/* The options of a relay's limits section, for CFG_SEC. */
extern cfg_opt_t conf_limits_opts[];
/* Read and check the limits of relay r from its section. */
void conf_limits_take(struct sp_relay *r, cfg_t *relay_sec);
/* Print them inside the relay block of conf_dump. */
void conf_limits_dump(FILE *out, const struct sp_config *cfg, const struct sp_relay *r);

/* ---- the text (conf_text.c) ---- */

/* Read path, a regular file of at most 1 MiB, whole and NUL-terminated.
 * NULL with *missing set when it does not exist and missing_ok; NULL with
 * "PATH: why" in err on any other error. */
char *conf_read_file(const char *path, bool missing_ok, bool *missing, size_t *len,
		     char *err, size_t errlen);
/* The lexical pre-pass: in[0..n) without comments, lines kept, into out;
 * refuses what libconfuse would misread. 0, or -1 after failing the load. */
int conf_clean_text(const char *in, size_t n, struct buf *out);

/* ---- relay checks kept out of conf.c (conf_from_rewrite.c) ---- */

/* NULL when addr may be a relay's from_rewrite, else why not. */
const char *conf_from_rewrite_invalid(const char *addr);

#endif
