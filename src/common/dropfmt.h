/*
 * dropfmt.h - the maildrop file format shared by the front end (which
 * writes the stream), sealpost-drop (which prefixes what only it may say)
 * and the worker's pickup (which trusts none of it). doc/spool-format.md
 * "The drop file" has the whole story.
 *
 *   sealpost-drop 1\n            written by sealpost-drop
 *   uid 1000\n                   written by sealpost-drop: its getuid()
 *   envelope LEN\n<LEN bytes>    from here on: the caller's stream
 *   message LEN\n<LEN bytes>     the stored form (CRLF, <= 998 per line)
 *
 * The file is created mode 0600 and made 0640 once complete and synced:
 * the group-read bit is the "complete" mark (after Postfix's maildrop).
 */
#ifndef SEALPOST_DROPFMT_H
#define SEALPOST_DROPFMT_H

#define DROP_MAGIC "sealpost-drop 1\n"
#define DROP_SUBDIR "maildrop"
#define DROP_MODE_PARTIAL 0600
#define DROP_MODE_COMPLETE 0640
/* what sealpost-drop copies at most (the worker applies max_message_size) */
#define DROP_MAX_BYTES (2ull * 1024 * 1024 * 1024)
/* what the front end and sealpost-drop may put in an envelope */
#define DROP_MAX_ENVELOPE (32u * 1024 * 1024)

#endif
