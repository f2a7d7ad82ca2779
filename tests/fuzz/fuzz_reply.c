/*
 * fuzz_reply.c - libFuzzer target for the SMTP reply parser: the input is
 * split into lines the way net.c does (LF, optional CR before it, lines
 * longer than the bound refused), fed to reply_feed_line, and every
 * accessor is exercised on the result. Not built by make; by hand:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Isrc/common \
 *     -Isrc/sealpostd -include config.h tests/fuzz/fuzz_reply.c \
 *     src/sealpostd/reply.c src/common/util.c -o fuzz_reply
 *   ./fuzz_reply -max_total_time=60 -max_len=20000
 *
 * (run from a configured build tree so config.h exists; add -I for the
 * source tree paths when building out of tree).
 */
#include "reply.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	char err[128];
	char out[REPLY_MAX_LINE + 1];
	reply_init(&r);
	size_t pos = 0;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t n = end - pos;
		if (n > 0 && data[pos + n - 1] == '\r')
			n--;
		enum reply_status st = reply_feed_line(&r, (const char *)data + pos, n, err, sizeof(err));
		pos = end + 1;
		if (st == REPLY_DONE) {
			for (size_t i = 0; i <= r.nlines; i++)
				(void)reply_line(&r, i, out, sizeof(out));
			(void)reply_line(&r, 0, out, 1);
			reply_summary(&r, out, sizeof(out));
			reply_summary(&r, out, 5);
			if (strlen(r.text) != r.textlen || r.code < 200 || r.code > 559)
				__builtin_trap();
			reply_init(&r);
		} else if (st == REPLY_BAD) {
			reply_init(&r);
		}
	}
	return 0;
}
