/*
 * spool.h - the durable queue (SPEC section 4; format in doc/spool-format.md).
 *
 * Layout under spool_dir:
 *   tmp/         files being written; never read by the worker
 *   queue/ID.msg the message exactly as it will be transmitted (CRLF line
 *                ends, Bcc removed, headers added), not dot-stuffed;
 *                immutable once queued; flock()ed by the worker delivering it
 *   queue/ID.env the envelope and per-recipient state, a small text file
 *                replaced atomically (write tmp, fsync, rename) on change;
 *                its presence is what makes a message queued
 *   corrupt/     damaged entries moved aside
 *   maildrop/    (system install) finished submissions from sealpost-drop,
 *                picked up by the worker into queue/ (sealpostd/pickup.c)
 *
 * Intake: msg and env are written to tmp/, fsynced, renamed into queue/
 * (msg first, env last), then queue/ is fsynced: a crash leaves either no
 * message or a whole one (a lone .msg is an orphan the worker removes).
 */
#ifndef SEALPOST_SPOOL_H
#define SEALPOST_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define SPOOL_ID_LEN 16 /* hex digits: time-ordered, then random */

enum rcpt_state { RCPT_PENDING, RCPT_DEFERRED, RCPT_FAILED, RCPT_SENT };

/* DSN NOTIFY bits (RFC 3461); 0 = not given */
enum {
	NOTIFY_NEVER = 1,
	NOTIFY_SUCCESS = 2,
	NOTIFY_FAILURE = 4,
	NOTIFY_DELAY = 8,
};

struct spool_rcpt {
	char *addr;             /* addr-spec, as it goes into RCPT TO */
	char *orcpt;            /* original recipient (before aliasing); may be NULL */
	unsigned notify;
	enum rcpt_state state;
	unsigned attempts;
	time_t next_attempt;    /* 0: now */
	char *last_error;       /* NULL when none */
	char *report;           /* the DSN status a notification owes for this
				 * recipient ("5.1.1"; "2.0.0" relayed), sent
				 * when the message is done; NULL: none */
};

enum {
	ENV_8BITMIME = 1,  /* body has 8-bit bytes: BODY=8BITMIME */
	ENV_SMTPUTF8 = 2,  /* an address or header needs SMTPUTF8 */
	ENV_HELD = 4,      /* on hold: not delivered until released */
	ENV_BOUNCE = 8,    /* this message is itself a bounce: never bounce it */
	ENV_WARNED = 16,   /* a delay warning was sent */
};

struct envelope {
	char id[SPOOL_ID_LEN + 1];
	time_t arrival;
	char *sender;           /* "" = null sender */
	uid_t uid;              /* the submitting user */
	char *user;             /* their login name */
	uint64_t size;          /* bytes of ID.msg: a damaged file is detected */
	unsigned flags;
	char *ret;              /* DSN RET: "FULL", "HDRS" or NULL */
	char *envid;            /* DSN ENVID or NULL */
	struct spool_rcpt *rcpts;
	size_t nrcpts;
};

void envelope_init(struct envelope *env);
void envelope_free(struct envelope *env);
void envelope_add_rcpt(struct envelope *env, const char *addr, const char *orcpt, unsigned notify);
/* Encode/decode the text form (exposed for tests and fuzzing). */
char *envelope_format(const struct envelope *env);
int envelope_parse(const char *text, size_t len, struct envelope *env, char *err, size_t errlen);

/* ---- writing a new message (front end) ---- */
struct spool_writer {
	char *dir;              /* spool_dir */
	char id[SPOOL_ID_LEN + 1];
	int fd;                 /* the message file, opened for writing */
	char *tmp_path;
};
/* Create tmp/ID.msg. Returns 0, or -1 with a message (caller exits 73). */
int spool_writer_open(struct spool_writer *w, const char *spool_dir, char *err, size_t errlen);
/* The same with a given id (the worker's pickup keeps the drop's id). */
int spool_writer_open_id(struct spool_writer *w, const char *spool_dir, const char *id, char *err, size_t errlen);
/* An anonymous buffer (an O_TMPFILE in /var/tmp, else a memfd) instead of
 * a spool file: the front end of a
 * system install, which hands the finished message to sealpost-drop.
 * Commit does not apply; restart and abort do. */
int spool_writer_open_anon(struct spool_writer *w, char *err, size_t errlen);
/* A new time-ordered queue id. */
void spool_new_id(char id[SPOOL_ID_LEN + 1]);
/* Replace the message file with a fresh empty one (intake re-encoding);
 * returns the new fd, the old one stays open for reading until closed by
 * the caller. -1 on error. */
int spool_writer_restart(struct spool_writer *w, int *old_fd, char *err, size_t errlen);
/* Make it durable and queued: fsync msg, write+fsync env, rename both,
 * fsync queue/. env->id, size are filled in. 0 or -1 (caller exits 73). */
int spool_writer_commit(struct spool_writer *w, struct envelope *env, char *err, size_t errlen);
/* Remove everything written; safe to call after a failed commit. */
void spool_writer_abort(struct spool_writer *w);

/* ---- the worker's side ---- */
struct spool_entry {
	char id[SPOOL_ID_LEN + 1];
	int msg_fd;             /* open, flock()ed exclusively */
	struct envelope env;
};
/* Call fn for every queued message id (order: oldest first). */
int spool_list(const char *spool_dir, int (*fn)(const char *id, void *ctx), void *ctx);
/* Lock and load one message. 0 ok; 1 busy (another worker holds it) or
 * gone; -1 damaged (already moved aside and logged). */
int spool_open_entry(const char *spool_dir, const char *id, struct spool_entry *e, char *err, size_t errlen);
/* Read every envelope without locking (mailq): one pass over queue/,
 * each file opened relative to it. fn gets the envelope (it may keep it:
 * ownership passes), or env == NULL and a reason for a damaged one.
 * Entries that vanish meanwhile are skipped. Order: directory order.
 * Returns 0, fn's non-zero value, or -1 with errno (ENOENT: no queue/). */
int spool_scan_envelopes(const char *spool_dir,
			 int (*fn)(const char *id, struct envelope *env, const char *why, void *ctx),
			 void *ctx);
/* Read only the envelope, without locking. 0, or -1. */
int spool_read_envelope(const char *spool_dir, const char *id, struct envelope *env, char *err, size_t errlen);
/* Persist e->env atomically (tmp, fsync, rename, fsync dir). 0 or -1. */
int spool_save_state(const char *spool_dir, struct spool_entry *e, char *err, size_t errlen);
/* Remove a finished message (env first, then msg) and unlock. */
int spool_remove_entry(const char *spool_dir, struct spool_entry *e);
void spool_close_entry(struct spool_entry *e);
/* Move a damaged message aside into corrupt/ and log why. */
void spool_quarantine(const char *spool_dir, const char *id, const char *why);
/* Remove tmp files, orphan .msg files and relays/'s leftover temporary
 * files older than max_age seconds. */
void spool_cleanup(const char *spool_dir, unsigned max_age);
/* Create the spool subdirectories if missing (worker, installer). */
int spool_ensure_dirs(const char *spool_dir, char *err, size_t errlen);

bool spool_id_valid(const char *id);
const char *rcpt_state_name(enum rcpt_state s);

#endif
