/*
 * fuzz_address.c - libFuzzer target for the RFC 5322 address parser.
 * Build by hand (not wired into make):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I BUILD -I src/common \
 *     tests/fuzz/fuzz_address.c src/common/address.c src/common/util.c -o fuzz_address
 *   ./fuzz_address -max_total_time=60 tests/fuzz/address
 * Checks, besides memory safety: every address handed out is within the
 * RFC 5321 limits and safe to put into an SMTP command, and
 * address_parse_one never returns something addrlist_parse would reject.
 */
#include "config.h"

#include "address.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int check_addr(const char *addr, void *ctx)
{
	(void)ctx;
	size_t n = strlen(addr);
	if (n == 0 || n > 254 || !address_smtp_safe(addr))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	(void)addrlist_parse((const char *)data, size, check_addr, NULL, err, sizeof(err));

	char *s = xstrndup((const char *)data, size); /* stops at the first NUL */
	char *one = NULL;
	if (address_parse_one(s, &one, err, sizeof(err)) == 0) {
		if (*one && (!address_smtp_safe(one) ||
			     addrlist_parse(one, strlen(one), check_addr, NULL, err, sizeof(err)) != 0))
			abort();
		free(one);
	}
	free(s);
	return 0;
}
