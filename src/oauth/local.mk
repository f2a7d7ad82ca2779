# sealpost-oauth: the OAuth 2.0 token helper, a program of its own so that
# the delivering worker never links libcurl or json-c. Built when both are
# found (configure); without it a relay with an oauth2 block is a clear
# configuration error at delivery and in --check-config.
if HAVE_OAUTH
pkglibexec_PROGRAMS += src/oauth/sealpost-oauth
src_oauth_sealpost_oauth_SOURCES = \
	src/oauth/main.c \
	src/oauth/http.c src/oauth/http.h \
	src/oauth/grant.c src/oauth/grant.h \
	src/oauth/login.c src/oauth/login.h
src_oauth_sealpost_oauth_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JSONC_CFLAGS) $(GNUTLS_CFLAGS)
src_oauth_sealpost_oauth_LDADD = $(COMMON_LIBS) $(CURL_LIBS) $(JSONC_LIBS) $(GNUTLS_LIBS)
endif
