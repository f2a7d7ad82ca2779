/*
 * test_intake.c - byte-for-byte tests of the message intake: line ends,
 * Bcc removal, generated headers, -t, quoted-printable re-encoding of a
 * body or of one MIME part, rejections. Every case is fed in several
 * chunkings (1, 2, 7 bytes, whole), which must all give the same result.
 * Date is pinned (TZ=UTC, opts.now); a generated Message-ID is checked
 * against its pattern and shown as <ID>. The writer is the real spool
 * writer (spool.c), so the re-encoding pass goes through
 * spool_writer_restart().
 */
#include "config.h"

#include "intake.h"
#include "util.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define NOW 1795867200 /* 2026-11-28 12:00:00 UTC */
#define DATE "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
#define MID "Message-ID: <ID>\r\n"
#define FROM "From: user@example.com\r\n"
#define GEN FROM DATE MID
#define QP_HDRS "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n" \
		"Content-Transfer-Encoding: quoted-printable\r\n"

static char tmpdir[] = "/tmp/test_intake.XXXXXX"; /* the spool */

/* The stored message, read back through the writer's file name (the real
 * spool writer's fd is write-only). */
static void read_back(const char *path, struct buf *b)
{
	char tmp[4096];
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	buf_reset(b);
	buf_add(b, "", 0);
	while (fd >= 0 && (r = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(b, tmp, (size_t)r);
	if (fd >= 0)
		close(fd);
}

/* ---- cases ---- */

struct icase {
	const char *name;
	const char *input;
	size_t inlen;           /* 0: strlen(input) */
	bool extract;
	const char *full_name;
	uint64_t max_size;
	const char *expect;     /* stored bytes; NULL when an error is expected */
	int status;
	const char *errpart;
	const char *rcpts;      /* joined by '|' (with extract) */
	bool eightbit;
	bool smtputf8;
};

/* Replace a generated Message-ID by <ID> after checking its form. */
static bool normalise_mid(struct buf *out, const char *mid)
{
	const char *p = strstr(out->data, "Message-ID: <");
	if (!p || !mid)
		return false;
	p += strlen("Message-ID: ");
	size_t n = strlen(mid);
	if (strncmp(p, mid, n) != 0 || strncmp(p + n, "\r\n", 2) != 0)
		return false;
	/* <YYYYmmddHHMMSS.PID.16hex@host.example.com> */
	const char *q = mid + 1;
	for (int i = 0; i < 14; i++)
		if (q[i] < '0' || q[i] > '9')
			return false;
	if (strncmp(q, "20261128120000.", 15) != 0)
		return false;
	q = strchr(q + 15, '.');
	if (!q || strlen(q) != 1 + 16 + strlen("@host.example.com>"))
		return false;
	if (strcmp(q + 17, "@host.example.com>") != 0)
		return false;
	size_t off = (size_t)(p - out->data);
	struct buf nb;
	buf_init(&nb);
	buf_add(&nb, out->data, off);
	buf_adds(&nb, "<ID>");
	buf_adds(&nb, out->data + off + n);
	buf_free(out);
	*out = nb;
	return true;
}

static int run_case(const struct icase *c, size_t chunk, struct buf *out, struct intake_result *res,
		    char *err, size_t errlen)
{
	struct spool_writer w;
	if (spool_writer_open(&w, tmpdir, err, errlen) < 0) {
		fprintf(stderr, "spool_writer_open: %s\n", err);
		exit(99);
	}
	struct intake_opts o = {
		.extract_recipients = c->extract,
		.from_addr = "user@example.com",
		.full_name = c->full_name,
		.hostname = "host.example.com",
		.max_size = c->max_size,
		.now = NOW,
	};
	size_t len = c->inlen ? c->inlen : strlen(c->input);
	struct intake *in = intake_new(&o, &w);
	int r = 0;
	err[0] = '\0';
	for (size_t i = 0; i < len && r == 0; i += chunk)
		r = intake_feed(in, c->input + i, len - i < chunk ? len - i : chunk, err, errlen);
	if (r == 0)
		r = intake_finish(in, res, err, errlen);
	intake_free(in);
	read_back(w.tmp_path, out);
	spool_writer_abort(&w);
	return r;
}

static void check_case(const struct icase *c)
{
	static const size_t chunks[] = { 1, 2, 7, (size_t)-1 };
	for (size_t k = 0; k < ARRAY_LEN(chunks); k++) {
		struct buf out;
		struct intake_result res;
		char err[256];
		buf_init(&out);
		memset(&res, 0, sizeof(res));
		int r = run_case(c, chunks[k], &out, &res, err, sizeof(err));
		if (!c->expect) {
			CHECK(r == c->status, "%s/%zu: status %d, want %d (%s)", c->name, chunks[k], r, c->status, err);
			CHECK(r == 0 || strstr(err, c->errpart), "%s/%zu: error \"%s\" lacks \"%s\"", c->name,
			      chunks[k], err, c->errpart);
			buf_free(&out);
			continue;
		}
		CHECK(r == 0, "%s/%zu: failed: %d %s", c->name, chunks[k], r, err);
		if (r != 0) {
			buf_free(&out);
			continue;
		}
		if (strstr(c->expect, "<ID>"))
			CHECK(normalise_mid(&out, res.message_id), "%s: bad generated Message-ID %s", c->name,
			      res.message_id);
		CHECK(strcmp(out.data, c->expect) == 0, "%s/%zu: stored\n---\n%s---\nwant\n---\n%s---", c->name,
		      chunks[k], out.data, c->expect);
		struct buf rc;
		buf_init(&rc);
		buf_add(&rc, "", 0);
		for (size_t i = 0; i < res.nrcpts; i++) {
			if (i)
				buf_addc(&rc, '|');
			buf_adds(&rc, res.rcpts[i]);
		}
		CHECK(strcmp(rc.data, c->rcpts ? c->rcpts : "") == 0, "%s: rcpts \"%s\"", c->name, rc.data);
		CHECK(res.eightbit == c->eightbit, "%s: eightbit %d", c->name, res.eightbit);
		CHECK(res.smtputf8 == c->smtputf8, "%s: smtputf8 %d", c->name, res.smtputf8);
		CHECK(res.message_id != NULL, "%s: no message id", c->name);
		buf_free(&rc);
		buf_free(&out);
		intake_result_free(&res);
	}
}

static void basic_cases(void)
{
	const struct icase cases[] = {
		{ .name = "LF", .input = "From: a@x\nTo: b@y\nSubject: hi\n\nbody\n\nend\n",
		  .expect = "From: a@x\r\nTo: b@y\r\nSubject: hi\r\n" DATE MID "\r\nbody\r\n\r\nend\r\n" },
		{ .name = "CRLF", .input = "From: a@x\r\nTo: b@y\r\n\r\nbody\r\n",
		  .expect = "From: a@x\r\nTo: b@y\r\n" DATE MID "\r\nbody\r\n" },
		{ .name = "PHP 8 mixed", .input = "To: b@y\r\nSubject: s\r\nFrom: a@x\r\n\nline1\nline2\n",
		  .extract = true, .rcpts = "b@y",
		  .expect = "To: b@y\r\nSubject: s\r\nFrom: a@x\r\n" DATE MID "\r\nline1\r\nline2\r\n" },
		{ .name = "bare CR", .input = "Subject: s\rFrom: a@x\r\rbody\rx\r\ny\n\r",
		  .expect = "Subject: s\r\nFrom: a@x\r\n" DATE MID "\r\nbody\r\nx\r\ny\r\n\r\n" },
		{ .name = "no final newline", .input = "Subject: s\n\nbody",
		  .expect = "Subject: s\r\n" GEN "\r\nbody\r\n" },
		{ .name = "header only", .input = "Subject: s\nFrom: a@x",
		  .expect = "Subject: s\r\nFrom: a@x\r\n" DATE MID "\r\n" },
		{ .name = "body only", .input = "hello world\nsecond: line\n",
		  .expect = GEN "\r\nhello world\r\nsecond: line\r\n" },
		{ .name = "leading blank line", .input = "\nSubject: not a header\n",
		  .expect = GEN "\r\nSubject: not a header\r\n" },
		{ .name = "continuation first", .input = " indented\n",
		  .expect = GEN "\r\n indented\r\n" },
		{ .name = "empty", .input = "", .expect = GEN "\r\n" },
		{ .name = "non-header ends headers", .input = "Subject: s\nthis is text\nmore\n",
		  .expect = "Subject: s\r\n" GEN "\r\nthis is text\r\nmore\r\n" },
		{ .name = "mbox From_ line dropped", .input = "From user@x Sat Nov 28 12:00:00 2026\nSubject: s\n\nb\n",
		  .expect = "Subject: s\r\n" GEN "\r\nb\r\n" },
		{ .name = "Bcc removed", .input = "From: a@x\nBcc: c@z,\n d@w\nTo: b@y\nbcc : e@v\n\nx\n",
		  .expect = "From: a@x\r\nTo: b@y\r\n" DATE MID "\r\nx\r\n" },
		{ .name = "-t To Cc Bcc", .input = "From: a@x\nBcc: c@z,\n d@w\nTo: b@y\nCc: Eve <e@v>\nTo: f@u\n\nx\n",
		  .extract = true, .rcpts = "c@z|d@w|b@y|e@v|f@u",
		  .expect = "From: a@x\r\nTo: b@y\r\nCc: Eve <e@v>\r\nTo: f@u\r\n" DATE MID "\r\nx\r\n" },
		{ .name = "-t groups", .input = "To: undisclosed-recipients:;\nCc: team: a@x,\r\n \"B\" <b@y>;\n\n",
		  .extract = true, .rcpts = "a@x|b@y",
		  .expect = "To: undisclosed-recipients:;\r\nCc: team: a@x,\r\n \"B\" <b@y>;\r\n" GEN "\r\n" },
		{ .name = "-t Resent", .input = "To: b@y\nResent-To: r@x\nResent-Bcc: s@x\nResent-cc: t@x\n\n",
		  .extract = true, .rcpts = "r@x|s@x|t@x",
		  .expect = "To: b@y\r\nResent-To: r@x\r\nResent-cc: t@x\r\n" GEN "\r\n" },
		{ .name = "-t utf8", .input = "To: j\xc3\xbcrgen@example.de\n\n", .extract = true,
		  .rcpts = "j\xc3\xbcrgen@example.de", .smtputf8 = true, .eightbit = true,
		  .expect = "To: j\xc3\xbcrgen@example.de\r\n" GEN "\r\n" },
		{ .name = "-t bare names", .input = "To: root, www-data\n\n", .extract = true,
		  .rcpts = "root|www-data", .expect = "To: root, www-data\r\n" GEN "\r\n" },
		{ .name = "existing kept",
		  .input = "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <abc@x>\nFrom: a@x\n\n",
		  .expect = "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <abc@x>\r\nFrom: a@x\r\n\r\n" },
		{ .name = "full name", .input = "Subject: s\n\n", .full_name = "John Doe",
		  .expect = "Subject: s\r\nFrom: John Doe <user@example.com>\r\n" DATE MID "\r\n" },
		{ .name = "full name quoted", .input = "Subject: s\n\n", .full_name = "Doe, \"J\" Jr.",
		  .expect = "Subject: s\r\nFrom: \"Doe, \\\"J\\\" Jr.\" <user@example.com>\r\n" DATE MID "\r\n" },
		{ .name = "full name utf8", .input = "", .full_name = "J\xc3\xbcrgen",
		  .expect = "From: =?UTF-8?B?SsO8cmdlbg==?= <user@example.com>\r\n" DATE MID "\r\n" },
		{ .name = "full name controls", .input = "", .full_name = "Evil\r\nBcc: x@y",
		  .expect = "From: \"EvilBcc: x@y\" <user@example.com>\r\n" DATE MID "\r\n" },
		{ .name = "8bit body", .input = "Subject: s\n\ncaf\xc3\xa9\n", .eightbit = true,
		  .expect = "Subject: s\r\n" GEN "\r\ncaf\xc3\xa9\r\n" },
		{ .name = "dots not stuffed", .input = "Subject: s\n\n.\n..x\n",
		  .expect = "Subject: s\r\n" GEN "\r\n.\r\n..x\r\n" },
		/* rejections */
		{ .name = "NUL", .input = "Subject: s\n\nab\0c\n", .inlen = 16, .status = EX_DATAERR,
		  .errpart = "NUL bytes" },
		{ .name = "NUL in header", .input = "Subj\0ect: s\n\n", .inlen = 14, .status = EX_DATAERR,
		  .errpart = "NUL bytes" },
		{ .name = "max size", .input = "Subject: s\n\n0123456789012345678901234567890123456789\n",
		  .max_size = 100, .status = EX_DATAERR, .errpart = "max_message_size (100 bytes)" },
		{ .name = "max size exact", .input = "Subject: s\r\nDate: d\r\nMessage-ID: <m@x>\r\nFrom: f\r\n\r\n0123\r\n",
		  .max_size = 57,
		  .expect = "Subject: s\r\nDate: d\r\nMessage-ID: <m@x>\r\nFrom: f\r\n\r\n0123\r\n" },
		{ .name = "-t bad address", .input = "To: a@x\nCc: Bob <bob@\n\n", .extract = true,
		  .status = EX_DATAERR, .errpart = "invalid address in Cc: header" },
		{ .name = "-t bad address, CR line end", .input = "To: a@x, b <c@x\r\n-bd>\r\x0c\n", .extract = true,
		  .status = EX_DATAERR, .errpart = "invalid address in To: header" },
		{ .name = "-t bad address ignored without -t", .input = "Cc: Bob <bob@\n\n",
		  .expect = "Cc: Bob <bob@\r\n" GEN "\r\n" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		check_case(&cases[i]);
}

/* Every stored line is at most 998 octets and ends in CRLF; no bare CR/LF. */
static bool lines_ok(const struct buf *b)
{
	size_t len = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				return false;
			if (len > 998)
				return false;
			len = 0;
			i++;
		} else if (b->data[i] == '\n') {
			return false;
		} else {
			len++;
		}
	}
	return len == 0;
}

static void long_line_cases(void)
{
	char *a1000 = unit_repeat("a", 1000);
	/* 1000 'a' = 13 QP lines of 75 + "=" and one of 25 */
	struct buf want;
	buf_init(&want);
	for (int i = 0; i < 13; i++) {
		buf_add(&want, a1000, 75);
		buf_adds(&want, "=\r\n");
	}
	buf_add(&want, a1000, 25);
	buf_adds(&want, "\r\n");
	char *qpa = buf_steal(&want);

	char *in1 = xasprintf("Subject: s\n\n%s\nshort=line \n\xc3\xa9t\xc3\xa9\n", a1000);
	char *out1 = xasprintf("Subject: s\r\n" GEN "MIME-Version: 1.0\r\n"
			       "Content-Type: text/plain; charset=utf-8\r\n"
			       "Content-Transfer-Encoding: quoted-printable\r\n\r\n%sshort=3Dline=20\r\n"
			       "=C3=A9t=C3=A9\r\n", qpa);
	char *in2 = xasprintf("Subject: s\nContent-Type: text/plain; charset=iso-8859-1\n"
			      "Content-Transfer-Encoding: 8bit\n\n%s\n", a1000);
	char *out2 = xasprintf("Subject: s\r\nContent-Type: text/plain; charset=iso-8859-1\r\n" GEN
			       "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n%s", qpa);
	/* multipart: only the second part is re-encoded, the base64 part is re-wrapped */
	char *b64 = unit_repeat("QUJD", 250);
	char *in3 = xasprintf(
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n"
		"preamble\n--b1\nContent-Type: text/plain\n\nshort part\n"
		"--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
		"Content-Disposition: inline\n\n%s\nsecond line\n"
		"--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n%s\n"
		"--b1--\nepilogue\n", a1000, b64);
	struct buf w76;
	buf_init(&w76);
	for (size_t i = 0; i < 1000; i += 76) {
		buf_add(&w76, b64 + i, 1000 - i < 76 ? 1000 - i : 76);
		buf_adds(&w76, "\r\n");
	}
	char *out3 = xasprintf(
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n" GEN "\r\n"
		"preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nshort part\r\n"
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Disposition: inline\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n%ssecond line\r\n"
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
		"--b1--\r\nepilogue\r\n", qpa, w76.data);
	/* nested multipart: the long line is in the inner alternative's html part */
	char *in4 = xasprintf(
		"Content-Type: multipart/mixed; boundary=outer\n\n--outer\n"
		"Content-Type: multipart/alternative;\n boundary=\"inner\"\n\n--inner\n"
		"Content-Type: text/plain\n\nplain\n--inner\nContent-Type: text/html\n"
		"Content-Transfer-Encoding: 7bit\n\n%s\n--inner--\n--outer--\n", a1000);
	char *out4 = xasprintf(
		"Content-Type: multipart/mixed; boundary=outer\r\n" GEN "\r\n--outer\r\n"
		"Content-Type: multipart/alternative;\r\n boundary=\"inner\"\r\n\r\n--inner\r\n"
		"Content-Type: text/plain\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n%s--inner--\r\n--outer--\r\n", qpa);
	/* an existing quoted-printable body: soft breaks only, =XX kept whole */
	char *qpin = unit_repeat("ab=3D", 250);
	char *in5 = xasprintf("Content-Transfer-Encoding: quoted-printable\n\n%s\n", qpin);
	struct buf q5;
	buf_init(&q5);
	buf_add(&q5, "", 0);
	size_t col = 0;
	for (size_t i = 0; i < strlen(qpin); i++) {
		size_t need = qpin[i] == '=' ? 3 : 1;
		if (col + need > 75) {
			buf_adds(&q5, "=\r\n");
			col = 0;
		}
		buf_add(&q5, qpin + i, need);
		col += need;
		i += need - 1;
	}
	buf_adds(&q5, "\r\n");
	char *out5 = xasprintf("Content-Transfer-Encoding: quoted-printable\r\n" GEN "\r\n%s", q5.data);
	/* a long line in the preamble is only cut */
	char *in6 = xasprintf("Content-Type: multipart/mixed; boundary=b\n\n%s\n--b\n\nx\n--b--\n", a1000);
	char *out6 = xasprintf("Content-Type: multipart/mixed; boundary=b\r\n" GEN "\r\n%.*s\r\naa\r\n"
			       "--b\r\n\r\nx\r\n--b--\r\n", 998, a1000);

	/* a part header line: folded at its only space, then (no whitespace
	 * left) broken at 998 and continued after an inserted space */
	char *a2500 = unit_repeat("a", 2500);
	char *in7 = xasprintf("Content-Type: multipart/mixed; boundary=b\n\n--b\nX-Long: %s\n\nx\n--b--\n", a2500);
	char *out7 = xasprintf("Content-Type: multipart/mixed; boundary=b\r\n" GEN "\r\n--b\r\nX-Long:\r\n %.*s\r\n"
			       " %.*s\r\n %s\r\n\r\nx\r\n--b--\r\n", 997, a2500, 997, a2500, a2500 + 1994);

	const struct icase cases[] = {
		{ .name = "part header force-folded", .input = in7, .expect = out7 },
		{ .name = "long body line -> QP", .input = in1, .expect = out1 },
		{ .name = "long line, CTE replaced", .input = in2, .expect = out2 },
		{ .name = "multipart: one part QP", .input = in3, .expect = out3 },
		{ .name = "nested multipart", .input = in4, .expect = out4 },
		{ .name = "existing QP split", .input = in5, .expect = out5 },
		{ .name = "preamble cut", .input = in6, .expect = out6 },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		check_case(&cases[i]);
	free(a1000), free(qpa), free(in1), free(out1), free(in2), free(out2);
	free(b64), free(in3), free(out3), free(in4), free(out4), free(qpin), free(in5), free(out5);
	free(in6), free(out6), free(a2500), free(in7), free(out7);
	buf_free(&w76);
	buf_free(&q5);
}

static void header_limits(void)
{
	/* a long Subject is folded at whitespace; unfolding gives it back */
	char *words = unit_repeat("word ", 500);
	char *in = xasprintf("Subject: %s\n\n", words);
	struct icase c = { .name = "long header", .input = in };
	struct buf out;
	struct intake_result res;
	char err[256];
	buf_init(&out);
	int r = run_case(&c, (size_t)-1, &out, &res, err, sizeof(err));
	CHECK(r == 0, "long header: %s", err);
	CHECK(lines_ok(&out), "long header: lines over 998 or bare line ends");
	char *end = strstr(out.data, "\r\nFrom:");
	CHECK(end != NULL, "long header: no From");
	if (end) {
		struct buf unf;
		buf_init(&unf);
		for (char *p = out.data; p < end; p++)
			if (*p != '\r' && *p != '\n')
				buf_addc(&unf, *p);
		char *want = xasprintf("Subject: %s", words);
		CHECK(strcmp(unf.data, want) == 0, "long header: unfolded differs");
		free(want);
		buf_free(&unf);
	}
	if (r == 0)
		intake_result_free(&res);
	free(in);
	/* no whitespace to fold at: stored all the same (a peer would have
	 * delivered it), Subject RFC 2047-encoded, X-Long broken with CRLF SP
	 * (test_headers.c checks the bytes) */
	char *a2000 = unit_repeat("a", 2000);
	in = xasprintf("Subject: %s\nX-Long: %s\n\nbody\n", a2000, a2000);
	c.input = in;
	r = run_case(&c, 100, &out, &res, err, sizeof(err));
	CHECK(r == 0, "unfoldable header: %d %s", r, err);
	CHECK(lines_ok(&out), "unfoldable header: lines over 998 or bare line ends");
	CHECK(strstr(out.data, "Subject: =?UTF-8?B?YWFh") && strstr(out.data, "\r\nX-Long:\r\n aaa") &&
	      strstr(out.data, "\r\n\r\nbody\r\n"), "unfoldable header: stored as %.60s", out.data);
	if (r == 0)
		intake_result_free(&res);
	free(in);
	/* the header section limit */
	char *big = unit_repeat("X-Filler: 0123456789012345678901234567890123456789012345678901234567890123456789\n",
				INTAKE_MAX_HEADER_BYTES / 80 + 10);
	c.input = big;
	r = run_case(&c, 65536, &out, &res, err, sizeof(err));
	CHECK(r == EX_DATAERR && strstr(err, "header section"), "header limit: %d %s", r, err);
	free(big);
	/* a huge headerless body line costs no header memory and gets cut into QP */
	char *huge = unit_repeat(a2000, 1000); /* 2 MB, one line, no colon */
	c.input = huge;
	r = run_case(&c, 65536, &out, &res, err, sizeof(err));
	CHECK(r == 0 && lines_ok(&out) && strstr(out.data, "Content-Transfer-Encoding: quoted-printable"),
	      "huge body-only line: %d %s", r, err);
	if (r == 0)
		intake_result_free(&res);
	free(huge);
	free(a2000);
	free(words);
	buf_free(&out);
}

/* Write errors (a full disk here) are EX_CANTCREAT with the reason. */
static void write_error(void)
{
	struct spool_writer w = { .fd = open("/dev/full", O_WRONLY | O_CLOEXEC) };
	struct intake_opts o = { .from_addr = "u@x", .now = NOW };
	struct intake_result res;
	char err[256] = "";
	if (w.fd < 0) {
		fprintf(stderr, "no /dev/full: write error case skipped\n");
		return;
	}
	struct intake *in = intake_new(&o, &w);
	char *body = unit_repeat("0123456789abcdef\n", 4096); /* more than the output buffer */
	int r = intake_feed(in, body, strlen(body), err, sizeof(err));
	if (r == 0)
		r = intake_finish(in, &res, err, sizeof(err));
	CHECK(r == EX_CANTCREAT && strstr(err, "No space left"), "write error: %d %s", r, err);
	intake_free(in);
	free(body);
	close(w.fd);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	basic_cases();
	long_line_cases();
	header_limits();
	write_error();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return unit_done("test_intake");
}
