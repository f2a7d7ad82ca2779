/*
 * fuzz_conf.c - libFuzzer target for the config loader: the input is
 * written to a memfd and loaded with conf_load() through /proc/self/fd/N
 * (the real path: size and type checks, the text pre-pass, libconfuse,
 * validation). A config is trusted input in production, but a mistyped one
 * must give "FILE:LINE: why", never a crash. Checks, besides memory
 * safety: a refusal always names the file; an accepted config dumps
 * (conf_dump) and gives a policy for any host.
 * Built by `make fuzz` (clang) and replayed by `make check` (any cc).
 */
#include "config.h"

#include "conf.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int mfd = -1;
static char path[64];
static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (mfd < 0) {
		mfd = memfd_create("fuzz-conf", MFD_CLOEXEC);
		devnull = fopen("/dev/null", "w");
		if (mfd < 0 || !devnull)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	}
	if (ftruncate(mfd, 0) < 0 || (size && pwrite(mfd, data, size, 0) != (ssize_t)size))
		abort();
	struct sp_config *cfg = NULL;
	char err[512] = "";
	if (conf_load(path, false, &cfg, err, sizeof(err)) == 0) {
		conf_dump(cfg, devnull);
		if (!conf_policy_for(cfg, "smtp.example.net"))
			abort();
		conf_free(cfg);
	} else if (strncmp(err, path, strlen(path)) != 0) {
		abort(); /* every error names the file */
	}
	return 0;
}
