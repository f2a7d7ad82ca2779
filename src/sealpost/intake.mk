# libintake: message intake, header rewriting and aliases (front end only).
noinst_LIBRARIES += src/sealpost/libintake.a
src_sealpost_libintake_a_SOURCES = \
	src/sealpost/intake.c src/sealpost/intake.h \
	src/sealpost/headers.c src/sealpost/headers.h \
	src/sealpost/mime.c src/sealpost/mime.h \
	src/sealpost/encode.c src/sealpost/encode.h \
	src/sealpost/aliases.c src/sealpost/aliases.h
