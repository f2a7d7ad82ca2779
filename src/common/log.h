/*
 * log.h - logging for both programs: syslog (facility mail), stderr, or a
 * file; text or JSON lines. Callers pass context (queue id, relay) in the
 * message itself. Never pass secrets here.
 */
#ifndef SEALPOST_LOG_H
#define SEALPOST_LOG_H

#include <stdbool.h>
#include <syslog.h>

enum log_target { LOG_TO_SYSLOG, LOG_TO_STDERR, LOG_TO_FILE, LOG_TO_NONE };

/* ident: "sealpost" or "sealpostd". target spec as in the config's `log`
 * key: "syslog", "stderr" or "file:/path". Returns 0, or -1 when the spec
 * is invalid (the caller reports it). */
int log_open(const char *ident, const char *spec, bool json);
/* Also copy every line to stderr (foreground, -v). */
void log_also_stderr(bool on);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_close(void);

#endif
