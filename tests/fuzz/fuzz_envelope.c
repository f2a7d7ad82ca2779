/*
 * fuzz_envelope.c - libFuzzer target for the spool envelope parser
 * (envelope_parse, doc/spool-format.md). A submitting user owns the
 * envelope file, so its text is hostile. Checks, besides memory safety:
 * whatever the parser accepts formats back to text that parses again to
 * the same text (format o parse is a fixed point), so nothing is misread.
 * Built by `make fuzz` (clang) and replayed by `make check` (any cc).
 */
#include "config.h"

#include "spool.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope env;
	char err[256];
	envelope_init(&env);
	if (envelope_parse((const char *)data, size, &env, err, sizeof(err)) == 0) {
		char *text = envelope_format(&env);
		struct envelope again;
		envelope_init(&again);
		if (envelope_parse(text, strlen(text), &again, err, sizeof(err)) != 0)
			abort(); /* we wrote something we cannot read back */
		char *text2 = envelope_format(&again);
		if (strcmp(text, text2) != 0 || again.nrcpts != env.nrcpts)
			abort();
		free(text2);
		free(text);
		envelope_free(&again);
	} else if (err[0] == '\0') {
		abort(); /* a refusal always says why */
	}
	envelope_free(&env);
	return 0;
}
