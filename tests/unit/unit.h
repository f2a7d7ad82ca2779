/*
 * unit.h - the smallest test harness that says what failed: CHECK prints
 * the file, line and expression and counts failures; unit_done() prints a
 * summary and returns the exit status for the automake harness.
 */
#ifndef SEALPOST_UNIT_H
#define SEALPOST_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		unit_checks++;                                                  \
		if (!(cond)) {                                                  \
			unit_failures++;                                        \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
				__LINE__, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

#define CHECK_STR(got, want, name)                                               \
	CHECK((got) && strcmp((got), (want)) == 0, "%s: got \"%s\", want \"%s\"", \
	      (name), (got) ? (got) : "(null)", (want))

/* s written times times over, NUL-terminated; the caller frees it. */
static inline char *unit_repeat(const char *s, size_t times)
{
	size_t n = strlen(s);
	char *r = malloc(n * times + 1);
	if (!r)
		abort();
	for (size_t i = 0; i < times; i++)
		memcpy(r + i * n, s, n);
	r[n * times] = '\0';
	return r;
}

static inline int unit_done(const char *what)
{
	printf("%s: %d checks, %d failed\n", what, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

#endif
