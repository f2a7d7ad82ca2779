/*
 * log.c - one line per event to syslog, stderr or a file, as text or JSON.
 * Control characters from peers are escaped so a hostile server reply
 * cannot forge log lines.
 */
#include "config.h"

#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_target target = LOG_TO_STDERR;
static bool use_json;
static bool copy_stderr;
static int file_fd = -1;
static char ident_buf[32] = "sealpost";

int log_open(const char *ident, const char *spec, bool json)
{
	snprintf(ident_buf, sizeof(ident_buf), "%s", ident);
	use_json = json;
	if (!spec || strcmp(spec, "syslog") == 0) {
		target = LOG_TO_SYSLOG;
		openlog(ident_buf, LOG_PID | LOG_NDELAY, LOG_MAIL);
		return 0;
	}
	if (strcmp(spec, "stderr") == 0) {
		target = LOG_TO_STDERR;
		return 0;
	}
	if (strncmp(spec, "file:", 5) == 0 && spec[5] == '/') {
		/* /proc/1/fd/2 (a container's log) is a magic link: let it be */
		int nofollow = strncmp(spec + 5, "/proc/", 6) == 0 ? 0 : O_NOFOLLOW;
		int fd = open(spec + 5, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | nofollow, 0640);
		if (fd < 0)
			return -1;
		target = LOG_TO_FILE;
		file_fd = fd;
		return 0;
	}
	if (strcmp(spec, "none") == 0) {
		target = LOG_TO_NONE;
		return 0;
	}
	return -1;
}

void log_also_stderr(bool on)
{
	copy_stderr = on;
}

static const char *level_name(int pri)
{
	switch (pri) {
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	case LOG_DEBUG: return "debug";
	default: return "error";
	}
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms and surrogates included). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* Escape control bytes (and, for JSON, quotes and backslashes; a byte
 * that is not UTF-8 becomes U+FFFD so that every line is valid JSON). */
static void add_escaped(struct buf *b, const char *s, bool json)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (json && c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)s);
			if (n == 0) {
				buf_adds(b, "\\ufffd");
			} else {
				buf_add(b, s, n);
				s += n - 1;
			}
		} else if (json && (c == '"' || c == '\\')) {
			buf_addc(b, '\\');
			buf_addc(b, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, json ? "\\u%04x" : "\\x%02x", c);
		} else {
			buf_addc(b, (char)c);
		}
	}
}

static void emit(int fd, const char *line, size_t len)
{
	/* errors are ignored: logging must never fail the caller */
	(void)write_all(fd, line, len);
}

static void add_fields(struct buf *b, const struct log_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_printf(b, ",\"%s\":", f[i].key);
		switch (f[i].kind) {
		case LF_STR:
			if (!f[i].str) {
				buf_adds(b, "null");
				break;
			}
			buf_addc(b, '"');
			add_escaped(b, f[i].str, true);
			buf_addc(b, '"');
			break;
		case LF_INT: buf_printf(b, "%lld", f[i].num); break;
		case LF_BOOL: buf_adds(b, f[i].num ? "true" : "false"); break;
		case LF_REAL: buf_printf(b, "%.3f", f[i].real); break;
		}
	}
}

static void vlog(int priority, const struct log_field *fields, size_t nfields, const char *fmt, va_list ap)
{
	char raw[4096];
	vsnprintf(raw, sizeof(raw), fmt, ap);

	struct buf text;
	buf_init(&text);
	add_escaped(&text, raw, false);

	if (target == LOG_TO_SYSLOG)
		syslog(priority, "%s", text.data);

	struct buf line;
	buf_init(&line);
	if (use_json) {
		char ts[32];
		format_rfc3339(time(NULL), ts);
		buf_printf(&line, "{\"time\":\"%s\",\"program\":\"%s\",\"pid\":%ld,\"level\":\"%s\",\"message\":\"",
			   ts, ident_buf, (long)getpid(), level_name(priority));
		add_escaped(&line, raw, true);
		buf_addc(&line, '"');
		add_fields(&line, fields, nfields);
		buf_adds(&line, "}\n");
	} else {
		buf_printf(&line, "%s[%ld]: %s\n", ident_buf, (long)getpid(), text.data);
	}
	if (target == LOG_TO_FILE && file_fd >= 0)
		emit(file_fd, line.data, line.len);
	if (target == LOG_TO_STDERR || (copy_stderr && target != LOG_TO_STDERR))
		emit(2, line.data, line.len);
	buf_free(&line);
	buf_free(&text);
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(priority, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_event(int priority, const struct log_field *fields, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(priority, fields, n, fmt, ap);
	va_end(ap);
}

void log_close(void)
{
	if (target == LOG_TO_SYSLOG)
		closelog();
	if (file_fd >= 0)
		close(file_fd);
	file_fd = -1;
}
