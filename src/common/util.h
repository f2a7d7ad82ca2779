/*
 * util.h - small helpers shared by every sealpost program: allocation that
 * aborts on out-of-memory (callers never check), growable byte buffers,
 * safe I/O loops, durable file helpers and bounded string formatting.
 * No privilege, trusts nothing.
 */
#ifndef SEALPOST_UTIL_H
#define SEALPOST_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overwrite then free: for passwords and tokens. */
void free_secret(char *s);
void explicit_zero(void *p, size_t n);

/* Growable byte buffer; always NUL-terminated for convenience. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addc(struct buf *b, char c);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take ownership of the contents; the buffer is left empty. */
char *buf_steal(struct buf *b);

/* Append as much of src (n bytes) as fits into dst, which holds *len of
 * cap bytes; returns how many were taken (the caller flushes and loops). */
size_t fill_bounded(void *dst, size_t cap, size_t *len, const void *src, size_t n);

/* Write all of p (retrying on EINTR and short writes). 0 or -1/errno. */
int write_all(int fd, const void *p, size_t n);
/* read() retrying on EINTR. */
ssize_t read_retry(int fd, void *p, size_t n);
/* fsync the directory that holds path-like dir. 0 or -1/errno. */
int fsync_dir(const char *dir);

/* Make sure fds 0, 1 and 2 are open (on /dev/null) so that nothing we open
 * later lands on them: mail(1) starts sendmail with stdout/stderr closed. */
void ensure_std_fds(void);

/* Point fds 0, 1 and 2 at /dev/null (a detached worker or daemon must not
 * hold a caller's pipes open, nor write into them). */
void stdio_to_devnull(void);

/* Bounded snprintf into an error buffer; tolerates err == NULL. */
void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse a non-negative decimal integer, rejecting junk and overflow. */
bool parse_u64(const char *s, uint64_t *out);

/* Case-insensitive ASCII comparisons (locale independent). */
int ascii_casecmp(const char *a, const char *b);
int ascii_ncasecmp(const char *a, const char *b, size_t n);

/* Well-formed UTF-8: no overlong forms, surrogates or values past U+10FFFF. */
bool utf8_valid(const void *s, size_t n);

/* Format a time as RFC 3339 UTC ("2026-11-28T12:00:00Z"). */
void format_rfc3339(time_t t, char out[32]);
/* Format a time as RFC 5322 date ("Sat, 28 Nov 2026 12:00:00 +0000"). */
void format_rfc5322_date(time_t t, char out[64]);

/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);

/*
 * Bounded line reader over a file descriptor. It hands out fragments of
 * lines so that lines of any length cost only the fixed buffer: bol tells
 * whether the fragment starts a line, eol whether it ends one (the LF is
 * included in the fragment then).
 */
#define LINEREADER_BUFSIZE 65536
struct linereader {
	int fd;
	size_t start;
	size_t end;
	bool eof;
	bool at_bol;
	int error; /* errno of a failed read */
	char buf[LINEREADER_BUFSIZE];
};
void lr_init(struct linereader *lr, int fd);
/* 1 = fragment returned, 0 = end of input, -1 = read error (lr->error). */
int lr_next(struct linereader *lr, const char **p, size_t *n, bool *bol, bool *eol);

#ifdef SEALPOST_FAULT_INJECTION
/* Test builds only: abort (SIGKILL self) when SEALPOST_FAULT names this point. */
void fault_point(const char *name);
#else
#define fault_point(name) ((void)0)
#endif

#endif
