/*
 * fuzz_bs.c - libFuzzer target for the `sealpost -bs` dialogue: the input
 * is the client's whole side of a session, read by bs_session() from a
 * memfd; the replies go to another memfd. The submit API is a double that
 * keeps the envelope in memory (no spool). Checks, besides memory safety:
 * every reply line is "DDD " or "DDD-" + text + CRLF with no other CR or
 * LF (no reply injection), each message handed to submit has a sender and
 * recipients free of controls, a body with no NUL, and the status is one
 * bs.h documents.
 * Built by `make fuzz` (clang) and replayed by `make check` (any cc).
 */
#include "config.h"

#include "bs.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sysexits.h>
#include <unistd.h>

static size_t body_len;

static void no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

int submit_begin(struct submission *s, const struct submit_ctx *ctx, const struct submit_opts *o,
		 const char *sender, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->opts = *o;
	envelope_init(&s->env);
	no_controls(sender);
	s->env.sender = xstrdup(sender);
	body_len = 0;
	s->open = true;
	return 0;
}

int submit_add_rcpt(struct submission *s, const char *arg, char *err, size_t errlen)
{
	if (!s->open)
		abort();
	no_controls(arg);
	if (strchr(arg, ',')) { /* the real one splits lists: -bs must never pass one */
		set_err(err, errlen, "a list");
		return EX_DATAERR;
	}
	envelope_add_rcpt(&s->env, arg, NULL, s->opts.notify);
	return 0;
}

int submit_feed(struct submission *s, const char *p, size_t n, char *err, size_t errlen)
{
	if (!s->open)
		abort();
	if (memchr(p, '\0', n)) {
		set_err(err, errlen, "NUL byte in message");
		return EX_DATAERR;
	}
	body_len += n;
	if (body_len > 100000) {
		set_err(err, errlen, "message too big");
		return EX_DATAERR;
	}
	return 0;
}

int submit_commit(struct submission *s, char id[SPOOL_ID_LEN + 1], char *err, size_t errlen)
{
	(void)err, (void)errlen;
	if (!s->open || s->env.nrcpts == 0 || !s->env.sender)
		abort();
	memcpy(id, "0123456789ABCDEF", SPOOL_ID_LEN + 1);
	envelope_free(&s->env);
	s->open = false;
	return 0;
}

void submit_abort(struct submission *s)
{
	if (!s->open)
		return;
	envelope_free(&s->env);
	s->open = false;
}

static void check_replies(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	if (len <= 0)
		abort(); /* at least the greeting */
	char *out = xmalloc((size_t)len);
	if (pread(fd, out, (size_t)len, 0) != len)
		abort();
	size_t i = 0;
	while (i < (size_t)len) {
		const char *line = out + i;
		const char *lf = memchr(line, '\n', (size_t)len - i);
		if (!lf)
			abort(); /* an unterminated reply */
		size_t n = (size_t)(lf - line);
		if (n < 5 || line[n - 1] != '\r')
			abort();
		if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (line[3] != ' ' && line[3] != '-'))
			abort();
		if (memchr(line, '\r', n - 1))
			abort(); /* a bare CR inside a reply */
		i += n + 1;
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sp_config cfg = { .hostname = "fuzz.example.org" };
	static const struct submit_ctx ctx = { .cfg = &cfg, .user = "fuzzer" };
	int in = memfd_create("bs-in", MFD_CLOEXEC), out = memfd_create("bs-out", MFD_CLOEXEC);
	if (in < 0 || out < 0 || (size && write(in, data, size) != (ssize_t)size))
		abort();
	lseek(in, 0, SEEK_SET);
	int st = bs_session(&ctx, in, out);
	if (st != 0 && st != EX_TEMPFAIL && st != EX_IOERR)
		abort();
	check_replies(out);
	close(in);
	close(out);
	return 0;
}
