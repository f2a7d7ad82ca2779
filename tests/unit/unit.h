/*
 * unit.h - the smallest test harness that says what failed: CHECK prints
 * the file, line and expression and counts failures; unit_done() prints a
 * summary and returns the exit status for the automake harness.
 */
#ifndef SEALPOST_UNIT_H
#define SEALPOST_UNIT_H

#include <stdio.h>
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

static inline int unit_done(const char *what)
{
	printf("%s: %d checks, %d failed\n", what, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

#endif
