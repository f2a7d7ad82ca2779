/*
 * opslog.h - what a worker process tells operators besides the
 * per-recipient line: the TLS session line in Postfix's form (so
 * pflogsumm-style reports and log alerts work unchanged), and the facts
 * metrics and --health need (delivery counters, last success, the peer
 * certificate's expiry, how each relay's last attempt ended). Facts are
 * collected in memory and merged into the spool's metrics state
 * (opstate.h) by opslog_flush() at the end of each run or batch, where the
 * "certificate expires soon" warning is also decided (once a day across
 * every process). Runs as the worker's user.
 */
#ifndef SEALPOSTD_OPSLOG_H
#define SEALPOSTD_OPSLOG_H

#include "conf.h"
#include "opstate.h"
#include "outcome.h"
#include "smtp.h"

/* A certificate that expires within this many days gets a daily warning. */
#define OPSLOG_CERT_WARN_DAYS 14

/* A session to relay (connected to ip) is ready: log the Postfix TLS
 * line, note the certificate's expiry and a successful attempt. */
void opslog_connected(const struct sp_relay *relay, const char *ip, struct tls_conn *tls);

/* Opening a session to relay failed: note the failure's class. */
void opslog_failed(const struct sp_relay *relay, const struct smtp_failure *f);

/* Note a failure class directly. The hook for the OAuth code: a refused
 * token is opslog_note_class(name, OPS_TOKEN, "run sealpostd
 * --oauth-login NAME"). */
void opslog_note_class(const char *relay_name, enum ops_class c, const char *reason);

/* The class of a failed session (certificate, AUTH, configuration, or
 * transient). */
enum ops_class opslog_classify(const struct smtp_failure *f);

/* One recipient's outcome through relay_name (NULL: no relay). */
void opslog_outcome(const char *relay_name, enum outcome o);

/* Merge what this process noted into spool_dir's metrics state and
 * forget it; log a failure to do so (never fatal: mail goes on). */
void opslog_flush(const char *spool_dir);

#endif
