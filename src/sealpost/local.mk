# sealpost: the sendmail-compatible front end (setgid when installed).
# It must not link GnuTLS: loading it costs milliseconds per call.
include $(srcdir)/src/sealpost/intake.mk

sbin_PROGRAMS += src/sealpost/sealpost
src_sealpost_sealpost_SOURCES = \
	src/sealpost/main.c \
	src/sealpost/options.c src/sealpost/options.h \
	src/sealpost/submit.c src/sealpost/submit.h \
	src/sealpost/mailq.c src/sealpost/mailq.h \
	src/sealpost/mailq_jsonl.c src/sealpost/mailq_jsonl.h \
	src/sealpost/bs.c src/sealpost/bs.h src/sealpost/bs_parse.c \
	src/sealpost/priv.c src/sealpost/priv.h \
	src/sealpost/worker_kick.c src/sealpost/worker_kick.h \
	src/sealpost/drop_client.c src/sealpost/drop_client.h \
	src/sealpost/control_client.c src/sealpost/control_client.h
src_sealpost_sealpost_LDADD = src/sealpost/libintake.a $(COMMON_LIBS)

# sealpost-drop: the only privileged program (setgid to the spool group in
# a system install; contrib/postinst sets the bit). Copies a finished
# submission into SPOOL/maildrop/; parses nothing. Links only what it uses
# of libcommon (spool ids, I/O helpers), never libconfuse.
pkglibexec_PROGRAMS = src/sealpost/sealpost-drop
src_sealpost_sealpost_drop_SOURCES = src/sealpost/drop.c src/common/dropfmt.h
src_sealpost_sealpost_drop_LDADD = src/common/libcommon.a
