/*
 * base64.h - RFC 4648 base64 for SASL exchanges and SPKI pins. Pure
 * functions; decoding input is hostile and bounded by the caller's buffer.
 */
#ifndef SEALPOST_BASE64_H
#define SEALPOST_BASE64_H

#include <stddef.h>

/* Encoded length of n bytes, without the NUL. */
size_t base64_encoded_len(size_t n);
/* Encode n bytes into out (room for base64_encoded_len(n) + 1). */
void base64_encode(const void *in, size_t n, char *out);
/* Decode; whitespace is not allowed. Returns the decoded length, or -1
 * on bad input or when out (outlen bytes) is too small. */
long base64_decode(const char *in, size_t n, unsigned char *out, size_t outlen);

#endif
