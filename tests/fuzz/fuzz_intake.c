/*
 * fuzz_intake.c - libFuzzer target for the message intake's push API.
 * Build by hand (not wired into make):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I BUILD -I src/common \
 *     -I src/sealpost tests/fuzz/fuzz_intake.c src/sealpost/intake.c \
 *     src/sealpost/encode.c src/sealpost/mime.c src/sealpost/headers.c \
 *     src/common/address.c src/common/util.c -o fuzz_intake
 *   ./fuzz_intake -max_total_time=60 -max_len=20000 CORPUS_DIR
 * The first input byte picks the chunk size and -t; the rest is the
 * message. Checks, besides memory safety: the only refusal is EX_DATAERR,
 * and an accepted message is stored with CRLF line ends only, no NUL and
 * no line over 998 octets. Files live in memory (memfd); the spool writer
 * is replaced by a double.
 */
#define _GNU_SOURCE
#include "config.h"

#include "intake.h"
#include "util.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sysexits.h>
#include <unistd.h>

int spool_writer_restart(struct spool_writer *w, int *old_fd, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	*old_fd = w->fd;
	w->fd = memfd_create("second-pass", MFD_CLOEXEC);
	return w->fd;
}

static void check_stored(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *m = xmalloc((size_t)len + 1);
	if (pread(fd, m, (size_t)len, 0) != len)
		abort();
	size_t col = 0;
	for (off_t i = 0; i < len; i++) {
		if (m[i] == '\0' || m[i] == '\n')
			abort();
		if (m[i] == '\r') {
			if (i + 1 >= len || m[i + 1] != '\n' || col > 998)
				abort();
			col = 0;
			i++;
		} else {
			col++;
		}
	}
	if (col)
		abort();
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (data[0] % 16) + 1;
	struct spool_writer w = { .fd = memfd_create("first-pass", MFD_CLOEXEC) };
	struct intake_opts o = {
		.extract_recipients = data[0] & 0x80,
		.from_addr = "u@example.org",
		.full_name = "N",
		.hostname = "h.example.org",
		.now = 1,
	};
	struct intake_result res;
	char err[256];
	int r = 0;
	data++, size--;
	struct intake *in = intake_new(&o, &w);
	for (size_t i = 0; i < size && !r; i += chunk)
		r = intake_feed(in, (const char *)data + i, size - i < chunk ? size - i : chunk, err, sizeof(err));
	if (!r)
		r = intake_finish(in, &res, err, sizeof(err));
	intake_free(in);
	if (r != 0 && r != EX_DATAERR)
		abort();
	if (r == 0) {
		check_stored(w.fd);
		intake_result_free(&res);
	}
	close(w.fd);
	return 0;
}
