/*
 * replay.c - a main() for the fuzz targets when libFuzzer is not there:
 * feeds every file named on the command line (a directory: every file in
 * it, sorted) to LLVMFuzzerTestOneInput once. With no arguments it replays
 * FUZZ_CORPUS_DIR, compiled in by tests/stress.mk, so `make check` runs
 * each target's corpus (seeds and every kept crash) with gcc too.
 * Trusts its inputs no more than the target does: files are read whole
 * (bounded by REPLAY_MAX_INPUT) and handed over as a malloc'ed copy, so ASan and
 * valgrind see reads past the end.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX_INPUT (16u << 20)
#define MAX_FILES 100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned replayed;

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	size_t want = st.st_size > REPLAY_MAX_INPUT ? REPLAY_MAX_INPUT : (size_t)st.st_size;
	/* exactly the input's bytes, so an overread is caught */
	uint8_t *data = malloc(want ? want : 1);
	if (!data)
		abort();
	size_t n = fread(data, 1, want, f);
	fclose(f);
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	replayed++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < MAX_FILES) {
		if (de->d_name[0] == '.')
			continue;
		char **grown = realloc(names, (n + 1) * sizeof(*names));
		if (!grown)
			abort();
		names = grown;
		size_t len = strlen(path) + strlen(de->d_name) + 2;
		names[n] = malloc(len);
		if (!names[n])
			abort();
		snprintf(names[n++], len, "%s/%s", path, de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (replay_file(names[i]) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	int rc = 0;
	if (argc < 2) {
#ifdef FUZZ_CORPUS_DIR
		rc = replay_path(FUZZ_CORPUS_DIR);
		printf("replayed %u input(s) from %s\n", replayed, FUZZ_CORPUS_DIR);
#else
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
#endif
	} else {
		for (int i = 1; i < argc; i++)
			if (replay_path(argv[i]) < 0)
				rc = -1;
		printf("replayed %u input(s)\n", replayed);
	}
	if (replayed == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	return rc < 0 ? 1 : 0;
}
