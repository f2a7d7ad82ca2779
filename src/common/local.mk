# libcommon: code shared by the front end and the worker.
noinst_LIBRARIES += src/common/libcommon.a
src_common_libcommon_a_SOURCES = \
	src/common/util.c src/common/util.h \
	src/common/log.c src/common/log.h \
	src/common/conf.c src/common/conf.h \
	src/common/conf_text.c src/common/conf_dump.c src/common/conf_internal.h \
	src/common/conf_limits.c \
	src/common/conf_from_rewrite.c \
	src/common/spool.c src/common/spool.h \
	src/common/envelope.c \
	src/common/base64.c src/common/base64.h \
	src/common/address.c src/common/address.h \
	src/common/queue_control.c src/common/queue_control.h \
	src/common/dropfmt.h src/common/control_proto.h
src_common_libcommon_a_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS)
COMMON_LIBS = src/common/libcommon.a $(CONFUSE_LIBS)
