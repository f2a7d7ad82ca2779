/*
 * preflight.h - what the worker will need, checked before it is needed
 * (sealpostd --check-config and --probe): the spool and its lock file
 * usable by the user the worker runs as, and every secret it will read
 * readable by that user (trust and client key files too, unless started
 * as root: then they are read before the privilege drop). Started as root, the checks run in
 * a child that has become the worker user (privdrop.c), so they see what
 * the worker will see; root's own access proves nothing. Trusts the
 * loaded config; reads no file's content.
 */
#ifndef SEALPOSTD_PREFLIGHT_H
#define SEALPOSTD_PREFLIGHT_H

#include "conf.h"

/* 0 when the worker will find what it needs; else one line on stderr
 * ("sealpostd: CONF: why") and EX_CANTCREAT (73: the spool, as --once
 * would exit) or EX_CONFIG (78: an unreadable secret or trust file). */
int preflight_run(const struct sp_config *cfg, const char *conf_path);

#endif
