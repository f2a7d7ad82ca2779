/*
 * secret_file.h - the first line of a secret file (see secret_file.c).
 */
#ifndef SEALPOST_SECRET_FILE_H
#define SEALPOST_SECRET_FILE_H

#include <stddef.h>

#define SECRET_FILE_MAX 16384 /* OAuth tokens exceed 1 KiB; passwords do not */

/* The first line of path, without its line end, for free_secret(); NULL
 * with err ("cannot open WHAT PATH: ...") when unreadable or empty. what
 * names the setting in messages ("password_file"). */
char *secret_file_read(const char *path, const char *what, char *err, size_t errlen);

#endif
