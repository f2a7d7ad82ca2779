# etc/: the example config, systemd units, sysusers.d and tmpfiles.d
# snippets. The units are generated from *.in with the configured paths.
# Install directories default under $(prefix) (so distcheck and DESTDIR
# stay inside the prefix); a distribution overrides them on the make
# command line, e.g. make install systemdsystemunitdir=/lib/systemd/system
EXTRA_DIST += etc/sealpost.conf.example
EXTRA_DIST += doc/spool-format.md doc/monitoring.md contrib/bootstrap.sh contrib/demo.sh tests/run.sh .ci/run

# The worker user (and the front end's spool group). privdrop.c gets it
# at compile time: pass the same SEALPOST_USER=name to every make call.
SEALPOST_USER = sealpost
AM_CPPFLAGS += -DSEALPOST_USER='"$(SEALPOST_USER)"'

systemdsystemunitdir = $(prefix)/lib/systemd/system
sysusersdir = $(prefix)/lib/sysusers.d
tmpfilesdir = $(prefix)/lib/tmpfiles.d
exampledir = $(docdir)/examples

etc_units = etc/sealpostd.service etc/sealpostd-once.service \
	etc/sealpostd-once.timer etc/sealpostd-once.path
etc_snippets = etc/sealpost.sysusers etc/sealpost.tmpfiles
etc_generated = $(etc_units) $(etc_snippets)
EXTRA_DIST += $(etc_generated:=.in)
CLEANFILES += $(etc_generated)
noinst_DATA = $(etc_generated)
example_DATA = etc/sealpost.conf.example

etc_subst = sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@pkglibexecdir[@]|$(pkglibexecdir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@spooldir[@]|$(spooldir)|g' -e 's|@user[@]|$(SEALPOST_USER)|g'

$(etc_generated): Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && rm -f $@ $@.tmp && \
	$(etc_subst) '$(srcdir)/$@.in' > $@.tmp && \
	if grep -n '@[a-z]*@' $@.tmp; then echo "$@: unsubstituted variable" >&2; exit 1; fi && \
	mv $@.tmp $@
etc/sealpostd.service: $(srcdir)/etc/sealpostd.service.in
etc/sealpostd-once.service: $(srcdir)/etc/sealpostd-once.service.in
etc/sealpostd-once.timer: $(srcdir)/etc/sealpostd-once.timer.in
etc/sealpostd-once.path: $(srcdir)/etc/sealpostd-once.path.in
etc/sealpost.sysusers: $(srcdir)/etc/sealpost.sysusers.in
etc/sealpost.tmpfiles: $(srcdir)/etc/sealpost.tmpfiles.in

# The snippets are named after the package in their directories.
install-data-local: $(etc_generated)
	$(MKDIR_P) '$(DESTDIR)$(systemdsystemunitdir)' '$(DESTDIR)$(sysusersdir)' '$(DESTDIR)$(tmpfilesdir)'
	$(INSTALL_DATA) $(etc_units) '$(DESTDIR)$(systemdsystemunitdir)'
	$(INSTALL_DATA) etc/sealpost.sysusers '$(DESTDIR)$(sysusersdir)/sealpost.conf'
	$(INSTALL_DATA) etc/sealpost.tmpfiles '$(DESTDIR)$(tmpfilesdir)/sealpost.conf'

uninstall-local:
	for u in $(etc_units); do rm -f "$(DESTDIR)$(systemdsystemunitdir)/$${u#etc/}"; done
	rm -f '$(DESTDIR)$(sysusersdir)/sealpost.conf' '$(DESTDIR)$(tmpfilesdir)/sealpost.conf'

include $(srcdir)/contrib/local.mk
