# sealpostd: the relay worker. The only program that links GnuTLS and reads
# relay credentials.
sbin_PROGRAMS += src/sealpostd/sealpostd
src_sealpostd_sealpostd_SOURCES = src/sealpostd/main.c
src_sealpostd_sealpostd_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
src_sealpostd_sealpostd_LDADD = $(COMMON_LIBS) $(GNUTLS_LIBS)
