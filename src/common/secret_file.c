/*
 * secret_file.c - read a secret (password, OAuth client secret) from a
 * file: its first line, bounded, wiped on every path. Runs as the only
 * user that may read the file (the worker's, or the token helper's);
 * warns when the file is readable by others. Never logs the secret.
 */
#include "config.h"

#include "secret_file.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keep the first line only, without its line end. */
static void first_line(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

char *secret_file_read(const char *path, const char *what, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		set_err(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		log_msg(LOG_WARNING, "%s %s is accessible by group or others (mode %03o): chmod 600 it",
			what, path, (unsigned)(st.st_mode & 0777));
	char *s = xmalloc(SECRET_FILE_MAX + 1);
	size_t n = 0;
	for (;;) {
		ssize_t r = read_retry(fd, s + n, SECRET_FILE_MAX - n);
		if (r < 0) {
			set_err(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
			close(fd);
			free_secret(s);
			return NULL;
		}
		if (r == 0 || (n += (size_t)r) == SECRET_FILE_MAX)
			break;
	}
	close(fd);
	s[n] = '\0';
	first_line(s);
	if (s[0] == '\0') {
		set_err(err, errlen, "%s %s is empty", what, path);
		free_secret(s);
		return NULL;
	}
	return s;
}

