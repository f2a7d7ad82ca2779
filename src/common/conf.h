/*
 * conf.h - sealpost.conf (libconfuse): the whole schema of SPEC section 5,
 * validated at load (unknown keys, wrong types, duplicates, plaintext
 * attempts are errors with file and line). The loaded struct is plain data:
 * no runtime state lives here.
 *
 * Named conf.h, not config.h, because autoconf owns config.h.
 */
#ifndef SEALPOST_CONF_H
#define SEALPOST_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sp_tls_mode { SP_TLS_STARTTLS, SP_TLS_IMPLICIT };
enum sp_verify { SP_VERIFY_CA, SP_VERIFY_PIN, SP_VERIFY_ENCRYPT };

struct sp_alias {
	char *name;
	char **to;
	size_t nto;
};

struct sp_relay {
	char *name;             /* the section title */
	char *host;
	unsigned port;          /* resolved default: 587 starttls, 465 implicit */
	enum sp_tls_mode tls;
	char *username;         /* NULL: no AUTH */
	char *password_file;    /* at most one of password_file/password_command */
	char *password_command;
	char *auth;             /* "auto", "plain", "login", ... */
	char **senders;         /* envelope sender patterns; nsenders == 0: any */
	size_t nsenders;
	struct sp_limits {      /* limits { } (conf_limits.c); 0: not set */
		unsigned connections; /* sessions at once, over all workers */
		unsigned messages;    /* messages per period ... */
		unsigned period;      /* ... of this many seconds */
	} limits;
	char *from_rewrite;     /* NULL: off; else envelope sender and From: for this relay */
};

struct sp_tls_policy {
	char *host;             /* "*" for the default policy */
	enum sp_verify verify;
	char *ca_file;          /* NULL: system trust store */
	char *verify_name;      /* NULL: the relay host */
	char **pins;            /* base64 SHA-256 of SubjectPublicKeyInfo */
	size_t npins;
	int min_version;        /* 12 (TLS 1.2) or 13 (TLS 1.3) */
	char *priority;         /* NULL: built-in */
	char *security_profile; /* NULL: "medium"; see sealpost.conf(5) */
	char *client_cert;
	char *client_key;
};

struct sp_config {
	char *path;             /* the file this came from; NULL: built-in defaults */
	char *hostname;
	char *log;
	char *log_format;       /* "text" | "json" */
	char *domain;
	char *spool_dir;
	char *aliases_file;     /* NULL: none */
	uint64_t max_message_size;
	char *sender_rewrite;   /* NULL: off */
	char *bounce_sender;    /* DSN sender where a relay refuses <>; NULL: MAILER-DAEMON@domain */
	char *metrics_file;     /* Prometheus text file (sealpostd metrics.c); NULL: off */
	struct sp_alias *aliases;
	size_t naliases;
	struct sp_relay *relays;
	size_t nrelays;
	struct sp_tls_policy *policies;
	size_t npolicies;
	struct {
		unsigned retry_min, retry_max, lifetime, concurrency; /* seconds, count */
		unsigned delay_warning; /* seconds; 0 = off */
	} queue;
	struct {
		unsigned connect, command, data; /* seconds */
	} timeouts;
};

/* The default config file: $(sysconfdir)/sealpost.conf. */
const char *conf_default_path(void);

/*
 * Load and validate path. When path is the default and does not exist,
 * and missing_ok is true, the built-in defaults are returned (the front end
 * can queue without a config). On error returns -1 and writes
 * "FILE:LINE: what is wrong" to err; the caller exits EX_CONFIG (78).
 * An unreadable, oversized (> 1 MiB) or non-regular file is "FILE: why".
 * path NULL means conf_default_path(). Not reentrant (libconfuse's lexer
 * is global): load from one thread at a time.
 */
int conf_load(const char *path, bool missing_ok, struct sp_config **out, char *err, size_t errlen);
void conf_free(struct sp_config *cfg);

/* The policy for host: its own tls_policy, else "*", else the built-in
 * default (verify = ca, system trust, TLS 1.2). Never NULL. */
const struct sp_tls_policy *conf_policy_for(const struct sp_config *cfg, const char *host);

/*
 * Print the effective settings and each relay's TLS policy, secrets
 * masked (sealpostd --check-config), in config syntax, like postconf -n:
 * every key with its effective value (defaults filled in) in a fixed
 * order: top-level keys, queue, timeouts, aliases, relays (file order,
 * each followed by "#" comment lines naming the tls_policy that applies
 * and its effective verify mode, CA source, verified name, pins and
 * minimum version), then the tls_policy sections. Unset optional keys are
 * "#" comments. password_command prints as "<command, masked>".
 */
void conf_dump(const struct sp_config *cfg, FILE *out);

/* Parse a duration "90", "90s", "5m", "1h", "5d" into seconds. */
bool conf_parse_duration(const char *s, unsigned *out);

/* Format seconds the way conf_parse_duration reads them, in the largest
 * exact unit ("90s", "5m", "1h", "5d"; "0" for zero). */
void conf_format_duration(unsigned secs, char out[16]);

/* The config spelling of a TLS mode ("starttls", "implicit") and of a
 * verify mode ("ca", "pin", "encrypt"), for logs and dumps. */
const char *conf_tls_mode_name(enum sp_tls_mode mode);
const char *conf_verify_name(enum sp_verify verify);

/* Decode a pin_sha256 value: canonical base64 of exactly 32 bytes (the
 * SHA-256 of the DER SubjectPublicKeyInfo). Values from a loaded config
 * always decode. */
bool conf_pin_decode(const char *b64, unsigned char out[32]);

/* Whether relay may carry mail from this envelope sender: any sender when
 * it has no `senders`, else when one pattern matches (fnmatch glob,
 * case-insensitive; "<>" matches the null sender ""). */
bool conf_relay_matches_sender(const struct sp_relay *relay, const char *sender);

#endif
