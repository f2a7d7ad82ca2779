/*
 * log.h - logging for both programs: syslog (facility mail), stderr, or a
 * file; text or JSON lines. Callers pass context (queue id, relay) in the
 * message itself. Never pass secrets here.
 */
#ifndef SEALPOST_LOG_H
#define SEALPOST_LOG_H

#include <stdbool.h>
#include <stddef.h>
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

/* A typed field of an event: with log_format = "json" each becomes a
 * member of the line's object (beside "message"); text lines carry only
 * the message, which must say the same. num holds LF_INT and LF_BOOL. */
enum log_field_kind { LF_STR, LF_INT, LF_BOOL, LF_REAL };
struct log_field {
	const char *key;
	enum log_field_kind kind;
	const char *str;          /* LF_STR; NULL: null */
	long long num;
	double real;
};
void log_event(int priority, const struct log_field *fields, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
