/*
 * data_stream.c - the message on the wire after DATA's 354 (see
 * data_stream.h). Runs in the worker as its user; the queued bytes are
 * not trusted to be clean: a stray CR or LF is normalized here too.
 */
#include "config.h"

#include "data_stream.h"
#include "outcome.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* Dot-stuffing and line-end state carried across the pieces of a message. */
struct stuffing {
	bool bol, cr;
};

/* Send n bytes of the message: CRLF line ends (a stray bare CR or LF
 * becomes CRLF: no smuggling), a dot doubled at the start of a line. */
static int send_stuffed(struct netconn *c, struct stuffing *st, const char *in, size_t n, unsigned timeout_s,
			char *err, size_t errlen)
{
	enum { CHUNK = 8192 };
	char out[2 * CHUNK + 8];
	while (n > 0) {
		size_t take = n < CHUNK ? n : CHUNK, o = 0;
		for (size_t i = 0; i < take; i++) {
			char ch = in[i];
			if (st->cr) {
				out[o++] = '\r';
				out[o++] = '\n';
				st->bol = true;
				st->cr = false;
				if (ch == '\n')
					continue;
			}
			if (ch == '\r') {
				st->cr = true;
				continue;
			}
			if (ch == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				st->bol = true;
				continue;
			}
			if (st->bol && ch == '.')
				out[o++] = '.';
			out[o++] = ch;
			st->bol = false;
		}
		int rc = net_write(c, out, o, net_deadline(timeout_s), err, errlen);
		if (rc != 0)
			return rc;
		in += take;
		n -= take;
	}
	return 0;
}

int data_send(struct netconn *c, int fd, const struct from_plan *plan, unsigned timeout_s, char *err, size_t errlen)
{
	char in[8192];
	struct stuffing st = { .bol = true, .cr = false };
	for (size_t k = 0; k < plan->npieces; k++) {
		const struct from_piece *pc = &plan->pieces[k];
		if (pc->mem) {
			int rc = send_stuffed(c, &st, pc->mem, strlen(pc->mem), timeout_s, err, errlen);
			if (rc != 0)
				return rc;
			continue;
		}
		off_t off = (off_t)pc->off;
		uint64_t left = pc->len;
		while (left > 0) {
			ssize_t n = pread(fd, in, left < sizeof(in) ? (size_t)left : sizeof(in), off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				set_err(err, errlen, "cannot read the queued message: %s", strerror(errno));
				return LOCAL_IO;
			}
			if (n == 0) {
				if (left == FROM_PIECE_TO_EOF)
					break;
				set_err(err, errlen, "the queued message is shorter than it was");
				return LOCAL_IO;
			}
			off += n;
			if (left != FROM_PIECE_TO_EOF)
				left -= (uint64_t)n;
			int rc = send_stuffed(c, &st, in, (size_t)n, timeout_s, err, errlen);
			if (rc != 0)
				return rc;
		}
	}
	const char *tail = st.cr || st.bol ? (st.cr ? "\r\n.\r\n" : ".\r\n") : "\r\n.\r\n";
	int rc = net_writes(c, tail, net_deadline(timeout_s), err, errlen);
	if (rc == 0)
		rc = net_flush(c, net_deadline(timeout_s), err, errlen);
	return rc;
}

