# contrib/: the post-install step, the sendmail links, the container
# example. Everything "make install" creates stays under
# $(DESTDIR)$(prefix); the system-wide step is "make install-system".
EXTRA_DIST += contrib/postinst contrib/container/Dockerfile contrib/container/README.md \
	contrib/container/recipe.sh contrib/container/app.sh contrib/container/sealpost.conf

# make install-system (as root, after make install): the sealpost user and
# group, the spool with owners and modes, the setgid sealpost-drop, the
# secrets directory. See contrib/postinst and sealpost(8).
install-system:
	$(SHELL) '$(srcdir)/contrib/postinst' --user='$(SEALPOST_USER)' \
		--sbindir='$(DESTDIR)$(sbindir)' --libexecdir='$(DESTDIR)$(pkglibexecdir)' --sysconfdir='$(DESTDIR)$(sysconfdir)' \
		--spool-dir='$(DESTDIR)$(spooldir)'
.PHONY: install-system

# --enable-sendmail-links: sendmail, mailq and newaliases beside sealpost
# in $(sbindir), $(prefix)/lib/sendmail (mdadm and old scripts call
# /usr/lib/sendmail), and the matching man page links.
if SENDMAIL_LINKS
sendmail_links = yes
else
sendmail_links = no
endif
sendmail_link_names = sendmail mailq newaliases

install-exec-hook:
	@if test '$(sendmail_links)' = yes; then \
	  set -e; \
	  echo " links $(sendmail_link_names) -> sealpost in $(DESTDIR)$(sbindir)"; \
	  for n in $(sendmail_link_names); do \
	    rm -f '$(DESTDIR)$(sbindir)'/$$n; \
	    $(LN_S_SEALPOST) sealpost '$(DESTDIR)$(sbindir)'/$$n; \
	  done; \
	  $(MKDIR_P) '$(DESTDIR)$(prefix)/lib'; \
	  rm -f '$(DESTDIR)$(prefix)/lib/sendmail'; \
	  $(LN_S_SEALPOST) '$(sbindir)/sealpost' '$(DESTDIR)$(prefix)/lib/sendmail'; \
	fi

install-data-hook:
	@if test '$(sendmail_links)' = yes; then \
	  set -e; \
	  $(MKDIR_P) '$(DESTDIR)$(man8dir)'; \
	  for n in $(sendmail_link_names); do \
	    rm -f '$(DESTDIR)$(man8dir)'/$$n.8; \
	    $(LN_S_SEALPOST) sealpost.8 '$(DESTDIR)$(man8dir)'/$$n.8; \
	  done; \
	fi

uninstall-hook:
	@if test '$(sendmail_links)' = yes; then \
	  for n in $(sendmail_link_names); do \
	    rm -f '$(DESTDIR)$(sbindir)'/$$n '$(DESTDIR)$(man8dir)'/$$n.8; \
	  done; \
	  rm -f '$(DESTDIR)$(prefix)/lib/sendmail'; \
	fi

LN_S_SEALPOST = ln -s

# distcheck exercises the links too (install, uninstall, nothing left)
AM_DISTCHECK_CONFIGURE_FLAGS = --enable-sendmail-links
