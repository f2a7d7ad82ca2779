# Test suite: one fragment per area so each can grow on its own.
EXTRA_DIST += tests/lib.sh
include $(srcdir)/tests/frontend.mk
include $(srcdir)/tests/intake.mk
include $(srcdir)/tests/config.mk
include $(srcdir)/tests/worker.mk
include $(srcdir)/tests/smarthost.mk
include $(srcdir)/tests/bsmailq.mk
include $(srcdir)/tests/install.mk
include $(srcdir)/tests/stress.mk
include $(srcdir)/tests/ops.mk
